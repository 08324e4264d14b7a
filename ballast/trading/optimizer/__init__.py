"""The optimiser: trade proposals as one whole-share programme per portfolio, solved with HiGHS.

``engine.optimise`` is the entry point; ``variables`` -> ``programme`` -> ``solve`` -> ``trades``
is its path, and ``weights`` holds its knobs. See docs/optimizer.md.
"""

from ballast.trading.optimizer.engine import optimise
from ballast.trading.optimizer.trades import relieved_lots

__all__ = ["optimise", "relieved_lots"]
