"""The ``execution:`` section and the flags that override it (issue #13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ballast.config import execution_for, load_execution
from ballast.errors import BallastError


def _yaml(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "ballast.yaml").write_text(text, encoding="utf-8")
    return root


def test_defaults_are_local_shards_of_2500(tmp_path: Path) -> None:
    cfg = load_execution(tmp_path)
    assert (cfg.executor, cfg.address, cfg.shard_size) == ("local", None, 2500)


def test_the_file_names_a_scheduler(tmp_path: Path) -> None:
    root = _yaml(tmp_path, "execution:\n  executor: dask\n  address: tcp://10.0.0.5:8786\n")
    cfg = execution_for(root)
    assert (cfg.executor, cfg.address) == ("dask", "tcp://10.0.0.5:8786")


@pytest.mark.parametrize(
    ("executor", "address", "expected"),
    [
        (None, "tcp://127.0.0.1:8786", ("dask", "tcp://127.0.0.1:8786")),  # an address: dask
        ("dask", None, ("dask", None)),  # a local cluster
        ("local", None, ("local", None)),
        (None, "[::1]:8786", ("dask", "[::1]:8786")),
        (None, "tls://sched.example.com:8786", ("dask", "tls://sched.example.com:8786")),
    ],
)
def test_flags_win_over_the_file(
    tmp_path: Path, executor: str | None, address: str | None, expected: tuple
) -> None:
    root = _yaml(tmp_path, "execution:\n  shard_size: 7\n")
    cfg = execution_for(root, None, executor, address)
    assert (cfg.executor, cfg.address) == expected and cfg.shard_size == 7


@pytest.mark.parametrize(
    ("executor", "address", "message"),
    [
        (None, "http://x", "execution address: 'http://x' is not a scheduler address"),
        (None, "tcp://host", "execution address: 'tcp://host' is not a scheduler address"),
        ("ray", None, "execution executor: Input should be 'local' or 'dask'"),
    ],
)
def test_a_bad_flag_is_one_line(
    tmp_path: Path, executor: str | None, address: str | None, message: str
) -> None:
    with pytest.raises(BallastError) as caught:
        execution_for(tmp_path, None, executor, address)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_a_bad_file_names_the_file_and_field(tmp_path: Path) -> None:
    root = _yaml(tmp_path, "execution:\n  executor: spark\n")
    with pytest.raises(BallastError) as caught:
        load_execution(root)
    assert "ballast.yaml: field execution.executor:" in str(caught.value)
