"""The optimiser's knobs: objective weights (λ and the penalties) and solver limits.

Read at call time (``weights.DRIFT_PENALTY``), so a caller or a test may set them."""

from __future__ import annotations

DRIFT_PENALTY = 1.0
"""λ: cost per dollar a class ends away from its destination. A dollar moved from an overweight
to an underweight class saves 2λ, more than any tax or cost a dollar of trading incurs at 1.0,
so the optimiser reaches the heuristic's destination whenever the constraints allow and spends
its freedom on *how* (accounts, lots). With 2λ below a lot's tax + cost per dollar (λ < 0.185
for a zero-basis short-term lot at 37%) it stops short of the destination, inside the band."""


BAND_PENALTY = 100.0
"""Cost per dollar a class ends outside its band (the band is soft so the LP is always
feasible; any violation is reported as a warning)."""


SHORTFALL_PENALTY = 1_000.0
"""Cost per dollar of a planned withdrawal the account's sales leave unfunded."""


LOSS_CREDIT = 0.1
"""Fraction of the tax value of a realised loss counted as a saving: small, so losses are taken
before zero-gain lots but the optimiser never harvests losses for their own sake."""


AVOID_SHORT_TERM_PENALTY = 3.0
"""Extra cost per dollar of a short-term gain lot sold under ``avoid_short_term_gains``: more
than the 2λ a dollar moved toward the destination saves, less than the band penalty, so such a
lot is sold only to bring a class back inside its band (a last resort, as in the heuristic)."""


ACCOUNT_TIE_BREAK = 1e-6
"""Per-dollar nudge by tax status (exempt 0, deferred 1, taxable 2) to break exact ties."""


PARALLEL_MIN = 500
"""Solve in a process pool when at least this many portfolios need the LP (a solve takes about
1–2 ms, so below this the pool cannot pay for itself; it pays only on otherwise idle cores)."""


UNIT = 1_000_000  # fractional quantities are kept to 6 decimals


BUY_CAP = 2.0
"""Upper bound of one buy as a fraction of the portfolio's total (big-M of the minimum-trade
switch; a buy cannot exceed the account's funds, which are less than the total)."""


MIP_TIME_LIMIT = 0.25
"""Seconds HiGHS may spend on one portfolio's whole-share branch and bound. Most households of
the benchmark take 5–50 ms; about 3% would search for seconds to close the last 0.01%."""


MIP_GAP = 1e-4
"""Branch and bound stops within this fraction of the portfolio's value of the best objective
(tax + costs + penalties) possible: $10 on a $100,000 household."""
