-- schema/007_shorts: declared short positions and lots ("true"); null for ordinary long holdings
-- tables: positions, lots (add short)
alter table positions add column if not exists short varchar;
alter table lots add column if not exists short varchar;
