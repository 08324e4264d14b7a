-- audit/high_water: the newest ledger file a run could have seen: loaded before the run ended
-- columns: file_id
select coalesce(max(file_id), 0) as file_id
from file_ledger
where loaded_at <= $ended_at
