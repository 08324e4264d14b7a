"""The same code on every worker: a review on a cluster is only the local review if each
worker computes and renders with the coordinator's code.

``fingerprint()`` names what decides a review's bytes: Python's minor version, ballast's
version and a SHA-256 of its code and resources (Python modules, SQL, templates, expectation
suites: a checkout edited but not committed differs too), and the libraries that compute or
render (Polars, pydantic, Jinja2, MarkupSafe, NumPy, SciPy, PyYAML). ``mismatches`` compares
each worker's (from ``Client.run``) with this process's, before any shard is sent.
"""

from __future__ import annotations

import hashlib
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

import ballast
from ballast.resources import resource_dir

LIBRARIES = ("polars", "pydantic", "jinja2", "markupsafe", "numpy", "scipy", "pyyaml")
RESOURCE_FOLDERS = ("sql", "templates", "expectations")
SUFFIXES = frozenset({".py", ".sql", ".j2", ".json"})


def _files(root: Path) -> list[Path]:
    return sorted(
        p for p in root.rglob("*") if p.suffix in SUFFIXES and "__pycache__" not in p.parts
    )


@cache
def code_digest() -> str:
    """SHA-256 over ballast's modules and resource files: relative names and bytes, sorted."""
    digest = hashlib.sha256()
    package = Path(ballast.__file__).resolve().parent
    roots = [("ballast", package)] + [(name, resource_dir(name)) for name in RESOURCE_FOLDERS]
    for label, root in roots:
        for path in _files(root):
            if label == "ballast" and "_resources" in path.relative_to(root).parts:
                continue  # an installed wheel's resources: hashed under their own names
            digest.update(f"{label}/{path.relative_to(root).as_posix()}\0".encode())
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def fingerprint() -> dict[str, str]:
    """What decides a review's bytes in this process (see the module docstring)."""
    return {
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "ballast": ballast.__version__,
        "ballast code": code_digest()[:12],
        **{name: _version(name) for name in LIBRARIES},
    }


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
