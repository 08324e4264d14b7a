"""A run's folder written shard by shard, so a review holds one shard's results at a time.

``RunFolder`` opens the run's staging folder (``outputs.staging``) and takes the results
entries and report contexts of each shard in portfolio id order (``add``): their part of
results.json, trades.csv and trade_lots.csv is written and hashed at once, their reports go to
the ``outputs.ReportRenderer``, and the line each gets on the index page waits on disk
(``index_rows.IndexRows``). ``close`` ends the documents and writes index.html. The files are
byte for byte those the whole run's entries would give (``results_text.results_document``,
``results_text.trades_csv``, ``results_text.trade_lots_csv``, ``html.render_run_index``),
however the run is sharded.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from ballast.ops import progress
from ballast.ops.memory import collector_paused
from ballast.reporting import html as report_html
from ballast.reporting import results_text
from ballast.reporting.index_rows import IndexRows
from ballast.reporting.outputs import ReportRenderer, staging, write_documents
from ballast.reporting.pdf import PdfChoice
from ballast.reporting.summary import terminal_row

TABLES = {"trades.csv": results_text.trades_csv, "trade_lots.csv": results_text.trade_lots_csv}
"""The CSV files of a review (not of a monitor), each made from results entries by a function
whose text is a header line and then the entries' lines."""

ENTRY_INDENT = "\n    "
"""A line break and the indent of a results.json entry (the document's ``portfolios`` list)."""


def results_head(run: dict[str, Any]) -> str:
    """results.json up to its ``portfolios`` list: the run's fields, then the list's key."""
    doc = {k: run[k] for k in ("run_id", "as_of", "kind", "trigger")}
    return results_text.results_document(doc, [])[: -len("[]\n}\n")]


def entry_text(entry: dict[str, Any]) -> str:
    """One results.json entry as it is indented in the document (``results_text.json_text``)."""
    return results_text.json_text(entry, ENTRY_INDENT)


@dataclass(frozen=True)
class EncodedShard:
    """A shard's entries as the run folder writes them: their results.json texts, their lines
    of each CSV (no header), their index rows and terminal rows. Small to ship: a Dask worker
    encodes its shard and the coordinator only writes the text."""

    texts: list[str]
    tables: dict[str, str]
    index: list[dict[str, Any]]
    rows: list[dict[str, Any]]


def encode(entries: list[dict[str, Any]], *, tables: bool, html: bool) -> EncodedShard:
    """``entries`` (in portfolio id order) encoded for the run folder; ``tables`` for a review
    (trades.csv, trade_lots.csv), ``html`` for the index page."""
    with collector_paused():
        return EncodedShard(
            [entry_text(e) for e in entries],
            {name: lines(entries).split("\n", 1)[1] for name, lines in TABLES.items()}
            if tables
            else {},
            [report_html.index_row(e) for e in entries] if html else [],
            [terminal_row(e) for e in entries],
        )


def _joined(pieces: Iterable[str], count: int = 1 << 15) -> Iterator[str]:
    """``pieces`` joined ``count`` at a time, in order (Jinja yields many small ones: about 40
    per portfolio of the index page)."""
    it = iter(pieces)
    while batch := list(islice(it, count)):
        yield "".join(batch)


class _Hashed:
    """A text file written piece by piece, hashed as it is written."""

    def __init__(self, path: Path) -> None:
        self.file: IO[bytes] = path.open("wb")
        self.sha = hashlib.sha256()

    def write(self, text: str) -> None:
        data = text.encode("utf-8")
        self.file.write(data)
        self.sha.update(data)

    def close(self) -> str:
        self.file.close()
        return self.sha.hexdigest()


