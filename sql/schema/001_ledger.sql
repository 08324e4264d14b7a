-- schema/001_ledger: every file ballast has seen, loaded or quarantined (a byte-identical repeat is
-- not recorded), and each file's validation outcome
-- tables: file_ledger, validation_results
create sequence if not exists file_id_seq start 1;

create table if not exists file_ledger (
    -- ids
    file_id        integer primary key default nextval('file_id_seq'),
    sha256         varchar not null,
    -- what arrived
    original_name  varchar not null,
    size_bytes     bigint not null,
    kind           varchar,            -- positions | lots | ... | securities; null when unrecognised
    rows           bigint,
    -- what became of it
    status         varchar not null,   -- loaded | quarantined
    reason         varchar,            -- one line, for quarantined files
    accounts       varchar[],          -- account ids the file mentions (best effort), for reviews
    as_of_dates    date[],
    archive_path   varchar not null,
    loaded_at      timestamp not null
);

create table if not exists validation_results (
    file_id     integer not null,
    kind        varchar not null,
    success     boolean not null,
    evaluated   integer not null,
    failures    varchar[] not null,
    result_json varchar not null
);
