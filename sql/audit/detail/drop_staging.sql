-- audit/detail/drop_staging: the staging table, once its entries are in audit_detail
drop table if exists run_detail_staging
