-- audit/retention/files: every archived custodian or reference file, with the runs that read it
-- columns: sha256, name, archive_path, loaded_on, run_ids
with used as (
    select sha256, list(distinct run_id order by run_id) as run_ids
    from run_inputs
    group by sha256
)

select
    f.sha256,
    min(f.original_name) as name,
    min(f.archive_path) as archive_path,
    cast(max(f.loaded_at) as date) as loaded_on,
    coalesce(any_value(u.run_ids), []::varchar[]) as run_ids
from file_ledger as f
left join used as u using (sha256)
group by f.sha256
order by loaded_on, f.sha256
