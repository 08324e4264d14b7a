-- staging/insert_validation: record the validation outcome of one file
insert into validation_results (file_id, kind, success, evaluated, failures, result_json)
values ($file_id, $kind, $success, $evaluated, $failures, $result_json)
