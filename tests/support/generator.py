"""The synthetic workspace generator of the benchmarks (``benchmarks/generate.py``), for tests."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.support.paths import ROOT


def load() -> ModuleType:
    """``benchmarks/generate.py`` as a module (it is a script, not part of the package)."""
    if "bench_generate" in sys.modules:
        return sys.modules["bench_generate"]
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "benchmarks/generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
