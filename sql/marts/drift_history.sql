-- marts/drift_history: drift per asset class of the given portfolios at their earlier completed
-- quarterly reviews: per portfolio one review per as-of date (the latest run that reviewed it),
-- before $as_of, excluding run $run_id; classes without a target have no band and are left out
-- columns: portfolio_id, as_of, run_id, asset_class, drift_bp, lower_bp, upper_bp, breached
with reviews as (
    select
        p.portfolio_id,
        r.run_id,
        r.as_of,
        row_number() over (
            partition by p.portfolio_id, r.as_of order by r.started_at desc, r.run_id desc
        ) as nth
    from runs as r
    inner join run_portfolios as p using (run_id)
    where
        r.kind = 'quarterly_review'
        and r.status in ('completed', 'completed_with_errors')
        and r.as_of < $as_of
        and r.run_id <> $run_id
        and p.status = 'ok'
        and p.portfolio_id in (select unnest($portfolio_ids::varchar[]))
),

final as (
    select
        a.portfolio_id,
        v.as_of,
        v.run_id,
        a.asset_class,
        a.drift_bp,
        (a.lower_bound - a.target) * 10000 as lower_bp,
        (a.upper_bound - a.target) * 10000 as upper_bp,
        a.breached
    from reviews as v
    inner join run_allocations as a
        on a.run_id = v.run_id and a.portfolio_id = v.portfolio_id
    where v.nth = 1 and a.target is not null
)

select * from final
order by portfolio_id, as_of, asset_class
