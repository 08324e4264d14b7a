-- audit/files: ledger facts of the given files
-- columns: file_id, original_name, sha256, kind, status, reason, loaded_at
select file_id, original_name, sha256, kind, status, reason, loaded_at
from file_ledger
where list_contains($file_ids, file_id)
order by file_id
