-- runs still marked running, oldest first
select run_id, kind, as_of, who, started_at
from runs
where status = 'running'
order by started_at, run_id
