-- schema/003_runs: every review or monitor run and what it used and produced
-- tables: runs, run_inputs, run_portfolios, run_allocations, run_trades, run_outputs
create table if not exists runs (
    run_id        varchar primary key,
    kind          varchar not null,     -- quarterly_review | monitor
    as_of         date not null,
    trigger       varchar not null,     -- manual | schedule | rerun | benchmark
    who           varchar not null,
    reason        varchar,
    code_version  varchar not null,
    started_at    timestamp not null,
    ended_at      timestamp,
    status        varchar not null,     -- running | completed | completed_with_errors | failed
    report_dir    varchar
);

create table if not exists run_inputs (
    run_id   varchar not null,
    role     varchar not null,          -- ips, or the file kind: positions | lots | securities | ...
    name     varchar not null,
    sha256   varchar not null,
    file_id  integer
);

create table if not exists run_portfolios (
    run_id        varchar not null,
    portfolio_id  varchar not null,
    status        varchar not null,
    breached      boolean not null,
    action        varchar not null,
    total_value   decimal(18,2),
    errors        varchar[] not null,
    warnings      varchar[] not null
);

create table if not exists run_allocations (
    run_id             varchar not null,
    portfolio_id       varchar not null,
    asset_class        varchar not null,
    market_value       decimal(18,2) not null,
    weight             decimal(18,6) not null,
    target             decimal(18,6),
    lower_bound        decimal(18,6),
    upper_bound        decimal(18,6),
    drift_bp           decimal(18,2),
    breached           boolean not null,
    post_trade_weight  decimal(18,6)
);

create table if not exists run_trades (
    run_id        varchar not null,
    portfolio_id  varchar not null,
    account_id    varchar not null,
    security_id   varchar not null,
    side          varchar not null,
    quantity      decimal(18,6) not null,
    price         decimal(18,6) not null,
    amount        decimal(18,2) not null,
    reason        varchar not null
);

create table if not exists run_outputs (
    run_id  varchar not null,
    name    varchar not null,
    sha256  varchar not null
);
