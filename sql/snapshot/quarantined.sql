-- snapshot/quarantined: quarantined files that mention the given accounts for the review date (or
-- whose dates could not be read), to explain missing data and to block portfolios whose restatement
-- was refused
-- columns: account_id, file_id, original_name, reason
with mentions as (
    select
        file_id,
        original_name,
        reason,
        as_of_dates,
        unnest(accounts) as account_id
    from file_ledger
    where status = 'quarantined'
      and file_id <= $max_file_id
      and (len(coalesce(as_of_dates, [])) = 0 or list_contains(as_of_dates, $as_of))
),

final as (
    select account_id, file_id, original_name, reason
    from mentions
    where account_id in (select unnest($accounts))
)

select * from final
order by account_id, file_id
