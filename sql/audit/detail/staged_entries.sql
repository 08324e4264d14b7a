-- audit/detail/staged_entries: the staged entries in canonical order (part, then key: DuckDB
-- orders text by its UTF-8 bytes, which is Python's code-point order), each as its text in the
-- detail's canonical JSON, "key":value
-- columns: part, entry
select part, json_text("key") || ':' || "value" as entry
from run_detail_staging
order by part, "key"
