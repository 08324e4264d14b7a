-- marts/performance_history: value per asset class of the given portfolios at their earlier
-- quarterly reviews, as recorded (base currency, cents), the valuation points of the
-- performance section: per portfolio one review per as-of date (the latest run that reviewed
-- it), before $as_of, excluding run $run_id and every run started after $started_at (so a rerun
-- of the run reads the same points); purged runs keep their rows and still count
-- columns: portfolio_id, as_of, run_id, total_value, asset_class, market_value, target
with reviews as (
    select
        p.portfolio_id,
        r.run_id,
        r.as_of,
        p.total_value,
        row_number() over (
            partition by p.portfolio_id, r.as_of order by r.started_at desc, r.run_id desc
        ) as nth
    from runs as r
    inner join run_portfolios as p using (run_id)
    where
        r.kind = 'quarterly_review'
        and r.status in ('completed', 'completed_with_errors', 'purged')
        and r.as_of < $as_of
        and r.run_id <> $run_id
        and r.started_at < $started_at
        and p.status = 'ok'
        and p.total_value is not null
        and p.portfolio_id in (select unnest($portfolio_ids::varchar[]))
),

final as (
    select
        v.portfolio_id,
        v.as_of,
        v.run_id,
        v.total_value,
        a.asset_class,
        a.market_value,
        a.target
    from reviews as v
    inner join run_allocations as a
        on a.run_id = v.run_id and a.portfolio_id = v.portfolio_id
    where v.nth = 1
)

select * from final
order by portfolio_id, as_of, asset_class
