-- snapshot/fx_rates: the latest FX rate on or before the review date for every currency pair
-- supplied
-- columns: currency, quote_currency, rate, rate_date
with candidates as (
    select
        currency,
        quote_currency,
        rate,
        as_of_date,
        row_number() over (
            partition by currency, quote_currency
            order by as_of_date desc, file_id desc, line desc
        ) as recency
    from fx_rates
    where as_of_date <= $as_of
      and file_id <= $max_file_id
),

final as (
    select currency, quote_currency, rate, as_of_date as rate_date
    from candidates
    where recency = 1
)

select * from final
order by currency, quote_currency
