-- audit/run_files: what one run read other than its IPS versions (custodian, reference and
-- model files), in audit/run_inputs's order
-- columns: role, name, sha256, file_id
select role, name, sha256, file_id
from run_inputs
where run_id = $run_id and role <> 'ips'
order by role, name, file_id
