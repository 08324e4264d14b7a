"""A run's result rows (run_portfolios, run_allocations, run_trades, and the IPS and output
hashes of run_inputs and run_outputs) kept on disk until the record stage, so a review holds
none of them in memory.

Each shard's rows (``records.result_frames``, the hashes of its IPS files and of the reports
written so far) are written as it finishes, one Parquet file per table, to
``<workspace>/.ballast/results/<run_id>/<table>-<n>.parquet``. The record stage
inserts each table's files in one statement inside its transaction (``records.finish``);
``finish_run`` removes the folder once the run is recorded (``remove``). A run that dies first
leaves its folder; the next run's recovery removes the folders of runs not alive (``tidy``), so
no result row reaches the warehouse except with its run's ``run_finished``. Held in memory
instead, the rows were about 1.4 KB per portfolio, kept to the end of the run, then copied once
more to be concatenated.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ballast.workspace import Workspace

TABLES = ("run_portfolios", "run_allocations", "run_trades", "run_inputs", "run_outputs")
"""The run tables whose rows come in with the shards: the results, each IPS version reviewed
(``run_inputs`` rows of role ``ips``; the files read and the models are few, recorded from
memory) and the hash of each file written (``run_outputs``)."""


def results_dir(ws: Workspace) -> Path:
    return ws.root / ".ballast" / "results"


@dataclass
class ResultFiles:
    """The result files of one run (picklable: the record task takes it). ``rows`` and
    ``parts``: the rows and files written per table."""

    folder: Path
    run_id: str
    rows: dict[str, int] = field(default_factory=dict)
    parts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def begin(cls, ws: Workspace, run_id: str) -> ResultFiles:
        """An empty folder for the run (whatever an earlier attempt left is removed)."""
        folder = results_dir(ws) / run_id
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return cls(folder, run_id)

    def add(self, frames: dict[str, pl.DataFrame]) -> None:
        """Rows of these tables (a table without rows writes no file)."""
        for table, frame in frames.items():
            if table not in TABLES:
                raise ValueError(f"not a result table: {table}")
            if frame.height:
                n = self.parts.get(table, 0)
                frame.write_parquet(self.folder / f"{table}-{n:06d}.parquet")
                self.parts[table] = n + 1
                self.rows[table] = self.rows.get(table, 0) + frame.height

    def add_ips(self, hashes: dict[str, str]) -> None:
        """The SHA-256 of each IPS reviewed, by portfolio id, as ``run_inputs`` rows."""
        names = [f"{pid}.yaml" for pid in hashes]
        roles = ["ips"] * len(names)
        self.add({"run_inputs": self._rows({"role": roles, "name": names}, hashes.values())})

    def add_outputs(self, hashes: dict[str, str]) -> None:
        """The SHA-256 of files written to the run folder, by name, as ``run_outputs`` rows."""
        self.add({"run_outputs": self._rows({"name": list(hashes)}, hashes.values())})

    def _rows(self, columns: dict[str, list[str]], hashes: Iterable[str]) -> pl.DataFrame:
        text = dict.fromkeys([*columns, "sha256"], pl.String)
        frame = pl.DataFrame({**columns, "sha256": list(hashes)}, schema_overrides=text)
        return frame.with_columns(pl.lit(self.run_id).alias("run_id"))

    def files(self, table: str) -> list[Path]:
        """The table's files in the order written."""
        return sorted(self.folder.glob(f"{table}-*.parquet"))


def remove(ws: Workspace, run_id: str) -> None:
    """Remove the run's result folder (recorded, or never to be)."""
    shutil.rmtree(results_dir(ws) / run_id, ignore_errors=True)


def tidy(ws: Workspace, alive: set[str]) -> list[str]:
    """Remove the result folders of runs not in ``alive``; their ids."""
    root = results_dir(ws)
    gone = sorted(d.name for d in root.iterdir() if d.name not in alive) if root.is_dir() else []
    for run_id in gone:
        shutil.rmtree(root / run_id, ignore_errors=True)
    return gone
