"""Model portfolios (issue #14 item 6): ``models/<id>.yaml`` gives an IPS its targets, bands and
security weights; the policy is the one the same classes written inline give; buys into a class
are split over its securities by weight; editing the model re-targets the next review; the
results and the report name the model and its version (the SHA-256 of the file's bytes).

Every review here is a real workspace in a tmp folder, ingested into a real DuckDB file.

The worked portfolio (``HOLDINGS``): one tax-exempt account, VTI 200 × $200 = $40,000 of
us_equity and BND 600 × $100 = $60,000 of ig_bonds, $100,000 in all; VOO is not held and is
priced $550 by a prices file. Model ``growth`` v1 is 60/40, us_equity split VTI 70 % / VOO 30 %,
bands 500 bp.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
from decimal import Decimal as D
from pathlib import Path

import pytest

from ballast import review, workspace
from ballast.ingest import inbox
from ballast.portfolio import policy_set
from ballast.portfolio.models import ModelCatalog
from ballast.portfolio.policy import Policy
from ballast.reporting import html as report
from ballast.reporting import outputs, results
from ballast.warehouse import db
from ballast.workspace import Workspace
from tests.support.frames import row
from tests.support.workspaces import POSITIONS_HEADER, review_files

AS_OF = dt.date(2026, 9, 30)
CLASSES = {"VTI": "us_equity", "VOO": "us_equity", "BND": "ig_bonds"}
HOLDINGS = POSITIONS_HEADER + (
    "2026-09-30,A,VTI,200,200.00,40000.00,USD\n2026-09-30,A,BND,600,100.00,60000.00,USD\n"
)
PRICES = (
    "as_of_date,security_id,price,currency\n"
    "2026-09-30,VTI,200.00,USD\n2026-09-30,VOO,550.00,USD\n2026-09-30,BND,100.00,USD\n"
)
GROWTH_V1 = """\
id: growth
name: Growth 60/40
default_band: 500bp
asset_classes:
  us_equity: {target: 60%, securities: {VTI: 70%, VOO: 30%}}
  ig_bonds:  {target: 40%, securities: {BND: 100%}}
"""
GROWTH_V2 = """\
id: growth
name: Growth 50/50
default_band: 500bp
asset_classes:
  us_equity: {target: 50%, securities: {VTI: 50%, VOO: 50%}}
  ig_bonds:  {target: 50%, securities: {BND: 100%}}
