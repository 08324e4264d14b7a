"""PDF copies of the HTML reports (WeasyPrint), made only where asked: about 0.2 s a page, so
10,000 PDFs would cost half an hour; the review makes them for all portfolios, for those that
need action, or none (the default)."""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path
from typing import Any


class PdfChoice(StrEnum):
    NONE = "none"
    ACTION = "action"  # portfolios whose action is rebalance, or whose data is invalid
    ALL = "all"


def wanted(choice: PdfChoice, entry: dict[str, Any]) -> bool:
    """Whether this portfolio's report gets a PDF."""
    if choice is PdfChoice.ALL:
        return True
    if choice is PdfChoice.ACTION:
        needs_action: bool = entry["action"] == "rebalance" or entry["status"] != "ok"
        return needs_action
    return False


def html_to_pdf(html: str, base: Path) -> bytes:
    """Render a self-contained HTML report to PDF bytes."""
    from weasyprint import HTML

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    pdf: bytes = HTML(string=html, base_url=str(base)).write_pdf()
    return pdf
