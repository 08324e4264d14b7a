-- audit/newer_rate_files: price and FX rate files loaded after $max_file_id with values on or
-- before the review date
-- columns: kind, file_id
select distinct 'prices' as kind, file_id
from prices
where file_id > $max_file_id
  and as_of_date <= $as_of
union
select distinct 'fx_rates' as kind, file_id
from fx_rates
where file_id > $max_file_id
  and as_of_date <= $as_of
order by file_id
