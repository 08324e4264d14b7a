-- audit/all_rows: the whole audit trail in chain order
-- columns: seq, at, event, actor, run_id, subject, payload, prev_hash, row_hash
select seq, "at", event, actor, run_id, subject, payload, prev_hash, row_hash
from audit_log
order by seq
