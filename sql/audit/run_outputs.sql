-- audit/run_outputs: the hashes of the files one run wrote
-- columns: name, sha256
select name, sha256
from run_outputs
where run_id = $run_id
order by name
