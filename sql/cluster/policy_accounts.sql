-- cluster/policy_accounts: the accounts kept for these IPS files (portfolio id and SHA-256,
-- pairwise) under $context; an IPS with no rows here, or not exactly the rows it was kept
-- with, is not known
-- columns: portfolio_id, account_id
with wanted as (
    select
        unnest($portfolio_ids::varchar[]) as portfolio_id,
        unnest($ips_sha256::varchar[]) as ips_sha256
),

kept as (
    select
        k.portfolio_id,
        k.account_id,
        count(*) over (partition by k.portfolio_id) as n,
        count(distinct k.account_id) over (partition by k.portfolio_id) as distinct_n,
        min(k.accounts) over (partition by k.portfolio_id) as fewest,
        max(k.accounts) over (partition by k.portfolio_id) as most
    from policy_accounts as k
    inner join wanted as w using (portfolio_id, ips_sha256)
    where k.context = $context
)

select
    portfolio_id,
    account_id
from kept
where n = most and distinct_n = n and fewest = most
order by portfolio_id, account_id
