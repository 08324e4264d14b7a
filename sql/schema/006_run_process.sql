-- schema/006_run_process: issue 6: the process that ran each run, recorded when a dead run is
-- marked crashed (status gains the value 'crashed': a run left 'running' by a process that is gone)
-- tables: runs (adds pid, host)
alter table runs add column if not exists pid integer;
alter table runs add column if not exists host varchar;
