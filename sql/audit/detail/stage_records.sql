-- audit/detail/stage_records: a batch of the "portfolio_records" part (an Arrow table named
-- staged_rows: key, the portfolio id; raw, the digest of its rows) into the staging table
insert into run_detail_staging (part, "key", "value")
select 'portfolio_records', "key", json_text(raw) from staged_rows
