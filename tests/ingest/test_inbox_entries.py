"""The inbox takes regular files only (issue #11 item 1): links, FIFOs, folders and files that
cannot be opened are refused with one line on every run, never read through; hidden names are
not looked at, in inbox/ as in reference/. Real DuckDB file, real ingest."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from ballast import workspace
from ballast.ingest import inbox
from ballast.warehouse import db
from ballast.workspace import Workspace
from tests.ingest.test_ingest import HEADER, SECURITIES, count, ingest

GOOD = HEADER + "2026-09-30,A1,GEQ,10,100.00,1000.00,USD\n"
OUTSIDE = HEADER + "2026-09-30,X9,GEQ,10,100.00,1000.00,USD\n"
PATIENCE = 300.0  # seconds a thread may take before it is called stuck (a busy host; never a speed)


def refused(report: inbox.IngestReport) -> dict[str, str]:
    return {r["file"]: r["reason"] for r in report.refused}


def ledger_names(ws: Workspace) -> list[str]:
    with db.connect(ws.warehouse) as con:
        rows = con.execute("select original_name from file_ledger order by file_id").fetchall()
    return [r[0] for r in rows]


def accounts(ws: Workspace) -> set[str]:
    with db.connect(ws.warehouse) as con:
        return {r[0] for r in con.execute("select account_id from positions").fetchall()}


def everything_under(folder: Path) -> list[bytes]:
    return [p.read_bytes() for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]


def finishes(work: Callable[[], object], fifo: Path) -> object:
    """``work()`` run in a thread; fails (after freeing it) if it blocks on ``fifo``."""
    result: list[object] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(work())
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(PATIENCE)
    if thread.is_alive():  # blocked opening the FIFO: a writer frees it, then the test fails
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        thread.join(PATIENCE)
        pytest.fail(f"blocked on the FIFO {fifo.name}")
    if errors:
        raise errors[0]
    return result[0]


def test_symlink_to_a_csv_outside_is_refused_not_loaded(
    empty_ws: Workspace, tmp_path: Path
) -> None:
    """A link to positions outside the workspace is never loaded as real positions."""
    outside = tmp_path / "outside.csv"
    outside.write_text(OUTSIDE, encoding="utf-8")
    (empty_ws.inbox / "link.csv").symlink_to(outside)
    (empty_ws.inbox / "good.csv").write_text(GOOD, encoding="utf-8")
    report = ingest(empty_ws)
    assert [e["file"] for e in report.loaded] == ["good.csv"]
    assert refused(report) == {
        "link.csv": f"link.csv: a symbolic link (to {str(outside)!r}), not a regular file: "
        "not read, left where it is"
    }
    assert accounts(empty_ws) == {"A1"}
    assert ledger_names(empty_ws) == ["good.csv"]
    assert (empty_ws.inbox / "link.csv").is_symlink() and outside.read_text() == OUTSIDE
    assert OUTSIDE.encode() not in everything_under(empty_ws.root)


def test_symlink_to_etc_passwd_is_never_copied(empty_ws: Workspace) -> None:
    """A link to /etc/passwd: nothing of it reaches archive/, quarantine/ or the ledger."""
    target = Path("/etc/passwd")  # on every Linux host ballast supports
    (empty_ws.inbox / "passwd.csv").symlink_to(target)
    report = ingest(empty_ws)
    assert report.loaded == report.quarantined == report.duplicates == []
    assert list(refused(report)) == ["passwd.csv"]
    assert "a symbolic link (to '/etc/passwd')" in report.refused[0]["reason"]
    assert list(empty_ws.archive.iterdir()) == list(empty_ws.quarantine.iterdir()) == []
    assert target.read_bytes() not in everything_under(empty_ws.root)
    assert ledger_names(empty_ws) == []


def test_dangling_link_and_folder_are_reported_every_run(empty_ws: Workspace) -> None:
    """Entries that are not files are reported on every run (never ignored for good), and left."""
    (empty_ws.inbox / "gone.csv").symlink_to(empty_ws.root / "nowhere.csv")
    (empty_ws.inbox / "drop").mkdir()
    (empty_ws.inbox / "drop" / "pos.csv").write_text(GOOD, encoding="utf-8")
    expected = {
        "drop": "drop: a folder, not a regular file: not read, left where it is",
        "gone.csv": "gone.csv: a dangling symbolic link "
        f"(to {str(empty_ws.root / 'nowhere.csv')!r}), not a regular file: not read, "
        "left where it is",
    }
    for _ in range(2):
        report = ingest(empty_ws)
        assert refused(report) == expected
        assert report.loaded == report.quarantined == []
    assert (empty_ws.inbox / "drop" / "pos.csv").exists()  # a sub-folder is not descended into
    assert (empty_ws.inbox / "gone.csv").is_symlink()
    assert count(empty_ws, "positions") == 0


def test_fifo_in_inbox_does_not_block(empty_ws: Workspace) -> None:
    """A named pipe is refused without being opened, and the files beside it load."""
    fifo = empty_ws.inbox / "feed.csv"
    os.mkfifo(fifo)
    (empty_ws.inbox / "good.csv").write_text(GOOD, encoding="utf-8")
    report = finishes(lambda: ingest(empty_ws), fifo)
    assert isinstance(report, inbox.IngestReport)
    assert [e["file"] for e in report.loaded] == ["good.csv"]
    assert refused(report) == {
        "feed.csv": "feed.csv: a named pipe (FIFO), not a regular file: not read, left where it is"
    }
    assert fifo.exists()


def test_opened_never_waits_on_a_fifo(tmp_path: Path) -> None:
    """Even asked directly (a FIFO swapped in after the folder was listed), ``opened`` refuses
    it at once instead of waiting for a writer."""
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)

    def read() -> str:
        try:
            workspace.read_regular(fifo)
        except workspace.NotRegular as exc:
            return str(exc)
        return "read"

    assert finishes(read, fifo) == "a named pipe (FIFO)"


def test_entry_swapped_for_a_link_after_its_check_is_refused(
    empty_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The type is checked again on the opened file: a link swapped in just after the entry
    was looked at is not followed (open with no-follow)."""
    outside = tmp_path / "outside.csv"
    outside.write_text(OUTSIDE, encoding="utf-8")
    path = empty_ws.inbox / "pos.csv"
    path.write_text(GOOD, encoding="utf-8")
    real_lstat = inbox._lstat

    def lstat_then_swap(p: Path) -> os.stat_result:
        st = real_lstat(p)
        if p == path and not p.is_symlink():
            p.unlink()
            p.symlink_to(outside)
        return st

    monkeypatch.setattr(inbox, "_lstat", lstat_then_swap)
    report = ingest(empty_ws)
    assert report.loaded == report.quarantined == []
    assert refused(report) == {
        "pos.csv": f"pos.csv: a symbolic link (to {str(outside)!r}), not a regular file: "
        "not read, left where it is"
    }
    assert count(empty_ws, "positions") == 0 and ledger_names(empty_ws) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file of mode 000")
