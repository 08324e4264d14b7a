-- snapshot/cash_flows: planned external cash flows on or after the review date, from the latest
-- cash-flow file that plans each account (a re-sent plan replaces the earlier one)
-- columns: account_id, effective_date, amount, currency, description
with planned as (
    select *
    from cash_flows
    where effective_date >= $as_of
      and account_id in (select unnest($accounts))
      and file_id <= $max_file_id
),

latest_file as (
    select account_id, max(file_id) as file_id
    from cash_flows
    where account_id in (select unnest($accounts))
      and file_id <= $max_file_id
    group by account_id
),

final as (
    select
        p.account_id,
        p.effective_date,
        p.amount,
        p.currency,
        p.description
    from planned as p
    inner join latest_file as f using (account_id, file_id)
)

select * from final
order by account_id, effective_date, amount
