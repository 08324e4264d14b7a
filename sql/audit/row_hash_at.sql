-- the stored hash of one row of the audit trail
select row_hash
from audit_log
where seq = $seq
