-- the newest ledger file a run could have seen: loaded before the run ended
select coalesce(max(file_id), 0) as file_id
from file_ledger
where loaded_at <= $ended_at
