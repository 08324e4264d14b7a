-- audit/rerun/run_finished: what the audit trail recorded when a run finished (its inputs and
-- output hashes); a rerun's own events carry the rerun's id, so only the run's own are listed
-- columns: payload
select payload
from audit_log
where event = 'run_finished' and run_id = $run_id and subject is null
order by seq
