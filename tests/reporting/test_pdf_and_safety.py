"""PDF reports (WeasyPrint, checked as PNG pages) and hostile text made inert in every output."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import copy_demo

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]
FORMULA = "@SUM(1+1)"  # an identifier ballast accepts (docs/file-formats.md) that a sheet runs
SCRIPT = "<script>alert(1)</script>"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (apt-get install poppler-utils)")
    return path


def review(ws, **kw) -> Path:
    from ballast.flows.review import quarterly_review

    return Path(quarterly_review(workspace=str(ws.root), as_of="2026-09-30", **kw)["report_dir"])


def test_pdf_for_portfolios_needing_action(tmp_path: Path) -> None:
    """--pdf action: the breached seed portfolio gets a PDF whose pages render with the chart;
    the portfolio inside its bands gets none."""
    ws = copy_demo(tmp_path / "ws")
    folder = review(ws, portfolios=["seed-60-40", "harbor-foundation"], pdf="action")
    pdf = folder / "seed-60-40.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    assert not (folder / "harbor-foundation.pdf").exists()
    subprocess.run(
        [_tool("pdftoppm"), "-png", "-r", "60", str(pdf), str(tmp_path / "page")],
        check=True,
        timeout=120,
    )
    pages = sorted(tmp_path.glob("page*.png"))
    assert pages, "pdftoppm produced no pages"
    first = Image.open(pages[0]).convert("RGB")
    assert len(first.getcolors(maxcolors=1 << 20) or []) > 30, "the first page looks blank"
    reds = sum(1 for r, g, b in first.getdata() if r > 150 and g < 80 and b < 80)
    assert reds > 20, "no red breach markers: the chart is missing from the PDF"
    text = subprocess.run(
        [_tool("pdftotext"), str(pdf), "-"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert "66.37%" in text and "Weights against policy bands" in text


def test_hostile_names_are_inert(tmp_path: Path) -> None:
    """A security called @SUM(1+1) and an account named <script> stay text everywhere.

    (``=`` and quotes may not be in an identifier at all: such a file is refused at ingest.)"""
    ws = copy_demo(tmp_path / "ws")
    for path in (
        ws.inbox / "custodian-a_positions_2026-09-30.csv",
        ws.reference / "securities.csv",
        ws.inbox / "custodian-a_prices_2026-09-30.csv",
    ):
        text = path.read_text()
        path.write_text(re.sub(r"(?m)(^|,)GEQ(?=,|$)", lambda m: m.group(1) + FORMULA, text))
    ips = ws.ips / "seed-60-40.yaml"
    ips.write_text(
        ips.read_text().replace(
            "tax_status: tax_exempt}", f'tax_status: tax_exempt, name: "{SCRIPT}"}}'
        )
    )
    folder = review(ws, portfolios=["seed-60-40"], pdf="all")
    rows = list(csv.reader(io.StringIO((folder / "trades.csv").read_text())))
    cells = [c for r in rows for c in r]
    assert "'" + FORMULA in cells and FORMULA not in cells  # neutralised, not a formula
    html = (folder / "seed-60-40.html").read_text()
    assert SCRIPT not in html and "<script" not in html.lower()
    text = subprocess.run(
        [_tool("pdftotext"), str(folder / "seed-60-40.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert FORMULA in text  # shown as plain text in the PDF