def test_unreadable_file_is_refused_and_the_rest_loads(empty_ws: Workspace) -> None:
    """A file that cannot be opened is reported (and left), not a crash."""
    locked = empty_ws.inbox / "locked.csv"
    locked.write_text(GOOD.replace("A1", "L1"), encoding="utf-8")
    locked.chmod(0)
    (empty_ws.inbox / "good.csv").write_text(GOOD, encoding="utf-8")
    try:
        report = ingest(empty_ws)
    finally:
        locked.chmod(0o644)
    assert [e["file"] for e in report.loaded] == ["good.csv"]
    assert refused(report) == {
        "locked.csv": "locked.csv: cannot be opened (Permission denied): not read, left where it is"
    }
    assert locked.exists()


def test_file_that_cannot_be_opened_is_refused(
    empty_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same path when running as root: opening is made to fail for one file only."""
    real_open = os.open

    def denying(path: object, *args: object, **kwargs: object) -> int:
        if str(path).endswith("locked.csv"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    (empty_ws.inbox / "locked.csv").write_text(GOOD.replace("A1", "L1"), encoding="utf-8")
    (empty_ws.inbox / "good.csv").write_text(GOOD, encoding="utf-8")
    monkeypatch.setattr(workspace.os, "open", denying)
    report = ingest(empty_ws)
    monkeypatch.undo()
    assert [e["file"] for e in report.loaded] == ["good.csv"]
    assert refused(report) == {
        "locked.csv": "locked.csv: cannot be opened (Permission denied): not read, left where it is"
    }
    assert accounts(empty_ws) == {"A1"}


def test_hidden_entries_are_not_looked_at(empty_ws: Workspace, tmp_path: Path) -> None:
    """Hidden names in inbox/ are neither read nor reported, whatever they are."""
    (empty_ws.inbox / ".hidden.csv").write_text(GOOD.replace("A1", "H1"), encoding="utf-8")
    (empty_ws.inbox / ".link.csv").symlink_to(tmp_path)
    os.mkfifo(empty_ws.inbox / ".pipe")
    (empty_ws.inbox / ".git").mkdir()
    (empty_ws.inbox / "good.csv").write_text(GOOD, encoding="utf-8")
    report = ingest(empty_ws)
    assert [e["file"] for e in report.loaded] == ["good.csv"]
    assert report.refused == report.quarantined == report.deferred == []
    assert (empty_ws.inbox / ".hidden.csv").exists()
    assert accounts(empty_ws) == {"A1"}


def test_partial_download_entries_are_not_looked_at(empty_ws: Workspace, tmp_path: Path) -> None:
    """A partial download is left for the next run, even when it is a link or a folder."""
    (empty_ws.inbox / "pos.csv.part").write_text(GOOD, encoding="utf-8")
    (empty_ws.inbox / "pos.csv.crdownload").symlink_to(tmp_path)
    (empty_ws.inbox / "x.tmp").mkdir()
    report = ingest(empty_ws)
    assert report.as_dict() == {
        "loaded": [],
        "quarantined": [],
        "duplicates": [],
        "deferred": [],
        "refused": [],
    }
    assert (empty_ws.inbox / "pos.csv.part").exists()


def test_security_master_link_is_refused(empty_ws: Workspace, tmp_path: Path) -> None:
    """reference/securities.csv is read only as a regular file: a link to a master elsewhere
    is refused (and no master is loaded from it)."""
    master = tmp_path / "master.csv"
    master.write_text(SECURITIES, encoding="utf-8")
    empty_ws.securities.symlink_to(master)
    report = ingest(empty_ws)
    assert report.loaded == [] and list(refused(report)) == ["securities.csv"]
    assert "a symbolic link" in report.refused[0]["reason"]
    assert count(empty_ws, "securities") == 0
    assert empty_ws.securities.is_symlink()


def test_security_master_fifo_does_not_block(empty_ws: Workspace) -> None:
    """A FIFO in place of reference/securities.csv is refused at once; the inbox still loads."""
    os.mkfifo(empty_ws.securities)
    (empty_ws.inbox / "good.csv").write_text(GOOD, encoding="utf-8")
    report = finishes(lambda: ingest(empty_ws), empty_ws.securities)
    assert isinstance(report, inbox.IngestReport)
    assert [e["file"] for e in report.loaded] == ["good.csv"]
    assert refused(report) == {
        "securities.csv": "securities.csv: a named pipe (FIFO), not a regular file: not read, "
        "left where it is"
    }


def test_hidden_files_in_reference_are_not_read(empty_ws: Workspace) -> None:
    """Only reference/securities.csv is read; a hidden copy beside it is not a master."""
    (empty_ws.reference / ".securities.csv").write_text(SECURITIES, encoding="utf-8")
    (empty_ws.reference / ".securities.csv.swp").write_text("junk", encoding="utf-8")
    report = ingest(empty_ws)
    assert report.as_dict()["loaded"] == [] and report.refused == []
    assert count(empty_ws, "securities") == 0
    empty_ws.securities.write_text(SECURITIES, encoding="utf-8")
    assert [e["file"] for e in ingest(empty_ws).loaded] == ["securities.csv"]


def test_link_planted_in_the_archive_is_replaced_not_followed(
    empty_ws: Workspace, tmp_path: Path
) -> None:
    """Archiving never writes through a link planted at the archive name."""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    data = GOOD.encode()
    import hashlib

    planted = empty_ws.archive / f"{hashlib.sha256(data).hexdigest()}.csv"
    planted.symlink_to(victim)
    (empty_ws.inbox / "good.csv").write_bytes(data)
    report = ingest(empty_ws)
    assert [e["file"] for e in report.loaded] == ["good.csv"]
    assert not planted.is_symlink() and planted.read_bytes() == data
    assert victim.read_text(encoding="utf-8") == "keep me"


def test_odd_names_print_on_one_line(empty_ws: Workspace) -> None:
    """A refused entry whose name holds a newline or a bidi override is reported on one line."""
    name = "evil\n\u202ename.csv"
    (empty_ws.inbox / name).mkdir()
    report = ingest(empty_ws)
    (entry,) = report.refused
    assert entry["file"] == "evil\\n\\u202ename.csv"
    assert entry["reason"].isprintable()
