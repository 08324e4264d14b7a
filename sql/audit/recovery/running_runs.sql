-- audit/recovery/running_runs: runs still marked running, oldest first
-- columns: run_id, kind, as_of, who, started_at
select run_id, kind, as_of, who, started_at
from runs
where status = 'running'
order by started_at, run_id
