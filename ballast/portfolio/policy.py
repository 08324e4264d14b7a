"""Investment policy statements: the YAML of ``ips/<portfolio_id>.yaml`` as typed models.

Bands and their meaning live here and nowhere else, so reviews, the monitor and the simulator
agree on what a breach is. Percentages are kept as exact ``Decimal`` fractions (``60%`` → 0.6).

A review reads thousands of these files, so loading is tuned (``benchmarks/bench_ips.py``): the
YAML is parsed by PyYAML's C parser with a shortcut for plain documents (``_parse_yaml``), and a
file already loaded in this process, same path and same bytes, is not parsed or validated again,
and one parsed ahead (``parse_ahead``, while a command waits for its Prefect server) is taken.
"""

from __future__ import annotations

import hashlib
import re
import threading
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from ballast.errors import PolicyError, printable
from ballast.kinds import CASH_CLASS, identifier_problem, portfolio_id_problem, text_problem

if TYPE_CHECKING:
    from ballast.portfolio.models import ModelCatalog

ONE = Decimal(1)
BP = Decimal("0.0001")
_NUM = r"(\d+(?:\.\d+)?)"
_PERCENT, _BASIS_POINTS, _BARE = re.compile(_NUM + "%"), re.compile(_NUM + "bp"), re.compile(_NUM)
_RELATIVE = re.compile(_NUM + r"%rel")


def parse_percent(value: Any) -> Decimal:
    """``"60%"`` → 0.6, ``"250bp"`` → 0.025, a bare number is a fraction (``0.6``)."""
    text = str(value).strip().replace(" ", "")
    if m := _PERCENT.fullmatch(text):
        return Decimal(m.group(1)) / 100
    if m := _BASIS_POINTS.fullmatch(text):
        return Decimal(m.group(1)) * BP
    if _BARE.fullmatch(text):
        return Decimal(text)
    raise ValueError(f"{value!r} is not a percentage (write e.g. 60% or 250bp)")


def parse_money(value: Any) -> Decimal:
    """A non-negative amount: ``250000``, ``"250,000.00"`` or ``"$250,000"``."""
    text = str(value).strip().replace(",", "").replace("$", "").replace("_", "")
    if not _BARE.fullmatch(text):
        raise ValueError(f"{value!r} is not an amount of money")
    return Decimal(text)


Percent = Annotated[Decimal, BeforeValidator(parse_percent)]
Money = Annotated[Decimal, BeforeValidator(parse_money)]


class BandKind(StrEnum):
    ABSOLUTE = "absolute"
    RELATIVE = "relative"
    FIVE_25 = "5/25"


class Band(BaseModel):
    """A tolerance band around a target weight.

    ``absolute``: half-width ``width`` (``500bp``); ``relative``: half-width ``width × target``
    (``25%rel``); ``5/25``: the narrower of 500 bp and 25 % of the target.
    """

    model_config = ConfigDict(frozen=True)
    kind: BandKind
    width: Decimal

    @classmethod
    def parse(cls, text: Any) -> Band:
        s = str(text).strip().replace(" ", "").lower()
        if s == "5/25":
            return cls(kind=BandKind.FIVE_25, width=Decimal("0.25"))
        if m := _RELATIVE.fullmatch(s):
            return cls(kind=BandKind.RELATIVE, width=Decimal(m.group(1)) / 100)
        if m := _BASIS_POINTS.fullmatch(s):
            return cls(kind=BandKind.ABSOLUTE, width=Decimal(m.group(1)) * BP)
        if m := _PERCENT.fullmatch(s):
            return cls(kind=BandKind.ABSOLUTE, width=Decimal(m.group(1)) / 100)
        raise ValueError(f"{text!r} is not a band (write 500bp, 5%, 25%rel or 5/25)")

    def half_width(self, target: Decimal) -> Decimal:
        """The band's half-width, as a weight, around ``target``."""
        if self.kind is BandKind.ABSOLUTE:
            return self.width
        if self.kind is BandKind.RELATIVE:
            return self.width * target
        return min(Decimal("0.05"), self.width * target)

    def bounds(self, target: Decimal) -> tuple[Decimal, Decimal]:
        """(lower, upper) weights; a weight exactly on a bound is inside."""
        h = self.half_width(target)
        return max(Decimal(0), target - h), min(ONE, target + h)

    def __str__(self) -> str:
        if self.kind is BandKind.FIVE_25:
            return "5/25"
        if self.kind is BandKind.RELATIVE:
            return f"{(self.width * 100).normalize():f}%rel"
        return f"{(self.width / BP).normalize():f}bp"


