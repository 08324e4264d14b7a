"""What decides a review's bytes in this process: Python's minor version, ballast's version and
a SHA-256 of its code and resources (Python modules, SQL, templates, expectation suites: a
checkout edited but not committed differs too), and the libraries that compute or render
(Polars, pydantic, Jinja2, MarkupSafe, NumPy, SciPy, PyYAML). A Dask worker must match the
coordinator's (``ballast.cluster.versions``); the cache of parsed IPS files is keyed by it
(``ballast.portfolio.policy_cache``).
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
