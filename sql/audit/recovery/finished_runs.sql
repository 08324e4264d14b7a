-- of the given runs, those no longer running
select run_id from runs where status <> 'running' and list_contains($run_ids, run_id)
