-- audit/insert: append one row to the audit trail
insert into audit_log (seq, "at", event, actor, run_id, subject, payload, prev_hash, row_hash)
values ($seq, $at, $event, $actor, $run_id, $subject, $payload, $prev_hash, $row_hash)
