"""The generic engine that reads a retail CSV export as its ``CsvProfile`` describes.

Steps: split the file into rows (Python's csv module, which copes with ragged rows), find the
header below the title lines, classify every later row (blank, title, header repeat, total or
footer, data), then clean and type the data rows with Polars expressions: ``$`` and ``,`` are
dropped, ``(1.23)`` is negative, "--", "n/a", "not applicable" are missing, and a date like
"04/17/2023 as of 04/15/2023" is read as its first date (the trade or posting date). Every
error is a ``DataError`` naming the file, row and source column.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date, datetime

import polars as pl

from ballast.errors import DataError
from ballast.ingest.adapters import Context
from ballast.ingest.adapters.profiles import BY_QUANTITY, FLOW, CsvProfile, Pick
from ballast.ingest.adapters.securities import map_ids
from ballast.ingest.reader import ParsedFile, decode
from ballast.kinds import (
    ALL_KINDS,
    CASH_SECURITY,
    POLARS_TYPES,
    TRANSACTION_TYPES,
    ColType,
    derived_transaction_id,
)

_SCALES = {ColType.QUANTITY: 6, ColType.PRICE: 6, ColType.MONEY: 4}
_NUMBER = r"^-?(\d+\.?\d*|\.\d+)$"
_FIRST_DATE = r"^(\d{1,2}/\d{1,2}/\d{4})"
_CUSIP = r"^[0-9A-Z]{8}[0-9]$"
_ROLES: tuple[str, ...]
_ROLES = ("symbol", "quantity", "price", "market_value", "date", "action", "amount")
_ROLES += ("account", "currency")


def recognise(profile: CsvProfile, head: bytes) -> bool:
    """True when every marker of ``profile`` is found in the file's head."""
    text = head[:8192].decode("utf-8-sig", errors="replace").replace("\r", "")
    return all(re.search(m, text, re.MULTILINE | re.IGNORECASE) for m in profile.markers)


def parse(profile: CsvProfile, data: bytes, name: str, ctx: Context) -> list[ParsedFile]:
    """The canonical frame of one export."""
    text = decode(data, name)
    rows = _rows(text, name)
    header_at, header = _header(rows, profile, name)
    body = _classify(rows.filter(pl.col("line") > header_at), header, profile)
    fields = _fields(body, header, profile, name)
    if fields.is_empty():
        raise DataError(name, f"no data rows below the header ({profile.name} layout)")
    if profile.kind == "positions":
        frame = _positions(fields, text, profile, name, ctx)
    else:
        frame = _transactions(fields, text, profile, name, ctx)
    kind = ALL_KINDS[profile.kind]
    return [ParsedFile(kind, frame.select("line", *kind.columns).sort("line"))]


# --- rows and header ---------------------------------------------------------------------------


def _rows(text: str, name: str) -> pl.DataFrame:
    """Every CSV row with its (last) line number."""
    reader = csv.reader(io.StringIO(text, newline=""))
    lines: list[int] = []
    fields: list[list[str]] = []
    try:
        for row in reader:
            lines.append(reader.line_num)
            fields.append(row)
    except csv.Error as exc:
        raise DataError(name, f"cannot be read as CSV ({exc})", line=reader.line_num) from None
    return pl.DataFrame(
        {"line": lines, "fields": fields},
        schema={"line": pl.Int64, "fields": pl.List(pl.String)},
    )


def _norm_fields() -> pl.Expr:
    return pl.col("fields").list.eval(pl.element().str.strip_chars().str.to_lowercase())


def _header(rows: pl.DataFrame, profile: CsvProfile, name: str) -> tuple[int, list[str]]:
    """The first row holding every header column, and its column names."""
    has_all = pl.all_horizontal(_norm_fields().list.contains(h) for h in profile.header)
    found = rows.filter(has_all).head(1)
    if found.is_empty():
        raise DataError(
            name, f"no header row with columns {', '.join(profile.header)} ({profile.name})"
        )
    return int(found["line"][0]), [f.strip() for f in found["fields"][0]]


def _classify(body: pl.DataFrame, header: list[str], profile: CsvProfile) -> pl.DataFrame:
    """Mark title rows (one filled field) and drop blanks, header repeats, totals, footers."""
    filled = pl.col("fields").list.eval(pl.element().str.strip_chars() != "").list.sum()
    first = pl.col("fields").list.first().str.strip_chars()
    repeat = _norm_fields().list.head(len(header)) == pl.lit([h.lower() for h in header])
    body = body.with_columns(filled.alias("_filled"), first.alias("_first"))
    body = body.filter(
        (pl.col("_filled") > 0)
        & ~repeat.fill_null(False)
        & ~pl.col("_first").str.contains(profile.skip_rows).fill_null(False)
    )
    title = pl.when(pl.col("_filled") == 1).then(pl.col("_first"))
    if profile.account_line:
        is_account = title.str.contains(profile.account_line)
        account = pl.when(is_account).then(title).forward_fill()
        section = pl.when(~is_account).then(title).forward_fill()
    else:
        account = pl.lit(None, pl.String)
        section = title.forward_fill()
    return body.with_columns(
        account.alias("_account_line"), section.alias("_section"), title.alias("_title")
    )


