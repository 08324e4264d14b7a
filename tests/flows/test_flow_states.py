"""The Prefect states and tags of ballast's flows (real Prefect, the session's harness).

A review with invalid portfolios or quarantined files ends ``Failed`` named ``Completed with
exceptions`` (its call still returns the result); a clean one ends ``Completed``; every flow run
is tagged with its trigger, who runs it and why; a bad ``as_of`` fails the run with one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ballast.errors import BallastError
from ballast.ops import runs
from ballast.workspace import Workspace
from tests.conftest import copy_demo

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]
AS_OF = "2026-09-30"


def _flow_run(state: Any) -> Any:
    """The flow run of a flow's final state, as the Prefect API (and UI) has it."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(state.state_details.flow_run_id)


def _clean(ws: Workspace) -> Workspace:
    """The demo without its broken custodian file and the portfolio that needs it."""
    (ws.root / "inbox" / "custodian-b_positions_2026-09-30.csv").unlink()
    (ws.root / "ips" / "lakeside-pension.yaml").unlink()
    return ws


def test_review_with_exceptions_is_named_and_not_green(tmp_path: Path, monkeypatch) -> None:
    from ballast.flows.review import quarterly_review
    from ballast.flows.states import WITH_EXCEPTIONS

    monkeypatch.setenv("BALLAST_USER", "alice")
    ws = copy_demo(tmp_path / "ws")
    state = quarterly_review(
        workspace=str(ws.root), as_of=AS_OF, reason="quarter end", html=False, return_state=True
    )
    assert state.is_failed() and state.name == WITH_EXCEPTIONS
    assert "1 portfolio(s) with invalid data (lakeside-pension)" in state.message
    assert "1 file(s) quarantined" in state.message
    summary = state.result(raise_on_failure=False).result  # a CompletedWithExceptions
    assert summary["invalid"] == ["lakeside-pension"] and summary["status"] == (
        "completed_with_errors"
    )
    run = _flow_run(state)
    assert (run.state.type.value, run.state.name) == ("FAILED", WITH_EXCEPTIONS)
    assert {"trigger:manual", "who:alice", "reason:quarter end"} <= set(run.tags)


def test_direct_call_still_returns_the_result(tmp_path: Path) -> None:
    """The command line and the tests call the flow and use its result dict."""
    from ballast.flows.review import monitor

    ws = copy_demo(tmp_path / "ws")
    summary = monitor(workspace=str(ws.root), as_of=AS_OF)
    assert (summary["kind"], summary["invalid"]) == ("monitor", ["lakeside-pension"])


def test_clean_review_is_completed(tmp_path: Path) -> None:
    from ballast.flows.review import quarterly_review

    ws = _clean(copy_demo(tmp_path / "ws"))
    state = quarterly_review(
        workspace=str(ws.root), as_of=AS_OF, trigger="rerun", html=False, return_state=True
    )
    assert state.is_completed() and state.name == "Completed"
    assert state.result()["status"] == "completed"
    run = _flow_run(state)
    assert "trigger:rerun" in run.tags and not any(t.startswith("reason:") for t in run.tags)


def test_prefect_does_not_walk_a_runs_rows(tmp_path: Path) -> None:
    """A flow's result is returned in a holder Prefect's ``visit_collection`` (run on every
    flow's return value) does not walk into: not one object per terminal row. Calling the flow
    gives the plain dict."""
    from ballast.flows.review import quarterly_review
    from ballast.flows.states import RunResult, outcome
    from prefect.utilities.collections import visit_collection

    ws = _clean(copy_demo(tmp_path / "ws"))
    state = quarterly_review(workspace=str(ws.root), as_of=AS_OF, html=False, return_state=True)
    held = state.result()
    assert isinstance(held, RunResult) and len(held["rows"]) == 4

    def visited(value: Any) -> int:
        seen: list[Any] = []
        visit_collection(value, visit_fn=seen.append, return_data=False)
        return len(seen)

    assert visited(held) == 1
    assert visited(held.data) > 4 * 8  # the dict itself: every field of every row
    plain = outcome(state)
    assert type(plain) is dict and plain == dict(held) and plain["rows"] == held["rows"]


def test_a_state_names_ten_invalid_portfolios_and_counts_the_rest() -> None:
    from ballast.flows.states import CompletedWithExceptions, finished

    invalid = [f"p{i:02d}" for i in range(25)]
    result = {"run_id": "r", "invalid": invalid, "ingest": {"quarantined": []}}
    state = finished(result)
    assert "25 portfolio(s) with invalid data (p00, p01, " in state.message
    assert "p09 and 15 more)" in state.message and "p10" not in state.message
    assert isinstance(state.data, CompletedWithExceptions) and state.data.result is result


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"as_of": "2026-13-45"}, "parameter as_of: '2026-13-45' is not a date; expected YYYY"),
        ({"as_of": "yesterday"}, "parameter as_of: 'yesterday' is not a date"),
        ({"as_of": AS_OF, "trigger": "cron"}, "parameter trigger: 'cron' is not one of manual"),
    ],
)
def test_parameter_error_is_one_line(tmp_path: Path, params: dict, expected: str) -> None:
    from ballast.flows.review import quarterly_review

    ws = copy_demo(tmp_path / "ws")
    state = quarterly_review(workspace=str(ws.root), **params, return_state=True)
    assert state.is_failed() and "\n" not in state.message and expected in state.message
    assert "Traceback" not in state.message
    with pytest.raises(BallastError, match=expected.split(";")[0]):
        quarterly_review(workspace=str(ws.root), **params)
    assert not (ws.root / "reports" / "2026-13-45").exists()


def test_parameter_type_error_is_one_line(tmp_path: Path) -> None:
    from ballast.flows.review import quarterly_review

    ws = copy_demo(tmp_path / "ws")
    with pytest.raises(BallastError) as caught:
        quarterly_review(workspace=str(ws.root), as_of=AS_OF, portfolios=5)
    assert "portfolios" in str(caught.value) and "\n" not in str(caught.value)


def test_scheduled_flow_passes_the_named_state_on(monkeypatch, tmp_path: Path) -> None:
    import datetime as dt

    import ballast.flows.scheduled
    from ballast.flows.scheduled import scheduled_monitor
    from ballast.flows.states import WITH_EXCEPTIONS

    from ballast import calendar

    ws = copy_demo(tmp_path / "ws")
    moment = dt.datetime(2026, 9, 30, 16, 30, tzinfo=calendar.EXCHANGE_TZ)
    monkeypatch.setattr(ballast.flows.scheduled, "_scheduled_time", lambda: moment)
    state = scheduled_monitor(workspace=str(ws.root), return_state=True)
    assert state.is_failed() and state.name == WITH_EXCEPTIONS
    assert state.result(raise_on_failure=False).result["as_of"] == AS_OF
    assert scheduled_monitor(workspace=str(ws.root))["kind"] == "monitor"  # direct call: result


def test_flow_run_tags() -> None:
    assert runs.flow_run_tags("adhoc", "bob", "  fix\nprices ") == [
        "trigger:adhoc",
        "who:bob",
        "reason:fix prices",
    ]
    (_, _, why) = runs.flow_run_tags("adhoc", "bob", "x" * 200)
    assert len(why) == len("reason:") + runs.TAG_LENGTH
