-- audit/records/run_rows: the text of every row each run wrote to the run tables (format 1, as
-- audit/records/file_rows), ordered by run, table and text; all runs when $run_ids is null.
-- ballast/audit/digests.py streams them into one digest per run and table.
-- $keyed: null, every row; false, the rows of run_inputs and run_outputs only; true, the rows of
-- the portfolio tables only, of the portfolios from $from_portfolio (inclusive) to $to_portfolio
-- (exclusive), either bound null for none (a run's digests are taken a range at a time).
-- columns: run_id, table_name, body
with body as (
    select run_id, null::varchar as portfolio_id, 'run_inputs' as table_name, to_json([
        role, name, sha256, file_id::varchar
    ])::varchar as body
    from run_inputs
    union all
    select run_id, null, 'run_outputs', to_json([name, sha256])::varchar
    from run_outputs
    union all
    select run_id, portfolio_id, 'run_portfolios', to_json([
        portfolio_id, status, breached::varchar, action, total_value::varchar,
        to_json(errors)::varchar, to_json(warnings)::varchar
    ])::varchar
    from run_portfolios
    union all
    select run_id, portfolio_id, 'run_allocations', to_json([
        portfolio_id, asset_class, market_value::varchar, weight::varchar, target::varchar,
        lower_bound::varchar, upper_bound::varchar, drift_bp::varchar, breached::varchar,
        post_trade_weight::varchar
    ])::varchar
    from run_allocations
    union all
    select run_id, portfolio_id, 'run_trades', to_json([
        portfolio_id, account_id, security_id, side, quantity::varchar, price::varchar,
        amount::varchar, reason
    ])::varchar
    from run_trades
),

final as (
    select run_id, table_name, body
    from body
    where ($run_ids is null or list_contains($run_ids, run_id))
        and (
            $keyed is null
            or (not $keyed and portfolio_id is null)
            or (
                $keyed and portfolio_id is not null
                and ($from_portfolio is null or portfolio_id >= $from_portfolio)
                and ($to_portfolio is null or portfolio_id < $to_portfolio)
            )
        )
)

select * from final
order by run_id, table_name, body
