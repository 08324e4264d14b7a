-- audit/records/runs: every row of the runs table, for comparison with the audit trail
-- columns: run_id, kind, as_of, trigger, who, reason, code_version, started_at, ended_at, status,
--          report_dir, pid, host
select
    run_id, kind, as_of, trigger, who, reason, code_version, started_at, ended_at, status,
    report_dir, pid, host
from runs
order by run_id
