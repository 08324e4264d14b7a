insert into run_inputs (run_id, role, name, sha256, file_id)
values ($run_id, $role, $name, $sha256, $file_id)
