-- audit/detail_insert: the detail rows of one payload (an Arrow table named detail_rows)
insert into audit_detail (digest, part, "key", "value")
select digest, part, "key", "value" from detail_rows
