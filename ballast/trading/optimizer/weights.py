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


MIP_NODE_LIMIT = 1_000
"""Branch-and-bound nodes HiGHS may solve for one portfolio's whole shares: a count of work,
not seconds, so the same inputs give the same trades however busy the machine is. At the limit
the best whole-share solution found is used.

Chosen on ``benchmarks/bench_optimizer.py`` (1,000 households, 635 programmes): 601 close the
``MIP_GAP`` within 1,000 nodes (the median needs 1 node, 90% need at most ~110); the other 34
would need up to 130,000 nodes (20 s and more each) for the last hundredth of a percent. The
0.25 s time limit this replaces stopped those after anywhere between 80 and 1,300 nodes,
depending on the load. Above the best objective known (30 s solves), summed over the 635 in
fractions of each portfolio's value: 1,000 nodes 0.0009 (at most 0.016% on one portfolio),
500 nodes 0.0015, the time limit under load 0.0014, 2,000 nodes 0.0003 for 20% more solving.
1,000 gives the figures of the idle time limit (4,671 trades against 4,672–4,674, estimated
tax −$3.189M either way) for about 15–20% more CPU than a loaded run of it; one solve
stays under about 0.5 s."""


MIP_GAP = 1e-4
"""Branch and bound stops within this fraction of the portfolio's value of the best objective
(tax + costs + penalties) possible: $10 on a $100,000 household."""
