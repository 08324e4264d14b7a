-- audit/run_ips: the IPS versions one run reviewed, by file name
-- columns: name, sha256
select name, sha256
from run_inputs
where run_id = $run_id and role = 'ips'
order by name
