-- the security master a past run used: file $file_id, else the latest up to $max_file_id
with chosen as (
    select coalesce($file_id, max(file_id)) as file_id
    from securities
    where file_id <= $max_file_id
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
    inner join chosen as c using (file_id)
)

select * from final
order by security_id
