-- audit/run: one run's record
-- columns: run_id, kind, as_of, trigger, who, reason, code_version, started_at, ended_at, status,
--          report_dir
select
    run_id, kind, as_of, trigger, who, reason, code_version, started_at, ended_at, status,
    report_dir
from runs
where run_id = $run_id
