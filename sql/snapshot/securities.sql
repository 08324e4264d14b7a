-- snapshot/securities: the current security master: the rows of the latest loaded securities file
-- columns: security_id, symbol, name, asset_class, identical_group, isin, cusip
with latest as (
    select max(file_id) as file_id from securities where file_id <= $max_file_id
),

final as (
    select
        s.security_id,
        s.symbol,
        s.name,
        s.asset_class,
        s.identical_group,
        s.isin,
        s.cusip
    from securities as s
    inner join latest as l using (file_id)
)

select * from final
order by security_id
