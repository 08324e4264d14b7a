-- marts/list_runs: past runs, newest first
-- columns: run_id, kind, as_of, trigger, who, reason, status, started_at, ended_at, report_dir
select run_id, kind, as_of, trigger, who, reason, status, started_at, ended_at, report_dir
from runs
order by started_at desc, run_id desc
