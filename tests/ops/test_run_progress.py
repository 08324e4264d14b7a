"""A run's progress and its log (issue 6): the stages reach ``ballast.ops.progress`` listeners as
they happen (reports counted as chunks finish, also from the process pool), every log line of
the run carries its run id, and ``logs/ballast.jsonl`` holds one JSON object per event."""

from __future__ import annotations

import io
import json
import logging
from collections import Counter

import pytest
from rich.console import Console
from rich.progress import Progress

from ballast.cli import progress as cli_progress
from ballast.ops import progress, runlog
from ballast.reporting import outputs
from ballast.workspace import Workspace

AS_OF = "2026-09-30"
STAGES = ["start", "ingest", "validate", "load", "policies", "compute", "render", "record"]


class Collect(logging.Handler):
    """Every record that reaches the root logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Recorder:
    """A listener that keeps what it was told."""

    def __init__(self) -> None:
        self.stages: list[str] = []
        self.totals: dict[str, int] = {}
        self.done: Counter[str] = Counter()

    def stage(self, name: str, total: int | None) -> None:
        if not self.stages or self.stages[-1] != name:
            self.stages.append(name)
        if total is not None:
            self.totals[name] = total

    def advance(self, n: int) -> None:
        self.done[self.stages[-1]] += n


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_review_progress_and_run_log(demo_ws: Workspace, monkeypatch) -> None:
    from ballast.flows.review import quarterly_review

    monkeypatch.setattr(outputs, "PARALLEL_FROM", 2)  # the demo's 5 reports in the spawn pool
    prefect_logger, root, collect = logging.getLogger("prefect"), logging.getLogger(), Collect()
    level = prefect_logger.level
    prefect_logger.setLevel(logging.INFO)
    recorder = Recorder()
    root.addHandler(collect)
    try:
        with progress.listening(recorder):
            summary = quarterly_review(workspace=str(demo_ws.root), as_of=AS_OF)
    finally:
        root.removeHandler(collect)
        prefect_logger.setLevel(level)

    run_id = summary["run_id"]

    assert recorder.stages == STAGES
    assert recorder.totals["render"] == recorder.done["render"] == 5  # reports written / total
    assert recorder.totals["validate"] == recorder.done["validate"] == 6  # 5 files + master
    assert recorder.done["load"] == 6

    in_scope = [r for r in collect.records if runlog._in_scope(r.name)]
    tagged = [r for r in in_scope if hasattr(r, "run_id")]
    assert {r.name for r in tagged} >= {"prefect.flow_runs", "prefect.task_runs"}
    assert all(r.run_id == run_id and r.getMessage().startswith(f"[{run_id}] ") for r in tagged)
    # only Prefect's own frame of the flow run (before the run id exists, after the body) is not
    frame = ("Beginning flow run", "View at", "Finished in state")
    untagged = [r for r in in_scope if not hasattr(r, "run_id")]
    assert all(r.name == "prefect.flow_runs" for r in untagged)
    assert all(r.getMessage().startswith(frame) for r in untagged)

    lines = (demo_ws.root / runlog.LOG_FILE).read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]
    assert len(events) == len([r for r in tagged if r.levelno >= logging.INFO])
    assert all(e["run_id"] == run_id and e["ts"].endswith("Z") for e in events)
    assert all(not e["message"].startswith("[") for e in events)  # the prefix is not repeated
    done = {e["stage"]: e for e in events if " done in " in e["message"]}
    assert list(done) == STAGES[1:]
    assert all(isinstance(e["seconds"], float) for e in done.values())
    assert (done["load"]["loaded"], done["load"]["quarantined"]) == (5, 1)
    assert (done["render"]["portfolios"], done["validate"]["files"]) == (5, 6)
    assert any(e["logger"] == "prefect.task_runs" and e.get("task_run_id") for e in events)
    assert events[-2]["message"].startswith("run completed_with_errors in ")
    assert events[-2]["portfolios"] == 5


def test_stage_display_counts_and_finishes() -> None:
    bar = Progress(console=Console(file=io.StringIO()), auto_refresh=False)
    display = cli_progress.StageDisplay(bar)
    display.stage("ingest", None)
    display.stage("render", None)
    display.stage("render", 4)  # the same stage, now with its total
    display.advance(3)
    display.advance(1)
    display.stage("record", None)
    display.finish()
    assert [t.description for t in bar.tasks] == ["ingest", "render", "record"]
    assert all(t.finished for t in bar.tasks)
    render = bar.tasks[1]
    assert (render.completed, render.total, render.fields["counted"]) == (4, 4, True)
    assert not bar.tasks[0].fields["counted"]


def test_display_is_silent_off_a_terminal() -> None:
    out = io.StringIO()
    with cli_progress.shown(Console(file=out, force_terminal=False), "starting Prefect"):
        assert progress._LISTENERS == []  # nobody listens: progress calls cost nothing
        progress.stage("ingest")
        progress.advance(1)
    assert out.getvalue() == ""


def test_display_on_a_terminal_disappears_at_the_end() -> None:
    out = io.StringIO()
    term = Console(file=out, force_terminal=True, width=80)
    with cli_progress.shown(term, "starting Prefect"):
        assert len(progress._LISTENERS) == 1
        progress.stage("render", 2)
        progress.advance(2)
    assert progress._LISTENERS == []
    text = out.getvalue()
    assert "starting Prefect" in text and "render" in text and "2/2" in text
    last = text.rsplit("2/2", 1)[1]
    assert last.count("\x1b[2K") >= 2 and "render" not in last  # erased: transient
