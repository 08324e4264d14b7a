"""Broken and hostile files: each is quarantined with a clear reason, nothing else is harmed."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ballast.errors import DataError
from ballast.ingest import adapters, inbox
from ballast.workspace import Workspace
from tests.ingest.test_ingest import HEADER, count, ingest

GOOD = HEADER + "2026-09-30,A1,GEQ,10,100.00,1000.00,USD\n"


def quarantine_reason(ws: Workspace, name: str, data: bytes) -> str:
    (ws.inbox / name).write_bytes(data)
    report = ingest(ws)
    assert report.loaded == [], report.loaded
    (q,) = report.quarantined
    return q["reason"]


@pytest.fixture
def loaded_ws(empty_ws: Workspace) -> Workspace:
    """A workspace holding one good positions file already."""
    (empty_ws.inbox / "good.csv").write_text(GOOD)
    ingest(empty_ws)
    return empty_ws


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "bad.csv: the file is empty"),
        (HEADER.encode(), "bad.csv: has a header but no data rows"),
        (
            (
                "as_of_date,account_id,security_id,quantity,price,market_value,currency,note\n"
                "2026-09-30,A1,GEQ,10,100.00,1000.00,USD,Zürich\n"
            ).encode("latin-1"),
            "bad.csv, row 2: not UTF-8 text",
        ),
        (GOOD.encode() + b"2026-09-30,A1,IGB,10,100.00,10", "bad.csv, row 3: has 6 fields"),
        (b"\x00\x01\x02binary", "bad.csv: binary content"),
    ],
)
def test_broken_files_quarantined(loaded_ws: Workspace, data: bytes, reason: str) -> None:
    """Each broken file gets its reason; the earlier file's rows are intact."""
    assert quarantine_reason(loaded_ws, "bad.csv", data).startswith(reason)
    assert count(loaded_ws, "positions") == 1


def test_crlf_and_bom_are_fine(empty_ws: Workspace) -> None:
    """Windows line endings and a UTF-8 byte-order mark load normally."""
    (empty_ws.inbox / "win.csv").write_bytes(b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode())
    assert [e["rows"] for e in ingest(empty_ws).loaded] == [1]


def test_oversized_file_refused_unread(loaded_ws: Workspace, monkeypatch) -> None:
    """A file over the size limit is quarantined without being parsed."""
    monkeypatch.setenv("BALLAST_MAX_FILE_MB", "0.001")  # about 1 KB
    reason = quarantine_reason(loaded_ws, "huge.csv", GOOD.encode() * 40)
    assert "larger than the 0 MB limit" in reason or "larger than the" in reason
    assert count(loaded_ws, "positions") == 1


def test_zip_slip_refused(loaded_ws: Workspace, tmp_path: Path) -> None:
    """A zip with a ../../ member is refused as hostile and nothing is extracted."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../../escaped.csv", GOOD)
    reason = quarantine_reason(loaded_ws, "drop.zip", buf.getvalue())
    assert "unsafe member path '../../escaped.csv' (zip slip)" in reason
    assert not any(p.name == "escaped.csv" for p in tmp_path.rglob("*"))


def test_plain_zip_refused(loaded_ws: Workspace) -> None:
    """An ordinary zip is refused with advice to unpack it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("pos.csv", GOOD)
    assert "is a zip archive: unpack it" in quarantine_reason(loaded_ws, "d.zip", buf.getvalue())


@pytest.mark.parametrize(
    "name", ["pos;rm -rf ~.csv", "$(touch pwned).csv", "%2F..%2F..%2Fx.csv", "a b 'c' \"d\".csv"]
)
def test_hostile_names(empty_ws: Workspace, tmp_path: Path, name: str) -> None:
    """File names with shell or path characters are data, never commands or paths."""
    (empty_ws.inbox / name).write_text(GOOD.replace("10,100.00", "10,1x"))
    report = ingest(empty_ws)
    (q,) = report.quarantined
    dest = Path(q["quarantine_path"])
    assert dest.parent == empty_ws.quarantine and dest.exists()
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.binary(max_size=400)
    | st.text(max_size=400).map(str.encode)
    | st.lists(
        st.sampled_from([HEADER, GOOD, "2026-09-30,A1,", ",,,\n", '"', "\r\n", "é"]), max_size=8
    ).map(lambda parts: "".join(parts).encode())
)
def test_fuzz_only_clean_errors(data: bytes) -> None:
    """No input makes parsing raise anything but a one-line DataError."""
    try:
        inbox.parse_file(data, "fuzz.csv", adapters.Context(securities=None))
    except DataError as exc:
        assert "\n" not in str(exc)
