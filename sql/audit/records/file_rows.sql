-- audit/records/file_rows: the text of every warehouse row loaded from each file (the canonical
-- tables and validation_results), ordered by file, table and text; all files when $file_ids is
-- null. ballast/audit/digests.py streams them into one digest per file and table.
-- A row's text is the JSON array of its columns cast to text, in the order below (null stays
-- null); a table's digest is the SHA-256 of its rows' texts, sorted, joined by newlines (format 1,
-- ballast/audit/digests.py). A column added to a table must be added here (tests/audit hold it).
-- columns: file_id, table_name, body
with body as (
    select file_id, 'positions' as table_name, to_json([
        line::varchar, as_of_date::varchar, account_id, security_id, quantity::varchar,
        price::varchar, market_value::varchar, currency, short
    ])::varchar as body
    from positions
    union all
    select file_id, 'lots', to_json([
        line::varchar, as_of_date::varchar, account_id, security_id, lot_id,
        acquired_date::varchar, quantity::varchar, cost_basis::varchar, short
    ])::varchar
    from lots
    union all
    select file_id, 'transactions', to_json([
        line::varchar, transaction_id, trade_date::varchar, account_id, security_id, type,
        quantity::varchar, amount::varchar, currency
    ])::varchar
    from transactions
    union all
    select file_id, 'cash_flows', to_json([
        line::varchar, account_id, effective_date::varchar, amount::varchar, currency, description
    ])::varchar
    from cash_flows
    union all
    select file_id, 'prices', to_json([
        line::varchar, as_of_date::varchar, security_id, price::varchar, currency
    ])::varchar
    from prices
    union all
    select file_id, 'fx_rates', to_json([
        line::varchar, as_of_date::varchar, currency, quote_currency, rate::varchar
    ])::varchar
    from fx_rates
    union all
    select file_id, 'securities', to_json([
        line::varchar, security_id, symbol, name, asset_class, identical_group, isin, cusip
    ])::varchar
    from securities
    union all
    select file_id, 'validation_results', to_json([
        kind, success::varchar, evaluated::varchar, to_json(failures)::varchar, result_json
    ])::varchar
    from validation_results
),

final as (
    select file_id, table_name, body
    from body
    where $file_ids is null or list_contains($file_ids, file_id)
)

select * from final
order by file_id, table_name, body
