-- audit/retention/run_exists: a row when $run_id is a recorded run (legal hold subjects)
-- columns: found
select 1 as found
from runs
where run_id = $run_id
