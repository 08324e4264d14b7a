"""Packaging: every package folder is listed for the build, and installs under ``ballast``."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.support.paths import ROOT


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]


def _package_folders() -> dict[str, Path]:
    """Dotted name -> folder of every package in the repository that ships in the wheel."""
    dirs = _setuptools()["package-dir"]
    found = {}
    for top in ("ballast", "ballast.flows", "ballast.tasks"):
        base = ROOT / dirs[top]
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base).parts
            found[".".join((top, *rel))] = init.parent
    return found


def test_every_package_folder_is_listed() -> None:
    listed = set(_setuptools()["packages"])
    missing = sorted(set(_package_folders()) - listed)
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_listed_packages_exist() -> None:
    dirs = _setuptools()["package-dir"]
    for name in _setuptools()["packages"]:
        top = max((k for k in dirs if name == k or name.startswith(k + ".")), key=len)
        folder = ROOT / dirs[top] / Path(*name[len(top) :].split(".")[1:])
        assert folder.is_dir(), f"{name}: no folder {folder}"


def test_flows_and_tasks_install_under_ballast() -> None:
    import ballast.flows.review
    import ballast.tasks.compute

    assert Path(ballast.flows.review.__file__).parent == ROOT / "flows"
    assert Path(ballast.tasks.compute.__file__).parent == ROOT / "tasks"
