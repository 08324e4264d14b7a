-- marts/used_files: the custodian files a run read, and the security master current at the time
-- columns: file_id, original_name, sha256, kind
with master as (
    select max(file_id) as file_id from securities
),

final as (
    select file_id, original_name, sha256, kind
    from file_ledger
    where list_contains($file_ids, file_id)
       or file_id = (select file_id from master)
)

select * from final
order by file_id
