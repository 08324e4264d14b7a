-- audit/records/run_rows: the text of every row each run wrote to the run tables (format 1, as
-- audit/records/file_rows), ordered by run, table and text; all runs when $run_ids is null.
-- ballast/audit/digests.py streams them into one digest per run and table.
-- $keyed: null, every row; false, the rows of run_inputs and run_outputs only; true, the rows of
-- the portfolio tables only, of the portfolios from $from_portfolio (inclusive) to $to_portfolio
-- (exclusive), either bound null for none (a run's digests are taken a range at a time).
-- $table: null, every table; else that one. $role: null, every run_inputs row; else those of
-- that role. $from_name (inclusive) and $to_name (exclusive): the run_inputs and run_outputs
-- rows whose name is in that range, either bound null for none. Each table's rows are chosen
-- before their text is made, so a range's sort holds only its rows.
-- columns: run_id, table_name, body
with body as (
    select run_id, 'run_inputs' as table_name, to_json([
        role, name, sha256, file_id::varchar
    ])::varchar as body
    from run_inputs
    where ($run_ids is null or list_contains($run_ids, run_id))
        and not coalesce($keyed, false) and coalesce($table = 'run_inputs', true)
        and ($role is null or role = $role)
        and ($from_name is null or name >= $from_name)
        and ($to_name is null or name < $to_name)
    union all
    select run_id, 'run_outputs', to_json([name, sha256])::varchar
    from run_outputs
    where ($run_ids is null or list_contains($run_ids, run_id))
        and not coalesce($keyed, false) and coalesce($table = 'run_outputs', true)
        and ($from_name is null or name >= $from_name)
        and ($to_name is null or name < $to_name)
    union all
    select run_id, 'run_portfolios', to_json([
        portfolio_id, status, breached::varchar, action, total_value::varchar,
        to_json(errors)::varchar, to_json(warnings)::varchar
    ])::varchar
    from run_portfolios
    where ($run_ids is null or list_contains($run_ids, run_id))
        and coalesce($keyed, true) and coalesce($table = 'run_portfolios', true)
        and ($from_portfolio is null or portfolio_id >= $from_portfolio)
        and ($to_portfolio is null or portfolio_id < $to_portfolio)
    union all
    select run_id, 'run_allocations', to_json([
        portfolio_id, asset_class, market_value::varchar, weight::varchar, target::varchar,
        lower_bound::varchar, upper_bound::varchar, drift_bp::varchar, breached::varchar,
        post_trade_weight::varchar
    ])::varchar
    from run_allocations
    where ($run_ids is null or list_contains($run_ids, run_id))
        and coalesce($keyed, true) and coalesce($table = 'run_allocations', true)
        and ($from_portfolio is null or portfolio_id >= $from_portfolio)
        and ($to_portfolio is null or portfolio_id < $to_portfolio)
    union all
    select run_id, 'run_trades', to_json([
        portfolio_id, account_id, security_id, side, quantity::varchar, price::varchar,
        amount::varchar, reason
    ])::varchar
    from run_trades
    where ($run_ids is null or list_contains($run_ids, run_id))
        and coalesce($keyed, true) and coalesce($table = 'run_trades', true)
        and ($from_portfolio is null or portfolio_id >= $from_portfolio)
        and ($to_portfolio is null or portfolio_id < $to_portfolio)
)

select run_id, table_name, body
from body
order by run_id, table_name, body
