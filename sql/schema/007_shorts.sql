-- declared short positions and lots ("true"); null for ordinary long holdings
alter table positions add column if not exists short varchar;
alter table lots add column if not exists short varchar;
