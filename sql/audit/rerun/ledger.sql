-- audit/rerun/ledger: the ledger rows a re-creation reads again: every file up to a file id (the
-- run's high-water mark), loaded or quarantined
-- columns: every column of file_ledger
select *
from file_ledger
where file_id <= $max_file_id
order by file_id