BandField = Annotated[Band, BeforeValidator(lambda v: v if isinstance(v, Band) else Band.parse(v))]


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


def _ruled(rule: Any) -> Any:
    """A validator refusing a string ``rule`` finds a problem with (see ``ballast.kinds``)."""

    def check(value: str) -> str:
        if (problem := rule(value)) is not None:
            raise ValueError(f"{_shown(value)} {problem}")
        return value

    return AfterValidator(check)


PortfolioId = Annotated[str, _ruled(portfolio_id_problem)]
Identifier = Annotated[str, _ruled(identifier_problem)]  # account and security ids
Text = Annotated[str, _ruled(text_problem)]  # names: no control, bidi or zero-width characters


class TaxStatus(StrEnum):
    TAXABLE = "taxable"
    TAX_DEFERRED = "tax_deferred"
    TAX_EXEMPT = "tax_exempt"


class Review(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUAL = "semiannual"
    ANNUAL = "annual"


class RebalanceTo(StrEnum):
    TARGET = "target"
    BAND_EDGE = "band_edge"
    HALFWAY = "halfway"


class TradeClasses(StrEnum):
    ALL = "all"
    BREACHED = "breached"


class LotMethod(StrEnum):
    FIFO = "fifo"
    HIFO = "hifo"
    MIN_TAX = "min_tax"


class WashSale(StrEnum):
    BLOCK = "block"
    WARN = "warn"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Account(_Strict):
    id: Identifier
    tax_status: TaxStatus
    name: Text | None = None
    # this account's own rates, each in place of the IPS's ``tax`` one (e.g. a trust taxed at
    # trust rates, an account of a spouse resident in another state)
    short_term_rate: Percent | None = None
    long_term_rate: Percent | None = None
    state_rate: Percent | None = None

    @property
    def has_own_rates(self) -> bool:
        """Whether any rate of this account overrides its IPS's."""
        return any(
            r is not None for r in (self.short_term_rate, self.long_term_rate, self.state_rate)
        )


class AssetClassPolicy(_Strict):
    target: Percent
    band: BandField | None = None
    # the security bought when the class holds nothing (else the largest held)
    vehicle: Identifier | None = None
    # security-level weights within the class (adding to 100%): buys are split over them
    securities: dict[Identifier, Percent] | None = None

    @model_validator(mode="after")
    def _target_in_range(self) -> AssetClassPolicy:
        if not Decimal(0) <= self.target <= ONE:
            raise ValueError("target must be between 0% and 100%")
        if self.securities is not None:
            if self.vehicle is not None:
                raise ValueError("give a vehicle or securities weights, not both")
            if not self.securities:
                raise ValueError("securities must name at least one security")
            if any(not Decimal(0) < w <= ONE for w in self.securities.values()):
                raise ValueError("each securities weight must be above 0% and at most 100%")
            total = sum(self.securities.values(), Decimal(0))
            if total != ONE:
                raise ValueError(f"securities weights add up to {total * 100:f}%, not 100%")
        return self


class CashPolicy(_Strict):
    reserve: Money = Decimal(0)  # kept uninvested, per account
    planning_days: int = Field(default=31, ge=0)  # planned flows this far ahead are used


class TradingPolicy(_Strict):
    min_trade: Money = Decimal(0)
    min_trade_pct: Percent = Decimal(0)  # of the account's value; the greater minimum applies
    whole_shares: bool = True
    cost_bp: dict[Text, Decimal] = Field(default_factory=dict)
    engine: Literal["heuristic", "optimizer"] = "heuristic"  # how trades are chosen


class HarvestPolicy(_Strict):
    """Tax-loss harvesting (trading/harvest.py): opt in with ``tax.harvest``."""

    min_loss: Money = Decimal(1000)  # a lot's unrealised loss must reach both thresholds
    min_loss_pct: Percent = Decimal("0.05")  # loss / the lot's cost basis
    # security -> its replacement: same class, not substantially identical
    replacements: dict[Identifier, Identifier] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _not_itself(self) -> HarvestPolicy:
        same = sorted(s for s, r in self.replacements.items() if s == r)
        if same:
            raise ValueError(f"a security cannot replace itself: {', '.join(same)}")
        return self


class TaxPolicy(_Strict):
    lot_method: LotMethod = LotMethod.FIFO
    avoid_short_term_gains: bool = True  # short-term gain lots sold last (taxable accounts)
    short_term_wait_days: int = Field(default=30, ge=0)  # held back this close to long-term
    short_term_rate: Percent = Decimal("0.37")
    long_term_rate: Percent = Decimal("0.238")
    wash_sale: WashSale = WashSale.BLOCK
    # gains budget (trading/gains_budget.py): none of these set, no budget and no estimate
    max_net_gain: Money | None = None  # the household's net realised gain cap per calendar year
    state_rate: Percent | None = None  # added to both federal rates in every estimate
    loss_carryforward: Money = Decimal(0)  # net capital loss carried in from prior years
    harvest: HarvestPolicy | None = None  # tax-loss harvesting; none: off


class Restrictions(_Strict):
    do_not_sell: list[Identifier] = Field(default_factory=list)
    do_not_buy: list[Identifier] = Field(default_factory=list)


class ModelRef(_Strict):
    """The model portfolio an IPS took its classes from (``model:``; see
    ``ballast.portfolio.models``): its id, name and the SHA-256 of the model file's bytes."""

    id: str
    name: str
    sha256: str


class Policy(_Strict):
    """One investment policy statement."""

    id: PortfolioId
    name: Text
    base_currency: str = "USD"
    accounts: list[Account]
    review: Review = Review.QUARTERLY
    rebalance_to: RebalanceTo = RebalanceTo.TARGET
    trade_classes: TradeClasses = TradeClasses.ALL
    default_band: BandField = Band.parse("500bp")
    asset_classes: dict[Text, AssetClassPolicy]
    cash: CashPolicy = CashPolicy()
    # factories, not instances: pydantic deep-copies an unhashable default (these hold a dict
    # and lists) for every policy that omits it, which cost a third of the validation
    trading: TradingPolicy = Field(default_factory=TradingPolicy)
    tax: TaxPolicy = TaxPolicy()
    restrictions: Restrictions = Field(default_factory=Restrictions)
    # set only by resolving ``model: <id>`` (never read from YAML as such)
    model: ModelRef | None = None

    @model_validator(mode="after")
    def _checks(self) -> Policy:
        total = sum((c.target for c in self.asset_classes.values()), Decimal(0))
        if total != ONE:
            raise ValueError(f"asset class targets add up to {total * 100:f}%, not 100%")
        if not self.accounts:
            raise ValueError("at least one account is needed")
        ids = [a.id for a in self.accounts]
        if len(set(ids)) != len(ids):
            raise ValueError("an account is listed twice")
        if not re.fullmatch(r"[A-Z]{3}", self.base_currency):
            raise ValueError(f"base_currency {self.base_currency!r} is not an ISO currency code")
        return self

    def band_for(self, asset_class: str) -> Band:
        return self.asset_classes[asset_class].band or self.default_band

    @property
    def cash_has_target(self) -> bool:
        return CASH_CLASS in self.asset_classes


def _describe(err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = first["msg"].removeprefix("Value error, ")
    return f"field {loc}: {msg}"


# -- YAML ------------------------------------------------------------------------------------

_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # C when built with libyaml
_TAG = "tag:yaml.org,2002:"
_MAP, _SEQ, _STR = _TAG + "map", _TAG + "seq", _TAG + "str"
_PLAIN_SCALARS = frozenset(_TAG + t for t in ("str", "int", "float", "bool", "null"))
_RESOLVED_MAX = 10_000
"""Plain scalars remembered: the repeated ones (asset classes, bands, numbers) come early; the
rest are ids and names, each seen once (at 100,000 entries, some 20 MB: three objects each)."""


class _IpsLoader(_SAFE_LOADER):  # type: ignore[misc]
    """PyYAML's safe loader, resolving each distinct plain scalar's type once per process.

    The resolver (a Python function the C parser calls for every scalar) tries the implicit
    types' regular expressions in turn; its answer depends only on the text and how it was
    quoted (there are no path resolvers on the safe loader), so it is remembered.
    """

    _resolved: ClassVar[dict[tuple[str, bool, bool], str]] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not ScalarNode or self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        key = (value, implicit[0], implicit[1])
        tag = self._resolved.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(self._resolved) < _RESOLVED_MAX:
                self._resolved[key] = tag
        return tag


class _NotPlain(Exception):
    """The document uses something ``_plain`` leaves to PyYAML's own constructor."""


def _plain(loader: Any, node: Any, seen: set[int]) -> Any:
    """The Python value of a plain YAML node: mappings with scalar keys, sequences, and str,
    int, float, bool and null scalars, built with the safe constructor's own scalar functions.
    Anything else (aliases, merge keys, timestamps, sets, binary, other tags) raises
    ``_NotPlain``."""
    if id(node) in seen:  # an alias: the same node twice
        raise _NotPlain
    seen.add(id(node))
    kind, tag = type(node), node.tag
    if kind is ScalarNode:
        if tag == _STR:
            return node.value
        if tag not in _PLAIN_SCALARS:
            raise _NotPlain
        return loader.yaml_constructors[tag](loader, node)
    if kind is MappingNode and tag == _MAP:
        out = {}
        for key_node, value_node in node.value:
            if type(key_node) is not ScalarNode or key_node.tag not in _PLAIN_SCALARS:
                raise _NotPlain
            out[_plain(loader, key_node, seen)] = _plain(loader, value_node, seen)
        return out
    if kind is SequenceNode and tag == _SEQ:
        return [_plain(loader, item, seen) for item in node.value]
    raise _NotPlain


def _parse_yaml(text: str) -> Any:
    """``yaml.load(text, Loader=CSafeLoader)``, the same value and the same errors, faster.

    PyYAML's constructor is generic Python (generators, recursion checks, merge keys) and took
    most of the time of loading an IPS. A plain document, which is what an IPS is, is built
    directly from the parsed nodes; any other document goes through the constructor as before.
    """
    loader = _IpsLoader(text)
    try:
        node = loader.get_single_node()  # syntax errors are raised here, as by yaml.load
        if node is None:
            return None
        try:
            return _plain(loader, node, set())
        except _NotPlain:
            return loader.construct_document(node)
    finally:
        loader.dispose()


# -- loading ---------------------------------------------------------------------------------

# (path, SHA-256 of text, models' fingerprint) -> policy or error
_LOADED: dict[tuple[str, str, str], Policy | str] = {}
_LOADED_MAX = 2_000
"""At most this many outcomes are kept (the oldest go first): enough for a served process's
small workspaces, while a review of many portfolios, read shard by shard, keeps a bounded
number of policies in memory (a policy is about 10 KB)."""
_LOADED_LOCK = threading.Lock()


def load_policy(path: Path, text: str | None = None, models: ModelCatalog | None = None) -> Policy:
    """Parse and validate one IPS file; a bad one raises ``PolicyError`` naming file and field.

    An IPS that says ``model: <id>`` takes its classes from that model of ``models`` (see
    ``ballast.portfolio.models``); without ``models``, from the ``models/`` folder beside the
    IPS's folder, read for this call only.

    The outcome is kept for the process (the last ``_LOADED_MAX``), keyed by path, content
    hash and the models' fingerprint: the same bytes at the same path with the same models give
    the same (frozen) ``Policy`` object, or the same error, without parsing again.
    """
    text = path.read_text(encoding="utf-8") if text is None else text
    key = (str(path), content_hash(text), "" if models is None else models.fingerprint)
    with _LOADED_LOCK:
        known = _LOADED.get(key)
        if known is None:
            known = _AHEAD.pop(key, None)
            if known is not None:
                _remember(key, known)
    if known is None:
        beside: list[bool] = []  # set when models beside the IPS were read: not kept
        try:
            known = _validate(path, text, models, beside)
        except PolicyError as exc:
            known = str(exc)
        if not beside:
            with _LOADED_LOCK:
                _remember(key, known)
    if isinstance(known, str):
        raise PolicyError(known)
    return known


def clear_loaded() -> None:
    """Forget the policies loaded in this process (the next load parses every file again)."""
    with _LOADED_LOCK:
        _LOADED.clear()
        _AHEAD.clear()


def _remember(key: tuple[str, str, str], outcome: Policy | str) -> None:
    """Keep an outcome (the caller holds ``_LOADED_LOCK``)."""
    if len(_LOADED) >= _LOADED_MAX:
        _LOADED.pop(next(iter(_LOADED)))  # the oldest
    _LOADED[key] = outcome


# outcomes parsed ahead of a review (``ballast.portfolio.read_ahead``), each taken once
_AHEAD: dict[tuple[str, str, str], Policy | str] = {}
AHEAD_MAX = 10_000
"""At most this many outcomes parsed ahead are held (about 9 KB a policy: 90 MB)."""


def parse_ahead(path: Path, text: str, models: ModelCatalog) -> bool:
    """Parse and validate ``text`` (the IPS at ``path``) now, for the next ``load_policy`` of
    the same path, bytes and models, which takes the outcome (once) instead of parsing.
    False when ``AHEAD_MAX`` outcomes are already held (nothing done)."""
    key = (str(path), content_hash(text), models.fingerprint)
    with _LOADED_LOCK:
        if len(_AHEAD) >= AHEAD_MAX:
            return False
        if key in _AHEAD or key in _LOADED:
            return True
    try:
        outcome: Policy | str = _validate(path, text, models)
    except PolicyError as exc:
        outcome = str(exc)
    with _LOADED_LOCK:
        _AHEAD[key] = outcome
    return True


def drop_ahead() -> None:
    """Forget the outcomes parsed ahead and not taken."""
    with _LOADED_LOCK:
        _AHEAD.clear()


def _validate(
    path: Path, text: str, models: ModelCatalog | None = None, beside: list[bool] | None = None
) -> Policy:
    try:
        raw = _parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise PolicyError(printable(f"{path}{where}: not valid YAML")) from None
    if not isinstance(raw, dict):
        raise PolicyError(printable(f"{path}: an IPS must be a YAML mapping"))
    if "model" in raw:  # the classes come from a model portfolio
        if models is None:
            from ballast.portfolio.models import ModelCatalog

            models = ModelCatalog.beside(path)
            if beside is not None:
                beside.append(True)
        raw = models.apply(raw, path)
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(printable(f"{path}: {_describe(exc)}")) from None
    if policy.id != path.stem:
        raise PolicyError(printable(f"{path}: field id: {policy.id!r} differs from the file name"))
    return policy


def content_hash(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()
