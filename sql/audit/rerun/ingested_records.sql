-- audit/rerun/ingested_records: the digests of the warehouse rows each loaded file gave, as its
-- file_loaded event recorded them at ingest (format 1 of ballast/audit/digests.py), earliest
-- event first; files loaded before digests were recorded have none
-- columns: file_id, records (JSON text: table -> {"rows": n, "sha256": digest})
select
    cast(json_extract(payload, '$.file_id') as integer) as file_id,
    json_extract(payload, '$.records')::varchar as records
from audit_log
where event = 'file_loaded' and json_extract(payload, '$.records') is not null
order by seq
