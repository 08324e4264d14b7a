-- snapshot/restatements: accounts whose positions or lots for the review date came in more than one
-- file: the review uses the latest, and says which file it replaced
-- columns: kind, account_id, used_file, used_file_id, replaced
with versions as (
    select 'positions' as kind, account_id, file_id
    from positions
    where as_of_date = $as_of and account_id in (select unnest($accounts))
      and file_id <= $max_file_id
    union
    select 'lots' as kind, account_id, file_id
    from lots
    where as_of_date = $as_of and account_id in (select unnest($accounts))
      and file_id <= $max_file_id
),

ranked as (
    select
        kind,
        account_id,
        file_id,
        max(file_id) over (partition by kind, account_id) as used_file_id
    from versions
),

final as (
    select
        r.kind,
        r.account_id,
        u.original_name as used_file,
        r.used_file_id,
        string_agg(e.original_name || ' (file #' || r.file_id || ')', ', ' order by r.file_id)
            as replaced
    from ranked as r
    inner join file_ledger as e on e.file_id = r.file_id
    inner join file_ledger as u on u.file_id = r.used_file_id
    where r.file_id < r.used_file_id
    group by r.kind, r.account_id, u.original_name, r.used_file_id
)

select * from final
order by kind, account_id
