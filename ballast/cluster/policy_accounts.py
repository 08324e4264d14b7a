"""The accounts of a shard's IPS files, for the coordinator's snapshot, without parsing them.

On a cluster the workers parse and validate the IPS files (``ShardJob.ips``); the coordinator
only needs each shard's account ids, to take its snapshot. It finds them in the warehouse table
``policy_accounts``, keyed by the portfolio id, the SHA-256 of the IPS text and a context (the
digest of the model files, from which an IPS may take its classes, and of ballast's code, which
decides what a parse accepts). An IPS not found there (new, edited, after an upgrade, or not
valid) is parsed here, as a local review would, and a valid one is kept for the next review.
So the accounts, and therefore the snapshot, are exactly those of the parsed policies, and a
review of unchanged IPS files parses none of them on the coordinator.

The table is a cache: an IPS whose rows are not exactly those it was kept with (one deleted,
or added) is parsed again, and each write drops the rows of other contexts and the older
versions of the IPS files it keeps.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import polars as pl

from ballast.cluster.versions import code_digest
from ballast.portfolio.models import ModelCatalog
from ballast.portfolio.policy_set import (
    PolicyFiles,
    PolicySet,
    PolicyTexts,
    parse_cached,
    parse_texts,
)
from ballast.warehouse import db


def context(catalog: ModelCatalog) -> str:
    """What, besides its bytes, decides whether an IPS parses and to which accounts."""
    return hashlib.sha256(f"{catalog.fingerprint}\0{code_digest()}".encode()).hexdigest()


Row = tuple[str, str, str, str, int]
"""A ``policy_accounts`` row: context, portfolio id, SHA-256 of the IPS, account id, and how
many accounts the IPS has."""


def kept_rows(pset: PolicySet, context: str) -> list[Row]:
    """The ``policy_accounts`` rows of the valid IPS files of ``pset``."""
    return [
        (context, p.id, pset.hashes[p.id], a.id, len(p.accounts))
        for p in pset.policies
        for a in p.accounts
    ]


class PolicyAccounts:
    """One review's lookups and writes (the coordinator's warehouse connection)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        catalog: ModelCatalog,
        root: Path,
        policy_cache: bool = False,
    ):
        self.con, self.catalog, self.root = con, catalog, root
        self.context = context(catalog)
        self.parsed = 0  # IPS files parsed here (not known)
        # a shard none of whose files is known is parsed through the workspace's cache of
        # parsed IPS files, where its worker (on this disk) then finds it
        self.policy_cache = policy_cache

    def accounts(self, read: PolicyTexts) -> list[str]:
        """The sorted account ids of the valid IPS files among ``read``."""
        pids = sorted(read.hashes)
        params = {
            "portfolio_ids": pids,
            "ips_sha256": [read.hashes[p] for p in pids],
            "context": self.context,
        }
        known = db.query(self.con, "cluster/policy_accounts", params)
        found = set(known["portfolio_id"].to_list())
        accounts = set(known["account_id"].to_list())
        unknown = [p for p in pids if p not in found]
        if unknown:
            accounts |= self._parse(read, unknown)
        return sorted(accounts)

    def _parse(self, read: PolicyTexts, pids: list[str]) -> set[str]:
        """Parse the IPS files ``pids`` here; keep the accounts of the valid ones."""
        if self.policy_cache and len(pids) == len(read.hashes):
            pset = parse_cached(read, self.catalog, self.root)
        else:
            files = PolicyFiles({p: read.found.names[p] for p in pids}, folder=read.found.folder)
            subset = PolicyTexts(
                files, {p: read.texts[p] for p in pids}, {p: read.hashes[p] for p in pids}
            )
            pset = parse_texts(subset, self.catalog, self.root)
        self.parsed += len(pids)
        rows = kept_rows(pset, self.context)
        self._keep(pids, rows)
        return {row[3] for row in rows}

    def offer(self, rows: list[Row]) -> None:
        """Keep the accounts of IPS files parsed elsewhere (``kept_rows``: a shard worker
        parsing ahead of the review), as if parsed here; rows of another context are left."""
        rows = [r for r in rows if r[0] == self.context]
        if rows:
            self._keep(sorted({r[1] for r in rows}), rows)

    def _keep(self, pids: list[str], rows: list[Row]) -> None:
        forget = {"context": self.context, "portfolio_ids": pids}
        db.execute(self.con, "cluster/policy_accounts_forget", forget)
        frame = pl.DataFrame(
            rows,
            schema={
                "context": pl.String,
                "portfolio_id": pl.String,
                "ips_sha256": pl.String,
                "account_id": pl.String,
                "accounts": pl.Int32,
            },
            orient="row",
        )
        db.append(self.con, "policy_accounts", frame)
