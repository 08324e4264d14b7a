"""The reports' exact bytes: pinned pages, and the speed-ups that must not change a byte.

``golden/`` holds pages rendered before the rendering was made fast (issue 15): a report is a
document people file and compare, so a faster renderer must write the very same bytes. When a
change to a page is intended, rewrite the pages with ``BALLAST_WRITE_GOLDEN=1`` and review the
diff like any other change.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ballast.reporting import html, outputs, results_text
from ballast.resources import resource_dir
from tests.reporting.test_drift_history import _points
from tests.reporting.test_report import hostile_context, invalid_context, seed_context

GOLDEN = Path(__file__).parent / "golden"


def cases() -> dict[str, dict[str, Any]]:
    """One context per kind of page: the branches of the templates and both charts."""
    in_policy = seed_context()
    in_policy["portfolio"].update(breached=False, action="none", trades=[])
    for ac in in_policy["portfolio"]["asset_classes"]:
        ac["breached"] = False
    history = seed_context()
    history["drift_history"] = _points()
    history["portfolio"]["warnings"] = ["price for GEQ in INST-001 is stale"]
    history["portfolio"]["cash_flows"] = {
        "planned": "-250000.00",
        "drift_before_bp": "637.17",
        "drift_after_flows_bp": "512.5",
        "removed_by_flows_bp": "124.67",
        "drift_after_trades_bp": "0",
    }
    history["quarantined"] = [{"file": "INST-001.csv", "reason": "INST-001.csv, row 2: bad"}]
    monitor = seed_context()
    monitor["run"].update(kind="monitor", reason="drift check for INST-001")
    monitor["portfolio"].update(trades=[])
    approved = seed_context()
    approved["approval"] = {
        "status": "approved",
        "approved_by": "carol",
        "approved_at": "2026-10-02T09:00:00",
        "note": "as discussed with INST-001's trustee",
        "flagged": True,
        "changes": ["IPS of seed-60-40 changed after the run"],
        "as_of_render": "2026-10-03T10:00:00",
        "proposal_sha256": "ab" * 32,
        "seq": 42,
        "superseded": [
            {"by": "dave", "at": "2026-10-01T17:00:00", "note": "first pass, INST-001", "seq": 40}
        ],
    }
    no_policy = invalid_context()
    no_policy["policy"] = None
    return {
        "seed": seed_context(),
        "in-policy": in_policy,
        "invalid": invalid_context(),
        "hostile": hostile_context(),
        "history": history,
        "monitor": monitor,
        "approved": approved,
        "no-policy": no_policy,
    }


def index_page() -> str:
    ok = seed_context()["portfolio"]
    bad = invalid_context()["portfolio"] | {"portfolio_id": "trust-b"}
    hostile = hostile_context()
    return html.render_run_index(hostile["run"], [ok, bad, hostile["portfolio"]])


def pages() -> dict[str, str]:
    out = {f"{name}.html": html.render_portfolio_report(ctx) for name, ctx in cases().items()}
    out["index.html"] = index_page()
    return out


@pytest.mark.parametrize("name", sorted(pages()))
def test_pages_are_byte_identical_to_the_pinned_ones(name: str) -> None:
    """Every page, to the byte, as it was before rendering was made fast."""
    page = pages()[name]
    path = GOLDEN / name
    if os.environ.get("BALLAST_WRITE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(page.encode("utf-8"))
    assert page.encode("utf-8") == path.read_bytes()


def test_the_inlined_report_template_renders_what_its_includes_did() -> None:
    """The loader inlines each partial: the page is what Jinja's own includes give."""
    plain = html.make_environment()
    plain.loader = jinja2.FileSystemLoader(resource_dir("templates"))
    inlined = html.make_environment()
    for ctx in cases().values():
        rc = html.report_context(ctx)
        expected = plain.get_template("report.html.j2").render(rc)
        assert inlined.get_template("report.html.j2").render(rc) == expected
    source = inlined.loader.get_source(inlined, "report.html.j2")[0]  # type: ignore[union-attr]
    assert "{% include" not in source and "Run record" in source


def test_a_dict_key_named_like_a_dict_method_still_means_the_method() -> None:
    """``a.b`` on a dict looks the key up first, but names of dict methods stay the method's,
    as in Jinja; a missing key is still an error."""
    env = html.make_environment()
    render = lambda text, **kw: env.from_string(text).render(**kw)  # noqa: E731
    assert render("{{ d.weight }}", d={"weight": "0.6"}) == "0.6"
    assert render("{{ d.get('a') }}", d={"a": 1, "get": 2}) == "1"
    assert render("{{ d.items is callable }}", d={"items": 2}) == "True"
    with pytest.raises(jinja2.UndefinedError):
        render("{{ d.missing }}", d={})


