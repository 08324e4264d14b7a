-- audit/recovery/completed_runs: of the given runs, those recorded as finished with outputs: a
-- review's row in runs, or a rerun's run_finished audit event (a rerun has no row in runs)
-- columns: run_id
select run_id
from runs
where list_contains($run_ids, run_id) and status in ('completed', 'completed_with_errors')
union
select run_id
from audit_log
where event = 'run_finished'
  and list_contains($run_ids, run_id)
  and json_extract_string(payload, '$.status') = 'completed'
