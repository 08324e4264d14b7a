"""The workspace's cache of parsed IPS files (``ballast.portfolio.policy_cache``): a set of files
read again with the same bytes, models and code is taken from it, equal to a parse; a changed
byte or model is parsed again; a damaged, foreign or linked entry is a miss, never an error; a
read-only cache folder costs only the parse; the folder is kept under its size, least recently
used first. Every load here reads real files of a workspace in a tmp folder."""

from __future__ import annotations

import errno
import os
import pickle
from pathlib import Path

import pytest

from ballast.portfolio import policy_cache, policy_set
from ballast.portfolio.policy_set import PolicySet, load_policies
from ballast.workspace import Workspace
from ballast.workspace import init as init_workspace
from tests.portfolio.test_models import GROWTH_V1, GROWTH_V2, ON_MODEL, write_model
from tests.portfolio.test_policy_loading import SEED


def _ws(tmp_path: Path) -> Workspace:
    ws = init_workspace(tmp_path / "ws")
    (ws.ips / "seed-60-40.yaml").write_text(SEED, encoding="utf-8")
    (ws.ips / "p1.yaml").write_text(ON_MODEL, encoding="utf-8")
    (ws.ips / "broken.yaml").write_text("a: [1, 2\n", encoding="utf-8")
    (ws.ips / "odd name.yaml").write_text(SEED, encoding="utf-8")  # refused by its name
    write_model(ws, GROWTH_V1)
    return ws


def _as_data(pset: PolicySet) -> tuple[object, ...]:
    return (
        [p.model_dump() for p in pset.policies],
        pset.errors,
        list(pset.errors),  # order too
        pset.hashes,
        pset.texts,
        {k: (m.id, m.sha256) for k, m in pset.models.items()},
    )


def _entries(ws: Workspace) -> list[Path]:
    return sorted(policy_cache.folder(ws.root).glob("*.pickle"))


def _no_parse(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every parse of a file raise; returns the ids a parse was asked for (none, if every
    policy came from the cache)."""
    asked: list[str] = []

    def parse(path: Path, *args: object, **kwargs: object) -> None:
        asked.append(path.stem)
        raise AssertionError(f"parsed {path.name}")

    monkeypatch.setattr(policy_set, "load_policy", parse)
    return asked


def test_a_second_read_is_taken_from_the_cache_and_equals_a_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = _ws(tmp_path)
    parsed = load_policies(ws)
    assert [p.id for p in parsed.policies] == ["p1", "seed-60-40"]
    assert set(parsed.errors) == {"broken", *[k for k in parsed.errors if k.startswith("odd")]}
    assert len(_entries(ws)) == 1
    asked = _no_parse(monkeypatch)
    cached = load_policies(ws)
    assert asked == []
    assert _as_data(cached) == _as_data(parsed)
    assert [p.model_dump() for p in cached.policies] == [p.model_dump() for p in parsed.policies]


def test_a_changed_byte_or_model_is_parsed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = _ws(tmp_path)
    load_policies(ws)
    (ws.ips / "seed-60-40.yaml").write_text(SEED.replace("60%", "61%").replace("40%", "39%"))
    with monkeypatch.context() as m:
        asked = _no_parse(m)
        with pytest.raises(AssertionError):
            load_policies(ws)
        assert asked  # a parse was needed
    edited = load_policies(ws)
    seed = next(p for p in edited.policies if p.id == "seed-60-40")
    assert str(seed.asset_classes["global_equity"].target) == "0.61"
    write_model(ws, GROWTH_V2)  # the same IPS bytes, another model: parsed again
    p1 = next(p for p in load_policies(ws).policies if p.id == "p1")
    assert str(p1.asset_classes["us_equity"].target) == "0.5"
    assert len(_entries(ws)) == 3


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(path.read_bytes()[:40]),  # truncated
        lambda path: path.write_bytes(b"not a pickle at all"),
        lambda path: path.write_bytes(pickle.dumps({"policies": "foreign"})),
        lambda path: path.chmod(0o666),  # writable by others: not trusted
    ],
    ids=["truncated", "garbage", "foreign", "world-writable"],
)
def test_a_damaged_or_untrusted_entry_is_a_miss(tmp_path: Path, damage: object) -> None:
    ws = _ws(tmp_path)
    parsed = load_policies(ws)
    (entry,) = _entries(ws)
    damage(entry)  # type: ignore[operator]
    again = load_policies(ws)  # parsed, not an error
    assert _as_data(again) == _as_data(parsed)
    assert policy_cache.load(ws.root, entry.stem) is not None  # written again, and taken


def test_a_link_in_the_cache_is_never_followed(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    load_policies(ws)
    (entry,) = _entries(ws)
    target = tmp_path / "elsewhere.pickle"
    entry.rename(target)
    entry.symlink_to(target)
    assert policy_cache.load(ws.root, entry.stem) is None


def test_a_full_disk_costs_only_the_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = _ws(tmp_path)

    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(policy_cache.os, "replace", full)
    parsed = load_policies(ws)
    assert [p.id for p in parsed.policies] == ["p1", "seed-60-40"]
    assert list(policy_cache.folder(ws.root).iterdir()) == []  # no entry, no temporary file


def test_a_cache_folder_that_cannot_be_made_costs_only_the_parse(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    (ws.root / ".ballast").mkdir(exist_ok=True)
    (ws.root / ".ballast" / "cache").write_text("a file where the folder would go")
    assert [p.id for p in load_policies(ws).policies] == ["p1", "seed-60-40"]


def test_the_key_names_files_models_and_place(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    from ballast.portfolio.models import read_folder

    catalog = read_folder(ws.models)
    entries = [("a", "/w/ips/a.yaml", "00"), ("b", "/w/ips/b.yaml", "11")]
    key = policy_cache.key(entries, {}, catalog, Path("/w"))
    assert key == policy_cache.key(list(entries), {}, catalog, Path("/w"))
    assert key != policy_cache.key(entries[:1], {}, catalog, Path("/w"))
    assert key != policy_cache.key(
        [entries[0], ("b", "/w/ips/b.yaml", "12")], {}, catalog, Path("/w")
    )
    assert key != policy_cache.key(entries, {"x~1": "refused"}, catalog, Path("/w"))
    assert key != policy_cache.key(entries, {}, catalog, Path("/v"))
    write_model(ws, GROWTH_V2)
    assert key != policy_cache.key(entries, {}, read_folder(ws.models), Path("/w"))


def test_the_folder_is_pruned_least_recently_used_first(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    for i, name in enumerate(["old", "used", "new"]):
        path = folder / f"{name}.pickle"
        path.write_bytes(b"x" * 100)
        os.utime(path, ns=(10**18 + i * 10**9, 10**18 + i * 10**9))
    os.utime(folder / "used.pickle", ns=(2 * 10**18, 2 * 10**18))  # taken last
    (folder / "other.txt").write_bytes(b"y" * 1000)  # not an entry: left alone
    policy_cache.prune(folder, max_bytes=250)
    assert sorted(p.name for p in folder.iterdir()) == ["new.pickle", "other.txt", "used.pickle"]
    policy_cache.prune(folder, max_bytes=100)
    assert sorted(p.name for p in folder.iterdir()) == ["other.txt", "used.pickle"]