"""
ON_MODEL = """\
id: p1
name: On the growth model
accounts: [{id: "A", tax_status: tax_exempt}]
model: growth
"""


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_model(ws: Workspace, text: str, name: str = "growth.yaml") -> Path:
    path = ws.models / name
    path.write_text(text, encoding="utf-8")
    return path


def ips(ws: Workspace, pid: str, body: str) -> None:
    (ws.ips / f"{pid}.yaml").write_text(body, encoding="utf-8")


def fund(pid: str, tail: str) -> str:
    return f'id: {pid}\nname: Fund\naccounts: [{{id: "{pid}-1", tax_status: taxable}}]\n{tail}'


def reviewed(ws: Workspace, ips_text: str = ON_MODEL, model: str = GROWTH_V1) -> review.Computed:
    write_model(ws, model)
    return review_files(
        ws, CLASSES, {"p1": ips_text}, {"pos.csv": HOLDINGS, "px.csv": PRICES}, AS_OF
    )


def review_again(ws: Workspace) -> review.Computed:
    with db.connect(ws.warehouse) as con:
        inbox.commit(con, ws, inbox.validate(inbox.stage_workspace(con, ws)))
        return review.review(con, policy_set.load_policies(ws), AS_OF)


def trades_of(c: review.Computed) -> list[tuple[str, str, D, D]]:
    assert c.proposal is not None
    return sorted(c.proposal.trades.select("side", "security_id", "quantity", "price").rows())


# -- the policy a model gives ------------------------------------------------------------------


def test_model_gives_the_policy_the_same_classes_inline_give(empty_ws: Workspace) -> None:
    """``model: growth`` and the same classes, band and weights written inline are the same
    Policy, apart from ``model`` (id, name, SHA-256 of the file's bytes)."""
    write_model(empty_ws, GROWTH_V1)
    ips(empty_ws, "a", fund("a", "model: growth\n"))
    inline = "default_band: 500bp\nasset_classes:\n" + GROWTH_V1.split("asset_classes:\n")[1]
    ips(empty_ws, "b", fund("a", inline).replace("id: a", "id: b", 1))
    pset = policy_set.load_policies(empty_ws)
    assert pset.errors == {}
    on_model, written = pset.policies
    assert on_model.model is not None
    assert on_model.model.model_dump() == {
        "id": "growth",
        "name": "Growth 60/40",
        "sha256": sha(GROWTH_V1),
    }
    assert written.model is None
    assert on_model.model_copy(update={"model": None, "id": "b"}) == written
    us = on_model.asset_classes["us_equity"]
    assert (us.target, us.securities) == (D("0.6"), {"VTI": D("0.7"), "VOO": D("0.3")})
    assert str(on_model.band_for("us_equity")) == "500bp"
    assert list(pset.models) == [sha(GROWTH_V1)]  # recorded for the run


def test_model_default_band_and_class_bands(empty_ws: Workspace) -> None:
    """A class's own band wins; the model's ``default_band`` covers the rest; a model with
    neither leaves the IPS default (500 bp): 10 % at 5/25 is 7.5 %–12.5 %."""
    write_model(
        empty_ws,
        "id: m\nname: M\ndefault_band: 5/25\nasset_classes:\n"
        "  a: {target: 90%, band: 200bp}\n  b: {target: 10%}\n",
        "m.yaml",
    )
    write_model(empty_ws, "id: n\nname: N\nasset_classes: {a: {target: 100%}}\n", "n.yaml")
    ips(empty_ws, "x", fund("x", "model: m\n"))
    ips(empty_ws, "y", fund("y", "model: n\n"))
    x, y = policy_set.load_policies(empty_ws).policies
    assert x.band_for("a").bounds(D("0.9")) == (D("0.88"), D("0.92"))
    assert x.band_for("b").bounds(D("0.1")) == (D("0.075"), D("0.125"))
    assert str(y.band_for("a")) == "500bp"


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        (
            "model: growth\nasset_classes: {a: {target: 100%}}\n",
            "ips/x.yaml: field model: an IPS takes its asset classes from a model or lists them, "
            "not both",
        ),
        (
            "model: growth\ndefault_band: 5/25\n",
            "ips/x.yaml: field default_band: the bands come from model 'growth': remove it here",
        ),
        (
            "model: value\n",
            "ips/x.yaml: field model: no model 'value' in models/ (write models/value.yaml)",
        ),
        ("model: [growth]\n", "ips/x.yaml: field model: \"['growth']\" is not a model id"),
        ("model: null\n", "ips/x.yaml: field model: 'None' is not a model id"),
    ],
)
def test_ips_naming_a_model_wrongly_is_refused(
    empty_ws: Workspace, tail: str, message: str
) -> None:
    write_model(empty_ws, GROWTH_V1)
    ips(empty_ws, "x", fund("x", tail))
    assert policy_set.load_policies(empty_ws).errors == {"x": message}


BAD_MODELS = [
    (
        "id: growth\nname: G\nasset_classes: {a: {target: 60%}, b: {target: 30%}}\n",
        "models/growth.yaml: field (top level): asset class targets add up to 90.0%, not 100%",
    ),
    (
        "id: growth\nname: G\nasset_classes:\n  a: {target: 100%, securities: {X: 70%, Y: 20%}}\n",
        "models/growth.yaml: field asset_classes.a: securities weights add up to 90.0%, not 100%",
    ),
    (
        "id: growth\nname: G\nasset_classes:\n  a: {target: 100%, securities: {X: 0%, Y: 100%}}\n",
        "models/growth.yaml: field asset_classes.a: each securities weight must be above 0% and "
        "at most 100%",
    ),
    (
        "id: growth\nname: G\nasset_classes:\n"
        "  a: {target: 100%, vehicle: X, securities: {X: 100%}}\n",
        "models/growth.yaml: field asset_classes.a: give a vehicle or securities weights, not both",
    ),
    (
        "id: other\nname: G\nasset_classes: {a: {target: 100%}}\n",
        "models/growth.yaml: field id: 'other' differs from the file name",
    ),
    (
        "id: growth\nname: G\ncolour: red\nasset_classes: {a: {target: 100%}}\n",
        "models/growth.yaml: field colour: Extra inputs are not permitted",
    ),
    (
        "id: growth\nname: G\nasset_classes: {a: {target: 100%, band: 5pc}}\n",
        "models/growth.yaml: field asset_classes.a.band: '5pc' is not a band (write 500bp, 5%, "
        "25%rel or 5/25)",
    ),
    ("id: growth\nname: [unclosed\n", "models/growth.yaml, line 3: not valid YAML"),
    ("- a list\n", "models/growth.yaml: a model must be a YAML mapping"),
]


