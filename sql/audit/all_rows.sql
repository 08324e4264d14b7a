-- the whole audit trail in chain order
select seq, "at", event, actor, run_id, subject, payload, prev_hash, row_hash
from audit_log
order by seq
