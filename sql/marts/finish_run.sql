-- marts/finish_run: record a run's end: its time, status and report folder
update runs
set ended_at = $ended_at, status = $status, report_dir = $report_dir
where run_id = $run_id
