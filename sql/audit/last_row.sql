-- audit/last_row: the newest row of the audit trail
-- columns: seq, row_hash
select seq, row_hash
from audit_log
order by seq desc
limit 1
