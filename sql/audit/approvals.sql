-- audit/approvals: sign-offs of one run's proposals, oldest first, read from the audit trail's
-- approval events (the approvals view of schema/004 predates proposal_sha256 and supersedes)
-- columns: seq, at, run_id, portfolio_id, approved_by, note, proposal_sha256, supersedes, actor, row_hash
select
    seq,
    "at",
    run_id,
    subject as portfolio_id,
    json_extract_string(payload, '$.by') as approved_by,
    json_extract_string(payload, '$.note') as note,
    json_extract_string(payload, '$.proposal_sha256') as proposal_sha256,
    try_cast(json_extract_string(payload, '$.supersedes') as bigint) as supersedes,
    actor,
    row_hash
from audit_log
where event = 'approval' and run_id = $run_id
order by seq
