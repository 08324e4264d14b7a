-- audit/run_events: the events of one run, and of its re-creations (whose subject is the run's id)
-- columns: seq, at, event, actor, run_id, subject, payload
select seq, "at", event, actor, run_id, subject, payload
from audit_log
where run_id = $run_id
   or (subject = $run_id and event in ('run_started', 'run_finished'))
order by seq
