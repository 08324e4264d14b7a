-- audit/detail/staged_entries: the staged entries of one part ($part) whose key is in the
-- range $from_key (inclusive) to $to_key (exclusive), either bound null for none, in key order
-- (DuckDB orders text by its UTF-8 bytes, which is Python's code-point order), each as its text
-- in the detail's canonical JSON, "key":value. Taken part by part and range by range, the
-- entries come in canonical order (part, then key) and no sort holds the whole run's.
-- columns: part, entry
select part, json_text("key") || ':' || "value" as entry
from run_detail_staging
where part = $part
    and ($from_key is null or "key" >= $from_key)
    and ($to_key is null or "key" < $to_key)
order by "key"
