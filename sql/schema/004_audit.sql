-- schema/004_audit: the audit trail: append-only and hash-chained (see ballast/audit/chain.py for
-- the row hash), and the approvals read from it
-- tables: audit_log; view: approvals
create table if not exists audit_log (
    seq        bigint primary key,   -- 1, 2, 3, ... with no gaps
    "at"       timestamp not null,   -- UTC
    event      varchar not null,     -- run_started | run_finished | ingest | file_loaded | ...
    actor      varchar not null,     -- the OS user or service that caused the event
    run_id     varchar,
    subject    varchar,              -- file name, portfolio id, or the re-created run's id
    payload    varchar not null,     -- canonical JSON text
    prev_hash  varchar not null,     -- row_hash of seq - 1 (64 zeros for seq 1)
    row_hash   varchar not null      -- SHA-256 of this row's canonical serialisation
);

-- sign-offs of proposals: approval events of the audit trail
create view if not exists approvals as
select
    seq,
    "at",
    run_id,
    subject as portfolio_id,
    json_extract_string(payload, '$.by') as approved_by,
    json_extract_string(payload, '$.note') as note,
    actor,
    row_hash
from audit_log
where event = 'approval';
