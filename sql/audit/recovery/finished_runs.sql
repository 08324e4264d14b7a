-- audit/recovery/finished_runs: of the given runs, those no longer running
-- columns: run_id
select run_id from runs where status <> 'running' and list_contains($run_ids, run_id)
