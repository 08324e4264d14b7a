-- audit/validation: the validation outcome of the given files
-- columns: file_id, original_name, status, success, evaluated, failures
select
    l.file_id,
    l.original_name,
    l.status,
    v.success,
    v.evaluated,
    v.failures
from file_ledger as l
left join validation_results as v using (file_id)
where list_contains($file_ids, l.file_id)
order by l.file_id
