-- audit/rows_from: the audit trail from seq $seq on, in chain order (an anchor's check needs
-- only the rows after the newest witnessed one)
-- columns: seq, at, event, actor, run_id, subject, payload, prev_hash, row_hash
select seq, "at", event, actor, run_id, subject, payload, prev_hash, row_hash
from audit_log
where seq >= $seq
order by seq
