"""The same code on every worker: a review on a cluster is only the local review if each
worker computes and renders with the coordinator's code.

``fingerprint()`` (``ballast.ops.code_version``) names what decides a review's bytes.
``mismatches`` compares each worker's (from ``Client.run``) with this process's, before any
shard is sent.
"""

from __future__ import annotations

from ballast.ops.code_version import LIBRARIES as LIBRARIES
from ballast.ops.code_version import code_digest as code_digest
from ballast.ops.code_version import fingerprint as fingerprint


def mismatches(local: dict[str, str], workers: dict[str, dict[str, str]]) -> list[str]:
    """One phrase per worker whose fingerprint differs: ``<address>: polars 2.0.0, not
    2.1.0``, workers sorted by address."""
    out = []
    for address in sorted(workers):
        theirs = workers[address]
        diffs = [
            f"{key} {theirs.get(key, 'absent')}, not {value}"
            for key, value in local.items()
            if theirs.get(key) != value
        ]
        if diffs:
            out.append(f"{address}: {', '.join(diffs)}")
    return out


class CodeMismatch(ValueError):
    """This worker's code is not the coordinator's: a shard run here would not be the local
    review (a data error, not a transient one: Prefect does not retry it)."""


def check_worker(expected: dict[str, str]) -> None:
    """On a worker, before a shard: ``CodeMismatch`` unless this process is ``expected``."""
    found = mismatches(expected, {"this worker": fingerprint()})
    if found:
        raise CodeMismatch(found[0])
