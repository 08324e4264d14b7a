"""The compliance report and run index (``ballast.reporting.html``), and the chart geometry
(``ballast.reporting.charts``)."""

from __future__ import annotations

import copy
import re
from decimal import Decimal

import pytest

from ballast.reporting.charts import axis_domain, band_chart
from ballast.reporting.html import (
    bp,
    make_environment,
    mask_account,
    money,
    redact,
    render_portfolio_report,
    render_run_index,
    trade_totals,
    weight,
)

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'


def seed_context() -> dict:
    """The worked case of the domain notes: 60/40, equities up 25 %, bonds down 5 %."""
    return {
        "run": {
            "run_id": "20260930T120000Z-1a2b3c",
            "as_of": "2026-09-30",
            "kind": "quarterly_review",
            "trigger": "manual",
            "who": "alice",
            "reason": None,
            "code_version": "0.1.0+abc1234",
            "started_at": "2026-11-24T19:00:00Z",
            "input_files": [
                {
                    "name": "positions.csv",
                    "sha256": "ab" * 32,
                    "kind": "positions",
                    "rows": 2,
                    "status": "loaded",
                }
            ],
        },
        "policy": {
            "id": "seed-60-40",
            "name": "Balanced Institutional Portfolio",
            "base_currency": "USD",
            "review": "quarterly",
            "rebalance_to": "target",
            "trade_classes": "all",
            "default_band": "500bp",
            "ips_sha256": "cd" * 32,
            "accounts": [{"id": "INST-001", "tax_status": "tax_exempt"}],
            "classes": [
                {"asset_class": "global_equity", "target": "0.600000", "band": "500bp"},
                {"asset_class": "ig_bonds", "target": "0.400000", "band": "500bp"},
            ],
        },
        "portfolio": {
            "portfolio_id": "seed-60-40",
            "status": "ok",
            "errors": [],
            "base_currency": "USD",
            "total_value": "11300000.00",
            "breached": True,
            "action": "rebalance",
            "asset_classes": [
                {
                    "asset_class": "global_equity",
                    "market_value": "7500000.00",
                    "weight": "0.663717",
                    "target": "0.600000",
                    "lower": "0.550000",
                    "upper": "0.650000",
                    "drift_bp": "637.17",
                    "breached": True,
                    "post_trade_weight": "0.600000",
                },
                {
                    "asset_class": "ig_bonds",
                    "market_value": "3800000.00",
                    "weight": "0.336283",
                    "target": "0.400000",
                    "lower": "0.350000",
                    "upper": "0.450000",
                    "drift_bp": "-637.17",
                    "breached": True,
                    "post_trade_weight": "0.400000",
                },
                {
                    "asset_class": "cash",
                    "market_value": "0.00",
                    "weight": "0.000000",
                    "target": None,
                    "lower": None,
                    "upper": None,
                    "drift_bp": None,
                    "breached": False,
                    "post_trade_weight": "0.000000",
                },
            ],
            "trades": [
                {
                    "account_id": "INST-001",
                    "security_id": "GEQ",
                    "side": "sell",
                    "quantity": "7200",
                    "price": "100.00",
                    "amount": "720000.00",
                    "reason": "global_equity above its band in INST-001",
                    "realized_gain_short_term": "0.00",
                    "realized_gain_long_term": "0.00",
                    "estimated_cost": "0.00",
                },
                {
                    "account_id": "INST-001",
                    "security_id": "IGB",
                    "side": "buy",
                    "quantity": "7200",
                    "price": "100.00",
                    "amount": "720000.00",
                    "reason": "ig_bonds below its band",
                    "realized_gain_short_term": "0.00",
                    "realized_gain_long_term": "0.00",
                    "estimated_cost": "0.00",
                },
            ],
            "warnings": [],
        },
        "validation": [
            {
                "file": "positions.csv",
                "kind": "positions",
                "success": True,
                "evaluated": 9,
                "failures": [],
            }
        ],
        "quarantined": [],
    }


def invalid_context() -> dict:
    """A portfolio whose custodian data could not be trusted."""
    ctx = seed_context()
    ctx["portfolio"].update(
        status="data_invalid",
        total_value=None,
        breached=False,
        action="none",
        asset_classes=[],
        trades=[],
        errors=["positions.csv, row 3, column price: no price for GEQ in INST-001"],
    )
    return ctx


