-- audit/records/portfolio_rows: the text of every row of each run and portfolio in run_portfolios,
-- run_allocations and run_trades (each row's text starts with its table's name; otherwise as
-- audit/records/run_rows), ordered by run, portfolio and text, so verify can name the portfolio
-- whose figures changed; all runs when $run_ids is null. ballast/audit/digests.py streams them
-- into one digest per run and portfolio. $from_portfolio (inclusive) and $to_portfolio
-- (exclusive) bound the portfolios, either null for none.
-- columns: run_id, portfolio_id, body
with body as (
    select run_id, portfolio_id, to_json([
        'run_portfolios', status, breached::varchar, action, total_value::varchar,
        to_json(errors)::varchar, to_json(warnings)::varchar
    ])::varchar as body
    from run_portfolios
    union all
    select run_id, portfolio_id, to_json([
        'run_allocations', asset_class, market_value::varchar, weight::varchar, target::varchar,
        lower_bound::varchar, upper_bound::varchar, drift_bp::varchar, breached::varchar,
        post_trade_weight::varchar
    ])::varchar
    from run_allocations
    union all
    select run_id, portfolio_id, to_json([
        'run_trades', account_id, security_id, side, quantity::varchar, price::varchar,
        amount::varchar, reason
    ])::varchar
    from run_trades
),

final as (
    select run_id, portfolio_id, body
    from body
    where ($run_ids is null or list_contains($run_ids, run_id))
        and ($from_portfolio is null or portfolio_id >= $from_portfolio)
        and ($to_portfolio is null or portfolio_id < $to_portfolio)
)

select * from final
order by run_id, portfolio_id, body
