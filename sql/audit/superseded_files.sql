-- audit/superseded_files: earlier files that reported the same account and date as this positions
-- or lots file
-- columns: kind, account_id, as_of_date, file_id, original_name, sha256
with mine as (
    select distinct 'positions' as kind, account_id, as_of_date
    from positions
    where file_id = $file_id
    union
    select distinct 'lots' as kind, account_id, as_of_date
    from lots
    where file_id = $file_id
),

earlier as (
    select distinct 'positions' as kind, account_id, as_of_date, file_id
    from positions
    where file_id < $file_id
    union
    select distinct 'lots' as kind, account_id, as_of_date, file_id
    from lots
    where file_id < $file_id
),

final as (
    select e.kind, e.account_id, e.as_of_date, max(e.file_id) as file_id
    from earlier as e
    inner join mine as m using (kind, account_id, as_of_date)
    group by e.kind, e.account_id, e.as_of_date
)

select
    f.kind,
    f.account_id,
    f.as_of_date,
    f.file_id,
    l.original_name,
    l.sha256
from final as f
inner join file_ledger as l using (file_id)
order by f.kind, f.account_id, f.as_of_date
