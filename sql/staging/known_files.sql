-- staging/known_files: every file already recorded, by content hash: its first record and what
-- became of it
-- columns: sha256, file_id, status
select sha256, arg_min(file_id, file_id) as file_id, arg_min(status, file_id) as status
from file_ledger
group by sha256
