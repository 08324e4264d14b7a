"""The compliance report: one self-contained HTML page per portfolio, and a run index page.

Pure rendering: the caller passes plain dicts (the decimal strings of results.json) and gets
HTML text back. Numbers are formatted with ``Decimal`` only. Every template is autoescaped, and
account ids are masked everywhere, free text included, so a report can be mailed around.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import cache, lru_cache, partial
from itertools import islice
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup, escape

if TYPE_CHECKING:  # Polars is imported where used: report workers never need it
    import polars as pl

from ballast.reporting import performance_view
from ballast.reporting.charts import (
    band_chart,
    drift_frame,
    drift_histogram,
    drift_history_chart,
)
from ballast.reporting.template_env import InliningLoader, ReportEnvironment
from ballast.resources import resource_dir

DASH = "—"
_CENT = Decimal("0.01")
_HUNDRED = Decimal(100)
_MASK = "••••"
_STATUS_LABELS = {
    "in_policy": "In policy",
    "out_of_policy": "Out of policy",
    "data_invalid": "Data invalid",
}
_CLASS_KEYS: tuple[str, ...]
_CLASS_KEYS = ("asset_class", "market_value", "weight", "target", "lower", "upper", "drift_bp")
_CLASS_KEYS += ("breached", "post_trade_weight")
_TRADE_KEYS: tuple[str, ...]
_TRADE_KEYS = ("account_id", "security_id", "side", "quantity", "price", "amount", "reason")
_TRADE_KEYS += ("realized_gain_short_term", "realized_gain_long_term", "estimated_cost")
_TRADE_KEYS += ("lots", "wash_sale_replacements")  # lot instructions (sales only)
_KIND_LABELS = {"quarterly_review": "Quarterly review", "monitor": "Daily drift monitor"}


# --- filters ---------------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    if type(value) is str:
        return _decimal_text(value)
    if value is None or isinstance(value, jinja2.Undefined) or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


@lru_cache(maxsize=4096)
def _decimal_text(text: str) -> Decimal | None:
    """A decimal string's value (None: empty or not a number), kept: the figures of a report
    are decimal strings, and targets, band edges and zero totals recur in every report."""
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None


def _fixed(value: Decimal, places: Decimal = _CENT) -> str:
    """Half to even (the project rule), with separators: 11300000 → ``11,300,000.00``."""
    q = value.quantize(places, rounding=ROUND_HALF_EVEN)
    return f"{q:,f}" if q != 0 else f"{abs(q):,f}"


# The number filters run some sixty times a report, mostly on decimal strings that recur across
# portfolios (targets, band edges, zero totals): their text is kept per input string.


def _money(value: Any) -> str:
    d = _decimal(value)
    return DASH if d is None else _fixed(d)


def _weight(value: Any) -> str:
    d = _decimal(value)
    return DASH if d is None else f"{_fixed(d * _HUNDRED)}%"


def _bp(value: Any) -> str:
    d = _decimal(value)
    if d is None:
        return DASH
    text = _fixed(d)
    return f"{text} bp" if text.startswith("-") or d.quantize(_CENT) == 0 else f"+{text} bp"


_money_text = lru_cache(maxsize=8192)(_money)
_weight_text = lru_cache(maxsize=8192)(_weight)
_bp_text = lru_cache(maxsize=8192)(_bp)


def money(value: Any, currency: str | None = None) -> str:
    """A decimal string as money: ``"11300000"`` → ``11,300,000.00`` (``USD 11,...`` with code)."""
    text = _money_text(value) if type(value) is str else _money(value)
    if text == DASH:
        return DASH
    return f"{currency} {text}" if currency else text


def weight(value: Any) -> str:
    """A fraction as a percentage: ``"0.663717"`` → ``66.37%``."""
    return _weight_text(value) if type(value) is str else _weight(value)


def bp(value: Any) -> str:
    """Basis points with their sign: ``"637.17"`` → ``+637.17 bp``."""
    return _bp_text(value) if type(value) is str else _bp(value)


def quantity(value: Any) -> str:
    """A quantity as given, with thousands separators and no invented decimals."""
    d = _decimal(value)
    return DASH if d is None else f"{d:,f}"


def mask_account(value: Any) -> str:
    """Only the last four characters of an account id: ``INST-001`` → ``••••-001``."""
    text = "" if value is None else str(value)
    visible = min(4, len(text) // 2)
    return _MASK + (text[-visible:] if visible else "")


def _masked(match: re.Match[str]) -> str:
    return mask_account(match.group(0))


@lru_cache(maxsize=256)
def _longest_first(account_ids: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({a for a in account_ids if a}, key=len, reverse=True))


@lru_cache(maxsize=256)
def _pattern(ids: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(a) for a in ids))


def redact(text: Any, account_ids: Iterable[str] | AccountIds = ()) -> str:
    """Free text with every known account id masked.

    Ids are matched longest first, left to right. Most text holds no id at all, and text
    holding one id is masked with ``str.replace`` (the same left-to-right, non-overlapping
    replacement); only text holding several ids needs the regular expression, compiled once
    per set of ids."""
    out = "" if text is None else str(text)
    if isinstance(account_ids, AccountIds):
        present = account_ids.present_in(out) if out else ()
    else:
        present = tuple(a for a in _longest_first(tuple(account_ids)) if a in out)
    if not present:
        return out
    if len(present) == 1:
        return out.replace(present[0], mask_account(present[0]))
    return _pattern(present).sub(_masked, out)


@jinja2.pass_context
def _redact_filter(ctx: jinja2.runtime.Context, text: Any) -> str:
    return redact(text, ctx.get("account_ids", ()))


def humanize(value: Any) -> str:
    """An identifier as words: ``tax_exempt`` → ``tax exempt``."""
    return DASH if value is None else str(value).replace("_", " ")


def make_environment(kind: type[ReportEnvironment] = ReportEnvironment) -> jinja2.Environment:
    """The Jinja environment for reports (a ``kind`` of ``ReportEnvironment``): autoescaped
    throughout, strict about missing values.

    Templates are compiled once per environment and never checked for changes on disk
    (``auto_reload=False``): a report run renders thousands of pages from the same files."""
    env = kind(
        loader=InliningLoader(resource_dir("templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.globals.update(hash=hash_html, or_dash=or_dash_html)
    env.filters.update(
        money=money,
        weight=weight,
        bp=bp,
        quantity=quantity,
        mask_account=mask_account,
        redact=_redact_filter,
        humanize=humanize,
    )
    return env


_MUTED_DASH = Markup('<span class="muted">—</span>')


def hash_html(value: Any) -> Markup:
    """A SHA-256 on a page (the templates' ``hash``): in a ``code`` element titled with it, or
    a muted dash. A function, not a Jinja macro: each macro call builds a new context, and the
    run record calls it for every input file of every report."""
    if not value:
        return _MUTED_DASH
    text = escape(value)
    return Markup(f'<code class="hash" title="{text}">{text}</code>')


def or_dash_html(value: Any) -> Markup:
    """A value on a page (the templates' ``or_dash``), escaped, or a muted dash for none or
    empty."""
    if value is None or value == "":
        return _MUTED_DASH
    return escape(value)


# --- derived figures -------------------------------------------------------------------------


def _sum(rows: Iterable[Mapping[str, Any]], key: str) -> Decimal:
    return sum((_decimal(r.get(key)) or Decimal(0) for r in rows), Decimal(0))


def status_key(portfolio: Mapping[str, Any]) -> str:
    """``in_policy``, ``out_of_policy`` or ``data_invalid``."""
    if portfolio.get("status") != "ok":
        return "data_invalid"
    return "out_of_policy" if portfolio.get("breached") else "in_policy"


def trade_totals(trades: list[Mapping[str, Any]]) -> dict[str, str]:
    """Totals of the proposed trades, as decimal strings."""
    buys = [t for t in trades if t.get("side") == "buy"]
    sells = [t for t in trades if t.get("side") == "sell"]
    totals = {
        "buys": _sum(buys, "amount"),
        "sells": _sum(sells, "amount"),
        "net_cash": _sum(sells, "amount") - _sum(buys, "amount"),
        "cost_buys": _sum(buys, "estimated_cost"),
        "cost_sells": _sum(sells, "estimated_cost"),
        "estimated_cost": _sum(trades, "estimated_cost"),
        "realized_gain_short_term": _sum(trades, "realized_gain_short_term"),
        "realized_gain_long_term": _sum(trades, "realized_gain_long_term"),
        "estimated_tax": _sum(trades, "estimated_tax"),
        "wash_sale_disallowed": _sum(trades, "wash_sale_disallowed"),
    }
    out = {k: str(v) for k, v in totals.items()}
    out.update(n_buys=str(len(buys)), n_sells=str(len(sells)))
    return out


def total_drift_bp(asset_classes: list[Mapping[str, Any]]) -> str | None:
    """The portfolio's total drift Σ |weight − target| over the classes with a target, in basis
    points: the one definition of the page, of results.json's ``drift_before_bp`` (the
    cash-flow sentence of the trades section) and of the trade engines (``post_trade``). The
    seed case's +637.17 / −637.17 bp make 1,274.34 bp (half of it is what must be traded)."""
    drifts = [d for ac in asset_classes if (d := _decimal(ac.get("drift_bp"))) is not None]
    return str(sum((abs(d) for d in drifts), Decimal(0))) if drifts else None


def breach_lines(asset_classes: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each breached class with the band edge it crossed and by how much."""
    out = []
    for ac in asset_classes:
        if not ac.get("breached"):
            continue
        w, lo, hi = (_decimal(ac.get(k)) for k in ("weight", "lower", "upper"))
        above = w is not None and hi is not None and w > hi
        edge = hi if above else lo
        beyond = abs(w - edge) * 10000 if w is not None and edge is not None else None
        out.append(
            {
                "asset_class": str(ac.get("asset_class")),
                "side": "above" if above else "below",
                "edge": None if edge is None else str(edge),
                "beyond_bp": None if beyond is None else str(beyond),
                "weight": ac.get("weight"),
                "target": ac.get("target"),
                "drift_bp": ac.get("drift_bp"),
            }
        )
    return out


def allocation_totals(asset_classes: list[Mapping[str, Any]]) -> dict[str, str | None]:
    """Column totals of the allocation table, as decimal strings."""
    keys = ("market_value", "weight", "target", "post_trade_weight")
    return {k: str(_sum(asset_classes, k)) if asset_classes else None for k in keys}


def _account_ids(
    policies: Iterable[Mapping[str, Any]], portfolios: Iterable[Mapping[str, Any]]
) -> list[str]:
    """Every account id known to the page, so free text can be masked too."""
    ids = [a.get("id") for p in policies for a in p.get("accounts") or []]
    for portfolio in portfolios:
        ids += [a.get("id") for a in portfolio.get("accounts") or []]
        ids += [t.get("account_id") for t in portfolio.get("trades") or []]
    return sorted({str(i) for i in ids if i})


def _with_defaults(
    items: Iterable[Mapping[str, Any]] | None, /, **defaults: Any
) -> list[dict[str, Any]]:
    return [{**defaults, **item} for item in items or []]


def _run(run: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"reason": None, "who": None, "code_version": None, "started_at": None}
    out.update(trigger=None, input_files=[], run_id="", as_of="", kind="")
    out.update(run)
    out["input_files"] = _with_defaults(
        out["input_files"], name="", sha256=None, kind=None, rows=None, status=None
    )
    out["kind_label"] = _KIND_LABELS.get(str(out["kind"]), humanize(out["kind"]).capitalize())
    return out


def _portfolio(portfolio: Mapping[str, Any], *, full: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "errors": [],
        "warnings": [],
        "asset_classes": [],
        "trades": [],
        "checks": [],
    }
    out.update(total_value=None, base_currency="", breached=False, action="none", cash_flows=None)
    out.update(tax_budget=None, harvest=None)
    out.update(portfolio)
    for key in ("errors", "warnings"):
        out[key] = list(out[key] or [])
    if full:
        out["asset_classes"] = _with_defaults(out["asset_classes"], **dict.fromkeys(_CLASS_KEYS))
        out["trades"] = _with_defaults(out["trades"], **dict.fromkeys(_TRADE_KEYS))
    out["status_key"] = status_key(out)
    out["status_label"] = _STATUS_LABELS[out["status_key"]]
    return out


def _policy(policy: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not policy:
        return None
    out: dict[str, Any] = {"accounts": [], "classes": [], "ips_sha256": None, "name": ""}
    out.update(base_currency="", review=None, rebalance_to=None, trade_classes=None)
    out.update(default_band=None, id="")
    out.update(policy)
    out["accounts"] = _with_defaults(out["accounts"], id="", tax_status=None)
    return out


def _approval(
    approval: Mapping[str, Any] | None, portfolio: Mapping[str, Any], run: Mapping[str, Any]
) -> dict[str, Any]:
    """The approval section's variables: pending (a blank sign-off block) unless the caller
    passes the recorded state (who, when, note, proposal SHA-256, audit seq, superseded ones)."""
    applicable = portfolio["status_key"] != "data_invalid" and run.get("kind") in (
        None,
        "",
        "quarterly_review",
    )
    out: dict[str, Any] = {"status": "pending" if applicable else "not_applicable"}
    out.update(approved_by=None, approved_at=None, note=None, changes=[], flagged=False)
    out.update(as_of_render=None, proposal_sha256=None, seq=None, superseded=[])
    out.update(approval or {})
    return out


def _flow_effect(cash_flows: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The trades section's cash-flow sentence, or None when flows and idle cash remove no
    drift ("removing 0.00 bp" says nothing; the allocation table has the post-trade weights)."""
    if not cash_flows:
        return None
    removed = _decimal(cash_flows.get("removed_by_flows_bp"))
    return None if removed is not None and removed == 0 else cash_flows


def _checks(portfolio: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The reconciliation rows as the page states them. A data-invalid portfolio is not assessed
    (as its breaches): a check with no failure on it is "not checked", never "passed" (its
    positions may be missing altogether); a failure stays, it helps fix the feed."""
    rows = [
        {"status": None, "messages": [], "why": None, **c} for c in portfolio.get("checks") or []
    ]
    if portfolio["status_key"] == "data_invalid":
        for c in rows:
            if c.get("status") == "passed":
                c["status"] = "not_checked"
                c["why"] = "data_invalid"
    return rows


def report_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """The template's variables: the caller's context, defaults filled in, figures derived."""
    portfolio = _portfolio(context.get("portfolio") or {})
    portfolio["cash_flows"] = _flow_effect(portfolio["cash_flows"])
    portfolio["checks"] = _checks(portfolio)
    policy = _policy(context.get("policy"))
    classes = portfolio["asset_classes"]
    breaches = breach_lines(classes)
    return {
        "run": _run(context.get("run") or {}),
        "policy": policy,
        "portfolio": portfolio,
        "validation": _with_defaults(
            context.get("validation"),
            file="",
            kind=None,
            success=False,
            evaluated=None,
            failures=[],
        ),
        "quarantined": _with_defaults(context.get("quarantined"), file="", reason=""),
        "account_ids": _account_ids([policy] if policy else [], [portfolio]),
        "totals": trade_totals(portfolio["trades"]),
        "total_drift_bp": total_drift_bp(classes),
        "breaches": breaches,
        "breach_side": {b["asset_class"]: b["side"] for b in breaches},
        "n_banded": sum(1 for ac in classes if ac.get("target") is not None),
        "class_bands": {
            str(c.get("asset_class")): c.get("band") for c in (policy or {}).get("classes", [])
        },
        "allocation_totals": allocation_totals(classes),
        "chart": band_chart(classes) if classes else None,
        "drift_history": list(context.get("drift_history") or []),
        "history_chart": drift_history_chart(list(context.get("drift_history") or [])),
        "performance": performance_view.view(portfolio.get("performance")),
        "approval": _approval(context.get("approval"), portfolio, context.get("run") or {}),
    }


# --- rendering -------------------------------------------------------------------------------


@cache
def environment() -> jinja2.Environment:
    """This process's report environment: templates loaded and compiled once."""
    return make_environment()


def render_portfolio_report(context: dict[str, Any], env: jinja2.Environment | None = None) -> str:
    """The compliance report of one portfolio, as a self-contained HTML page."""
    env = env or environment()
    return env.get_template("report.html.j2").render(report_context(context))


_INDEX_KEYS = ("portfolio_id", "name", "total_value", "base_currency", "breached", "action")
EXCEPTIONS_SHOWN = 10
"""How many portfolios each exception list of the index names; the table has them all."""
_INDEX_SCRIPT = "partials/index_table.js.j2"


def index_row(portfolio: Mapping[str, Any]) -> dict[str, Any]:
    """The index's line of one portfolio: only what the page shows of it (its classes and
    trades counted, its total drift summed, none of them kept), and the account ids its text
    must mask, so a run's index rows can be kept while its entries are released."""
    full = _portfolio(portfolio, full=False)
    row = {k: full.get(k) for k in _INDEX_KEYS}
    row |= {k: full[k] for k in ("errors", "status_key", "status_label")}
    row["n_trades"] = len(full["trades"] or [])
    row["n_breached"] = sum(1 for ac in full["asset_classes"] or [] if ac.get("breached"))
    valid = full["status_key"] != "data_invalid"
    row["drift_bp"] = total_drift_bp(full["asset_classes"] or []) if valid else None
    row["account_ids"] = _account_ids([], [portfolio])
    return row


def _approvals_apply(kind: Any) -> bool:
    """Whether a run of this kind proposes trades to sign off (as ``_approval`` decides)."""
    return kind in (None, "", "quarterly_review")


def awaiting_approval(row: Mapping[str, Any], kind: Any = None) -> bool:
    """A valid portfolio of a review with proposed trades and no sign-off: when the run writes
    its index, before anyone can sign off, every proposal awaits approval; an index written
    later with the recorded sign-offs (``with_approvals``) leaves out those approved."""
    proposes = (
        _approvals_apply(kind) and row["status_key"] != "data_invalid" and bool(row.get("n_trades"))
    )
    signed = row.get("approval")
    return proposes and (signed is None or signed["status"] == "pending")


def with_approvals(
    rows: Iterable[Mapping[str, Any]], states: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The index rows with each portfolio's recorded sign-off (``approval``: status
    pending | approved | not_applicable, by, at, flagged); a portfolio without one is
    pending."""
    pending = {"status": "pending", "by": None, "at": None, "flagged": False}
    return [{**r, "approval": states.get(r["portfolio_id"], pending)} for r in rows]


def run_summary(rows: Sequence[Mapping[str, Any]], kind: Any = None) -> dict[str, int]:
    """How many portfolios are in policy, out of policy, invalid, need trades, and have
    proposed trades awaiting approval (none in a run of a ``kind`` that proposes no trades)."""
    keys = [r["status_key"] for r in rows]
    return {
        "total": len(rows),
        "in_policy": keys.count("in_policy"),
        "out_of_policy": keys.count("out_of_policy"),
        "data_invalid": keys.count("data_invalid"),
        "rebalance": sum(
            1 for r in rows if r["status_key"] != "data_invalid" and r.get("action") == "rebalance"
        ),
        "awaiting_approval": sum(1 for r in rows if awaiting_approval(r, kind)),
    }


def _drift_order(row: Mapping[str, Any]) -> tuple[Decimal, str]:
    return -(_decimal(row.get("drift_bp")) or Decimal(0)), str(row["portfolio_id"])


def index_exceptions(
    rows: Sequence[Mapping[str, Any]], kind: Any = None, shown: int = EXCEPTIONS_SHOWN
) -> dict[str, list[Mapping[str, Any]]]:
    """The first ``shown`` rows of each exception: out of policy (largest total drift first),
    data invalid, and awaiting approval (both in portfolio id order, as the rows come)."""
    breached = (r for r in rows if r["status_key"] == "out_of_policy")
    return {
        "out_of_policy": heapq.nsmallest(shown, breached, key=_drift_order),
        "data_invalid": list(islice((r for r in rows if r["status_key"] == "data_invalid"), shown)),
        "awaiting_approval": list(islice((r for r in rows if awaiting_approval(r, kind)), shown)),
    }


@cache
def index_script() -> tuple[Markup, str]:
    """The index table's script (filter and sort) as inlined, and its CSP source
    (``sha256-<base64>``): the page allows that one script and nothing else."""
    text = (resource_dir("templates") / _INDEX_SCRIPT).read_text(encoding="utf-8")
    if "</script" in text.lower():
        raise ValueError(f"{_INDEX_SCRIPT} must not contain '</script'")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return Markup(text), f"sha256-{digest}"


class AccountIds:
    """A run's account ids for masking the index page's free text: one Arrow column (about
    20 bytes an id), not a Python string each; ``present_in`` finds those a text holds."""

    def __init__(self, ids: pl.Series) -> None:
        self._ids = ids.unique().sort()

    def present_in(self, text: str) -> tuple[str, ...]:
        """The ids ``text`` holds, longest first (as ``redact`` matches them)."""
        import polars as pl

        found = pl.DataFrame({"id": self._ids}).filter(
            pl.lit(text).str.contains(pl.col("id"), literal=True) & (pl.col("id") != "")
        )
        return tuple(sorted(found["id"].to_list(), key=len, reverse=True))

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids.to_list())

    def __len__(self) -> int:
        return self._ids.len()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AccountIds) and self._ids.equals(other._ids)

    __hash__ = None  # type: ignore[assignment]


@dataclass(eq=False)
class IndexFacts:
    """What the index page shows of all its rows besides the rows themselves: the counts, the
    first exceptions, each row's (total drift, out of policy) for the histogram and the account
    ids its text masks. ``add`` takes the rows a batch at a time, in portfolio id order, and
    the facts are those of all the rows so far (every part is a count, a first-n, a top-n, a
    column or a set over the rows), so a run's rows need not be held for its index. The drifts
    and account ids are kept as Polars columns, a batch at a time: a few bytes a portfolio."""

    kind: Any = None
    summary: dict[str, int] = field(default_factory=dict)
    exceptions: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)
    _drifts: list[pl.DataFrame] = field(default_factory=list)
    _accounts: list[pl.Series] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.add([])  # every count, every exception list, even for no rows

    def add(self, rows: Sequence[Mapping[str, Any]]) -> None:
        import polars as pl

        counts = run_summary(rows, self.kind)
        self.summary = {k: self.summary.get(k, 0) + n for k, n in counts.items()}
        batch = index_exceptions(rows, self.kind)
        for key, found in batch.items():
            self.exceptions[key] = self.exceptions.get(key, []) + found
        self.exceptions["out_of_policy"] = heapq.nsmallest(
            EXCEPTIONS_SHOWN, self.exceptions["out_of_policy"], key=_drift_order
        )
        for key in ("data_invalid", "awaiting_approval"):
            del self.exceptions[key][EXCEPTIONS_SHOWN:]
        if rows:
            self._drifts.append(
                drift_frame((r.get("drift_bp"), r["status_key"] == "out_of_policy") for r in rows)
            )
            ids = [str(a) for r in rows for a in r["account_ids"] if a]
            self._accounts.append(pl.Series("id", ids, dtype=pl.String).unique())

    @property
    def drifts(self) -> pl.DataFrame:
        """Each row's total drift (text, null when data-invalid) and whether it is out of
        policy, in row order (``charts.drift_frame``)."""
        import polars as pl

        if not self._drifts:
            return drift_frame([])
        return pl.concat(self._drifts, rechunk=False)

    @property
    def account_ids(self) -> AccountIds:
        import polars as pl

        return AccountIds(pl.concat([pl.Series("id", [], dtype=pl.String), *self._accounts]))

    @classmethod
    def of(cls, rows: Collection[Mapping[str, Any]], kind: Any = None) -> IndexFacts:
        facts = cls(kind)
        facts.add(rows if isinstance(rows, Sequence) else list(rows))
        return facts


def index_context(
    run: Mapping[str, Any],
    rows: Collection[Mapping[str, Any]],
    signed_at: str | None = None,
    facts: IndexFacts | None = None,
) -> dict[str, Any]:
    """The index template's variables: the run, the rows, counts, exception lists, the drift
    histogram and the table's script; ``signed_at``: when the rows' sign-offs
    (``with_approvals``) were read, for an index that shows them. ``facts``: those of
    ``rows`` gathered as they were made (else they are gathered here); the rows are then read
    once, in order, by the table."""
    kind = run.get("kind")
    script, script_hash = index_script()
    facts = facts or IndexFacts.of(rows, kind)
    return {
        "run": _run(run),
        "portfolios": rows,
        "approvals": _approvals_apply(kind),
        "signed_at": signed_at if _approvals_apply(kind) else None,
        "awaiting": partial(awaiting_approval, kind=kind),
        "summary": facts.summary,
        "exceptions": facts.exceptions,
        "histogram": drift_histogram(facts.drifts),
        "index_script": script,
        "script_hash": script_hash,
        "account_ids": facts.account_ids,
    }


def render_index(
    run: dict[str, Any],
    rows: list[dict[str, Any]],
    env: jinja2.Environment | None = None,
    signed_at: str | None = None,
) -> str:
    """The firm-wide page of one run from its ``index_row`` lines: the exceptions first, the
    drift distribution, then every portfolio in a table the page can filter and sort (with an
    Approval column when ``signed_at`` says when the rows' sign-offs were read)."""
    return "".join(index_chunks(run, rows, env, signed_at))


def index_chunks(
    run: dict[str, Any],
    rows: Collection[Mapping[str, Any]],
    env: jinja2.Environment | None = None,
    signed_at: str | None = None,
    facts: IndexFacts | None = None,
) -> Iterator[str]:
    """``render_index``'s text as Jinja makes it, piece by piece, to be written as it comes:
    at 100,000 portfolios the page is 55 MiB of text, and rendering it whole took 290 MiB.
    ``facts``: see ``index_context``."""
    env = env or environment()
    context = index_context(run, rows, signed_at, facts)
    return env.get_template("index.html.j2").generate(context)


def render_run_index(
    run: dict[str, Any], portfolios: list[dict[str, Any]], env: jinja2.Environment | None = None
) -> str:
    """The firm-wide page of one run from its results entries (see ``render_index``)."""
    return render_index(run, [index_row(p) for p in portfolios], env)
