-- cluster/policy_accounts_forget: drop the rows kept under any context but $context (other
-- model files, or another ballast's code: never asked for again), and those of the IPS files
-- about to be kept again ($portfolio_ids)
delete from policy_accounts
where context <> $context or portfolio_id in (select unnest($portfolio_ids::varchar[]))
