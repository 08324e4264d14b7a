-- audit/detail/create_staging: the temporary table a run_finished detail is staged in while
-- its digest is computed (ballast/audit/run_finished.py); this connection only
create or replace temporary table run_detail_staging (
    part    varchar not null,
    "key"   varchar not null,
    "value" varchar not null
)