@pytest.mark.parametrize(("model", "reason"), BAD_MODELS)
def test_a_bad_model_refuses_its_portfolios_in_one_line(
    empty_ws: Workspace, model: str, reason: str
) -> None:
    """The IPS is refused naming its file and field, then the model file and field."""
    write_model(empty_ws, model)
    ips(empty_ws, "x", fund("x", "model: growth\n"))
    ips(empty_ws, "y", fund("y", "asset_classes: {a: {target: 100%}}\n"))
    pset = policy_set.load_policies(empty_ws)
    assert [p.id for p in pset.policies] == ["y"]  # the others are reviewed
    assert pset.errors == {"x": f"ips/x.yaml: field model: model 'growth' cannot be used: {reason}"}
    assert "\n" not in pset.errors["x"]
    assert [m.file for m in pset.models.values()] == ["growth.yaml"]  # recorded all the same


def test_inline_securities_weights_are_checked_too(empty_ws: Workspace) -> None:
    ips(empty_ws, "x", fund("x", "asset_classes: {a: {target: 100%, securities: {X: 50%}}}\n"))
    assert policy_set.load_policies(empty_ws).errors == {
        "x": "ips/x.yaml: field asset_classes.a: securities weights add up to 50.0%, not 100%"
    }


# -- hostile files in models/ ------------------------------------------------------------------


