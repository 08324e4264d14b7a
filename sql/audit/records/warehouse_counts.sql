-- audit/records/warehouse_counts: how many runs, and ledger files other than $file_ids (those
-- being recorded now), the warehouse lists: an empty audit log beside them is an anomaly
-- columns: runs, files
select
    (select count(*) from runs) as runs,
    (select count(*) from file_ledger where not list_contains($file_ids, file_id)) as files
