"""The synthetic workspace generator (benchmarks/generate.py)."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ballast.kinds import ALL_KINDS
from ballast.portfolio.policy import load_policy
from tests.support import generator

N = 20


generate = generator.load()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gen") / "ws"
    generate.generate_workspace(root, N, seed=7)
    return root


def _read(root: Path, pattern: str) -> pl.DataFrame:
    files = sorted((root / "inbox").glob(pattern))
    assert files, pattern
    return pl.concat([pl.read_csv(f, infer_schema=False) for f in files])


def _is_kind(frame: pl.DataFrame, kind: str) -> bool:
    """The kind's required columns, in order, then only optional columns of that kind."""
    spec, cols = ALL_KINDS[kind], list(frame.columns)
    required = list(spec.columns)
    return cols[: len(required)] == required and set(cols[len(required) :]) <= set(
        spec.optional or {}
    )


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_layout(workspace: Path) -> None:
    """The workspace has the contract's folders, a security master and one IPS per portfolio."""
    for d in ("inbox", "reference", "ips", "archive", "quarantine", "reports"):
        assert (workspace / d).is_dir()
    secs = pl.read_csv(workspace / "reference/securities.csv", infer_schema=False)
    assert _is_kind(secs, "securities")
    assert secs["security_id"].n_unique() == secs.height >= 250
    assert secs["asset_class"].n_unique() == 8
    assert len(list((workspace / "ips").glob("*.yaml"))) == N


def test_policies_load_and_targets_add_to_100(workspace: Path) -> None:
    """Every IPS loads with load_policy, has 3-6 classes and whole-percent targets summing to 1."""
    for path in sorted((workspace / "ips").glob("*.yaml")):
        policy = load_policy(path)
        targets = [c.target for c in policy.asset_classes.values()]
        assert sum(targets) == Decimal(1)
        assert all((t * 100) == (t * 100).to_integral_value() for t in targets)
        risky = [c for c in policy.asset_classes if c != "cash"]
        assert 3 <= len(risky) <= 6
        assert 1 <= len(policy.accounts) <= 3


def test_positions_cover_every_account_with_cash(workspace: Path) -> None:
    """Each IPS account has a CASH position, and every position belongs to an IPS account."""
    pos = _read(workspace, "custodian_positions_*.csv")
    assert _is_kind(pos, "positions")
    accounts = {a.id for p in (workspace / "ips").glob("*.yaml") for a in load_policy(p).accounts}
    assert set(pos["account_id"]) == accounts
    cash = pos.filter(pl.col("security_id") == "CASH")
    assert sorted(cash["account_id"]) == sorted(accounts)
    assert pos.select("account_id", "security_id").is_unique().all()


def test_market_value_is_quantity_times_price(workspace: Path) -> None:
    """market_value equals quantity * price to the cent, with two-decimal prices."""
    pos = _read(workspace, "custodian_positions_*.csv")
    for q, p, mv in pos.select("quantity", "price", "market_value").iter_rows():
        assert Decimal(q) * Decimal(p) == Decimal(mv)
        assert Decimal(p).as_tuple().exponent == -2
    held = pos.filter(pl.col("security_id") != "CASH")
    assert all(Decimal(q) == Decimal(q).to_integral_value() for q in held["quantity"])


def test_lots_add_up_to_positions(workspace: Path) -> None:
    """Lot quantities sum exactly to the position quantity per (account, security)."""
    pos = _read(workspace, "custodian_positions_*.csv").filter(pl.col("security_id") != "CASH")
    lots = _read(workspace, "custodian_lots_*.csv")
    assert _is_kind(lots, "lots")
    key = ["account_id", "security_id"]
    summed = lots.group_by(key).agg(
        pl.col("quantity").cast(pl.Int64).sum().alias("lot_qty"), pl.len().alias("n")
    )
    joined = pos.join(summed, on=key, how="full", coalesce=True)
    assert joined["lot_qty"].null_count() == 0 and joined["quantity"].null_count() == 0
    assert (joined["quantity"].cast(pl.Int64) == joined["lot_qty"]).all()
    assert joined["n"].is_between(1, 5).all()
    assert (lots["quantity"].cast(pl.Int64) > 0).all()
    assert (lots["acquired_date"] >= "2021-09-30").all() and (
        lots["acquired_date"] < "2026-09-30"
    ).all()


def test_same_seed_gives_identical_bytes(workspace: Path, tmp_path: Path) -> None:
    """Generating again with the same seed writes byte-identical files."""
    generate.generate_workspace(tmp_path / "again", N, seed=7)
    assert _digests(tmp_path / "again") == _digests(workspace)


def test_different_seed_differs(workspace: Path, tmp_path: Path) -> None:
    """Another seed gives different positions and policies."""
    generate.generate_workspace(tmp_path / "other", N, seed=8)
    a, b = _digests(tmp_path / "other"), _digests(workspace)
    assert a.keys() == b.keys()
    assert a["ips/pf-00000.yaml"] != b["ips/pf-00000.yaml"]
    assert (
        a["inbox/custodian_positions_2026-09-30_01.csv"]
        != b["inbox/custodian_positions_2026-09-30_01.csv"]
    )


def test_refuses_non_empty_folder(workspace: Path) -> None:
    """Generating into a folder that already holds files is refused."""
    with pytest.raises(FileExistsError):
        generate.generate_workspace(workspace, 1)


def test_no_lots(tmp_path: Path) -> None:
    """With lots=False only positions are written, and the stats say so."""
    stats = generate.generate_workspace(tmp_path / "ws", 5, lots=False)
    assert stats.lots == 0 and stats.portfolios == 5
    assert not list((tmp_path / "ws/inbox").glob("*lots*"))


def test_identifier_check_digits() -> None:
    """CUSIP and ISIN check digits follow the standard rules (Apple: 037833100, US0378331005)."""
    body = np.array([[0, 3, 7, 8, 3, 3, 1, 0]])
    assert generate._check_digits(body, cusip=True).tolist() == [0]
    isin = np.array([[3, 0, 2, 8, 0, 3, 7, 8, 3, 3, 1, 0, 0]])
    assert generate._check_digits(isin, cusip=False).tolist() == [5]
