"""The simulation's configuration: which series stands for which IPS class, and the run's knobs.

A small YAML file (``--config``), every field optional but ``mapping``; CLI options override it::

    mapping: {us_equity: market, us_bonds: bond}   # IPS asset class → return series
    history: bundled            # or a CSV of monthly returns (month, one column per series)
    bond_duration: 7.0          # modified duration of the bundled bond leg, years
    paths: 1000                 # simulated futures (0: history only)
    years: 30
    seed: 0
    phase: 0                    # calendar phase 0..11, or "all" (timing luck over every phase)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ballast.errors import BallastError
from ballast.portfolio.policy import Policy
from ballast.simulate.history import DEFAULT_DURATION
from ballast.simulate.policies import DEFAULT_SPECS


class SimulationConfig(BaseModel):
    """One simulation run's settings."""

    model_config = ConfigDict(extra="forbid")

    mapping: dict[str, str] = Field(default_factory=dict)  # IPS asset class → series name
    history: str = "bundled"  # "bundled" or the path of a returns CSV
    percent: bool = False  # the CSV's returns are in percent
    risk_free: str | None = "tbill"  # series used for Sharpe ratios; None: zero
    bond_duration: float = Field(DEFAULT_DURATION, ge=0, le=40)
    start: str | None = None  # history window, YYYY-MM
    end: str | None = None
    cost_bp: dict[str, float] | None = None  # per class; None: the IPS's trading.cost_bp
    flow_rate: float = Field(0.0, gt=-1, lt=1)  # per year, fraction of value: + in, - out
    taxable: bool | None = None  # None: taxable when any IPS account is taxable
    paths: int = Field(1000, ge=0, le=1_000_000)
    years: int = Field(30, ge=1, le=200)
    seed: int = 0
    model: Literal["bootstrap", "parametric"] = "bootstrap"
    block_months: int = Field(12, ge=1)
    annual_mean: dict[str, float] = Field(default_factory=dict)  # parametric overrides by series
    annual_vol: dict[str, float] = Field(default_factory=dict)
    policies: list[str] = Field(default_factory=lambda: list(DEFAULT_SPECS))
    equity_class: str | None = None  # the class the Vanguard table follows
    # calendar phase of every schedule (0: quarter ends Mar/Jun/Sep/Dec); "all": the history is
    # also run at every phase and the spread of outcomes reported
    phase: int | Literal["all"] = 0

    @field_validator("phase", mode="before")
    @classmethod
    def _phase(cls, value: Any) -> int | str:
        """0..11 (a number or its digits) or ``all``."""
        text = str(value).strip().lower()
        if text == "all":
            return text
        if isinstance(value, bool) or not text.isdigit() or int(text) > 11:
            raise ValueError(f"a calendar phase is 0..11 or 'all', not {value!r}")
        return int(text)

    def classes(self, policy: Policy) -> list[str]:
        """The IPS's classes, each checked to have a series."""
        missing = [c for c in policy.asset_classes if c not in self.mapping]
        if missing:
            known = (
                " (the bundled history has market, bond and tbill)"
                if self.history == "bundled"
                else ""
            )
            raise BallastError(
                f"no return series for asset class {missing[0]!r}{known}: map it in the "
                f"config's 'mapping' or with --map {missing[0]}=SERIES"
            )
        extra = [c for c in self.mapping if c not in policy.asset_classes]
        if extra:
            raise BallastError(f"mapping names {extra[0]!r}, which is not a class of {policy.id}")
        return list(policy.asset_classes)

    def costs(self, policy: Policy, classes: list[str]) -> tuple[float, ...]:
        """Transaction cost in bp per class (config, else the IPS)."""
        table = (
            self.cost_bp
            if self.cost_bp is not None
            else {k: float(v) for k, v in policy.trading.cost_bp.items()}
        )
        unknown = [c for c in table if c not in classes]
        if unknown:
            raise BallastError(f"cost_bp names {unknown[0]!r}, which is not an asset class")
        return tuple(float(table.get(c, 0.0)) for c in classes)

    def is_taxable(self, policy: Policy) -> bool:
        if self.taxable is not None:
            return self.taxable
        return any(a.tax_status == "taxable" for a in policy.accounts)

    def equity(self, policy: Policy) -> str:
        """The class whose weight the Vanguard table shows: configured, else mapped to
        ``market``, else the class with the largest target."""
        if self.equity_class:
            if self.equity_class not in policy.asset_classes:
                raise BallastError(f"equity_class {self.equity_class!r} is not an asset class")
            return self.equity_class
        for cls, series in self.mapping.items():
            if series == "market":
                return cls
        return max(policy.asset_classes, key=lambda c: policy.asset_classes[c].target)


# IPS class names the bundled history has an obvious series for (a substring of the name)
BUNDLED_SERIES = (
    ("equit", "market"),
    ("stock", "market"),
    ("bond", "bond"),
    ("fixed_income", "bond"),
    ("cash", "tbill"),
)


def assumed_mapping(config: SimulationConfig, policy: Policy) -> dict[str, str]:
    """With the bundled history and no mapping given, the series each class name points to
    (``us_equity`` and ``global_equity`` → market, ``ig_bonds`` → bond, ``cash`` → tbill);
    classes with no obvious series are left out (``classes`` then names the first). Empty when
    a mapping was given or the history is a CSV."""
    if config.mapping or config.history != "bundled":
        return {}
    found = {}
    for cls in policy.asset_classes:
        series = next((s for key, s in BUNDLED_SERIES if key in cls.lower()), None)
        if series is not None:
            found[cls] = series
    return found


def load_config(path: Path) -> SimulationConfig:
    """Read a simulation config YAML; mistakes raise ``BallastError`` naming file and field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError:
        raise BallastError(f"{path}: cannot read the simulation config") from None
    except yaml.YAMLError:
        raise BallastError(f"{path}: not valid YAML") from None
    if not isinstance(raw, dict):
        raise BallastError(f"{path}: a simulation config must be a YAML mapping")
    try:
        return SimulationConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise BallastError(f"{path}: field {loc}: {first['msg']}") from None
