"""Rebalancing policies for the simulator, built from the IPS model in ``ballast.portfolio.policy``.

A policy is two schedules and a rule for how far to trade:

- ``calendar``: dates on which every class is traded back to target, breach or not;
- ``monitor``: dates on which the bands are checked; a breach (``Band.bounds``, strictly
  outside) triggers a trade back to the target, the band edge or halfway (``RebalanceTo``).

So *never* has neither, *quarterly* has a calendar, *threshold* policies have a monitor, the IPS's
own semi-systematic policy monitors at its ``review`` frequency, and a *hybrid* has both.

Policy specs (``--policy``): a kind, then ``:``-separated options in any order::

    never | monthly | quarterly | semiannual | annual   calendar rebalancing to target
    bands[:FREQ][:BAND][:TO][:all|breached]             bands checked FREQ (default monthly)
    ips                                                 the IPS's review, bands and trade-back rule
    hybrid:CAL_FREQ:MON_FREQ[:BAND][:TO]                calendar trades plus band monitoring

``BAND`` is an IPS band (``500bp``, ``5%``, ``25%rel``, ``5/25``) applied to every class; without it
each class keeps its IPS band. Any spec may end in ``:prorata`` (cash flows split by target weight)
or ``:directed`` (cash flows go first to underweight / come from overweight classes, the default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from ballast.errors import BallastError
from ballast.portfolio.policy import Band, Policy, RebalanceTo, Review, TradeClasses

# Month-ends on which each frequency fires (calendar months 1..12): quarter ends, June and
# December, December. Documented in docs/simulator.md (bt's default fires a month later).
REVIEW_MONTHS: dict[Review, frozenset[int]] = {
    Review.MONTHLY: frozenset(range(1, 13)),
    Review.QUARTERLY: frozenset({3, 6, 9, 12}),
    Review.SEMIANNUAL: frozenset({6, 12}),
    Review.ANNUAL: frozenset({12}),
}
TO_CODE = {RebalanceTo.TARGET: 0, RebalanceTo.BAND_EDGE: 1, RebalanceTo.HALFWAY: 2}
DEFAULT_SPECS = ("never", "monthly", "quarterly", "annual", "bands:monthly", "ips")


@dataclass(frozen=True)
class SimPolicy:
    """One policy over a fixed list of asset classes."""

    name: str
    targets: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    calendar: Review | None = None
    monitor: Review | None = None
    rebalance_to: RebalanceTo = RebalanceTo.TARGET
    trade_classes: TradeClasses = TradeClasses.ALL
    directed_flows: bool = True
    description: str = ""


class _Common(TypedDict):
    """The ``SimPolicy`` fields every kind of spec sets the same way."""

    targets: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    directed_flows: bool


def review_mask(months: np.ndarray, review: Review | None) -> np.ndarray:
    """True at the rows (calendar months 1..12) on which ``review`` fires; never if None."""
    if review is None:
        return np.zeros(len(months), dtype=bool)
    return np.isin(months, sorted(REVIEW_MONTHS[review]))


def bounds(
    policy: Policy, classes: list[str], band: Band | None
) -> tuple[list[float], list[float], list[float]]:
    """Targets and band bounds as floats, via ``Band.bounds`` (the one definition of a band)."""
    targets: list[float] = []
    lower: list[float] = []
    upper: list[float] = []
    for name in classes:
        target = policy.asset_classes[name].target
        lo, hi = (band or policy.band_for(name)).bounds(target)
        targets.append(float(target))
        lower.append(float(lo))
        upper.append(float(hi))
    return targets, lower, upper


def parse_spec(spec: str, policy: Policy, classes: list[str]) -> SimPolicy:
    """A ``--policy`` spec → ``SimPolicy``; a mistake raises ``BallastError``."""
    kind, *opts = [p.strip() for p in spec.strip().split(":")]
    kind = kind.lower()
    freqs: list[Review] = []
    band: Band | None = None
    to: RebalanceTo | None = None
    trade: TradeClasses | None = None
    directed = True
    for opt in opts:
        low = opt.lower()
        if low in Review.__members__.values():
            freqs.append(Review(low))
        elif low in ("prorata", "directed"):
            directed = low == "directed"
        elif low in RebalanceTo.__members__.values():
            to = RebalanceTo(low)
        elif low in TradeClasses.__members__.values():
            trade = TradeClasses(low)
        else:
            try:
                band = Band.parse(opt)
            except ValueError:
                raise BallastError(f"policy {spec!r}: option {opt!r} is not understood") from None
    targets, lower, upper = bounds(policy, classes, band)
    common: _Common = {
        "targets": tuple(targets),
        "lower": tuple(lower),
        "upper": tuple(upper),
        "directed_flows": directed,
    }
    band_text = str(band) if band else "IPS bands"
    if kind == "never":
        return SimPolicy(spec, **common, description="buy and hold: never rebalance")
    if kind in Review.__members__.values():
        return SimPolicy(
            spec,
            **common,
            calendar=Review(kind),
            description=f"{kind} calendar rebalancing to target",
        )
    if kind == "bands":
        monitor = freqs[0] if freqs else Review.MONTHLY
        return SimPolicy(
            spec,
            **common,
            monitor=monitor,
            rebalance_to=to or RebalanceTo.TARGET,
            trade_classes=trade or TradeClasses.ALL,
            description=f"{band_text} checked {monitor}, "
            f"trade to {(to or RebalanceTo.TARGET).value}",
        )
    if kind == "ips":
        return SimPolicy(
            spec,
            **common,
            monitor=policy.review,
            rebalance_to=to or policy.rebalance_to,
            trade_classes=trade or policy.trade_classes,
            description=f"the IPS: {policy.review} review, {band_text}, "
            f"trade to {(to or policy.rebalance_to).value}",
        )
    if kind == "hybrid":
        if len(freqs) != 2:
            raise BallastError(f"policy {spec!r}: hybrid needs two frequencies (calendar, monitor)")
        return SimPolicy(
            spec,
            **common,
            calendar=freqs[0],
            monitor=freqs[1],
            rebalance_to=to or RebalanceTo.TARGET,
            description=f"{freqs[0]} to target plus {band_text} checked {freqs[1]}",
        )
    raise BallastError(
        f"policy {spec!r}: unknown kind {kind!r} (use never, monthly, quarterly, semiannual, "
        "annual, bands, ips or hybrid)"
    )


def vanguard_policies(policy: Policy, classes: list[str]) -> list[SimPolicy]:
    """Vanguard 2010's grid: monitoring monthly/quarterly/annually × 0/1/5/10 % bands, never."""
    specs = [
        f"bands:{freq}:{pct}%"
        for freq in ("monthly", "quarterly", "annual")
        for pct in (0, 1, 5, 10)
    ]
    return [parse_spec(s, policy, classes) for s in [*specs, "never"]]
