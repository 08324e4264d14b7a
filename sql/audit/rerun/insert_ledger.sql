-- audit/rerun/insert_ledger: copy ledger rows (the frame registered as scratch_ledger) into a
-- scratch warehouse, file ids kept
insert into file_ledger by name
select * from scratch_ledger
