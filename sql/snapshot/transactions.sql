-- snapshot/transactions: transactions of the given accounts up to the review date, the latest
-- file's copy of each id
-- columns: transaction_id, trade_date, account_id, security_id, type, quantity, amount, currency,
--          file_id, line
with ranked as (
    select
        *,
        row_number() over (partition by transaction_id order by file_id desc) as version
    from transactions
    where trade_date <= $as_of
      and account_id in (select unnest($accounts))
      and file_id <= $max_file_id
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
