"""The run folder written shard by shard (``RunFolder``) holds exactly what the whole run's
entries give in one go: ``results_document``, ``trades_csv`` and ``render_run_index``."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ballast.reporting import html, outputs, results_text
from ballast.reporting.run_folder import RunFolder, entry_text
from ballast.reporting.summary import terminal_row
from tests.reporting.test_report_bytes import cases

RUN = {
    "run_id": "r1",
    "as_of": "2026-09-30",
    "kind": "quarterly_review",
    "trigger": "manual",
    "who": "tester",
}


def _entries() -> list[dict[str, Any]]:
    """The report test cases' portfolios, renamed so their ids sort in list order."""
    out = []
    for i, ctx in enumerate(cases().values()):
        entry = copy.deepcopy(ctx["portfolio"])
        entry["portfolio_id"] = f"p{i:02d}"
        for t in entry.get("trades") or []:  # every sale relieves one lot (trade_lots.csv)
            if t.get("side") == "sell":
                lot = {"lot_id": f"L-{i}", "acquired_date": "2015-03-02", "quantity": "10"}
                lot |= {"cost_basis": "900.00", "term": "long", "gain": "100.00"}
                t["lots"] = [lot | {"wash_sale_disallowed": "0.00"}]
        out.append(entry)
    assert any(t.get("lots") for e in out for t in e.get("trades") or [])
    return out


def _written(tmp: Path, run: dict[str, Any], entries: list[dict[str, Any]], cut: int) -> Path:
    with RunFolder(tmp, run, total=len(entries), html=True) as folder:
        for start in range(0, max(len(entries), 1), cut):
            folder.add(entries[start : start + cut], [])
        folder.close()
    return folder.folder


@pytest.mark.parametrize("cut", [1, 2, 3, 100])
def test_shards_write_what_the_whole_run_gives(tmp_path: Path, cut: int) -> None:
    entries = _entries()
    folder = _written(tmp_path, RUN, entries, cut)
    assert (folder / "results.json").read_text() == results_text.results_document(RUN, entries)
    assert (folder / "trades.csv").read_text() == results_text.trades_csv(entries)
    assert (folder / "trade_lots.csv").read_text() == results_text.trade_lots_csv(entries)
    assert (folder / "index.html").read_text() == html.render_run_index(RUN, entries)
    assert json.loads((folder / "results.json").read_text())["portfolios"] == entries


@pytest.mark.parametrize("cut", [1, 3])
def test_a_pool_that_encodes_writes_what_the_whole_run_gives(
    tmp_path: Path, cut: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report pool's workers encode each shard's entries (``RunFolder.add`` with
    contexts); the parts come back and are written in order, the terminal rows too."""
    monkeypatch.setattr(outputs, "PARALLEL_FROM", 2)  # a pool of two, for these few reports
    entries = _entries()
    contexts = [{**ctx, "portfolio": e} for ctx, e in zip(cases().values(), entries, strict=True)]
    rows: list[dict[str, Any]] = []
    with RunFolder(tmp_path, RUN, total=len(entries), workers=2, on_rows=rows.extend) as folder:
        assert folder._renderer.pooled
        for start in range(0, len(entries), cut):
            folder.add(entries[start : start + cut], contexts[start : start + cut])
        hashes = folder.close()
    written = folder.folder
    assert (written / "results.json").read_text() == results_text.results_document(RUN, entries)
    assert (written / "trades.csv").read_text() == results_text.trades_csv(entries)
    assert (written / "trade_lots.csv").read_text() == results_text.trade_lots_csv(entries)
    assert (written / "index.html").read_text() == html.render_run_index(RUN, entries)
    assert rows == [terminal_row(e) for e in entries]
    assert {f"{e['portfolio_id']}.html" for e in entries} <= set(hashes)


def test_an_empty_run_and_a_monitor(tmp_path: Path) -> None:
    folder = _written(tmp_path / "a", RUN, [], 5)
    assert (folder / "results.json").read_text() == results_text.results_document(RUN, [])
    monitor = {**RUN, "kind": "monitor"}
    folder = _written(tmp_path / "b", monitor, _entries(), 2)
    assert not (folder / "trades.csv").exists() and not (folder / "trade_lots.csv").exists()
    assert (folder / "results.json").read_text() == results_text.results_document(
        monitor, _entries()
    )


def test_the_hashes_are_of_the_bytes_written(tmp_path: Path) -> None:
    with RunFolder(tmp_path, RUN, total=0, html=False) as folder:
        folder.add(_entries(), [])
        hashes = folder.close()
    assert set(hashes) == {"results.json", "trades.csv", "trade_lots.csv"}
    for name, sha in hashes.items():
        assert outputs.sha256_text((folder.folder / name).read_text()) == sha


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entry=st.dictionaries(st.text(max_size=4), _VALUES, max_size=4))
def test_an_entry_is_indented_as_in_the_whole_document(entry: dict[str, Any]) -> None:
    whole = results_text.json_text({"portfolios": [entry]})
    assert whole == '{\n  "portfolios": [\n    ' + entry_text(entry) + "\n  ]\n}"


def test_what_the_fast_encoder_does_not_know_goes_to_json() -> None:
    odd = {1: (1.5, math.nan), None: True, 2.5: [], False: {}}
    whole = json.dumps({"portfolios": [odd]}, indent=2, ensure_ascii=False)
    assert whole == '{\n  "portfolios": [\n    ' + entry_text(odd) + "\n  ]\n}"
    with pytest.raises(TypeError):
        entry_text({"x": object()})
