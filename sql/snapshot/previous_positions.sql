-- snapshot/previous_positions: each account's positions on its last date before the review date
-- (latest file for that date), the starting point of the roll-forward check
-- columns: account_id, security_id, quantity, as_of_date
with earlier as (
    select *
    from positions
    where as_of_date < $as_of
      and account_id in (select unnest($accounts))
      and file_id <= $max_file_id
),

last_date as (
    select account_id, max(as_of_date) as as_of_date
    from earlier
    group by account_id
),

last_file as (
    select e.account_id, e.as_of_date, max(e.file_id) as file_id
    from earlier as e
    inner join last_date as d using (account_id, as_of_date)
    group by e.account_id, e.as_of_date
),

final as (
    select
        e.account_id,
        e.security_id,
        e.quantity,
        e.as_of_date
    from earlier as e
    inner join last_file as f using (account_id, as_of_date, file_id)
)

select * from final
order by account_id, security_id
