update runs
set ended_at = $ended_at, status = $status, report_dir = $report_dir
where run_id = $run_id
