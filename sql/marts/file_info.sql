-- marts/file_info: ledger and validation facts about the given files
-- columns: file_id, original_name, sha256, kind, rows, status, reason, success, evaluated, failures
select
    l.file_id,
    l.original_name,
    l.sha256,
    l.kind,
    l.rows,
    l.status,
    l.reason,
    v.success,
    v.evaluated,
    v.failures
from file_ledger as l
left join validation_results as v using (file_id)
where list_contains($file_ids, l.file_id)
order by l.file_id
