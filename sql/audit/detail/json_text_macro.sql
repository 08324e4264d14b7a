-- audit/detail/json_text_macro: json_text(s), the text json.dumps(s, ensure_ascii=False) gives
-- (null: 'null'), as chain.canonical_payload writes strings: a string with nothing to escape is
-- quoted as it is; otherwise its backslashes, then its quotes, then each control character are
-- replaced by their escapes (\b \t \n \f \r by name, the others as lower-case \u00xx; the
-- escapes hold only backslashes, letters and digits, so no replacement undoes an earlier one).
-- Temporary: defined on the connection that stages a run_finished detail.
create or replace temporary macro json_text(s) as
    case
        when s is null then 'null'
        when not regexp_matches(s, '[\x00-\x1f"\\]') then '"' || s || '"'
        else '"' || list_reduce(
            [
                ['\', '\\'], ['"', '\"'], [chr(0), '\u0000'], [chr(1), '\u0001'], [chr(2), '\u0002'],
                [chr(3), '\u0003'], [chr(4), '\u0004'], [chr(5), '\u0005'], [chr(6), '\u0006'],
                [chr(7), '\u0007'], [chr(8), '\b'], [chr(9), '\t'], [chr(10), '\n'],
                [chr(11), '\u000b'], [chr(12), '\f'], [chr(13), '\r'], [chr(14), '\u000e'],
                [chr(15), '\u000f'], [chr(16), '\u0010'], [chr(17), '\u0011'], [chr(18), '\u0012'],
                [chr(19), '\u0013'], [chr(20), '\u0014'], [chr(21), '\u0015'], [chr(22), '\u0016'],
                [chr(23), '\u0017'], [chr(24), '\u0018'], [chr(25), '\u0019'], [chr(26), '\u001a'],
                [chr(27), '\u001b'], [chr(28), '\u001c'], [chr(29), '\u001d'], [chr(30), '\u001e'],
                [chr(31), '\u001f']
            ],
            lambda acc, pair: replace(acc, pair[1], pair[2]),
            s
        ) || '"'
    end
