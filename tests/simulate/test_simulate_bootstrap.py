"""Tests of ballast.simulate.bootstrap: block bootstrap and parametric paths."""

from __future__ import annotations

import numpy as np
import pytest

from ballast.errors import BallastError
from ballast.simulate.bootstrap import block_bootstrap, parametric


def test_blocks_are_runs_of_consecutive_months():
    """Each 12-month block copies consecutive history rows, wrapping at the end."""
    hist = np.arange(100, dtype=float)[:, None] * np.array([1.0, -1.0])
    out = block_bootstrap(hist, 36, 5, 12, np.random.default_rng(0))
    assert out.shape == (36, 5, 2)
    assert np.array_equal(out[:, :, 1], -out[:, :, 0])  # series drawn jointly
    for p in range(5):
        for b in range(3):
            run = out[b * 12 : (b + 1) * 12, p, 0]
            assert np.all(np.diff(run) % 100 == 1)


def test_same_seed_same_paths():
    """Reproducible with a seed; a different seed differs."""
    hist = np.random.default_rng(1).normal(size=(200, 3))
    a = block_bootstrap(hist, 50, 10, 6, np.random.default_rng(7))
    b = block_bootstrap(hist, 50, 10, 6, np.random.default_rng(7))
    c = block_bootstrap(hist, 50, 10, 6, np.random.default_rng(8))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_block_longer_than_history_is_refused():
    """A block cannot exceed the history."""
    with pytest.raises(BallastError):
        block_bootstrap(np.zeros((10, 1)), 20, 1, 11, np.random.default_rng(0))


def test_parametric_matches_the_fitted_moments():
    """Lognormal draws keep the historical log mean and correlation."""
    rng = np.random.default_rng(2)
    hist = np.expm1(
        rng.multivariate_normal([0.008, 0.003], [[0.002, 0.0003], [0.0003, 0.0004]], size=600)
    )
    out = parametric(hist, 240, 200, np.random.default_rng(3))
    logs = np.log1p(out).reshape(-1, 2)
    assert logs.mean(0) == pytest.approx(np.log1p(hist).mean(0), abs=4e-4)
    assert np.corrcoef(logs.T)[0, 1] == pytest.approx(np.corrcoef(np.log1p(hist).T)[0, 1], abs=0.02)


def test_parametric_overrides():
    """An annual mean and volatility override applies to that series."""
    hist = np.random.default_rng(4).normal(0.01, 0.05, size=(300, 2))
    out = parametric(hist, 120, 300, np.random.default_rng(5), {0: 0.06}, {0: 0.12})
    logs = np.log1p(out[:, :, 0]).ravel()
    assert logs.mean() * 12 == pytest.approx(0.06, abs=0.01)
    assert logs.std() * np.sqrt(12) == pytest.approx(0.12, abs=0.005)
