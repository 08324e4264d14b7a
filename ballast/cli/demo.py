"""The bundled example workspace (``ballast demo``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from ballast import workspace
from ballast.errors import BallastError
from ballast.resources import examples_dir

DEMO_AS_OF = "2026-09-30"
MARKER = ".ballast-demo"


DEFAULT_FOLDER = Path("demo-workspace")


def previous(root: Path) -> bool:
    """Whether ``root`` holds an earlier demo workspace, which ``build`` deletes."""
    return root.is_dir() and (root / MARKER).exists()


def build(root: Path) -> workspace.Workspace:
    """Create (or re-create) the demo workspace at ``root`` from the bundled examples: an
    earlier demo workspace there is deleted (``ballast demo`` says so first), any other
    non-empty folder is refused."""
    if root.exists() and any(root.iterdir()):
        if not (root / MARKER).exists():
            raise BallastError(
                f"{root}: exists and is not a demo workspace; "
                "choose another folder with --workspace"
            )
        shutil.rmtree(root)
    ws = workspace.init(root)
    src = examples_dir() / "demo"
    for sub in ("inbox", "ips", "reference"):
        for f in sorted((src / sub).iterdir()):
            shutil.copyfile(f, ws.root / sub / f.name)
    (ws.root / MARKER).write_text("built by 'ballast demo'; safe to delete\n", encoding="utf-8")
    return ws
