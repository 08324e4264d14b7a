"""Headless Chromium helpers for tests that look at rendered pages (reports, index pages).

Chromium is required, not optional: CI installs it, so a missing binary fails the test with a
message saying how to install it rather than skipping silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("BALLAST_CHROMIUM", "/usr/bin/chromium")
TIMEOUT_S = 90
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium_path() -> str:
    """The Chromium binary, or a test failure explaining how to get it."""
    path = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")
    if not path:
        pytest.fail(
            f"Chromium not found at {CHROMIUM} (set BALLAST_CHROMIUM, or: "
            "apt-get update && apt-get install -y chromium)",
            pytrace=False,
        )
    return path


def _run(args: list[str], workdir: Path) -> subprocess.CompletedProcess[str]:
    profile = workdir / "chromium-profile"
    profile.mkdir(parents=True, exist_ok=True)
    cmd = [chromium_path(), *_FLAGS, f"--user-data-dir={profile}", *args]
    try:
        return subprocess.run(
            cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False, cwd=workdir
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"Chromium did not finish within {TIMEOUT_S} s: {' '.join(cmd)}")


def screenshot(html_file: Path, png: Path, size: tuple[int, int] = (1280, 2000)) -> Path:
    """Render ``html_file`` in headless Chromium and save a PNG screenshot of it."""
    png.unlink(missing_ok=True)
    proc = _run(
        [f"--screenshot={png}", f"--window-size={size[0]},{size[1]}", html_file.resolve().as_uri()],
        png.parent,
    )
    if not png.is_file():
        pytest.fail(
            f"Chromium wrote no screenshot (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
        )
    return png


def dump_dom(html_file: Path, workdir: Path) -> str:
    """The DOM of ``html_file`` after Chromium has parsed it, serialised as HTML."""
    proc = _run(["--dump-dom", html_file.resolve().as_uri()], workdir)
    if proc.returncode != 0 or not proc.stdout.strip():
        pytest.fail(f"Chromium --dump-dom failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return proc.stdout
