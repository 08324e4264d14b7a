-- audit/detail/insert_staged: the staged detail entries into audit_detail under their digest
insert into audit_detail (digest, part, "key", "value")
select $digest, part, "key", "value" from run_detail_staging
