-- audit/rerun/ingested_hashes: the SHA-256 the audit trail recorded for each ledger file when it
-- was loaded or quarantined, earliest event first
-- columns: file_id, sha256
select
    cast(json_extract(payload, '$.file_id') as integer) as file_id,
    json_extract_string(payload, '$.sha256') as sha256
from audit_log
where event in ('file_loaded', 'file_quarantined')
order by seq
