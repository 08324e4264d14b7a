-- snapshot/prices: the latest price on or before the review date for every security with a price
-- columns: security_id, price, currency, price_date
with candidates as (
    select
        security_id,
        price,
        currency,
        as_of_date,
        row_number() over (
            partition by security_id order by as_of_date desc, file_id desc, line desc
        ) as recency
    from prices
    where as_of_date <= $as_of
      and file_id <= $max_file_id
),

final as (
    select security_id, price, currency, as_of_date as price_date
    from candidates
    where recency = 1
)

select * from final
order by security_id