def _fields(body: pl.DataFrame, header: list[str], profile: CsvProfile, name: str) -> pl.DataFrame:
    """Data rows with one string column per profile role (missing values as null)."""
    lowered = [h.lower() for h in header]
    nulls = [v.lower() for v in profile.null_values]
    exprs = []
    for role in _ROLES:
        sources = profile.columns.get(role, ())
        idx = next((lowered.index(s.lower()) for s in sources if s.lower() in lowered), None)
        if idx is None:
            exprs.append(pl.lit(None, pl.String).alias(role))
            continue
        value = pl.col("fields").list.get(idx, null_on_oob=True).str.strip_chars()
        exprs.append(
            pl.when(value.str.to_lowercase().is_in(nulls)).then(None).otherwise(value).alias(role)
        )
    data = body.filter(pl.col("_title").is_null())
    return data.select("line", "_account_line", "_section", *exprs)


def source_column(profile: CsvProfile, role: str) -> str:
    """The source column name a role comes from (for error messages)."""
    return profile.columns.get(role, (role,))[0]


# --- values ------------------------------------------------------------------------------------


def _first_bad(frame: pl.DataFrame, raw: str, ok: pl.Expr) -> tuple[int, str] | None:
    bad = frame.filter(pl.col(raw).is_not_null() & ~ok.fill_null(False)).head(1)
    return None if bad.is_empty() else (int(bad["line"][0]), str(bad[raw][0]))


def _cleaned_number(role: str) -> pl.Expr:
    """'$1,234.50' -> '1234.50'; '(1.23)' and '-$1.23' -> '-1.23'; '+5' -> '5'; '0.' -> '0'."""
    base = pl.col(role).str.replace_all(r"[\$,\s]", "").str.replace(r"^\+", "")
    inner = base.str.extract(r"^\((.*)\)$")
    signed = pl.when(inner.is_not_null()).then(pl.concat_str([pl.lit("-"), inner]))
    return signed.otherwise(base).str.replace(r"\.$", "")


def numbers(frame: pl.DataFrame, role: str, ctype: ColType, column: str, name: str) -> pl.Expr:
    """The typed expression for a numeric role, after checking every value is a number."""
    cleaned = frame.select("line", pl.col(role), _cleaned_number(role).alias("_n"))
    if bad := _first_bad(cleaned, role, pl.col("_n").str.contains(_NUMBER)):
        raise DataError(name, f"{bad[1]!r} is not a number", bad[0], column)
    digits = pl.col("_n").str.extract(r"^-?(\d*)").str.len_chars() <= 12
    if bad := _first_bad(cleaned, role, digits):
        raise DataError(name, f"{bad[1]!r} is too large", bad[0], column)
    return _cleaned_number(role).cast(POLARS_TYPES[ctype])


def dates(frame: pl.DataFrame, role: str, fmt: str, column: str, name: str) -> pl.Expr:
    """The first date of each value ('04/17/2023 as of 04/15/2023' -> 2023-04-17)."""
    parsed = pl.col(role).str.extract(_FIRST_DATE).str.to_date(fmt, strict=False)
    if bad := _first_bad(frame, role, parsed.is_not_null()):
        raise DataError(name, f"{bad[1]!r} is not a date ({fmt})", bad[0], column)
    return parsed


def _required(frame: pl.DataFrame, roles: list[str], profile: CsvProfile, name: str) -> None:
    for role in roles:
        missing = frame.filter(pl.col(role).is_null()).head(1)
        if not missing.is_empty():
            column = source_column(profile, role)
            raise DataError(name, "a value is required here", int(missing["line"][0]), column)


def _pick(picks: tuple[Pick, ...], text: str, name: str) -> tuple[str, Pick] | None:
    """The first value a pick finds."""
    first_line = text.lstrip().split("\n", 1)[0]
    for p in picks:
        source = {"first_line": first_line, "text": text, "name": name}[p.where]
        if m := re.search(p.pattern, source, re.IGNORECASE | re.MULTILINE):
            return m.group(1).strip().strip('"').strip(), p
    return None


def _as_of(profile: CsvProfile, text: str, name: str) -> date:
    found = _pick(profile.as_of, text, name)
    if found is None:
        raise DataError(name, f"cannot tell the as-of date ({profile.name} layout)", line=1)
    value, pick = found
    try:
        return datetime.strptime(value, pick.date_format or profile.date_format).date()
    except ValueError:
        raise DataError(name, f"{value!r} is not a date ({pick.date_format})", line=1) from None


