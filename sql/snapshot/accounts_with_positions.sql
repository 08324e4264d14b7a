-- snapshot/accounts_with_positions: accounts with positions loaded for the date (used while waiting
-- for custodian files)
-- columns: account_id
select distinct account_id from positions where as_of_date = $as_of order by account_id
