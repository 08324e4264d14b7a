"""The size guard with a real 1 GiB file, the limit's boundary, and sparse-preserving copies."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest

from ballast.ingest import files, inbox
from ballast.warehouse import db
from ballast.workspace import Workspace
from tests.ingest.test_hostile_files import GOOD
from tests.ingest.test_ingest import HEADER, count, ingest

GIB = 1 << 30
MIB = 1 << 20


def _status_mib(field: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    return int(text.split(f"{field}:")[1].split()[0]) // 1024


def _start_peak() -> int:
    """Reset the peak resident size where Linux allows it; the baseline to measure growth from."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
        return _status_mib("VmRSS") or 0
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _peak() -> int:
    return _status_mib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _tree(root: Path, skip: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` outside ``skip``: its size and modification time."""
    return {
        str(p): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and skip not in p.parents
    }


@pytest.fixture
def loaded_ws(empty_ws: Workspace) -> Workspace:
    """A workspace holding one good positions file already."""
    (empty_ws.inbox / "good.csv").write_text(GOOD)
    ingest(empty_ws)
    return empty_ws


def test_one_gib_file_is_quarantined_unread(
    loaded_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 1 GiB file under the default limit: quarantined by a rename with a reason naming its
    size and the limit, never read into memory or parsed; earlier data and everything outside
    the workspace untouched. Its first bytes are a valid positions file, so only the size can
    refuse it."""
    monkeypatch.delenv("BALLAST_MAX_FILE_MB", raising=False)
    assert inbox.max_file_bytes() == 512 * MIB  # the default this test is about
    (tmp_path / "outside.txt").write_text("not ballast's")
    outside = _tree(tmp_path, loaded_ws.root)
    huge = loaded_ws.inbox / "huge.csv"
    with huge.open("wb") as f:
        f.write(GOOD.encode())
        f.truncate(GIB)  # a sparse file: no disk, no time
    inode, blocks = huge.stat().st_ino, huge.stat().st_blocks

    base = _start_peak()
    report = ingest(loaded_ws)
    growth = _peak() - base

    assert report.loaded == []
    (q,) = report.quarantined
    reason = "huge.csv: is 1,024.0 MB, larger than the 512 MB limit (BALLAST_MAX_FILE_MB)"
    assert q["reason"] == reason
    assert growth < 128, f"ingest grew the process by {growth} MiB: the file was read"
    dest = Path(q["quarantine_path"])
    assert dest.parent == loaded_ws.quarantine and dest.stat().st_ino == inode  # renamed
    assert dest.stat().st_size == GIB
    assert dest.with_name(dest.name + ".reason.txt").read_text().startswith(reason + "\n")
    assert list(loaded_ws.inbox.iterdir()) == []
    archived = loaded_ws.archive / f"{q['sha256']}.csv"
    # the archive copy takes no more disk than the file (none of the holes, where kept)
    assert archived.stat().st_size == GIB and archived.stat().st_blocks <= blocks
    with archived.open("rb") as f:
        assert f.read(len(GOOD)) == GOOD.encode()
    assert not [p for p in loaded_ws.root.rglob("*") if p.name.endswith(".tmp")]
    with db.connect(loaded_ws.warehouse) as con:
        row = con.execute(
            "select status, size_bytes, kind, rows, accounts from file_ledger "
            "where original_name = 'huge.csv'"
        ).fetchone()
    assert row == ("quarantined", GIB, None, None, [])  # not even scanned for account ids
    assert count(loaded_ws, "positions") == 1
    assert _tree(tmp_path, loaded_ws.root) == outside


def _exactly(size: int) -> str:
    """A valid positions file of exactly ``size`` bytes (spaces around a cell are stripped)."""
    row = "2026-09-30,A1,GEQ,10,100.00,1000.00,{}USD\n"
    return HEADER + row.format(" " * (size - len(HEADER) - len(row.format(""))))


@pytest.mark.parametrize(("extra", "loaded"), [(0, True), (1, False)])
def test_limit_boundary(
    empty_ws: Workspace, monkeypatch: pytest.MonkeyPatch, extra: int, loaded: bool
) -> None:
    """A file exactly at the limit is read; one byte more is refused unread."""
    monkeypatch.setenv("BALLAST_MAX_FILE_MB", "1")
    (empty_ws.inbox / "p.csv").write_text(_exactly(MIB + extra))
    assert (empty_ws.inbox / "p.csv").stat().st_size == MIB + extra
    report = ingest(empty_ws)
    assert [e["rows"] for e in report.loaded] == ([1] if loaded else [])
    if not loaded:
        (q,) = report.quarantined
        assert q["reason"] == "p.csv: is 1.0 MB, larger than the 1 MB limit (BALLAST_MAX_FILE_MB)"


def test_copies_keep_bytes_and_holes(tmp_path: Path) -> None:
    """Archive copies are byte-identical, data and holes alike, and holes stay holes."""
    src = tmp_path / "in" / "sparse.csv"
    src.parent.mkdir()
    with src.open("wb") as f:
        f.write(b"head")
        f.seek(3 * MIB + 5)
        f.write(os.urandom(70_000))  # data across an extent boundary
        f.truncate(6 * MIB)  # and a hole at the end
    dest = files.archive(src, "abc", tmp_path)
    assert dest.read_bytes() == src.read_bytes()
    assert dest.stat().st_blocks <= src.stat().st_blocks + 16
    dense = tmp_path / "in" / "dense.bin"
    dense.write_bytes(os.urandom(3 * MIB + 7))
    assert files.archive(dense, "def", tmp_path).read_bytes() == dense.read_bytes()