def _account(frame: pl.DataFrame, profile: CsvProfile, text: str, name: str) -> pl.Expr:
    """The account of each row: its column, else the account line above it, else a pick."""
    found = _pick(profile.account, text, name)
    fallback = pl.lit(found[0] if found else None, pl.String)
    expr = pl.coalesce(pl.col("account"), pl.col("_account_line"), fallback)
    bad = frame.filter(expr.is_null()).head(1)
    if not bad.is_empty():
        raise DataError(name, "cannot tell which account this row belongs to", int(bad["line"][0]))
    return expr


def _security_ids(frame: pl.DataFrame, profile: CsvProfile, ctx: Context, name: str) -> pl.Series:
    """Map the symbol column (and, where it may hold one, CUSIP) to security ids."""
    ids = frame.select(
        "line",
        pl.col("symbol"),
        pl.when(pl.lit(profile.symbol_may_be_cusip) & pl.col("symbol").str.contains(_CUSIP))
        .then(pl.col("symbol"))
        .alias("cusip"),
    )
    return map_ids(ids, ctx.securities, name, source_column(profile, "symbol"))


def _with_ids(frame: pl.DataFrame, profile: CsvProfile, ctx: Context, name: str) -> pl.DataFrame:
    """Fill ``security_id`` for the rows that are not cash."""
    securities = frame.filter(pl.col("security_id").is_null())
    if securities.is_empty():
        return frame
    mapped = securities.with_columns(security_id=_security_ids(securities, profile, ctx, name))
    return pl.concat([frame.filter(pl.col("security_id").is_not_null()), mapped])


# --- positions ---------------------------------------------------------------------------------


def _positions(
    fields: pl.DataFrame, text: str, profile: CsvProfile, name: str, ctx: Context
) -> pl.DataFrame:
    as_of = _as_of(profile, text, name)
    cash = pl.lit(False)
    if profile.cash_symbols:
        cash = cash | pl.col("symbol").str.contains(profile.cash_symbols).fill_null(False)
    if profile.cash_sections:
        cash = cash | pl.col("_section").str.contains(profile.cash_sections).fill_null(False)
    frame = fields.with_columns(cash.alias("_cash"))
    mv_role = "price" if profile.price_is_market_value else "market_value"
    _required(frame.filter(pl.col("_cash")), [mv_role], profile, name)
    needed = ["symbol", "quantity", mv_role] + ([] if profile.price_is_market_value else ["price"])
    _required(frame.filter(~pl.col("_cash")), needed, profile, name)
    col: Callable[[str], str] = lambda role: source_column(profile, role)  # noqa: E731
    frame = frame.with_columns(
        quantity=numbers(frame, "quantity", ColType.QUANTITY, col("quantity"), name),
        market_value=numbers(frame, mv_role, ColType.MONEY, col(mv_role), name),
        price=pl.lit(None, pl.Decimal(18, 6))
        if profile.price_is_market_value
        else numbers(frame, "price", ColType.PRICE, col("price"), name),
        account_id=_account(fields, profile, text, name),
    )
    held = frame.filter(~pl.col("_cash"))
    if profile.price_is_market_value:
        zero = held.filter(pl.col("quantity") == 0).head(1)
        if not zero.is_empty():
            line = int(zero["line"][0])
            raise DataError(name, "quantity 0 with a market value", line, col("quantity"))
        held = held.with_columns(
            price=(pl.col("market_value") / pl.col("quantity")).cast(pl.Decimal(18, 6))
        )
    held = held.with_columns(security_id=_security_ids(held, profile, ctx, name))
    cash_rows = _cash_positions(frame.filter(pl.col("_cash")))
    columns = ["line", "account_id", "security_id", "quantity", "price", "market_value"]
    out = pl.concat([held.select(columns), cash_rows.select(columns)])
    return out.with_columns(
        as_of_date=pl.lit(as_of, pl.Date), currency=pl.lit(profile.currency, pl.String)
    )


def _cash_positions(cash: pl.DataFrame) -> pl.DataFrame:
    """One CASH row per account: quantity = amount, price = 1."""
    return (
        cash.group_by("account_id")
        .agg(
            pl.col("line").min(),
            pl.lit(CASH_SECURITY).alias("security_id"),
            pl.col("market_value").sum().cast(pl.Decimal(18, 4)),
        )
        .with_columns(
            quantity=pl.col("market_value").cast(pl.Decimal(18, 6)),
            price=pl.lit(1, pl.Decimal(18, 6)),
        )
    )


# --- transactions ------------------------------------------------------------------------------


