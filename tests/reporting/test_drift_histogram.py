"""The index's drift histogram, counted in Polars on scaled integers, against the definition
written out with ``Decimal`` one drift at a time: the same cap, bin width and counts for
drifts of any scale, ties, outliers past twice the 99th percentile, widths past the largest
step, and texts in exponent form."""

from __future__ import annotations

import random
from decimal import ROUND_CEILING, Decimal
from typing import Any

import pytest

from ballast.reporting.charts import DD_MAX_BINS, drift_frame, drift_histogram

_STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000)


def _reference(drifts: list[tuple[Any, bool]]) -> tuple[str, str, list[list[int]]] | None:
    """(bin width, top, [count, breached] per bin) by the definition: nearest-rank 99th
    percentile cap, a round width, ``|d| // width`` per drift."""
    pairs = [(Decimal(str(v)), bool(b)) for v, b in drifts if v is not None]
    if not pairs:
        return None
    values = sorted(abs(d) for d, _ in pairs)
    cap = values[-1]
    if len(values) >= 100:
        p99 = values[-(-99 * len(values) // 100) - 1]
        cap = p99 if cap > 2 * p99 else cap
    width = next((Decimal(s) for s in _STEPS if cap / s < DD_MAX_BINS - 1), None)
    if width is None:
        width = (cap / (DD_MAX_BINS - 1) / 10000).to_integral_value(ROUND_CEILING) * 10000
    n_regular = int(cap // width) + 1
    counts = [[0, 0] for _ in range(n_regular + 1)]
    for d, out in pairs:
        k = min(int(abs(d) // width), n_regular)
        counts[k][0] += 1
        counts[k][1] += out
    if counts[-1][0] == 0:
        counts.pop()
    return str(width), str(n_regular * width), counts


def _drifts(rng: random.Random, n: int, scale: int, outliers: int) -> list[tuple[Any, bool]]:
    out: list[tuple[Any, bool]] = []
    for _ in range(n):
        value = Decimal(rng.randint(0, 120_000)).scaleb(-scale)
        out.append((str(value), rng.random() < 0.3))
    for _ in range(outliers):
        out.append((str(Decimal(rng.randint(10**6, 10**9)).scaleb(-scale)), True))
    out += [(None, False)] * rng.randint(0, 3)  # data-invalid portfolios
    rng.shuffle(out)
    return out


@pytest.mark.parametrize("seed", range(12))
def test_counts_as_decimal_does(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.choice([1, 5, 99, 100, 101, 250, 1000])
    drifts = _drifts(rng, n, scale=rng.choice([0, 1, 2, 4]), outliers=rng.choice([0, 1, 3]))
    chart = drift_histogram(drifts)
    expected = _reference(drifts)
    assert chart is not None and expected is not None
    width, top, counts = expected
    assert (chart["bin_width"], chart["top"]) == (width, top)
    assert [[b["count"], b["breached"]] for b in chart["bins"]] == counts
    assert chart["n"] == sum(1 for v, _ in drifts if v is not None)
    assert chart["n_breached"] == sum(1 for v, b in drifts if v is not None and b)
    assert drift_histogram(drift_frame(drifts)) == chart  # the frame IndexFacts keeps


def test_mixed_scales_signs_and_exponent_form() -> None:
    drifts: list[tuple[Any, bool]] = [
        ("12.5", True),
        ("-40.125", False),
        ("1E+2", True),  # 100, as str(Decimal) may write it
        ("7", False),
        (3, False),
        ("0.00", False),
        ("99.999", True),
    ]
    chart = drift_histogram(drifts)
    assert chart is not None
    width, top, counts = _reference(drifts) or ("", "", [])
    assert (chart["bin_width"], chart["top"]) == (width, top) == ("5", "105")
    assert [[b["count"], b["breached"]] for b in chart["bins"]] == counts
    # 0.00, 3 | 7 | 12.5 | ... 40.125 in [40, 45) | 99.999 in [95, 100) | 100 in [100, 105)
    assert counts[0] == [2, 0] and counts[8] == [1, 0] and counts[19:] == [[1, 1], [1, 1]]


def test_ties_at_the_cap_and_a_width_past_the_steps() -> None:
    drifts = [("250000.00", False), ("250000", True), ("1.5", False)]
    chart = drift_histogram(drifts)
    assert chart is not None
    assert (chart["bin_width"], chart["top"]) == _reference(drifts)[:2]  # type: ignore[index]
    assert chart["bin_width"] == "20000"  # 250,000 / 23 bins, rounded up to a 10,000
