-- audit/row_hash_at: the stored hash of one row of the audit trail
-- columns: row_hash
select row_hash
from audit_log
where seq = $seq
