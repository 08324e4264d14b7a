"""``verify`` for published outputs: every file a finished run (or rerun) recorded, re-hashed in
its folder ``reports/<as_of>/<run_id>/``; files missing, edited or added are named."""

from __future__ import annotations

from pathlib import Path

from ballast.audit.findings import Findings
from ballast.audit.trail import Event, Trail
from ballast.ingest.files import sha256_file
from ballast.reporting import outputs
from ballast.workspace import Workspace

FINISHED = ("completed", "completed_with_errors")
UNHASHED = ".approved.html"  # ``ballast report`` copies: made from the trail, never recorded


def _what(run_id: str, name: str) -> str:
    """The run, and the portfolio when the file is one portfolio's report."""
    stem, dot, ext = name.rpartition(".")
    if dot and ext in ("html", "pdf") and stem != "index":
        return f"run {run_id}, portfolio {stem}"
    return f"run {run_id}"


def _folder(ws: Workspace, run_id: str, e: Event, found: Findings) -> Path | None:
    final = ws.reports / str(e.payload.get("as_of")) / run_id
    if final.is_dir():
        return final
    staged = outputs.staging(final)
    if staged.is_dir():
        found.note(
            f"run {run_id}: recorded as finished but its folder is not yet published "
            f"({staged.relative_to(ws.root)}); the next run publishes it"
        )
        return staged
    found.problem(f"run {run_id}: its report folder {final.relative_to(ws.root)} is missing")
    return None


def _check_run(ws: Workspace, run_id: str, e: Event, found: Findings) -> None:
    recorded = e.payload.get("outputs") or {}
    if not recorded:
        return
    folder = _folder(ws, run_id, e, found)
    if folder is None:
        return
    for name, want in sorted(recorded.items()):
        path = folder / name
        try:
            got, _ = sha256_file(path)
        except FileNotFoundError:
            found.problem(f"{_what(run_id, name)}: {name} was deleted (recorded at seq {e.seq})")
            continue
        except OSError as exc:
            found.problem(f"{_what(run_id, name)}: {name} cannot be read ({exc.strerror or exc})")
            continue
        found.count("outputs")
        if got != want:
            found.problem(
                f"{_what(run_id, name)}: {name} was edited: its SHA-256 is {got[:12]}…, the run "
                f"recorded {str(want)[:12]}… (seq {e.seq})"
            )
    try:
        present = sorted(p.name for p in folder.iterdir())
    except OSError:
        return
    for name in present:
        if name not in recorded and not name.endswith(UNHASHED):
            found.problem(
                f"{_what(run_id, name)}: {name} in its report folder is not one of the run's "
                "outputs: added after the run"
            )


def check(ws: Workspace, trail: Trail) -> Findings:
    """Outputs of every finished run and rerun that was not purged."""
    found = Findings()
    for run_id, e in sorted((trail.finished() | trail.reruns).items()):
        if run_id in trail.purged_runs or e.payload.get("status") not in FINISHED:
            continue
        _check_run(ws, run_id, e, found)
    return found
