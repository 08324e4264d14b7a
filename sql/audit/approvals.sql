-- audit/approvals: sign-offs of one run's proposals, oldest first
-- columns: seq, at, run_id, portfolio_id, approved_by, note, actor, row_hash
select seq, "at", run_id, portfolio_id, approved_by, note, actor, row_hash
from approvals
where run_id = $run_id
order by seq