def test_a_link_in_models_is_not_followed(empty_ws: Workspace, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(GROWTH_V1, encoding="utf-8")
    (empty_ws.models / "growth.yaml").symlink_to(outside)
    ips(empty_ws, "x", fund("x", "model: growth\n"))
    pset = policy_set.load_policies(empty_ws)
    assert pset.errors == {
        "x": "ips/x.yaml: field model: model 'growth' cannot be used: models/growth.yaml: a "
        f"symbolic link (to {str(outside)!r}), not a regular file: not read"
    }
    assert pset.models == {}


def test_a_fifo_in_models_does_not_block(empty_ws: Workspace) -> None:
    os.mkfifo(empty_ws.models / "growth.yaml")
    ips(empty_ws, "x", fund("x", "model: growth\n"))
    found: list[policy_set.PolicySet] = []
    thread = threading.Thread(
        target=lambda: found.append(policy_set.load_policies(empty_ws)), daemon=True
    )
    thread.start()
    thread.join(300)  # a generous bound for a busy host, not a measure of speed
    assert not thread.is_alive(), "reading models/ waited on a FIFO"
    assert (
        found[0]
        .errors["x"]
        .endswith("models/growth.yaml: a named pipe (FIFO), not a regular file: not read")
    )


def test_hidden_folder_and_odd_entries_in_models(empty_ws: Workspace) -> None:
    """``.growth.yaml`` is not a model; a folder named like one is named; two files of one id
    are ambiguous; a file that is not UTF-8 says so."""
    write_model(empty_ws, GROWTH_V1, ".growth.yaml")
    (empty_ws.models / "dir.yaml").mkdir()
    write_model(empty_ws, GROWTH_V1.replace("growth", "twice"), "twice.yaml")
    write_model(empty_ws, GROWTH_V1.replace("growth", "twice"), "twice.yml")
    (empty_ws.models / "latin.yaml").write_bytes(b"id: latin\nname: caf\xe9\n")
    for pid, mid in [("h", "growth"), ("d", "dir"), ("t", "twice"), ("l", "latin")]:
        ips(empty_ws, pid, fund(pid, f"model: {mid}\n"))
    errors = policy_set.load_policies(empty_ws).errors
    assert (
        errors["h"]
        == "ips/h.yaml: field model: no model 'growth' in models/ (write models/growth.yaml)"
    )
    assert errors["d"].endswith("models/dir.yaml: a folder, not a regular file: not read")
    assert errors["t"].endswith(
        "model 'twice' cannot be used: models/twice.yaml and models/twice.yml both define "
        "model 'twice'"
    )
    assert errors["l"].endswith("models/latin.yaml: not UTF-8 text (byte 19)")


def test_catalog_fingerprint_follows_the_bytes() -> None:
    a = ModelCatalog.from_texts({"growth.yaml": GROWTH_V1})
    assert a.fingerprint == ModelCatalog.from_texts({"growth.yaml": GROWTH_V1}).fingerprint
    assert a.fingerprint != ModelCatalog.from_texts({"growth.yaml": GROWTH_V2}).fingerprint


# -- trades: buys split by security weight -----------------------------------------------------


def test_buys_into_a_class_are_split_by_security_weight(empty_ws: Workspace) -> None:
    """us_equity is $40,000 of $100,000 = 40 %, below its 55 % lower bound: a breach.
    Back to 60/40: sell $20,000 of bonds (200 BND at $100) and buy $20,000 of us_equity,
    split by the model's weights: VTI 70 % = $14,000 / $200 = 70 shares; VOO 30 % = $6,000 /
    $550 = 10.9, so 10 whole shares ($5,500). $500 stays in cash: us_equity ends at
    $40,000 + $14,000 + $5,500 = $59,500 = 59.5 %, bonds at $40,000 = 40 %."""
    c = reviewed(empty_ws)
    assert trades_of(c) == [
        ("buy", "VOO", D(10), D(550)),
        ("buy", "VTI", D(70), D(200)),
        ("sell", "BND", D(200), D(100)),
    ]
    assert c.proposal is not None
    voo = row(c.proposal.trades, security_id="VOO")
    assert voo["reason"].endswith(
        "; 30.00% of the class's buys (security weight 30.00% in us_equity)"
    )
    assert row(c.proposal.classes, asset_class="us_equity")["post_trade_weight"] == D("0.595")
    assert row(c.proposal.classes, asset_class="ig_bonds")["post_trade_weight"] == D("0.4")
    assert row(c.allocation, asset_class="us_equity")["target"] == D("0.6")


def test_inline_weights_trade_exactly_as_the_model(empty_ws: Workspace, tmp_path: Path) -> None:
    """The same classes written inline give the same trades (the policy is the same)."""
    on_model = trades_of(reviewed(empty_ws))
    inline = ON_MODEL.replace(
        "model: growth\n",
        "default_band: 500bp\nasset_classes:\n" + GROWTH_V1.split("asset_classes:\n")[1],
    )
    assert trades_of(reviewed(workspace.init(tmp_path / "other"), inline)) == on_model


def test_a_security_that_cannot_be_bought_leaves_the_others_its_share(
    empty_ws: Workspace,
) -> None:
    """``do_not_buy: [VOO]``: VTI alone takes the class's buys (70 % / 70 % = 100 %):
    $20,000 / $200 = 100 VTI."""
    c = reviewed(empty_ws, ON_MODEL + "restrictions: {do_not_buy: [VOO]}\n")
    assert trades_of(c) == [("buy", "VTI", D(100), D(200)), ("sell", "BND", D(200), D(100))]


def test_optimizer_buys_the_largest_weight_security(empty_ws: Workspace) -> None:
    """The optimiser (a taxable account with lots, so the LP is solved) buys one security per
    class: the model's largest weight, VTI (70 %); it does not split."""
    write_model(empty_ws, GROWTH_V1)
    lots = (
        "as_of_date,account_id,security_id,lot_id,acquired_date,quantity,cost_basis\n"
        "2026-09-30,A,VTI,L1,2020-01-02,200,30000.00\n"
        "2026-09-30,A,BND,L2,2020-01-02,600,66000.00\n"
    )
    taxable = ON_MODEL.replace("tax_exempt", "taxable") + "trading: {engine: optimizer}\n"
    c = review_files(
        empty_ws,
        CLASSES,
        {"p1": taxable},
        {"pos.csv": HOLDINGS, "px.csv": PRICES, "lots.csv": lots},
        AS_OF,
    )
    assert c.errors.is_empty(), c.errors
    bought = {s for side, s, _, _ in trades_of(c) if side == "buy"}
    assert bought == {"VTI"}


# -- editing the model re-targets the next review ------------------------------------------------


def test_editing_the_model_retargets_the_next_review(empty_ws: Workspace) -> None:
    """v1 (60/40) as above. The model is then edited to 50/50, us_equity VTI 50 % / VOO 50 %:
    at the next review us_equity (40 %, lower bound 45 %) is still breached; back to 50/50:
    sell $10,000 of bonds (100 BND), buy VTI $5,000 / $200 = 25 and VOO $5,000 / $550 = 9.09,
    so 9 ($4,950). The version is the new file's SHA-256."""
    first = reviewed(empty_ws)
    (e1,) = results.portfolio_entries(first)
    assert e1["model"] == {"id": "growth", "name": "Growth 60/40", "sha256": sha(GROWTH_V1)}
    write_model(empty_ws, GROWTH_V2)
    second = review_again(empty_ws)
    assert trades_of(second) == [
        ("buy", "VOO", D(9), D(550)),
        ("buy", "VTI", D(25), D(200)),
        ("sell", "BND", D(100), D(100)),
    ]
    assert row(second.allocation, asset_class="us_equity")["target"] == D("0.5")
    (e2,) = results.portfolio_entries(second)
    assert e2["model"] == {"id": "growth", "name": "Growth 50/50", "sha256": sha(GROWTH_V2)}
    assert [a["target"] for a in e2["asset_classes"]] == ["0.500000", "0.500000"]
    assert list(second.policies.models) == [sha(GROWTH_V2)]


# -- results.json and the report ---------------------------------------------------------------


def test_results_and_report_name_the_model_and_version(empty_ws: Workspace) -> None:
    c = reviewed(empty_ws)
    (entry,) = results.portfolio_entries(c)
    assert entry["model"]["sha256"] == sha(GROWTH_V1)
    (policy,) = c.policies.policies
    context = outputs.policy_context(policy, c.policies.hashes["p1"])
    html = report.render_portfolio_report({"portfolio": entry, "policy": context})
    short = sha(GROWTH_V1)[:12]
    assert (
        '<dt>Model portfolio</dt><dd>Growth 60/40 <span class="muted">(growth)</span>, version '
        f'<span class="mono" title="SHA-256 {sha(GROWTH_V1)}">{short}</span></dd>'
    ) in html


def test_without_a_model_nothing_is_added(empty_ws: Workspace) -> None:
    ips(empty_ws, "x", fund("x", "asset_classes: {a: {target: 100%}}\n"))
    (policy,) = policy_set.load_policies(empty_ws).policies
    assert isinstance(policy, Policy) and policy.model is None
    context = outputs.policy_context(policy, None)
    assert context["model"] is None
    html = report.render_portfolio_report({"portfolio": {"portfolio_id": "x"}, "policy": context})
    assert "Model portfolio" not in html


def test_the_bundled_example_model_is_valid() -> None:
    """``examples/models/household-65-35.yaml`` (not part of the demo) loads as a model."""
    from ballast.resources import examples_dir

    path = examples_dir() / "models" / "household-65-35.yaml"
    catalog = ModelCatalog.from_texts({path.name: path.read_text(encoding="utf-8")})
    found = catalog.files["household-65-35"]
    assert found.error is None and found.model is not None
    assert found.model.asset_classes["ig_bonds"].securities == {
        "IGB": D("0.6"),
        "AGGB": D("0.4"),
    }


def test_an_ips_loaded_alone_finds_the_models_beside_it(empty_ws: Workspace) -> None:
    """``load_policy(path)`` without a catalog (``ballast simulate --ips``) reads the
    workspace's ``models/`` for that call only: an edited model is seen at the next load."""
    from ballast.portfolio.policy import load_policy

    write_model(empty_ws, GROWTH_V1)
    path = empty_ws.ips / "p1.yaml"
    path.write_text(ON_MODEL, encoding="utf-8")
    first = load_policy(path)
    assert first.asset_classes["us_equity"].target == D("0.6")
    write_model(empty_ws, GROWTH_V2)
    second = load_policy(path)
    assert second.asset_classes["us_equity"].target == D("0.5")
    assert second.model is not None and second.model.sha256 == sha(GROWTH_V2)
