-- audit/run_portfolios: one run's portfolios with their number of proposed trades
-- columns: portfolio_id, status, breached, action, total_value, trades, errors
with trades as (
    select portfolio_id, count(*) as trades
    from run_trades
    where run_id = $run_id
    group by portfolio_id
),

final as (
    select
        p.portfolio_id,
        p.status,
        p.breached,
        p.action,
        p.total_value,
        coalesce(t.trades, 0) as trades,
        p.errors
    from run_portfolios as p
    left join trades as t using (portfolio_id)
    where p.run_id = $run_id
)

select * from final
order by portfolio_id
