"""``ballast --help`` starts in well under a second: the command modules import their heavy
libraries inside the commands, not at the top (timed by ``benchmarks/bench_startup.py``; these
tests only check what gets imported, never how long it takes)."""

from __future__ import annotations

import json
import subprocess
import sys

# libraries that cost from a tenth of a second to seconds to import
HEAVY = (
    "duckdb",
    "great_expectations",
    "jinja2",
    "numpy",
    "pandas",
    "polars",
    "prefect",
    "pyarrow",
    "scipy",
    "weasyprint",
)
# the command modules themselves import not even these
COMMAND_MODULES_SKIP = (*HEAVY, "pydantic", "yaml", "exchange_calendars")
COMMAND_MODULES = ("audit", "demo", "options", "progress", "serve", "simulate")


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def _loaded_after(imports: str, names: tuple[str, ...]) -> list[str]:
    report = f"print(json.dumps([m for m in {names!r} if m in sys.modules]))"
    code = f"import json, sys\n{imports}\n{report}"
    loaded: list[str] = json.loads(_run(code))
    return loaded


def test_cli_app_import_is_light() -> None:
    """Importing the ``ballast`` command (what ``ballast --help`` does) loads none of them."""
    assert _loaded_after("import ballast.cli.app", HEAVY) == []


def test_command_modules_import_light() -> None:
    """The command groups registered by the app import only Typer, Rich and light modules."""
    imports = "\n".join(f"import ballast.cli.{m}" for m in COMMAND_MODULES)
    assert _loaded_after(imports, COMMAND_MODULES_SKIP) == []


HELP_EVERYWHERE = """
import json, sys


class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HEAVY:
            raise ImportError(f"{name} is not to be imported for --help")
        return None


sys.meta_path.insert(0, Refuse())

import typer.main
from typer.testing import CliRunner

from ballast.cli.app import app


def paths(command, prefix=()):
    yield prefix
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from paths(sub, (*prefix, name))


failed, seen = {}, []
for path in paths(typer.main.get_command(app)):
    result = CliRunner().invoke(app, [*path, "--help"])
    seen.append(" ".join(path))
    if result.exit_code != 0 or "Usage" not in result.output:
        failed[" ".join(path)] = repr(result.exception) + result.output[-300:]
print(json.dumps({"seen": seen, "failed": failed}))
"""


def test_every_help_page_without_heavy_imports() -> None:
    """``ballast --help`` and ``ballast <command> [<subcommand>] --help`` for every command,
    in a process where importing any of the heavy libraries fails."""
    out = json.loads(_run(f"HEAVY = {HEAVY!r}\n" + HELP_EVERYWHERE))
    assert out["failed"] == {}
    for command in ("", "review", "simulate", "audit verify", "rerun", "serve", "schedule"):
        assert command in out["seen"]


def _gx_after_ready(tmp_path_factory, *, server: bool, inbox_file: bool) -> list[bool]:
    """[whether ``_validation_ready`` started the validation process, whether this process
    imported Great Expectations], in a fresh interpreter."""
    root = tmp_path_factory.mktemp("ws")
    code = f"""
import json, sys
from pathlib import Path
from types import SimpleNamespace
from ballast import workspace
from ballast.cli.app import _validation_ready
from ballast.ingest import validator
ws = workspace.init(Path({str(root / "w")!r}))
if {inbox_file!r}:
    (ws.inbox / "positions.csv").write_text("x\\n", encoding="utf-8")
_validation_ready(ws, SimpleNamespace(server=object() if {server!r} else None))
print(json.dumps([validator.started(), "great_expectations" in sys.modules]))
validator.release()
"""
    return list(json.loads(_run(code)))


def test_gx_starts_at_once_in_its_own_process_only_with_files_waiting(tmp_path_factory) -> None:
    """A command with inbox files starts GX in its validation process before waiting for
    Prefect (a temporary server or a configured one); with nothing to validate it does not.
    The command's own process never imports GX."""
    assert _gx_after_ready(tmp_path_factory, server=True, inbox_file=True) == [True, False]
    assert _gx_after_ready(tmp_path_factory, server=False, inbox_file=True) == [True, False]
    assert _gx_after_ready(tmp_path_factory, server=True, inbox_file=False) == [False, False]
