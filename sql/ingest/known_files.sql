-- every file already recorded, by content hash (the first record of each hash)
select sha256, min(file_id) as file_id
from file_ledger
group by sha256