def hostile_context() -> dict:
    """Markup planted in every free-text field a custodian or an IPS author controls."""
    ctx = seed_context()
    run, policy, portfolio = ctx["run"], ctx["policy"], ctx["portfolio"]
    run.update(who=IMG, reason=SCRIPT, trigger=IMG)
    run["input_files"][0]["name"] = SCRIPT + ".csv"
    policy.update(name=SCRIPT, id=IMG, default_band=IMG)
    policy["accounts"][0]["tax_status"] = SCRIPT
    policy["classes"][0]["band"] = SCRIPT
    portfolio["portfolio_id"] = IMG
    portfolio["asset_classes"][0]["asset_class"] = SCRIPT
    portfolio["asset_classes"][1]["asset_class"] = IMG
    portfolio["trades"][0].update(security_id=SCRIPT, reason=IMG, side=IMG)
    portfolio["warnings"] = [SCRIPT, IMG]
    portfolio["errors"] = [IMG]
    ctx["validation"][0].update(file=IMG, failures=[SCRIPT], kind=IMG)
    ctx["quarantined"] = [{"file": SCRIPT, "reason": IMG}]
    return ctx


@pytest.fixture(scope="module")
def env():
    return make_environment()


@pytest.fixture(scope="module")
def seed_html(env) -> str:
    return render_portfolio_report(seed_context(), env)


def _svg(html: str) -> str:
    match = re.search(r"<svg\b.*?</svg>", html, flags=re.S)
    assert match, "the report has no inline SVG chart"
    return match.group(0)


# --- filters ---------------------------------------------------------------------------------


def test_money_groups_thousands_and_can_show_the_currency():
    """Money has two decimals, thousands separators, and the currency code when asked."""
    assert money("11300000.00") == "11,300,000.00"
    assert money("11300000", "USD") == "USD 11,300,000.00"
    assert money("-1234.005") == "-1,234.00"  # half to even, the project's one rounding rule
    assert money("-1234.015") == "-1,234.02"
    assert money("-0.001") == "0.00"
    assert money(None) == "—"


def test_weight_and_bp_format_fractions_and_signed_basis_points():
    """Weights are percentages with two decimals; drift carries its sign and unit."""
    assert weight("0.663717") == "66.37%"
    assert weight("0.000088") == "0.01%"
    assert weight(None) == "—"
    assert bp("637.17") == "+637.17 bp"
    assert bp("-637.17") == "-637.17 bp"
    assert bp("0") == "0.00 bp"


def test_mask_account_keeps_only_the_last_four_characters():
    """Account ids show only their last four characters, never the whole of a short id."""
    assert mask_account("INST-001") == "••••-001"
    assert mask_account("123456789012") == "••••9012"
    assert mask_account("AB") == "••••B"
    assert "AB" not in mask_account("AB")


def test_redact_masks_account_ids_inside_free_text():
    """Known account ids are masked wherever they appear in a message."""
    assert redact("sell GEQ in INST-001 and INST-0012", ["INST-001", "INST-0012"]) == (
        "sell GEQ in ••••-001 and ••••0012"
    )


def test_trade_totals_sum_buys_sells_costs_and_gains():
    """Trade totals are exact decimal sums per side."""
    totals = trade_totals(seed_context()["portfolio"]["trades"])
    assert totals["buys"] == totals["sells"] == "720000.00"
    assert totals["net_cash"] == "0.00"
    assert (totals["n_buys"], totals["n_sells"]) == ("1", "1")


# --- the portfolio report --------------------------------------------------------------------


def test_seed_report_shows_the_worked_case_figures(seed_html):
    """The seed case shows 66.37 %, +637.17 bp, the 720,000.00 trade and the total value."""
    for figure in ("66.37%", "33.63%", "+637.17 bp", "-637.17 bp", "720,000.00"):
        assert figure in seed_html
    assert "USD 11,300,000.00" in seed_html
    assert "Out of policy" in seed_html
    assert "Rebalance" in seed_html


def test_seed_report_lists_breaches_policy_and_run_record(seed_html):
    """Breaches, the policy summary and the run record with its hashes are all shown."""
    assert "above the upper band edge of 65.00%" in seed_html
    assert "below the lower band edge of 35.00%" in seed_html
    assert "Balanced Institutional Portfolio" in seed_html
    assert "Tax exempt" in seed_html
    assert "20260930T120000Z-1a2b3c" in seed_html
    assert "ab" * 32 in seed_html and "cd" * 32 in seed_html
    assert "0.1.0+abc1234" in seed_html


def test_report_is_self_contained(seed_html):
    """No scripts, no external stylesheets, images or fonts: one file says it all."""
    assert "<script" not in seed_html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", seed_html)
    assert "<link" not in seed_html
    assert "<style>" in seed_html


def test_report_has_the_band_chart(seed_html):
    """The chart is inline SVG with a title, axis labels in % and one row per class."""
    svg = _svg(seed_html)
    assert "Weights against policy bands" in svg
    assert "60%" in svg and "Weight (% of total portfolio value)" in svg
    for name in ("global_equity", "ig_bonds", "cash"):
        assert f">{name}<" in svg
    assert "Post-trade" in svg and "Current, breach" in svg


