insert into validation_results (file_id, kind, success, evaluated, failures, result_json)
values ($file_id, $kind, $success, $evaluated, $failures, $result_json)
