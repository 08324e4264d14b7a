-- audit/rerun/purged_files: the SHA-256 of every archived file a retention purge removed
-- columns: sha256
select distinct unnest(json_extract_string(payload, '$.files[*].sha256')) as sha256
from audit_log
where event = 'purge'
