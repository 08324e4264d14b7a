-- audit/run_inputs: what one run read: its IPS versions and custodian / reference files
-- columns: role, name, sha256, file_id
select role, name, sha256, file_id
from run_inputs
where run_id = $run_id
order by role, name, file_id
