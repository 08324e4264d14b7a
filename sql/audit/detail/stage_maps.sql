-- audit/detail/stage_maps: the run_finished detail's "ips", "outputs" and "portfolios" parts of
-- one run into the staging table, each value as canonical JSON text (chain.canonical_payload):
-- an IPS's or output's SHA-256 as a string; a portfolio's {"breached","status","trades"} with
-- its keys in order, trades being the number of trades proposed
insert into run_detail_staging (part, "key", "value")
select 'ips', name, json_text(sha256)
from run_inputs
where run_id = $run_id and role = 'ips'
union all
select 'outputs', name, json_text(sha256)
from run_outputs
where run_id = $run_id
union all
select
    'portfolios',
    p.portfolio_id,
    '{"breached":'
    || coalesce(p.breached::varchar, 'null')
    || ',"status":'
    || json_text(p.status)
    || ',"trades":'
    || coalesce(t.trades, 0)::varchar
    || '}'
from run_portfolios as p
left join (
    select portfolio_id, count(*) as trades
    from run_trades
    where run_id = $run_id
    group by portfolio_id
) as t using (portfolio_id)
where p.run_id = $run_id
