"""Solving the programmes with HiGHS (scipy): whole shares by branch and bound, many portfolios in
a process pool."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from ballast.trading.optimizer import weights
from ballast.trading.optimizer.programme import LP


def solve_one(lp: LP) -> np.ndarray:
    """HiGHS on one portfolio: branch and bound for whole shares (at most ``weights.MIP_NODE_LIMIT``
    nodes; the LP relaxation, rounded afterwards, when it finds no integer solution within them);
    NaN everywhere if even that fails (reported, no trades). Deterministic: the same programme
    gives the same answer whatever the machine's load (no time limit anywhere)."""
    if lp.c.size == 0:
        return np.zeros(0)
    if lp.integrality is not None:
        x = _branch_and_bound(lp)
        if x is not None:
            return x
    n_ineq = lp.b.size if lp.n_ineq < 0 else lp.n_ineq
    a = lp.a.tocsr()
    res = linprog(
        lp.c,
        A_ub=a[:n_ineq] if n_ineq else None,
        b_ub=lp.b[:n_ineq] if n_ineq else None,
        A_eq=a[n_ineq:] if lp.b.size > n_ineq else None,
        b_eq=lp.b[n_ineq:] if lp.b.size > n_ineq else None,
        bounds=np.column_stack([np.zeros_like(lp.ub), lp.ub]),
        method="highs",
    )
    return res.x if res.status == 0 else np.full_like(lp.c, np.nan)


def _branch_and_bound(lp: LP) -> np.ndarray | None:
    """The whole-share programme with HiGHS's MILP, or None when it finds no integer solution.

    The objective (a fraction of the portfolio's total, near zero) gets a constant 1 from one
    extra variable fixed at 1, so that the relative gap ``weights.MIP_GAP`` is a gap of that
    fraction of the portfolio's value. Presolve is off: it saves nothing on programmes this
    small. At the node limit the best whole-share solution found so far is used.

    No ``time_limit``: a limit in seconds made the answer depend on the machine's load (the
    benchmark's 1,000 households gave from 4,643 to 4,672 trades from one run to the next).
    The node limit is a count of work, and the rest of HiGHS's search is deterministic too:
    its ``random_seed`` stays at the default 0, and its answer does not depend on ``threads``
    (checked: the benchmark's 635 programmes solved with 1 and 4 threads give bit-identical
    solutions), so neither is set here (scipy would warn about options it does not know)."""
    lower = np.full(lp.b.size, -np.inf)
    lower[lp.n_ineq :] = 0.0
    a = sparse.hstack([lp.a, sparse.csr_matrix((lp.b.size, 1))]).tocsr()
    integral = lp.integrality if lp.integrality is not None else np.zeros(lp.ub.size)
    with _stdout_silenced():
        res = milp(
            np.append(lp.c, 1.0),
            integrality=np.append(integral, 0),
            bounds=Bounds(np.append(np.zeros_like(lp.ub), 1.0), np.append(lp.ub, 1.0)),
            constraints=LinearConstraint(a, lower, lp.b),
            options={
                "node_limit": weights.MIP_NODE_LIMIT,
                "mip_rel_gap": weights.MIP_GAP,
                "presolve": False,
            },
        )
    return None if res.x is None else res.x[:-1]


@contextlib.contextmanager
def _stdout_silenced() -> Iterator[None]:
    """File descriptor 1 to /dev/null: HiGHS's MIP heuristics print stray debug lines from C++
    (``HighsMipSolverData::transformNewIntegerFeasibleSolution``) that ``disp`` cannot stop."""
    with _STDOUT_LOCK:  # threads (shards) must not interleave the save and the restore
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 1)
                yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


_STDOUT_LOCK = threading.Lock()


def _solve_chunk(lps: list[LP]) -> list[np.ndarray]:
    return [solve_one(lp) for lp in lps]


def solve_all(lps: list[LP], workers: int | None = None) -> list[np.ndarray]:
    """Solve every programme, in a process pool when there are many.

    The answer does not depend on ``workers``: each programme is solved alone (a fresh HiGHS
    instance, deterministic limits) and the solutions come back in the order of ``lps``."""
    workers = workers or min(len(os.sched_getaffinity(0)), 8)
    if len(lps) < weights.PARALLEL_MIN or workers < 2:
        return _solve_chunk(lps)
    chunks = [lps[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        solved = list(pool.map(_solve_chunk, chunks))
    out: list[np.ndarray] = [np.zeros(0)] * len(lps)
    for w, xs in enumerate(solved):
        for j, x in enumerate(xs):
            out[w + j * workers] = x
    return out


# --- from solution to trades ----------------------------------------------------------------
