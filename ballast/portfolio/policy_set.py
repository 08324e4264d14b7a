"""The IPS files of a review: every ``ips/<portfolio_id>.yaml`` loaded, or refused with a reason.

A bad file is recorded in the set (its portfolio is reported ``data_invalid``), never raised, so
one broken IPS never stops the review of the others.

Loading 10,000 files is tuned (``benchmarks/bench_ips.py``): see ``ballast.portfolio.policy``
for the parse and the per-process cache, and ``ballast.ops.memory.collector_paused``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ballast.errors import BallastError, PolicyError
from ballast.ops.memory import collector_paused
from ballast.portfolio.policy import Policy, content_hash, load_policy
from ballast.workspace import Workspace


@dataclass
class PolicySet:
    """The IPS files of a review: the valid policies and why the others were refused."""

    policies: list[Policy] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return sorted([p.id for p in self.policies] + list(self.errors))

    def split(self, size: int) -> list[PolicySet]:
        """Shards of at most ``size`` valid policies; refused IPS files go with the first."""
        chunks = [self.policies[i : i + size] for i in range(0, len(self.policies), size)]
        shards = []
        for i, chunk in enumerate(chunks):
            ids = [p.id for p in chunk] + (list(self.errors) if i == 0 else [])
            shards.append(
                PolicySet(
                    chunk,
                    self.errors if i == 0 else {},
                    {k: self.hashes[k] for k in ids},
                    {k: self.texts[k] for k in ids},
                )
            )
        return shards


def load_policies(ws: Workspace, only: list[str] | None = None) -> PolicySet:
    """Every IPS in ``ips/`` (or just ``only``); a bad file is recorded, not raised."""
    files = {p.stem: p for p in ws.ips.glob("*.yaml")} | {p.stem: p for p in ws.ips.glob("*.yml")}
    if only:
        unknown = sorted(set(only) - set(files))
        if unknown:
            raise BallastError(f"{ws.ips}: no IPS for portfolio(s) {', '.join(unknown)}")
        files = {k: v for k, v in files.items() if k in set(only)}
    out = PolicySet()
    with collector_paused():
        for pid in sorted(files):
            text = files[pid].read_text(encoding="utf-8")
            out.hashes[pid] = content_hash(text)
            out.texts[pid] = text
            try:
                out.policies.append(load_policy(files[pid], text))
            except PolicyError as exc:
                out.errors[pid] = str(exc).replace(str(ws.root) + "/", "")
    return out


def accounts_of(pset: PolicySet) -> list[str]:
    return sorted({a.id for p in pset.policies for a in p.accounts})
