-- snapshot/lots: tax lots on the review date, from the latest lots file that reports each account
-- that day
-- columns: account_id, security_id, lot_id, acquired_date, quantity, cost_basis, file_id
with lots_on_date as (
    select *
    from lots
    where as_of_date = $as_of
      and account_id in (select unnest($accounts))
      and file_id <= $max_file_id
),

latest_file as (
    select account_id, max(file_id) as file_id
    from lots_on_date
    group by account_id
),

final as (
    select
        l.account_id,
        l.security_id,
        l.lot_id,
        l.acquired_date,
        l.quantity,
        l.cost_basis,
        l.file_id
    from lots_on_date as l
    inner join latest_file as f using (account_id, file_id)
)

select * from final
order by account_id, security_id, acquired_date, lot_id
