"""The IPS files of a review: every ``ips/<portfolio_id>.yaml`` loaded, or refused with a reason.

A bad file is recorded in the set (its portfolio is reported ``data_invalid``), never raised, so
one broken IPS never stops the review of the others. Hidden files (``.x.yaml``, ``...yaml``) are
not IPS files. An IPS is read only from a regular file (a link, folder or FIFO named ``x.yaml``
is refused, never followed or waited on), and its file name must be a portfolio id
(``ballast.kinds.PORTFOLIO_ID``); a file whose name is not is refused under a label that is
never a portfolio id (``<name with _ for odd characters>~<hash>``), so it is reported, yet no
report, path or id is ever made from its raw name.

An IPS that says ``model: <id>`` takes its classes from ``models/<id>.yaml``
(``ballast.portfolio.models``): the model files are read once per call of ``read_policies``, and
the set keeps every model file its IPS files named (``PolicySet.models``), for the run's record.

Loading 10,000 files is tuned (``benchmarks/bench_ips.py``): see ``ballast.portfolio.policy``
for the parse and the per-process cache, and ``ballast.ops.memory.collector_paused``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import overload

import yaml

from ballast import workspace
from ballast.errors import BallastError, PolicyError, printable
from ballast.kinds import ID_MAX_LENGTH, portfolio_id_problem
from ballast.ops.memory import collector_paused
from ballast.portfolio import models as model_files
from ballast.portfolio import policy_cache
from ballast.portfolio.policy import Policy, _parse_yaml, content_hash, load_policy
from ballast.workspace import NotRegular, Workspace

SUFFIXES = (".yaml", ".yml")
_ODD = re.compile(r"[^A-Za-z0-9._-]")


@dataclass
class PolicySet:
    """The IPS files of a review: the valid policies and why the others were refused."""

    policies: list[Policy] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    # every model file the IPS files named and that could be read: SHA-256 -> file
    models: dict[str, model_files.ModelFile] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return sorted([p.id for p in self.policies] + list(self.errors))

    def split(self, size: int) -> list[PolicySet]:
        """Shards of at most ``size`` portfolios (valid or refused), each a run of consecutive
        portfolio ids, so shard outputs joined in shard order are in portfolio id order. Each
        shard keeps every model (a model is small, and shared)."""
        ids = self.ids
        by_id = {p.id: p for p in self.policies}
        shards = []
        for chunk in (ids[i : i + size] for i in range(0, len(ids), size)):
            shards.append(
                PolicySet(
                    [by_id[k] for k in chunk if k in by_id],
                    {k: self.errors[k] for k in chunk if k in self.errors},
                    {k: self.hashes[k] for k in chunk if k in self.hashes},
                    {k: self.texts[k] for k in chunk if k in self.texts},
                    self.models,
                )
            )
        return shards or [PolicySet(models=self.models)]


def label(stem: str) -> str:
    """The key a file whose name is not a portfolio id is reported under: its name with ``_``
    for odd characters, ``~`` and a hash of the name (``~`` is never in a portfolio id, so a
    label never collides with a portfolio)."""
    digest = hashlib.sha256(stem.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{_ODD.sub('_', stem)[:ID_MAX_LENGTH]}~{digest}"


@dataclass(frozen=True)
class PolicyFiles:
    """The IPS files of a review, found but not yet read: portfolio id → the file's name in
    ``folder`` (``path`` gives the path), and the refused ones: key → reason. A review reads
    them shard by shard (``split``, ``read_policies``), so only one shard's policies are in
    memory at a time; a name is held for the whole run, about a tenth of a ``Path``."""

    names: dict[str, str] = field(default_factory=dict)  # portfolio id -> file name in folder
    refused: dict[str, str] = field(default_factory=dict)
    folder: Path = Path()  # the workspace's ips/

    @property
    def ids(self) -> list[str]:
        return sorted([*self.names, *self.refused])

    def path(self, pid: str) -> Path:
        """The IPS file of portfolio ``pid``."""
        return self.folder / self.names[pid]

    def split(self, size: int) -> PolicyShards:
        """Shards of at most ``size`` portfolios (found or refused), each a run of consecutive
        portfolio ids, so shard outputs joined in shard order are in portfolio id order; at
        least one (empty, when nothing was found)."""
        return PolicyShards(self, size, self.ids)


@dataclass(frozen=True)
class PolicyShards(Sequence[PolicyFiles]):
    """The shards of ``files`` (``PolicyFiles.split``), each made when it is asked for: a run
    holds its IPS file names once, in ``files``, not a second time in shards made up front."""

    files: PolicyFiles
    size: int
    ids: list[str]  # every portfolio id of ``files``, in order

    def __len__(self) -> int:
        return max(1, -(-len(self.ids) // self.size))

    @overload
    def __getitem__(self, i: int) -> PolicyFiles: ...
    @overload
    def __getitem__(self, i: slice) -> list[PolicyFiles]: ...
    def __getitem__(self, i: int | slice) -> PolicyFiles | list[PolicyFiles]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if not -n <= i < n:
            raise IndexError(i)
        start = (i % n) * self.size
        chunk, names, refused = (
            self.ids[start : start + self.size],
            self.files.names,
            self.files.refused,
        )
        return PolicyFiles(
            {k: names[k] for k in chunk if k in names},
            {k: refused[k] for k in chunk if k in refused},
            self.files.folder,
        )


def find_policies(ws: Workspace, only: list[str] | None = None) -> PolicyFiles:
    """The IPS files in ``ips/`` (or just those of ``only``), without reading them; an id in
    ``only`` with no file is refused (``BallastError``)."""
    entries = workspace.entries(ws.ips)  # hidden names are left out
    others = dict(entries.others)
    files: dict[str, str] = {}
    refused: dict[str, str] = {}
    for path in sorted([*entries.files, *others]):
        if path.suffix not in SUFFIXES:
            continue
        shown = f"{ws.ips.name}/{printable(path.name)}"
        if (problem := portfolio_id_problem(path.stem)) is not None:
            refused[label(path.stem)] = (
                f"{shown}: the file name is not a portfolio id: {printable(repr(path.stem))} "
                f"{problem}"
            )
        elif path in others:
            refused[path.stem] = f"{shown}: {others[path]}, not a regular file: not read"
        else:
            files[path.stem] = path.name
    if only:
        unknown = sorted(set(only) - set(files) - set(refused))
        if unknown:
            names = ", ".join(printable(u) for u in unknown)
            raise BallastError(f"{ws.ips}: no IPS for portfolio(s) {names}")
        wanted = set(only)
        files = {k: v for k, v in files.items() if k in wanted}
        refused = {k: v for k, v in refused.items() if k in wanted}
    return PolicyFiles(files, refused, ws.ips)


def _text(ws: Workspace, path: Path) -> str:
    """The IPS text, read only from a regular file; ``PolicyError`` otherwise."""
    shown = f"{ws.ips.name}/{printable(path.name)}"
    try:
        return workspace.read_regular(path)
    except NotRegular as exc:
        raise PolicyError(f"{shown}: {exc}, not a regular file: not read") from None
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{shown}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise PolicyError(f"{shown}: cannot be read ({exc.strerror})") from None


def read_policies(ws: Workspace, found: PolicyFiles) -> PolicySet:
    """Read and validate the IPS files ``found``; a bad file is recorded, not raised. Files
    parsed together before (the same bytes, models and code) are taken from the workspace's
    cache of parsed IPS files (``ballast.portfolio.policy_cache``) instead of parsed again."""
    catalog = model_files.read_folder(ws.models) if found.names else model_files.ModelCatalog()
    return parse_cached(read_texts(ws, found), catalog, ws.root)


def parse_cached(read: PolicyTexts, catalog: model_files.ModelCatalog, root: Path) -> PolicySet:
    """``parse_texts``, through the cache of parsed IPS files of the workspace ``root``: a set
    parsed before is unpickled, a new one parsed and kept. Only where ``root`` is this
    machine's disk (a local review's shard workers share it)."""
    cache_key = _cache_key(read, catalog, root)
    cached = policy_cache.load(root, cache_key)
    if cached is not None:
        return PolicySet(
            list(cached.policies),
            dict(cached.errors),
            dict(read.hashes),
            dict(read.texts),
            dict(cached.models),
        )
    out = parse_texts(read, catalog, root)
    parsed = policy_cache.Parsed(out.policies, out.errors, out.models)
    policy_cache.store(root, cache_key, parsed)
    return out


def _cache_key(read: PolicyTexts, catalog: model_files.ModelCatalog, root: Path) -> str:
    entries = [
        (pid, str(read.found.path(pid)), read.hashes.get(pid) or "!" + read.unreadable[pid])
        for pid in sorted(read.found.names)
    ]
    return policy_cache.key(entries, read.found.refused, catalog, root)


def parse_ahead(
    ws: Workspace, found: PolicyFiles, catalog: model_files.ModelCatalog
) -> PolicySet | None:
    """Parse the IPS files ``found`` into the workspace's cache of parsed files, where
    ``parse_cached`` of the same files, models and code then finds them; what it parsed, or
    None when they were there already. A review's shard workers do this while the command
    starts (``ballast.cluster.shard_pool``)."""
    read = read_texts(ws, found)
    cache_key = _cache_key(read, catalog, ws.root)
    if policy_cache.kept(ws.root, cache_key):
        return None
    out = parse_texts(read, catalog, ws.root)
    kept = policy_cache.Parsed(out.policies, out.errors, out.models)
    policy_cache.store(ws.root, cache_key, kept)
    return out


@dataclass(frozen=True)
class PolicyTexts:
    """IPS files as read and not yet parsed: the files found, the text and SHA-256 of each
    readable one, and why the others were refused. A review on a cluster ships these to the
    worker that parses them (``parse_texts``), so the coordinator need not parse them."""

    found: PolicyFiles
    texts: dict[str, str] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return self.found.ids


def read_texts(ws: Workspace, found: PolicyFiles) -> PolicyTexts:
    """The texts (and SHA-256) of the IPS files ``found``; one that cannot be read is refused."""
    out = PolicyTexts(found)
    for pid in sorted(found.names):
        try:
            text = _text(ws, found.path(pid))
        except PolicyError as exc:
            out.unreadable[pid] = str(exc)
            continue
        out.texts[pid], out.hashes[pid] = text, content_hash(text)
    return out


def parse_texts(read: PolicyTexts, catalog: model_files.ModelCatalog, root: Path) -> PolicySet:
    """Validate IPS texts (``read_texts``) against the models of ``catalog``; a bad one is
    recorded under its portfolio with ``root`` left out of the message, not raised. The same
    set wherever it runs: errors, hashes and models in portfolio id order."""
    out = PolicySet()
    out.errors |= read.found.refused
    with collector_paused():
        for pid in sorted(read.found.names):
            if pid in read.unreadable:
                out.errors[pid] = read.unreadable[pid]
                continue
            text = read.texts[pid]
            out.hashes[pid] = read.hashes[pid]
            out.texts[pid] = text
            try:
                policy = load_policy(read.found.path(pid), text, catalog)
            except PolicyError as exc:
                out.errors[pid] = str(exc).replace(str(root) + "/", "")
                used = catalog.referenced(_named_model(text)) if catalog.files else None
            else:
                out.policies.append(policy)
                used = catalog.files.get(policy.model.id) if policy.model else None
            if used is not None:
                out.models[used.sha256] = used
    return out


def _named_model(text: str) -> object:
    """The ``model:`` a refused IPS names, if it can be told (a refusal may be the model's)."""
    if "model" not in text:
        return None
    try:
        raw = _parse_yaml(text)
    except yaml.YAMLError:  # the refusal already says what is wrong
        return None
    return raw.get("model") if isinstance(raw, dict) else None


def load_policies(ws: Workspace, only: list[str] | None = None) -> PolicySet:
    """Every IPS in ``ips/`` (or just ``only``), read; a bad file is recorded, not raised."""
    return read_policies(ws, find_policies(ws, only))


def accounts_of(pset: PolicySet) -> list[str]:
    return sorted({a.id for p in pset.policies for a in p.accounts})
