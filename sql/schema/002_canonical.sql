-- schema/002_canonical: canonical custodian tables: one row per source row, traceable to file and
-- line
-- tables: positions, lots, transactions, cash_flows, prices, securities
create table if not exists positions (
    file_id       integer not null,
    line          bigint not null,
    as_of_date    date not null,
    account_id    varchar not null,
    security_id   varchar not null,
    quantity      decimal(18,6) not null,
    price         decimal(18,6) not null,
    market_value  decimal(18,4) not null,
    currency      varchar not null
);

create table if not exists lots (
    file_id        integer not null,
    line           bigint not null,
    as_of_date     date not null,
    account_id     varchar not null,
    security_id    varchar not null,
    lot_id         varchar not null,
    acquired_date  date not null,
    quantity       decimal(18,6) not null,
    cost_basis     decimal(18,4) not null
);

create table if not exists transactions (
    file_id         integer not null,
    line            bigint not null,
    transaction_id  varchar not null,
    trade_date      date not null,
    account_id      varchar not null,
    security_id     varchar,
    type            varchar not null,
    quantity        decimal(18,6),
    amount          decimal(18,4) not null,
    currency        varchar not null
);

create table if not exists cash_flows (
    file_id         integer not null,
    line            bigint not null,
    account_id      varchar not null,
    effective_date  date not null,
    amount          decimal(18,4) not null,
    currency        varchar not null,
    description     varchar
);

create table if not exists prices (
    file_id      integer not null,
    line         bigint not null,
    as_of_date   date not null,
    security_id  varchar not null,
    price        decimal(18,6) not null,
    currency     varchar not null
);

-- the security master: every version kept; the latest file is current
create table if not exists securities (
    file_id          integer not null,
    line             bigint not null,
    security_id      varchar not null,
    symbol           varchar,
    name             varchar,
    asset_class      varchar not null,
    identical_group  varchar,
    isin             varchar,
    cusip            varchar
);