def _redact_reference(text: str, account_ids: list[str]) -> str:
    """The masking as first written: one expression of every id, longest first."""
    ids = sorted({a for a in account_ids if a}, key=len, reverse=True)
    if not ids:
        return text
    pattern = re.compile("|".join(re.escape(a) for a in ids))
    return pattern.sub(lambda m: html.mask_account(m.group(0)), text)


_ID = st.text(alphabet="AB1-", min_size=0, max_size=5)


@settings(max_examples=400, deadline=None)
@given(ids=st.lists(_ID, max_size=4), parts=st.lists(st.one_of(_ID, st.text(max_size=4))))
def test_redact_masks_as_one_expression_over_all_ids_would(ids: list[str], parts: list[str]):
    """Masking without compiling an expression per page gives the same text."""
    text = "".join(parts)
    assert html.redact(text, ids) == _redact_reference(text, ids)


def test_number_filters_give_the_same_text_from_their_cache() -> None:
    """A number's text is kept per input string: the second answer is the first."""
    for value in ("0.663717", "-1234.005", "-0.001", "0", "", "abc", "1E+3"):
        for fn in (html.money, html.weight, html.bp):
            first = fn(value)
            assert fn(value) == first == fn(value.encode().decode())
    assert html.money("1234", "USD") == "USD 1,234.00" and html.money(None, "USD") == "—"


def _json(scalars: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
        ),
        max_leaves=30,
    )


_PLAIN = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.text(alphabet=st.characters(codec="utf-8"), max_size=6)
)
_RUN = {"run_id": "r", "as_of": "2026-09-30", "kind": "quarterly_review", "trigger": None}


@settings(max_examples=300, deadline=None)
@given(entries=st.lists(_json(_PLAIN), max_size=4))
def test_results_json_text_is_what_json_dumps_writes(entries: list[Any]) -> None:
    """results.json is written by a faster encoder (orjson), character for character what
    json.dumps writes of what entries hold: text, integers, booleans, null, lists, mappings."""
    doc = {**_RUN, "portfolios": entries}
    expected = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    assert results_text.results_document(_RUN, entries) == expected  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(entries=st.lists(_json(_PLAIN | st.floats(allow_nan=False, allow_infinity=False))))
def test_a_float_in_results_json_reads_back_as_the_same_number(entries: list[Any]) -> None:
    """No entry holds a float (numbers are decimal strings); one would be written in orjson's
    shortest form, which reads back as the same number."""
    text = results_text.results_document(_RUN, entries)  # type: ignore[arg-type]
    assert json.loads(text)["portfolios"] == entries


def test_results_json_leaves_what_it_does_not_know_to_json() -> None:
    """Keys of other types and integers beyond 64 bits are written as json.dumps writes them;
    unknown values raise TypeError as there."""
    run = {"run_id": "r", "as_of": "d", "kind": "k", "trigger": "t"}
    for odd in ([{1: (1.5, float("nan")), None: True, 2.5: [], False: {}}], [{"n": 2**70}]):
        assert (
            results_text.results_document(run, odd)
            == json.dumps({**run, "portfolios": odd}, indent=2, ensure_ascii=False) + "\n"
        )
    with pytest.raises(TypeError):
        results_text.results_document(run, [{"x": object()}])


def test_the_report_pool_renders_what_this_process_renders(tmp_path: Path, monkeypatch) -> None:
    """Reports from the spawn pool are the same files, with the same hashes, as in-process."""
    contexts = []
    for name, ctx in cases().items():
        ctx = copy.deepcopy(ctx)
        ctx["portfolio"]["portfolio_id"] = name
        contexts.append(ctx)
    serial, pooled = tmp_path / "serial", tmp_path / "pooled"
    serial.mkdir()
    pooled.mkdir()
    one = outputs.render_reports(serial, contexts, workers=1)
    monkeypatch.setattr(outputs, "PARALLEL_FROM", 2)
    two = outputs.render_reports(pooled, contexts, workers=2)
    assert one == two and len(one) == len(contexts)
    for name in one:
        assert (serial / name).read_bytes() == (pooled / name).read_bytes()


def test_a_report_worker_imports_no_dataframe_library() -> None:
    """The pool's workers import ``outputs`` to find their function: it must stay light."""
    code = (
        "import sys, ballast.reporting.outputs; "
        "print(sorted(m for m in ('polars', 'duckdb', 'ballast.review') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
