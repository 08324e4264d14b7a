"""The scheduled review waits for missing custodian files within a window (issue 6 item 2)."""

from __future__ import annotations

import shutil

from ballast.ingest.custodian_wait import await_custodian_files, expected_accounts
from tests.conftest import copy_demo

AS_OF = __import__("datetime").date(2026, 9, 30)


def test_waits_until_file_arrives(tmp_path) -> None:
    """Accounts whose file arrives during the window stop being missing; the others are
    reported when the window closes."""
    ws = copy_demo(tmp_path / "ws")
    (ws.root / "ballast.yaml").write_text(
        "schedule:\n  wait_for_files_minutes: 10\n  poll_seconds: 1\n"
    )
    held = tmp_path / "held"
    held.mkdir()
    name = "custodian-a_positions_2026-09-30.csv"
    shutil.move(ws.inbox / name, held / name)
    before = await_custodian_files(
        str(ws.root), AS_OF, sleep=lambda s: None, clock=iter([0, 0, 1e9]).__next__
    )
    assert before  # window closed with accounts missing
    sleeps: list[float] = []

    def arrive(seconds: float) -> None:
        sleeps.append(seconds)
        shutil.copy(held / name, ws.inbox / name)

    # clock: the deadline, the first look (file missing), then the window is over; LP-300's
    # file is broken in the demo, so it stays missing and the wait must end by the clock
    after = await_custodian_files(
        str(ws.root), AS_OF, sleep=arrive, clock=iter([0, 0, 1e9]).__next__
    )
    assert sleeps == [1] and after < before and after <= expected_accounts(ws)