def _rule(profile: CsvProfile) -> pl.Expr:
    """The target of the first action rule each row matches (a type, FLOW or BY_QUANTITY)."""
    expr: pl.Expr = pl.lit(None, pl.String)
    for pattern, target in reversed(profile.actions):
        expr = (
            pl.when(pl.col("action").str.contains(f"(?i){pattern}"))
            .then(pl.lit(target))
            .otherwise(expr)
        )
    return expr


def _types() -> pl.Expr:
    """The canonical type of each row from its rule (``_rule``), its amount and quantity."""
    rule = pl.col("_rule")
    flow = (
        pl.when(pl.col("amount") > 0).then(pl.lit("CONTRIBUTION")).otherwise(pl.lit("WITHDRAWAL"))
    )
    by_qty = pl.when(pl.col("_qty") < 0).then(pl.lit("SELL")).otherwise(pl.lit("BUY"))
    return pl.when(rule == FLOW).then(flow).when(rule == BY_QUANTITY).then(by_qty).otherwise(rule)


def _transaction_ids(frame: pl.DataFrame, prefix: str) -> pl.Series:
    """Stable ids from the row's content (and its rank among identical rows), not its position.

    The same transaction in two overlapping exports gets the same id.
    """
    key = pl.concat_str(
        [
            pl.col(c).cast(pl.String).fill_null("")
            for c in ("account_id", "trade_date", "action", "symbol", "_qty", "amount")
        ],
        separator="|",
    )
    keyed = frame.with_columns(key.alias("_key")).with_columns(
        pl.int_range(pl.len()).over("_key", order_by="line").alias("_rank")
    )
    return pl.Series(
        "transaction_id",
        [
            derived_transaction_id(prefix, k, r)
            for k, r in zip(keyed["_key"], keyed["_rank"], strict=True)
        ],
        dtype=pl.String,
    )


def _transactions(
    fields: pl.DataFrame, text: str, profile: CsvProfile, name: str, ctx: Context
) -> pl.DataFrame:
    _required(fields, ["date", "action"], profile, name)
    col: Callable[[str], str] = lambda role: source_column(profile, role)  # noqa: E731
    frame = fields.with_columns(
        trade_date=dates(fields, "date", profile.date_format, col("date"), name),
        amount=numbers(fields, "amount", ColType.MONEY, col("amount"), name),
        _qty=numbers(fields, "quantity", ColType.QUANTITY, col("quantity"), name),
        account_id=_account(fields, profile, text, name),
        currency=pl.coalesce(pl.col("currency"), pl.lit(profile.currency)),
        _rule=_rule(profile),
    )
    # a share movement (split, spin-off, merger) may leave Amount empty: no cash moved
    shares_only = (pl.col("_rule") == BY_QUANTITY) & pl.col("_qty").is_not_null()
    _required(frame.filter(~shares_only.fill_null(False)), ["amount"], profile, name)
    frame = frame.with_columns(
        amount=pl.col("amount").fill_null(pl.lit(0, POLARS_TYPES[ColType.MONEY]))
    ).with_columns(type=_types())
    unknown = frame.filter(~pl.col("type").is_in(TRANSACTION_TYPES).fill_null(False)).head(1)
    if not unknown.is_empty():
        action = unknown["action"][0]
        line = int(unknown["line"][0])
        raise DataError(name, f"action {action!r} has no transaction type", line, col("action"))
    frame = frame.with_columns(
        quantity=pl.col("_qty").abs().fill_null(0).cast(pl.Decimal(18, 6)),
        security_id=pl.when(pl.col("symbol").is_null()).then(pl.lit(CASH_SECURITY)),
        transaction_id=_transaction_ids(frame, profile.id_prefix),
    )
    return _with_ids(frame, profile, ctx, name)


# --- the adapter -------------------------------------------------------------------------------


class ProfileAdapter:
    """An ``Adapter`` for one custodian's CSV layouts, each described by a profile."""

    def __init__(self, name: str, profiles: tuple[CsvProfile, ...]) -> None:
        self.name = name
        self.profiles = profiles

    def profile(self, head: bytes) -> CsvProfile | None:
        """The profile whose markers the head matches."""
        return next((p for p in self.profiles if recognise(p, head)), None)

    def recognise(self, name: str, head: bytes) -> bool:
        return self.profile(head) is not None

    def parse(self, data: bytes, name: str, ctx: Context) -> list[ParsedFile]:
        profile = self.profile(data[:65536])
        if profile is None:
            raise DataError(name, f"not a {self.name} export this version can read", line=1)
        try:
            return parse(profile, data, name, ctx)
        except pl.exceptions.PolarsError as exc:  # e.g. a value too large for its column
            raise DataError(name, f"cannot be read ({str(exc).splitlines()[0]})") from None
