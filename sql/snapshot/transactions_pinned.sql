-- transactions.sql as a past run saw it: only files up to $max_file_id
with ranked as (
    select
        *,
        row_number() over (partition by transaction_id order by file_id desc) as version
    from transactions
    where trade_date <= $as_of
      and file_id <= $max_file_id
      and account_id in (select unnest($accounts))
),

final as (
    select
        transaction_id,
        trade_date,
        account_id,
        security_id,
        type,
        quantity,
        amount,
        currency,
        file_id,
        line
    from ranked
    where version = 1
)

select * from final
order by account_id, trade_date, transaction_id
