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

Calendar phase (timing luck): a schedule fires at fixed month-ends (``REVIEW_MONTHS``); phase
``n`` shifts it ``n`` months later, modulo its period. Quarterly phase 0 is Mar/Jun/Sep/Dec, 1 is
Jan/Apr/Jul/Oct, 2 is Feb/May/Aug/Nov; annual has 12 phases, semiannual 6, monthly 1. A policy's
phase shifts its calendar and its monitor alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
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
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
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
    phase: int = 0  # calendar phase: schedules fire this many months after REVIEW_MONTHS


class _Common(TypedDict):
    """The ``SimPolicy`` fields every kind of spec sets the same way."""

    targets: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    directed_flows: bool


def period(review: Review | None) -> int:
    """Months between two firings of ``review`` (monthly 1 … annual 12); 1 if None."""
    return 1 if review is None else 12 // len(REVIEW_MONTHS[review])


def review_months(review: Review, phase: int = 0) -> list[int]:
    """Calendar months (1..12) on which ``review`` fires at ``phase`` (taken modulo its period)."""
    shift = phase % period(review)
    return sorted((m - 1 + shift) % 12 + 1 for m in REVIEW_MONTHS[review])


def review_mask(months: np.ndarray, review: Review | None, phase: int = 0) -> np.ndarray:
    """True at the rows (calendar months 1..12) on which ``review`` fires; never if None."""
    if review is None:
        return np.zeros(len(months), dtype=bool)
    return np.isin(months, review_months(review, phase))


def phase_count(policy: SimPolicy) -> int:
    """How many distinct calendar phases the policy has: the lcm of its schedules' periods."""
    return math.lcm(period(policy.calendar), period(policy.monitor))


def schedule_label(policy: SimPolicy) -> str:
    """The month-ends on which the policy's calendar (else its monitor) fires: ``Mar/Jun/Sep/Dec``,
    ``every month``, or ``—`` for buy and hold."""
    review = policy.calendar or policy.monitor
    if review is None:
        return "—"
    if period(review) == 1:
        return "every month"
    return "/".join(MONTH_NAMES[m - 1] for m in review_months(review, policy.phase))


def with_phase(policy: SimPolicy, phase: int) -> SimPolicy:
    """The policy at calendar phase ``phase`` (modulo its phase count); a shifted schedule is
    named in the description (phase 0 leaves the policy as it is)."""
    shifted = replace(policy, phase=phase % phase_count(policy))
    if shifted.phase == 0:
        return replace(shifted, description=policy.description)
    return replace(
        shifted,
        description=f"{policy.description}, phase {shifted.phase} ({schedule_label(shifted)})",
    )


def all_phases(policies: list[SimPolicy]) -> list[SimPolicy]:
    """Each policy once per distinct phase (0, 1, …), in order: the engine runs them side by
    side on its policy axis, so the phases are simulated together, not one run each."""
    return [with_phase(p, k) for p in policies for k in range(phase_count(p))]


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
