-- audit/retention/ips_files: every archived IPS version, with the runs that used it
-- columns: sha256, name, run_ids
select sha256, min(name) as name, list(distinct run_id order by run_id) as run_ids
from run_inputs
where role = 'ips'
group by sha256
order by sha256
