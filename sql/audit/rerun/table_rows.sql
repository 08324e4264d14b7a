-- audit/rerun/table_rows: every row of one canonical table ($table, a name from ballast.kinds)
-- from files up to a file id, in file and line order
-- columns: the table's columns
select *
from query_table($table)
where file_id <= $max_file_id
order by file_id, line
