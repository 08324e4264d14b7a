-- schema/005_fx: FX rates supplied by custodians (or a rates file): 1 currency = rate
-- quote_currency
-- tables: fx_rates
create table if not exists fx_rates (
    file_id         integer not null,
    line            bigint not null,
    as_of_date      date not null,
    currency        varchar not null,
    quote_currency  varchar not null,
    rate            decimal(18,6) not null
);
