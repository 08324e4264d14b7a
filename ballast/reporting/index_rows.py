"""A run's index rows kept on disk, not in memory, until its index.html is written.

Each portfolio's line on the index page (``html.index_row``, about 0.9 KB of Python objects)
was held from its shard to the end of the run: at a million portfolios, about a gigabyte. Now
each shard's rows are pickled to an anonymous temporary file in the run's folder as they come
(it has no name, so no other process can open it, and only this process reads back what it
wrote), with the
page's counts, first exceptions, drifts and account ids gathered meanwhile
(``html.IndexFacts``); writing the page reads the rows back once, a shard at a time.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ballast.reporting.html import IndexFacts


class IndexRows(Collection[Mapping[str, Any]]):
    """The index rows of a run, added a shard at a time in portfolio id order, read back in
    the same order (any number of times) by iterating; ``facts`` are those of all of them."""

    def __init__(self, kind: Any = None, folder: Path | None = None) -> None:
        self.facts = IndexFacts(kind)
        # in ``folder`` (the run's, on the workspace's disk: /tmp may be memory); unnamed
        self._file = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 - closed by close()
        self._starts: list[int] = []  # where each batch begins in the file
        self._count = 0

    def add(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        self._starts.append(self._file.seek(0, os.SEEK_END))
        pickle.dump(list(rows), self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self._count += len(rows)
        self.facts.add(rows)

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        self._file.flush()
        for start in list(self._starts):
            self._file.seek(start)  # each batch from its start: readers may interleave
            batch: list[Mapping[str, Any]] = pickle.load(self._file)
            yield from batch

    def __contains__(self, row: object) -> bool:
        return any(r == row for r in self)

    def close(self) -> None:
        self._file.close()
