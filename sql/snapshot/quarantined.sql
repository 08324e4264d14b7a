-- quarantined files that mention the given accounts (to explain missing data in a review)
with mentions as (
    select
        file_id,
        original_name,
        reason,
        unnest(accounts) as account_id
    from file_ledger
    where status = 'quarantined'
),

final as (
    select account_id, file_id, original_name, reason
    from mentions
    where account_id in (select unnest($accounts))
)

select * from final
order by account_id, file_id
