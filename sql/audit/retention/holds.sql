-- legal holds and releases, oldest first
select seq, "at", event, subject, actor, json_extract_string(payload, '$.reason') as reason
from audit_log
where event in ('legal_hold', 'hold_released')
order by seq
