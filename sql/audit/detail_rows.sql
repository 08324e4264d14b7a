-- audit/detail_rows: the detail rows of some payloads, by the digests their payloads name
-- columns: digest, part, key, value
select digest, part, "key", "value"
from audit_detail
where digest in (select unnest($digests::varchar[]))
order by digest, part, "key"
