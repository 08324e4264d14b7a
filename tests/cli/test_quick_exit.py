"""``ballast``'s console script leaves the process as ``sys.exit`` would: threads joined,
exit handlers run, streams flushed, the same exit status (``ballast.cli.quick_exit``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import atexit, sys, threading, time
from ballast.cli.quick_exit import leave

atexit.register(lambda: print("exit handler ran"))
def late():
    time.sleep(0.2)
    print("thread finished")
threading.Thread(target=late).start()
sys.stdout.write("unflushed ")
leave({code})
"""


@pytest.mark.parametrize(
    ("code", "status", "stderr"),
    [("None", 0, ""), ("3", 3, ""), ("'error: bad input'", 1, "error: bad input\n")],
)
def test_leave_is_sys_exit_without_the_teardown(code: str, status: int, stderr: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(code=code)], capture_output=True, text=True
    )
    assert proc.returncode == status
    assert proc.stdout == "unflushed thread finished\nexit handler ran\n"
    assert proc.stderr == stderr


def test_the_console_script_is_entry() -> None:
    """The installed ``ballast`` runs ``entry`` (the quick way out); ``main`` stays callable."""
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "ballast"]
    assert script.value == "ballast.cli.app:entry"
