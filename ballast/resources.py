"""Where the bundled resource folders are: the source tree's, else the installed wheel's copy.

In a checkout the folders (``sql``, ``expectations``, ``templates``, ``examples``) sit at the
repository's top level (beside ``pyproject.toml``, which tells a checkout from an installed
``site-packages``); the wheel maps them to ``ballast/_resources/<name>``.
"""

from __future__ import annotations

from pathlib import Path

RESOURCES = ("sql", "expectations", "templates", "examples")

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """The folder of resource ``name``: the checkout's top-level copy, else the installed one."""
    if name not in RESOURCES:
        raise ValueError(f"unknown resource folder {name!r}; expected one of {RESOURCES}")
    source = _PACKAGE.parent / name
    if source.is_dir() and (_PACKAGE.parent / "pyproject.toml").is_file():
        return source
    return _PACKAGE / "_resources" / name


def sql_dir() -> Path:
    """The SQL folder (schema and queries)."""
    return resource_dir("sql")


def expectations_dir() -> Path:
    """The folder of Great Expectations suites, one ``<kind>.json`` per kind."""
    return resource_dir("expectations")


def templates_dir() -> Path:
    """The report templates folder."""
    return resource_dir("templates")


def examples_dir() -> Path:
    """The bundled example workspace files."""
    return resource_dir("examples")
