-- audit/retention/runs: every run with its date, report folder and whether it was purged
-- columns: run_id, kind, as_of, run_date, status, report_dir
select run_id, kind, as_of, cast(started_at as date) as run_date, status, report_dir
from runs
order by started_at, run_id
