-- schema/009_policy_accounts: the accounts of each valid IPS, by the IPS's bytes
-- tables: policy_accounts
-- A review on a cluster takes each shard's snapshot on the coordinator, which needs the shard's
-- account ids; its workers parse the IPS files. This table lets the coordinator find the
-- accounts of an IPS it has seen before without parsing it (ballast.cluster.policy_accounts).
-- A cache: an IPS whose rows are not all here (any deleted, or added) is parsed again.
create table if not exists policy_accounts (
    context      varchar not null,  -- digest of the model files and of ballast's code
    portfolio_id varchar not null,  -- the IPS's file name (a portfolio id)
    ips_sha256   varchar not null,  -- SHA-256 of the IPS text
    account_id   varchar not null,
    accounts     integer not null   -- how many accounts the IPS names (its number of rows)
);