class RunFolder:
    """The staging folder of one run, written shard by shard (see the module docstring).

    ``total`` is how many reports the run will render (it decides the report pool, whose
    workers' niceness is raised by ``nice``: ``ReportRenderer``); use it as a
    context manager: leaving it without ``close`` (an error) stops the pool and closes the
    files, and the staging folder is left for recovery to remove."""

    def __init__(
        self,
        reports_root: Path,
        run: dict[str, Any],
        *,
        total: int,
        html: bool = True,
        pdf: PdfChoice = PdfChoice.NONE,
        workers: int | None = None,
        nice: int = 0,
        on_rows: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        self.run, self.html = run, html
        self._on_rows = on_rows
        self.final = reports_root / run["as_of"] / run["run_id"]
        self.folder = staging(self.final)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self._renderer = ReportRenderer(
            self.folder, total if html else 0, workers, pdf, nice, on_encoded=self.add_encoded
        )
        self._results = _Hashed(self.folder / "results.json")
        self._results.write(results_head(run))
        self._tables: dict[str, tuple[_Hashed, Callable[[list[dict[str, Any]]], str]]] = {}
        if run["kind"] != "monitor":
            for name, lines in TABLES.items():
                self._tables[name] = (_Hashed(self.folder / name), lines)
                self._tables[name][0].write(lines([]))  # the header
        self._first = True
        self._index = IndexRows(run["kind"], self.folder)
        self.outputs: dict[str, str] = {}
        self._documents: dict[str, str] = {}  # hashes of reports rendered elsewhere

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._renderer.close()
        self._index.close()
        for f in (self._results, *(f for f, _ in self._tables.values())):
            if not f.file.closed:
                f.file.close()

    def add(self, entries: list[dict[str, Any]], contexts: list[dict[str, Any]]) -> None:
        """The next shard's entries (in portfolio id order, after the previous shard's) and
        the contexts of their reports. When a pool renders the reports, its workers encode the
        entries too and their part of each file is written as they hand it back, in order;
        else now. Each part's terminal rows go to ``on_rows``."""
        tables = bool(self._tables)
        if self.html and self._renderer.pooled and len(contexts) == len(entries):
            self._renderer.submit(contexts, entries, (tables, self.html))
            return
        self._renderer.drain_encoded()  # what the pool still holds comes first
        self._renderer.submit(contexts if self.html else [])
        self.add_encoded(encode(entries, tables=tables, html=self.html))

    def add_encoded(self, part: EncodedShard) -> None:
        """The next shard's entries as ``encode`` made them (here, on a report worker or on a
        Dask worker)."""
        if not part.texts:
            return
        lead = "[" + ENTRY_INDENT if self._first else "," + ENTRY_INDENT
        self._results.write(lead + ("," + ENTRY_INDENT).join(part.texts))
        self._first = False
        for name, (f, _) in self._tables.items():
            f.write(part.tables[name])
        if self.html:
            self._index.add(part.index)
        if self._on_rows is not None:
            self._on_rows(part.rows)

    def add_documents(
        self, documents: dict[str, bytes], written: dict[str, str] | None = None
    ) -> None:
        """Reports rendered elsewhere (a Dask worker): written and hashed here, in this folder;
        and the hashes of those the worker wrote into this folder itself (``written``)."""
        hashes = write_documents(self.folder, documents) | (written or {})
        self._documents |= hashes
        progress.advance(sum(1 for name in hashes if name.endswith(".html")))

    def take_hashes(self) -> dict[str, str]:
        """The hashes of the reports written so far and not taken yet (``close`` gives the
        rest), so a caller can keep them elsewhere than in memory."""
        taken = self._renderer.take() | self._documents
        self._documents = {}
        return taken

    def close(self) -> dict[str, str]:
        """End results.json and trades.csv, write index.html, wait for the reports; the hash
        of every file in the folder not taken (``take_hashes``)."""
        self._renderer.drain_encoded()
        self._results.write(("[]" if self._first else "\n  ]") + "\n}\n")
        self.outputs["results.json"] = self._results.close()
        for name, (f, _) in self._tables.items():
            self.outputs[name] = f.close()
        if self.html:
            index = _Hashed(self.folder / "index.html")
            with collector_paused():  # else its passes walk every index row: 2.5x the time
                chunks = report_html.index_chunks(self.run, self._index, facts=self._index.facts)
                for text in _joined(chunks):
                    index.write(text)
            self.outputs["index.html"] = index.close()
        self.outputs |= self._renderer.finish() | self._documents
        return self.outputs
