"""The rendered report in a real browser: headless Chromium draws it, Pillow looks at it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_report import invalid_context, seed_context

from ballast.reporting.html import render_portfolio_report, render_run_index
from tests.support.browser import dump_dom, screenshot

pytestmark = pytest.mark.slow


def _keep(png: Path) -> None:
    """Copy a screenshot to ``$BALLAST_SCREENSHOT_DIR`` (a CI artefact) when that is set."""
    if target := os.environ.get("BALLAST_SCREENSHOT_DIR"):
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(target) / png.name)


def _ink(png: Path) -> tuple[int, float, float]:
    """(distinct colours, share of non-white pixels, share of saturated red pixels)."""
    with Image.open(png) as img:
        rgb = np.asarray(img.convert("RGB"), dtype=np.int16)
    flat = rgb.reshape(-1, 3)
    colours = len(np.unique(flat, axis=0))
    non_white = float((flat.min(axis=1) < 245).mean())
    r, g, b = flat[:, 0], flat[:, 1], flat[:, 2]
    red = float(((r > 150) & (g < 80) & (b < 80)).mean())
    return colours, non_white, red


def _write(tmp_path: Path, name: str, html: str) -> Path:
    page = tmp_path / name
    page.write_text(html, encoding="utf-8")
    return page


def test_report_renders_as_a_non_blank_page_with_its_chart(tmp_path):
    """Chromium draws the seed report with text, colour and the SVG chart in its DOM."""
    page = _write(tmp_path, "seed-60-40.html", render_portfolio_report(seed_context()))
    png = screenshot(page, tmp_path / "seed-60-40.png", size=(1280, 2000))
    _keep(png)
    with Image.open(png) as img:
        assert img.size == (1280, 2000)
    colours, non_white, red = _ink(png)
    assert colours > 50, f"only {colours} colours: the page looks blank"
    assert 0.03 < non_white < 0.6, f"{non_white:.1%} of the page is inked"
    assert red > 0.0002, "the breach markers (red) are missing"
    dom = dump_dom(page, tmp_path)
    assert '<svg class="band-chart"' in dom
    assert "Weights against policy bands" in dom
    assert "66.37%" in dom and "+637.17 bp" in dom


def test_data_invalid_report_and_index_render(tmp_path):
    """The data-invalid report and the run index both render to non-blank pages."""
    bad = invalid_context()
    pages = {
        "trust-b.html": render_portfolio_report(bad),
        "index.html": render_run_index(bad["run"], [seed_context()["portfolio"], bad["portfolio"]]),
    }
    for name, html in pages.items():
        page = _write(tmp_path, name, html)
        png = screenshot(page, tmp_path / f"{page.stem}.png", size=(1280, 1200))
        _keep(png)
        colours, non_white, _ = _ink(png)
        assert colours > 30 and non_white > 0.02, f"{name} looks blank"
    assert "Data invalid" in dump_dom(tmp_path / "trust-b.html", tmp_path)
