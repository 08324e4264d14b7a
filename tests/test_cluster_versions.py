"""Workers must run the coordinator's code (issue 13): the fingerprint and its comparison."""

from __future__ import annotations

import pytest

import ballast
from ballast.cluster import versions


def test_fingerprint_names_python_ballast_its_code_and_the_libraries() -> None:
    fp = versions.fingerprint()
    assert list(fp) == ["python", "ballast", "ballast code", *versions.LIBRARIES]
    assert fp["ballast"] == ballast.__version__
    assert len(fp["ballast code"]) == 12 and int(fp["ballast code"], 16) >= 0
    assert all(fp[name] != "absent" for name in versions.LIBRARIES)  # all installed here
    assert versions.fingerprint() == fp  # the same process, the same answer


def test_mismatches_name_each_worker_and_what_differs() -> None:
    local = {"python": "3.11", "ballast": "0.1.0", "polars": "2.1.0"}
    workers = {
        "tcp://10.0.0.2:40001": {"python": "3.11", "ballast": "0.1.0", "polars": "2.0.0"},
        "tcp://10.0.0.1:40001": dict(local),
        "tcp://10.0.0.3:40001": {"python": "3.12", "ballast": "0.1.0"},
    }
    assert versions.mismatches(local, workers) == [
        "tcp://10.0.0.2:40001: polars 2.0.0, not 2.1.0",
        "tcp://10.0.0.3:40001: python 3.12, not 3.11, polars absent, not 2.1.0",
    ]
    assert versions.mismatches(local, {"tcp://10.0.0.1:40001": dict(local)}) == []


def test_a_shard_on_a_worker_with_other_code_is_a_data_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not transient (Prefect does not retry a ValueError): the shard's portfolios are reported
    invalid with this reason, as any shard that fails on its data."""
    expected = versions.fingerprint()
    versions.check_worker(expected)  # the same code: no error
    monkeypatch.setattr(ballast, "__version__", "0.0.9")
    with pytest.raises(versions.CodeMismatch, match=r"this worker: ballast 0\.0\.9, not ") as err:
        versions.check_worker(expected)
    assert isinstance(err.value, ValueError)
