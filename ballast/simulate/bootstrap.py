"""Simulated futures: a block bootstrap of history and a parametric (lognormal) model.

Both return an array of shape (months, paths, series), every series drawn jointly so their
correlation is kept. The block bootstrap copies runs of consecutive historical months (circular:
a block may wrap from the last month to the first), which keeps autocorrelation within a block and
the fat tails of history. The parametric model draws monthly log returns from a multivariate
normal with the historical mean and covariance (or overridden annual means and volatilities).
"""

from __future__ import annotations

import numpy as np

from ballast.errors import BallastError


def block_bootstrap(
    returns: np.ndarray, months: int, paths: int, block: int, rng: np.random.Generator
) -> np.ndarray:
    """Circular block bootstrap of ``returns`` (N, M) → (months, paths, M)."""
    n = returns.shape[0]
    if not 1 <= block <= n:
        raise BallastError(f"block length must be between 1 and {n} months, got {block}")
    n_blocks = -(-months // block)
    starts = rng.integers(0, n, size=(paths, n_blocks))
    idx = (starts[:, :, None] + np.arange(block)).reshape(paths, -1)[:, :months] % n
    return np.ascontiguousarray(returns[idx.T])


def fit_lognormal(returns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Monthly mean vector and covariance matrix of ``log(1 + r)``."""
    logs = np.log1p(returns)
    return logs.mean(0), np.atleast_2d(np.cov(logs, rowvar=False))


def parametric(
    returns: np.ndarray,
    months: int,
    paths: int,
    rng: np.random.Generator,
    annual_mean: dict[int, float] | None = None,
    annual_vol: dict[int, float] | None = None,
) -> np.ndarray:
    """Multivariate lognormal paths (months, paths, M) fitted to ``returns``.

    ``annual_mean`` / ``annual_vol`` (by series index) override the fitted annual log mean
    and volatility of a series; correlations stay as fitted.
    """
    mu, cov = fit_lognormal(returns)
    vol = np.sqrt(np.diag(cov))
    corr = cov / np.outer(vol, vol)
    for j, m in (annual_mean or {}).items():
        mu[j] = m / 12.0
    for j, s in (annual_vol or {}).items():
        if s < 0:
            raise BallastError(f"a volatility must not be negative, got {s}")
        vol[j] = s / np.sqrt(12.0)
    cov = corr * np.outer(vol, vol)
    chol = np.linalg.cholesky(cov + 1e-18 * np.eye(len(mu)))
    z = rng.standard_normal((months, paths, len(mu)))
    return np.expm1(mu + z @ chol.T)
