-- the newest row of the audit trail
select seq, row_hash
from audit_log
order by seq desc
limit 1
