-- marts/insert_run: record a run as it starts (status running)
insert into runs (run_id, kind, as_of, trigger, who, reason, code_version, started_at, status)
values ($run_id, $kind, $as_of, $trigger, $who, $reason, $code_version, $started_at, 'running')
