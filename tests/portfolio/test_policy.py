"""The IPS model: bands, percentages and the refusal of bad policies."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from ballast.errors import PolicyError
from ballast.portfolio.policy import Band, BandKind, load_policy, parse_percent

SEED = """\
id: seed-60-40
name: Balanced Institutional Portfolio
base_currency: USD
accounts:
  - {id: "INST-001", tax_status: tax_exempt}
default_band: 500bp
asset_classes:
  global_equity: {target: 60%}
  ig_bonds:      {target: 40%, band: 500bp}
"""


def write(tmp_path: Path, text: str, name: str = "seed-60-40") -> Path:
    p = tmp_path / f"{name}.yaml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("text", "value"),
    [("60%", D("0.6")), ("250bp", D("0.025")), ("0.35", D("0.35")), ("12.5%", D("0.125"))],
)
def test_parse_percent(text: str, value: D) -> None:
    """Percent, basis points and bare fractions all parse to exact decimals."""
    assert parse_percent(text) == value


def test_absolute_band_bounds() -> None:
    """±500 bp around 60% gives 55%–65% (domain.md)."""
    assert Band.parse("500bp").bounds(D("0.6")) == (D("0.55"), D("0.65"))


def test_relative_band_bounds() -> None:
    """25% of a 10% target gives 7.5%–12.5% (domain.md)."""
    assert Band.parse("25%rel").bounds(D("0.10")) == (D("0.075"), D("0.125"))


@pytest.mark.parametrize(
    ("target", "half"),
    [
        (D("0.60"), D("0.05")),  # 25% × 60% = 15% > 5%: the absolute 500 bp is narrower
        (D("0.10"), D("0.025")),  # 25% × 10% = 2.5% < 5%: the relative band is narrower
        (D("0.20"), D("0.05")),  # equal at 20%
    ],
)
def test_five_25_band_is_the_narrower(target: D, half: D) -> None:
    """5/25 = min(500 bp, 25% of target)."""
    band = Band.parse("5/25")
    assert band.kind is BandKind.FIVE_25
    assert band.half_width(target) == half


def test_band_text_round_trips() -> None:
    """A band prints as it is written in an IPS."""
    for text in ("500bp", "25%rel", "5/25"):
        assert str(Band.parse(text)) == text


def test_loads_seed_policy(tmp_path: Path) -> None:
    """The contract's example IPS loads, with per-class and default bands."""
    p = load_policy(write(tmp_path, SEED))
    assert p.asset_classes["global_equity"].target == D("0.6")
    assert p.band_for("global_equity") == Band.parse("500bp")
    assert p.accounts[0].tax_status.value == "tax_exempt"


def test_targets_must_add_to_100(tmp_path: Path) -> None:
    """Targets adding to 90% are refused with a message naming the file and the sum."""
    path = write(tmp_path, SEED.replace("target: 40%", "target: 30%"))
    with pytest.raises(PolicyError, match=r"seed-60-40.yaml.*add up to 90.0%, not 100%"):
        load_policy(path)


def test_bad_band_names_field(tmp_path: Path) -> None:
    """A band that cannot be read names the file and the field path."""
    path = write(tmp_path, SEED.replace("band: 500bp}", "band: wide}"))
    with pytest.raises(PolicyError, match=r"field asset_classes.ig_bonds.band: 'wide' is not"):
        load_policy(path)


def test_unknown_field_refused(tmp_path: Path) -> None:
    """A misspelt key is an error, not silently ignored."""
    path = write(tmp_path, SEED + "rebalance_too: target\n")
    with pytest.raises(PolicyError, match="rebalance_too"):
        load_policy(path)


def test_id_must_match_file_name(tmp_path: Path) -> None:
    """The IPS id is also its file name."""
    with pytest.raises(PolicyError, match="differs from the file name"):
        load_policy(write(tmp_path, SEED, name="other"))


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    """Broken YAML is reported with its line, not a traceback."""
    with pytest.raises(PolicyError, match=r"line \d+: not valid YAML"):
        load_policy(write(tmp_path, SEED + "  - : [\n"))