def test_in_policy_portfolio_says_so(env):
    """A portfolio within its bands gets the in-policy badge and no trades."""
    ctx = seed_context()
    portfolio = ctx["portfolio"]
    portfolio.update(breached=False, action="none", trades=[])
    for ac in portfolio["asset_classes"]:
        ac["breached"] = False
    html = render_portfolio_report(ctx, env)
    assert "In policy" in html and "Out of policy" not in html
    assert "No trades proposed" in html


def test_data_invalid_report_shows_its_errors(env):
    """A data_invalid portfolio shows its errors prominently and proposes nothing."""
    html = render_portfolio_report(invalid_context(), env)
    assert "Data invalid" in html
    assert "positions.csv, row 3, column price: no price for GEQ in ••••-001" in html
    assert 'role="alert"' in html
    assert "No trade proposal" in html
    assert "<svg" not in html


def test_report_renders_without_a_policy(env):
    """A portfolio whose IPS could not be loaded still gets a report that says so."""
    ctx = invalid_context()
    ctx["policy"] = None
    html = render_portfolio_report(ctx, env)
    assert "could not be loaded" in html


def test_report_tolerates_missing_optional_fields(env):
    """Optional keys (validation, quarantine, reason, input files) may be absent."""
    ctx = seed_context()
    for key in ("validation", "quarantined"):
        del ctx[key]
    del ctx["run"]["reason"], ctx["run"]["input_files"]
    assert "66.37%" in render_portfolio_report(ctx, env)


def test_hostile_text_is_escaped_everywhere(env):
    """Markup from inputs appears only escaped, in the HTML and inside the SVG."""
    html = render_portfolio_report(hostile_context(), env)
    assert SCRIPT not in html and IMG not in html
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    svg = _svg(html)
    assert "<script" not in svg and "<img" not in svg
    assert "&lt;script&gt;" in svg


def test_account_ids_are_masked_everywhere(env):
    """The full account id appears nowhere in the page, free text included."""
    ctx = seed_context()
    ctx["portfolio"]["warnings"] = ["price for GEQ in INST-001 is stale"]
    ctx["quarantined"] = [{"file": "INST-001.csv", "reason": "INST-001.csv, row 2: bad"}]
    html = render_portfolio_report(ctx, env)
    assert "INST-001" not in html
    assert "••••-001" in html


# --- the run index ---------------------------------------------------------------------------


def test_run_index_lists_every_portfolio_with_a_link(env):
    """The index shows status, value, breach, action and trades, and links to each report."""
    ok = seed_context()["portfolio"]
    bad = invalid_context()["portfolio"] | {"portfolio_id": "trust-b"}
    html = render_run_index(seed_context()["run"], [ok, bad], env)
    assert 'href="seed-60-40.html"' in html and 'href="trust-b.html"' in html
    assert "USD 11,300,000.00" in html
    assert "Out of policy" in html and "Data invalid" in html
    assert "INST-001" not in html and "••••-001" in html


def test_run_index_escapes_portfolio_ids(env):
    """A hostile portfolio id is escaped in the text and cannot leave the link's attribute."""
    portfolio = copy.deepcopy(seed_context()["portfolio"]) | {"portfolio_id": IMG}
    run = seed_context()["run"] | {"reason": SCRIPT}
    html = render_run_index(run, [portfolio], env)
    assert "<img" not in html.lower() and SCRIPT not in html
    assert html.lower().count("<script") == 1  # the page's own, allowed by its hash (CSP)
    assert 'href="%22%3E%3Cimg' in html


# --- the chart geometry ----------------------------------------------------------------------


def test_axis_domain_includes_zero_and_rounds_to_ticks():
    """The weight axis starts at zero and ends on the tick above the largest value."""
    assert axis_domain([Decimal("0.663717"), Decimal("0.65")]) == (
        Decimal("0"),
        Decimal("0.7"),
        Decimal("0.10"),
    )


def test_band_chart_places_band_target_and_weights_in_order():
    """Each row has lower < target < upper on the x axis, and the breach lies outside."""
    chart = band_chart(seed_context()["portfolio"]["asset_classes"])
    equity, bonds, cash = chart["rows"]
    assert equity["band_x0"] < equity["target_x"] < equity["band_x1"] < equity["weight_x"]
    assert bonds["weight_x"] < bonds["band_x0"]
    assert equity["breached"] and not cash["breached"]
    assert cash["band_x0"] is None and cash["target_x"] is None
    assert cash["weight_x"] == chart["plot_x0"]
    assert [t["label"] for t in chart["ticks"]][:2] == ["0%", "10%"]
    assert chart["ticks"][-1]["label"] == "70%"
    assert equity["value_label"] == "66.37% → 60.00%"
