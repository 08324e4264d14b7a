-- audit/retention/holds: legal holds and releases, oldest first
-- columns: seq, at, event, subject, actor, reason
select seq, "at", event, subject, actor, json_extract_string(payload, '$.reason') as reason
from audit_log
where event in ('legal_hold', 'hold_released')
order by seq
