-- snapshot/positions: positions held on the review date, from the latest file that reports each
-- account that day (a custodian's restated file supersedes the earlier one)
-- columns: account_id, security_id, quantity, price, market_value, currency, file_id, line
with positions_on_date as (
    select *
    from positions
    where as_of_date = $as_of
      and account_id in (select unnest($accounts))
      and file_id <= $max_file_id
),

latest_file as (
    select account_id, max(file_id) as file_id
    from positions_on_date
    group by account_id
),

final as (
    select
        -- ids
        p.account_id,
        p.security_id,
        -- numerics
        p.quantity,
        p.price,
        p.market_value,
        p.currency,
        -- lineage
        p.file_id,
        p.line
    from positions_on_date as p
    inner join latest_file as f using (account_id, file_id)
)

select * from final
order by account_id, security_id, line
