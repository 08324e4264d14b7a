"""IPS files parsed ahead (while a command waits for its Prefect server) change nothing the
review reads: a policy parsed ahead is taken only for the same path, bytes and models, once;
a file changed in between is parsed again; what is not taken is dropped."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from ballast.errors import PolicyError
from ballast.portfolio import models as model_files
from ballast.portfolio import policy as policy_module
from ballast.portfolio import policy_cache
from ballast.portfolio.policy import clear_loaded, load_policy, parse_ahead
from ballast.portfolio.policy_set import load_policies
from ballast.portfolio.read_ahead import ReadAhead
from ballast.workspace import Workspace
from tests.portfolio.test_policy_loading import SEED


@pytest.fixture(autouse=True)
def _nothing_kept() -> None:
    clear_loaded()


def test_parsed_ahead_is_taken_once_for_the_same_bytes(tmp_path: Path) -> None:
    path = tmp_path / "seed-60-40.yaml"
    path.write_text(SEED, encoding="utf-8")
    catalog = model_files.ModelCatalog()
    assert parse_ahead(path, SEED, catalog)
    ahead = next(iter(policy_module._AHEAD.values()))
    assert load_policy(path, SEED, catalog) is ahead  # taken, not parsed again
    assert policy_module._AHEAD == {}


def test_changed_bytes_or_models_are_parsed_again(tmp_path: Path) -> None:
    path = tmp_path / "seed-60-40.yaml"
    catalog = model_files.ModelCatalog()
    parse_ahead(path, SEED, catalog)
    ahead = next(iter(policy_module._AHEAD.values()))
    changed = SEED.replace("60%", "55%").replace("40%", "45%")
    policy = load_policy(path, changed, catalog)
    assert policy is not ahead
    assert str(policy.asset_classes["global_equity"].target) == "0.55"
    other_models = model_files.ModelCatalog(unreadable={"m": "gone"})
    assert load_policy(path, SEED, other_models) is not ahead
    assert len(policy_module._AHEAD) == 1  # still there, for these bytes and models only


def test_a_refusal_parsed_ahead_is_the_same_refusal(tmp_path: Path) -> None:
    path = tmp_path / "seed-60-40.yaml"
    bad = SEED.replace("target: 40%", "target: 30%")
    catalog = model_files.ModelCatalog()
    parse_ahead(path, bad, catalog)
    with pytest.raises(PolicyError) as ahead:
        load_policy(path, bad, catalog)
    clear_loaded()
    with pytest.raises(PolicyError) as parsed:
        load_policy(path, bad, catalog)
    assert str(ahead.value) == str(parsed.value)
    assert "add up to 90.0%" in str(parsed.value)


def test_the_store_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy_module, "AHEAD_MAX", 1)
    catalog = model_files.ModelCatalog()
    assert parse_ahead(tmp_path / "seed-60-40.yaml", SEED, catalog)
    assert not parse_ahead(tmp_path / "other.yaml", SEED.replace("seed", "other"), catalog)
    assert len(policy_module._AHEAD) == 1


def test_a_workspace_read_ahead_gives_the_policies_read_without_it(demo_ws: Workspace) -> None:
    """Every demo IPS parsed ahead (the thread stopped once done), then the review's read takes
    them all; leaving the block drops nothing that was taken, and the set is the same as
    when nothing was parsed ahead."""
    plain = load_policies(demo_ws)
    clear_loaded()
    shutil.rmtree(policy_cache.folder(demo_ws.root))  # else the read takes the parsed set
    with ReadAhead(demo_ws) as ahead:
        ahead._thread.join()  # in a command: until its Prefect server answers
        ahead.stop()
        assert ahead.parsed == len(plain.policies) + len(plain.errors) > 0
        held = dict(policy_module._AHEAD)
        read = load_policies(demo_ws)
        assert policy_module._AHEAD == {}
    assert {p.id for p in read.policies} == {p.id for p in plain.policies}
    assert read.errors == plain.errors and read.hashes == plain.hashes
    assert all(any(p is v for v in held.values()) for p in read.policies)
    assert [p.model_dump() for p in read.policies] == [p.model_dump() for p in plain.policies]


def test_what_is_not_taken_is_dropped_on_leaving(demo_ws: Workspace) -> None:
    with ReadAhead(demo_ws) as ahead:
        ahead._thread.join()
        assert policy_module._AHEAD
    assert policy_module._AHEAD == {}


def test_a_disabled_read_ahead_reads_nothing(demo_ws: Workspace) -> None:
    with ReadAhead(demo_ws, enabled=False) as ahead:
        ahead.stop()
        assert ahead.parsed == 0 and policy_module._AHEAD == {}


def test_a_missing_ips_folder_ends_the_thread_quietly(
    demo_ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree(demo_ws.ips)
    with ReadAhead(demo_ws) as ahead:
        ahead._thread.join()
    assert ahead.parsed == 0
    assert capsys.readouterr().err == ""  # no thread traceback


def test_read_ahead_only_while_a_temporary_server_boots_for_a_local_review(
    demo_ws: Workspace,
) -> None:
    """Parsed ahead when the command launched its own server and the shards run here (files
    waiting for GX or not: GX starts in a process of its own); not against a configured server,
    nor on Dask."""
    from ballast.cli.app import _policies_ahead

    booting, configured = SimpleNamespace(server=object()), SimpleNamespace(server=None)
    assert _policies_ahead(demo_ws, booting, None, {})._enabled
    assert not _policies_ahead(demo_ws, configured, None, {})._enabled
    assert not _policies_ahead(demo_ws, booting, None, {"executor": "dask"})._enabled
    address = {"address": "tcp://127.0.0.1:8786"}
    assert not _policies_ahead(demo_ws, booting, None, address)._enabled
