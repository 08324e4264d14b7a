-- audit/master_file: the security master file current when only files up to $max_file_id existed
-- columns: file_id
select max(file_id) as file_id
from securities
where file_id <= $max_file_id
