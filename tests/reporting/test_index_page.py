"""The run's index page (the firm view): exceptions first, the drift histogram, and a table
the page filters and sorts itself; headless Chromium runs its script."""

from __future__ import annotations

import base64
import hashlib
import re
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from ballast.reporting import html
from ballast.reporting.charts import drift_histogram
from tests.support.browser import _run

RUN = {"run_id": "r1", "as_of": "2026-09-30", "kind": "quarterly_review", "who": "tester"}


def entry(
    pid: str,
    drifts: tuple[str, ...] = ("100", "-100"),
    *,
    breached: bool = False,
    trades: int = 0,
    errors: tuple[str, ...] = (),
    name: str | None = None,
) -> dict[str, Any]:
    """A results entry with just what the index reads: one class per drift (in bp)."""
    classes = [
        {"asset_class": f"c{i}", "drift_bp": d, "breached": breached and i == 0}
        for i, d in enumerate(drifts)
    ]
    out: dict[str, Any] = {
        "portfolio_id": pid,
        "status": "data_invalid" if errors else "ok",
        "errors": list(errors),
        "base_currency": "USD",
        "total_value": None if errors else "1000000.00",
        "breached": breached and not errors,
        "action": "rebalance" if (breached or trades) and not errors else "none",
        "asset_classes": [] if errors else classes,
        "trades": [] if errors else [{"account_id": "ACC-1", "side": "buy"}] * trades,
        "accounts": [{"id": "ACC-1", "tax_status": "taxable"}],
    }
    if name:
        out["name"] = name
    return out


def rows() -> list[dict[str, Any]]:
    """Eight portfolios: three out of policy, two invalid, three in policy; four with trades."""
    entries = [
        entry("alpha", ("300", "-300"), breached=True, trades=3, name="Alpha Endowment"),
        entry("bravo", ("40", "-40")),
        entry("charlie", ("900", "-900"), breached=True, trades=5, name="Charlie Pension Plan"),
        entry("delta", errors=("positions.csv, row 3: no price for GEQ in ACC-1",)),
        entry("echo", ("10", "-10"), trades=1),
        entry("foxtrot", ("650", "-650"), breached=True),
        entry("golf", errors=("no IPS for golf", "a second error")),
        entry("hotel", ("0", "0")),
    ]
    return [html.index_row(e) for e in entries]


