"""The house keeps its floors: a package imports only packages below it, and no module imports
itself back through others (docs/architecture.md draws these layers)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.paths import ROOT

# bottom to top; a package may import only packages on its own floor or lower ones
LAYERS = [
    ["errors", "kinds", "resources"],
    ["workspace", "calendar"],
    ["config"],
    ["ops"],
    ["warehouse"],
    ["portfolio"],
    ["ingest"],
    ["trading"],
    ["review"],
    ["reporting"],
    ["audit"],
    ["simulate"],
    ["cluster"],
    ["tasks"],
    ["flows"],
    ["cli"],
]
FLOOR = {name: i for i, names in enumerate(LAYERS) for name in names}


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for ballast and its installed flows and tasks."""
    found = {}
    for top, base in (("ballast", ROOT / "ballast"), ("ballast.flows", ROOT / "flows")):
        for path in base.rglob("*.py"):
            parts = path.relative_to(base).with_suffix("").parts
            name = ".".join((top, *parts)).removesuffix(".__init__")
            found[name] = path
    for path in (ROOT / "tasks").rglob("*.py"):
        parts = path.relative_to(ROOT / "tasks").with_suffix("").parts
        found[".".join(("ballast.tasks", *parts)).removesuffix(".__init__")] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The ballast modules a file imports (``from ballast.x import y`` counts y when y is one)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ballast"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                out.add(sub if sub in modules else node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("ballast.")}
    return {m for m in out if m in modules}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "ballast"


def test_no_package_imports_a_higher_floor() -> None:
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        here = _package(name)
        if here not in FLOOR:
            continue
        for target in _imports(path, modules):
            there = _package(target)
            if there in FLOOR and FLOOR[there] > FLOOR[here]:
                wrong.append(f"{name} -> {target}")
    assert not wrong, "imports that climb a floor:\n" + "\n".join(sorted(wrong))


def test_every_package_has_a_floor() -> None:
    packages = {_package(m) for m in _modules()} - {"ballast"}
    assert packages <= set(FLOOR), f"give these a floor in LAYERS: {packages - set(FLOOR)}"


def test_no_import_cycles() -> None:
    """Top-level imports only: an import inside a function is how a cycle is broken on purpose."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = ast.Module(
            body=[n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)],
            type_ignores=[],
        )
        graph[name] = {
            (f"{n.module}.{a.name}" if f"{n.module}.{a.name}" in modules else n.module)
            for n in top.body
            if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("ballast")
            for a in n.names
        } & set(modules)
    # a package's __init__ importing its own modules is how a face works, not a cycle
    for name in graph:
        graph[name] = {t for t in graph[name] if not (t.startswith(name + ".") and name in modules)}
    state: dict[str, int] = {}
    cycles: list[str] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
