"""What a failed command says (``ballast.ops.failures``): one line, an exit status, and for a
bug the traceback in a log file."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from ballast.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_ORCHESTRATOR,
    EXIT_STORAGE,
    EXIT_USAGE,
    BallastError,
    OrchestratorError,
)
from ballast.ops import failures


def _raised(exc: BaseException) -> BaseException:
    """``exc`` with a traceback, as the handler sees it."""
    try:
        raise exc
    except BaseException as caught:
        return caught


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The per-user fallback of the error log, in a tmp folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("BALLAST_HOME", raising=False)
    return tmp_path / "cache" / "ballast" / "errors.log"


def test_user_errors_keep_their_line_and_status() -> None:
    f = failures.describe(BallastError("ws/ballast.yaml: field x:\n  bad"), ["ballast"])
    assert f == failures.Failure("ws/ballast.yaml: field x: bad", EXIT_USAGE)
    f = failures.describe(OrchestratorError("the Prefect API did not answer"), ["ballast"])
    assert f.exit_code == EXIT_ORCHESTRATOR


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, "no space left for /ws/reports/x.html"),
        (errno.EROFS, "cannot write /ws/reports/x.html: the file system is read-only"),
        (errno.EACCES, "no permission to write /ws/reports/x.html"),
        (errno.ENOTDIR, "a file stands where ballast expects a folder"),
    ],
)
def test_storage_failures_name_the_path(code: int, words: str, cache: Path) -> None:
    exc = OSError(code, os.strerror(code), "/ws/reports/x.html")
    f = failures.describe(_raised(exc), ["ballast", "review", "-w", "/ws"])
    assert f.exit_code == EXIT_STORAGE and words in f.line and "\n" not in f.line
    assert not cache.exists()  # an expected failure: no traceback kept


def test_storage_failure_without_a_path_names_the_workspace(tmp_path: Path) -> None:
    """A flush on a full disk has no file name: the line names the command's workspace."""
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("while closing the log") from inner
    except RuntimeError as exc:
        f = failures.describe(exc, ["ballast", "review", f"--workspace={tmp_path}"])
    assert f.exit_code == EXIT_STORAGE and f"no space left for {tmp_path}" in f.line


def test_a_library_io_error_quoting_the_system_counts_as_storage() -> None:
    class IOException(Exception):  # as duckdb.IOException
        pass

    exc = IOException(
        'IO Error: Could not write file "/ws/warehouse.duckdb.wal": No space left on device'
    )
    f = failures.describe(_raised(exc), ["ballast", "runs", "-w", "/ws"])
    assert f.exit_code == EXIT_STORAGE and "warehouse.duckdb.wal" in f.line


def test_unexpected_error_is_one_line_and_its_traceback_is_kept(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "ips").mkdir(parents=True)
    exc = _raised(ValueError("bad [bold]thing[/bold]\nsecond line"))
    f = failures.describe(exc, ["ballast", "review", "-w", str(ws)])
    log = ws / "logs" / "ballast-errors.log"
    assert f.exit_code == EXIT_INTERNAL
    assert f.line.startswith("unexpected ValueError: bad [bold]thing[/bold] second line")
    assert f"(traceback in {log})" in f.line
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "ValueError: bad" in text
    assert "ballast review -w" in text  # the command line that failed


def test_error_log_falls_back_to_the_user_cache(tmp_path: Path, cache: Path) -> None:
    """No workspace (or one that cannot be written): the per-user log."""
    f = failures.describe(_raised(KeyError("x")), ["ballast", "runs", "-w", str(tmp_path / "no")])
    assert f"traceback in {cache}" in f.line and "KeyError" in cache.read_text()
    ws = tmp_path / "ws"
    (ws / "ips").mkdir(parents=True)
    (ws / "logs").write_text("a file where the logs folder should be")
    f = failures.describe(_raised(KeyError("y")), ["ballast", "runs", "-w", str(ws)])
    assert f"traceback in {cache}" in f.line


def test_a_long_message_is_cut_on_the_line_but_kept_whole_in_the_log(cache: Path) -> None:
    f = failures.describe(_raised(RuntimeError("x" * 5000)), ["ballast"])
    assert len(f.line) < 1000 and "x" * 5000 in cache.read_text()


def test_interrupt() -> None:
    f = failures.describe(KeyboardInterrupt(), ["ballast", "review"])
    assert f.exit_code == EXIT_INTERRUPTED and f.line.startswith("interrupted")
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as ki:
            raise SystemExit(130) from ki  # what Typer does with Ctrl+C
    except SystemExit as exc:
        assert failures.interrupted(exc)
    assert not failures.interrupted(SystemExit(130))


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["ballast", "review", "-w", "/a"], "/a"),
        (["ballast", "review", "--workspace", "/b", "-v"], "/b"),
        (["ballast", "review", "--workspace=/c"], "/c"),
        (["ballast", "review", "-w/d"], "/d"),
        (["ballast", "demo"], "demo-workspace"),
        (["ballast", "runs"], "from-env"),
    ],
)
def test_workspace_hint(argv: list[str], expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BALLAST_HOME", "/from-env")
    assert failures.workspace_hint(argv).name == expected.strip("/")
