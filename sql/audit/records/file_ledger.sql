-- audit/records/file_ledger: each file's ledger row and its digest (format 1: SHA-256 of the JSON
-- array of the columns below cast to text; the archive path by its file name only, so a moved or
-- copied workspace keeps its digests); all files when $file_ids is null
-- columns: file_id, original_name, sha256, kind, rows, status, loaded_at, archive_name,
--          ledger_sha256
with ledger as (
    select
        *,
        regexp_extract(archive_path, '[^/]*$') as archive_name
    from file_ledger
    where $file_ids is null or list_contains($file_ids, file_id)
)

select
    file_id,
    original_name,
    sha256,
    kind,
    rows,
    status,
    loaded_at,
    archive_name,
    sha256(to_json([
        file_id::varchar, sha256, original_name, size_bytes::varchar, kind, rows::varchar,
        status, reason, to_json(accounts)::varchar, to_json(as_of_dates)::varchar,
        archive_name, loaded_at::varchar
    ])::varchar) as ledger_sha256
from ledger
order by file_id
