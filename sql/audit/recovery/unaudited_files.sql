-- audit/recovery/unaudited_files: ledger files without a file_loaded / file_quarantined event (a
-- crash between the file's commit and the ingest's audit events)
-- columns: file_id, original_name, sha256, kind, rows, status, reason
select l.file_id, l.original_name, l.sha256, l.kind, l.rows, l.status, l.reason
from file_ledger l
where not exists (
    select 1
    from audit_log a
    where a.event in ('file_loaded', 'file_quarantined')
      and try_cast(json_extract(a.payload, '$.file_id') as integer) = l.file_id
)
order by l.file_id
