"""The README's commands run as written (issue 14).

Every command of the README's ``sh`` blocks, and every inline one that starts with ``uv run`` or
an environment assignment, is parsed as the shell would split it: each ``ballast`` command line
must name real subcommands and options and pass Click's own parsing (required options,
choices, types); each that needs a workspace must name the one the README's first command
builds (the default ``./workspace`` does not exist for a reader: "no such workspace"). The
cheap ones are run (``--help`` of each). The demo command installs only the runtime
dependencies: ``uv export`` of the lock file with its flags lists no test or benchmark tool.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer.main

from ballast.cli import app as cli
from ballast.cli import demo as demo_mod
from tests.support.paths import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
BALLAST = str(Path(sys.executable).with_name("ballast"))


def shell_lines() -> list[str]:
    """The README's shell commands: its ``sh`` blocks' lines and its inline ``uv run`` ones."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S):
        found += [ln for ln in block.splitlines() if ln.strip()]
    found += [m for m in re.findall(r"`([^`\n]+)`", README) if re.match(r"([A-Z_]+=|uv run )", m)]
    return found


def commands(line: str) -> list[list[str]]:
    """The commands of one line: split on ``&&``, comments dropped, ``$(...)`` taken out as a
    command of its own, ``VAR=value`` prefixes dropped."""
    inner = re.findall(r"\$\(([^)]*)\)", line)
    line = re.sub(r"\$\([^)]*\)", "SUBST", line)
    found = []
    for part in [*line.split("&&"), *inner]:
        words = shlex.split(part, comments=True)
        while words and re.match(r"^[A-Z_]+=", words[0]):
            words = words[1:]
        if words:
            found.append(words)
    return found


def uv_runs() -> list[tuple[list[str], list[str]]]:
    """(uv flags, command) of every ``uv run`` in the README's commands."""
    found = []
    for line in shell_lines():
        for words in commands(line):
            if words[:2] == ["uv", "run"]:
                rest = words[2:]
                flags = rest[: next(i for i, w in enumerate(rest) if w[0] != "-")]
                found.append((flags, rest[len(flags) :]))
    return found


def ballast_lines() -> list[list[str]]:
    return [cmd[1:] for _, cmd in uv_runs() if cmd[0] == "ballast"]


def resolve(args: list[str]) -> tuple[click.Command, list[str]]:
    """The Click command an argument list names, and the arguments left for it."""
    cmd: click.Command = typer.main.get_command(cli.app)
    while isinstance(cmd, click.Group) and args and not args[0].startswith("-"):
        sub = cmd.get_command(click.Context(cmd), args[0])
        assert sub is not None, f"README: no command {args[0]!r}"
        cmd, args = sub, args[1:]
    return cmd, args


def test_readme_has_the_commands_checked_here() -> None:
    """The parsing finds what the README holds (a README rewrite cannot empty this test)."""
    names = [" ".join(a[:2]) for a in ballast_lines()]
    assert "demo" in names and "server start" in names and "serve --workspace" in names
    assert "server status" in names
    assert any(cmd[:3] == ["prefect", "deployment", "run"] for _, cmd in uv_runs())


@pytest.mark.parametrize("args", ballast_lines(), ids=" ".join)
def test_ballast_command_parses(args: list[str]) -> None:
    """Each ballast command of the README names real subcommands and options, with valid
    values, as Click parses them."""
    cmd, rest = resolve(args)
    ctx = cmd.make_context("ballast", list(rest))  # raises a UsageError on a wrong option
    assert ctx.params is not None


@pytest.mark.parametrize("args", ballast_lines(), ids=" ".join)
def test_command_names_the_demo_workspace(args: list[str]) -> None:
    """A README command that reads a workspace names the demo's (the only one a reader has):
    ``ballast serve`` without it fails with "no such workspace"."""
    cmd, rest = resolve(args)
    if cmd.name == "demo" or not any(p.name == "ws_path" for p in cmd.params):
        return
    ctx = cmd.make_context("ballast", list(rest))
    assert ctx.params["ws_path"] == demo_mod.DEFAULT_FOLDER, " ".join(args)


@pytest.mark.parametrize("args", ballast_lines(), ids=" ".join)
def test_ballast_command_help_runs(args: list[str], tmp_path: Path) -> None:
    """The command itself, with --help, as the console script runs it."""
    _, rest = resolve(args)
    names = args[: len(args) - len(rest)]
    proc = subprocess.run(
        [BALLAST, *names, "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "Usage:" in proc.stdout


def test_adhoc_deployment_parameters_are_the_flow_s() -> None:
    """The README's `prefect deployment run 'quarterly-review/adhoc' -p ...` names the flow
    ballast serves and parameters it takes."""
    import inspect

    from ballast.flows.review import quarterly_review

    (cmd,) = [c for _, c in uv_runs() if c[:3] == ["prefect", "deployment", "run"]]
    flow_name, _, deployment = cmd[3].partition("/")
    assert flow_name == quarterly_review.name and deployment == "adhoc"
    params = [cmd[i + 1].partition("=")[0] for i, w in enumerate(cmd) if w == "-p"]
    assert params and set(params) <= set(inspect.signature(quarterly_review.fn).parameters)
    assert "adhoc" in (ROOT / "flows" / "deployments.py").read_text()


def exported(*flags: str) -> set[str]:
    """Package names the lock file installs with these uv flags (no network, no install)."""
    proc = subprocess.run(
        ["uv", "export", "--frozen", "--no-hashes", "--no-emit-project", *flags],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return {
        re.split(r"[=<>; @]", ln, maxsplit=1)[0].lower()
        for ln in proc.stdout.splitlines()
        if ln and not ln.startswith(("#", " ", "-"))
    }


TOOLS = {"pytest", "hypothesis", "ruff", "mypy", "bt", "scikit-learn"}  # not pillow: WeasyPrint
# needs it at run time too; not psutil: Dask's distributed (the --executor dask) needs it


def test_demo_command_installs_only_the_runtime() -> None:
    """The README's demo command (its uv flags) installs ballast's dependencies and no test,
    lint or benchmark tool; `uv run pytest` (no flags) gets them all."""
    (demo_flags,) = [f for f, c in uv_runs() if c[:2] == ["ballast", "demo"]]
    runtime, everything = exported(*demo_flags), exported()
    assert {"prefect", "duckdb", "polars", "weasyprint", "prefect-dask", "distributed"} <= runtime
    assert not runtime & TOOLS
    assert everything >= TOOLS | runtime
    bench = exported("--only-group", "bench")
    assert {"bt", "psutil", "scikit-learn"} <= bench and "pytest" not in bench
    for flags, cmd in uv_runs():  # every ballast/prefect command as the demo's: no tools
        if cmd[0] != "pytest":
            assert flags == demo_flags, " ".join(["uv", "run", *flags, *cmd])