class _Rows(HTMLParser):
    """The table's body rows as (portfolio id, visible) in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[Any]] = []
        self._in_row = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and "data-s" in a:
            self.rows.append(["", "hidden" not in a])
            self._in_row = True
        elif tag == "a" and self._in_row and not self.rows[-1][0]:
            self.rows[-1][0] = None  # the next text is the id

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._in_row = False

    def handle_data(self, data: str) -> None:
        if self._in_row and self.rows[-1][0] is None:
            self.rows[-1][0] = data


def table_rows(page: str) -> list[tuple[str, bool]]:
    parser = _Rows()
    parser.feed(page)
    return [(pid, shown) for pid, shown in parser.rows]


def section(page: str, start: str, end: str) -> str:
    return page.split(start, 1)[1].split(end, 1)[0]


# --- the page ------------------------------------------------------------------------------


def test_index_row_keeps_a_few_short_fields() -> None:
    """Only short fields are kept per portfolio: counts and a total, never classes or trades."""
    row = html.index_row(entry("alpha", ("300", "-300"), breached=True, trades=3))
    assert set(row) == {
        "portfolio_id", "name", "total_value", "base_currency", "breached", "action",
        "errors", "status_key", "status_label", "n_trades", "n_breached", "drift_bp",
        "account_ids",
    }  # fmt: skip
    assert row["drift_bp"] == "600" and row["n_trades"] == 3 and row["n_breached"] == 1
    assert html.index_row(entry("x", errors=("bad",)))["drift_bp"] is None


def test_exceptions_lead_with_counts_and_lists() -> None:
    """Counts, then the three exception lists (breaches by drift, largest first), then the
    histogram, then the table."""
    page = html.render_index(RUN, rows())
    order = [page.index(s) for s in ('class="counts"', 'id="exceptions"', 'id="drift"')]
    assert order == sorted(order) and order[-1] < page.index('id="portfolio-table"')
    counts = dict(
        (label, n)
        for n, label in re.findall(
            r'count__n">([\d,]+)</div><div class="count__label">([^<]+)<', page
        )
    )
    assert counts == {
        "Out of policy": "3",
        "Data invalid": "2",
        "Awaiting approval": "3",
        "In policy": "3",
        "Portfolios": "8",
    }
    ids = lambda part: re.findall(r'<li><a href="[^"]+">([^<]+)</a>', part)  # noqa: E731
    breached = section(page, 'class="exc exc--out_of_policy"', "</div>")
    assert ids(breached) == ["charlie", "foxtrot", "alpha"]
    assert "1,800.00 bp · 1 class" in breached
    invalid = section(page, 'class="exc exc--data_invalid"', "</div>")
    assert ids(invalid) == ["delta", "golf"]
    assert "no price for GEQ in ••••-1" in invalid and "ACC-1" not in page
    assert '2 errors</span><span class="exc__error" title="no IPS for golf">no IPS' in invalid
    awaiting = section(page, 'class="exc exc--awaiting"', "</div>")
    assert ids(awaiting) == ["alpha", "charlie", "echo"]  # valid, with trades; id order
    assert "5 trades" in awaiting and "1 trade<" in awaiting
    assert "not signed off when this page was written" in awaiting
    assert "ballast show r1" in awaiting


def test_long_exception_lists_point_to_the_table() -> None:
    """At most EXCEPTIONS_SHOWN names per list; the rest are a link that filters the table."""
    n = html.EXCEPTIONS_SHOWN + 5
    entries = [entry(f"p{i:03d}", (str(i), str(-i)), breached=True, trades=1) for i in range(n)]
    page = html.render_index(RUN, [html.index_row(e) for e in entries])
    breached = section(page, 'class="exc exc--out_of_policy"', "</div>")
    assert breached.count("<li>") == html.EXCEPTIONS_SHOWN
    assert f"p{n - 1:03d}" in breached and "p000" not in breached  # largest drift first
    assert f'href="#status=out_of_policy&amp;sort=drift&amp;dir=desc">All {n} in' in breached
    assert f'href="#status=awaiting">All {n} in' in page


def test_a_monitor_has_no_approvals() -> None:
    """A daily monitor proposes no trades: no approval count, the list says why."""
    page = html.render_index(RUN | {"kind": "monitor"}, rows())
    assert "Awaiting approval</div>" not in page and 'data-a="1"' not in page
    awaiting = section(page, 'class="exc exc--awaiting"', "</div>")
    assert "Not applicable: a daily drift monitor proposes no trades." in awaiting
    assert '<option value="awaiting">' not in page


def test_an_empty_run() -> None:
    page = html.render_index(RUN, [])
    assert "No portfolios were reviewed in this run." in page
    assert 'id="exceptions"' not in page and "<svg" not in page


def test_the_page_is_deterministic_and_allows_only_its_own_script() -> None:
    """Same rows, same bytes; the one inline script is allowed by its hash and nothing is
    loaded from anywhere."""
    page = html.render_index(RUN, rows())
    assert page == html.render_index(RUN, rows())
    scripts = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    assert len(scripts) == 1 and page.lower().count("<script") == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None
    assert csp.group(1) == (
        f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'"
    )
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page) and "<link" not in page
    assert "onclick" not in page and "javascript:" not in page


# --- the histogram -------------------------------------------------------------------------


def test_histogram_bins_hold_the_right_counts() -> None:
    """Bins are [lo, hi): an edge value counts in the bin above; None is left out; the
    out-of-policy share of each bin is counted too."""
    drifts = [("0", False), ("9.99", False), ("10", True), ("25.5", False), ("29.99", True)]
    drifts += [("30", True), ("45", False), (None, False)]
    chart = drift_histogram(drifts)
    assert chart is not None
    got = [(b["lo"], b["hi"], b["count"], b["breached"]) for b in chart["bins"]]
    width = Decimal(chart["bin_width"])
    assert width == 2  # 45 bp over at most 23 bins
    by_lo = {Decimal(lo): (count, out) for lo, _, count, out in got}
    assert by_lo[Decimal(0)] == (1, 0)
    assert by_lo[Decimal(8)] == (1, 0)  # 9.99
    assert by_lo[Decimal(10)] == (1, 1)  # 10 is the lower edge of [10, 12)
    assert by_lo[Decimal(24)] == (1, 0)  # 25.5
    assert by_lo[Decimal(28)] == (1, 1)  # 29.99
    assert by_lo[Decimal(30)] == (1, 1)
    assert by_lo[Decimal(44)] == (1, 0)
    assert sum(c for _, _, c, _ in got) == 7 and chart["n"] == 7 and chart["n_breached"] == 3
    assert not chart["more"] and got[-1][1] == "46"


def test_histogram_puts_far_outliers_in_one_open_bin() -> None:
    """Of 100 or more drifts, those past twice the 99th percentile do not stretch the axis:
    the regular bins end after the percentile and one open bin counts the rest."""
    drifts = [(str(i), i >= 150) for i in range(200)]  # 0 … 199 bp, 50 out of policy
    drifts += [("5000", True), ("90000", True)]
    chart = drift_histogram(drifts)
    assert chart is not None and chart["more"]
    assert chart["bin_width"] == "10"
    bins = chart["bins"]
    assert [b["count"] for b in bins[:-1]] == [10] * 20  # the p99, 199 bp, in [190, 200)
    last = bins[-1]
    assert (last["lo"], last["hi"], last["count"], last["breached"]) == ("200", None, 2, 2)
    assert last["label"] == "≥ 200 bp" and last["fragment"] == "drift=200-"
    assert bins[15]["breached"] == 10 and bins[14]["breached"] == 0


def test_histogram_of_nothing_is_none_and_the_bars_link_to_the_table() -> None:
    assert drift_histogram([(None, False)]) is None
    chart = drift_histogram([("120", True), ("130", False)])
    assert chart is not None
    marks = str(chart["marks"])
    assert marks.count("<a ") == 2 and 'href="#drift=120-130"' in marks  # empty bins: no bar
    assert "<title>120–130 bp: 1 portfolio, 1 out of policy</title>" in marks
    assert "<title>130–140 bp: 1 portfolio</title>" in marks


# --- in a browser --------------------------------------------------------------------------


def _dom(page: Path, fragment: str, workdir: Path) -> str:
    """The DOM of ``page`` opened at ``#fragment``, after its script ran."""
    uri = page.resolve().as_uri() + (f"#{fragment}" if fragment else "")
    proc = _run(["--dump-dom", uri], workdir)
    if proc.returncode != 0 or "</html>" not in proc.stdout:
        pytest.fail(f"Chromium --dump-dom failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return proc.stdout


@pytest.mark.slow
def test_chromium_filters_and_sorts_from_the_fragment(tmp_path: Path) -> None:
    """The script runs under the page's CSP (its tools appear) and applies the fragment's
    filter and sort; the data-invalid row's error line goes with its row."""
    page = tmp_path / "index.html"
    page.write_text(html.render_index(RUN, rows()), encoding="utf-8")
    every = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]

    plain = _dom(page, "", tmp_path)
    assert '<div class="tools" id="table-tools">' in plain  # unhidden: the script ran
    assert table_rows(plain) == [(p, True) for p in every]
    assert "aria-sort=" not in plain.split("<body>", 1)[1].split("<script>")[0]
    assert '<button type="button" class="sort">Total drift</button>' in plain

    dom = _dom(page, "status=out_of_policy&sort=drift&dir=desc", tmp_path)
    assert [p for p, shown in table_rows(dom) if shown] == ["charlie", "foxtrot", "alpha"]
    assert table_rows(dom)[:3] == [("charlie", True), ("foxtrot", True), ("alpha", True)]
    assert 'data-sort="drift" aria-sort="descending"' in dom
    assert 'id="f-count" aria-live="polite">3 of 8 portfolios<' in dom

    dom = _dom(page, "q=pension", tmp_path)
    assert [p for p, shown in table_rows(dom) if shown] == ["charlie"]

    dom = _dom(page, "status=awaiting&drift=0-200", tmp_path)
    assert [p for p, shown in table_rows(dom) if shown] == ["echo"]
    assert 'id="f-drift-label">0–200 bp<' in dom

    dom = _dom(page, "status=data_invalid&sort=id&dir=desc", tmp_path)
    assert [p for p, shown in table_rows(dom) if shown] == ["golf", "delta"]
    body = dom.split("<tbody>", 1)[1]
    golf, error = body.index(">golf<"), body.index("no IPS for golf")
    assert golf < error < body.index(">delta<")  # the error line moved with its row
    assert re.search(r'<tr class="failures"><td', body)  # shown: not hidden

    dom = _dom(page, "status=in_policy&q=nothing-matches", tmp_path)
    assert not any(shown for _, shown in table_rows(dom))
    assert '<p class="muted" id="f-none">' in dom


