-- staging/insert_ledger: record one arrived file in the ledger and return its id
-- columns: file_id
insert into file_ledger (
    sha256, original_name, size_bytes, kind, rows, status, reason, accounts, as_of_dates,
    archive_path, loaded_at
)
values (
    $sha256, $original_name, $size_bytes, $kind, $rows, $status, $reason, $accounts,
    $as_of_dates, $archive_path, $loaded_at
)
returning file_id
