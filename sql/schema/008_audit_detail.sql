-- schema/008_audit_detail: the detail of large audit payloads, one row per entry
-- tables: audit_detail
-- A run_finished payload names its detail by digest (payload.detail.sha256) instead of holding
-- it: the IPS, output and per-portfolio maps of a large run are megabytes, and audit_log has
-- few rows, so DuckDB kept them all in one row group and rewrote it at every append. Here they
-- are many small rows, which fill row groups that later appends leave alone.
create table if not exists audit_detail (
    digest  varchar not null,   -- the SHA-256 the chained payload names (payload.detail.sha256)
    part    varchar not null,   -- ips | outputs | portfolios | portfolio_records
    "key"   varchar not null,   -- the entry's key in that part (a file name, a portfolio id)
    "value" varchar not null    -- the entry's value as canonical JSON text
);
