-- quarantined.sql as a past run saw it: only files up to $max_file_id
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
