-- audit/recovery/mark_crashed: mark a run left running by a dead process as crashed
update runs
set status = 'crashed', ended_at = $ended_at, pid = $pid, host = $host
where run_id = $run_id and status = 'running'
