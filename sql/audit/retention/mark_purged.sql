-- audit/retention/mark_purged: a purged run keeps its rows; its status says so and its report
-- folder is gone
update runs set status = 'purged', report_dir = null
where run_id in (select unnest($run_ids::varchar[]))