@pytest.mark.slow
def test_chromium_awaiting_filter_leaves_out_the_approved(tmp_path: Path) -> None:
    """The index with sign-offs (``ballast report --index``): of the three portfolios with
    trades, alpha is approved and charlie approved but flagged; the Awaiting filter shows only
    echo, the one not signed off (charlie's flag is in its Approval cell)."""
    signed = {
        "alpha": {"status": "approved", "by": "Ann", "at": "2026-10-06 09:00", "flagged": False},
        "charlie": {"status": "approved", "by": "Bob", "at": "2026-10-06 10:00", "flagged": True},
        "delta": {"status": "not_applicable", "by": None, "at": None, "flagged": False},
    }
    page = tmp_path / "index.approved.html"
    text = html.render_index(RUN, html.with_approvals(rows(), signed), signed_at="2026-10-07 08:00")
    page.write_text(text, encoding="utf-8")
    assert '<div class="count__n">1</div><div class="count__label">Awaiting approval' in text
    dom = _dom(page, "status=awaiting", tmp_path)
    assert [p for p, shown in table_rows(dom) if shown] == ["echo"]
    assert 'id="f-count" aria-live="polite">1 of 8 portfolios<' in dom
    body = dom.split("<tbody>", 1)[1]
    charlie = body[body.index(">charlie<") : body.index(">delta<")]
    assert "FLAGGED" in charlie and "by Bob, 2026-10-06 10:00" in charlie


@pytest.mark.slow
def test_chromium_filters_ten_thousand_rows(tmp_path: Path) -> None:
    """10,000 portfolios: the page loads and the fragment's filter leaves exactly the rows it
    should (no timing asserted: the machine is shared)."""
    entries = [
        entry(
            f"p{i:05d}",
            (str(i % 997), str(-(i % 997))),
            breached=i % 3 == 0,
            trades=i % 2,
            errors=("bad data",) if i % 50 == 7 else (),
        )
        for i in range(10_000)
    ]
    page = tmp_path / "index.html"
    page.write_text(html.render_run_index(RUN, entries), encoding="utf-8")
    dom = _dom(page, "status=out_of_policy&q=p012", tmp_path)
    got = table_rows(dom)
    assert len(got) == 10_000
    want = [f"p{i:05d}" for i in range(1200, 1300) if i % 3 == 0 and i % 50 != 7]
    assert [p for p, shown in got if shown] == want
