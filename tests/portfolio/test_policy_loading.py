"""Loading IPS files fast changes nothing they mean: the YAML shortcut gives what PyYAML gives,
the per-process cache gives the same policy or the same error, and the cycle collector is back
as it was after a load (speed is measured by ``benchmarks/bench_ips.py``, not here)."""

from __future__ import annotations

import gc
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from ballast.errors import PolicyError
from ballast.portfolio import policy as policy_module
from ballast.portfolio import policy_cache
from ballast.portfolio.policy import Restrictions, TradingPolicy, clear_loaded, load_policy
from ballast.portfolio.policy_set import load_policies
from ballast.resources import examples_dir
from ballast.workspace import Workspace
from ballast.workspace import init as init_workspace

SAFE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

SEED = """\
id: seed-60-40
name: Balanced Institutional Portfolio
accounts:
  - {id: "INST-001", tax_status: tax_exempt}
asset_classes:
  global_equity: {target: 60%}
  ig_bonds:      {target: 40%, band: 500bp}
"""

DOCUMENTS = [
    "",
    "# only a comment\n",
    "just text",
    "- 1\n- '1'\n- \"1\"\n- !!str 1\n- 1.5\n- 1e3\n- 0x1F\n- 0o17\n- 1_000\n- +12\n- -0\n",
    "- yes\n- No\n- on\n- OFF\n- true\n- 'true'\n- ~\n- null\n- Null\n- ''\n",
    "- .nan\n- .inf\n- -.Inf\n- 60%\n- 250bp\n- 5/25\n- $250,000\n",
    "a: 1\na: 2\n",
    "1: int key\n1.5: float key\ntrue: bool key\n~: null key\n'1': str key\n",
    "x: &anchor {a: 1}\ny: *anchor\n",
    "base: &b {a: 1, b: 2}\nderived:\n  <<: *b\n  b: 3\n",
    "when: 2026-09-30\nstamp: 2001-12-14t21:59:43.10-05:00\n",
    "s: !!set {a, b}\nbin: !!binary aGVsbG8=\n",
    "pairs: !!omap [{a: 1}, {b: 2}]\n",
    "explicit: !!map {a: !!int '7', b: !!float '2', c: !!bool 'yes', d: !!null 'x'}\n",
    "= : value key\n",
    "? [a, b]\n: unhashable key\n",
    "? {a: 1}\n: unhashable key\n",
    "tagged: !custom thing\n",
    "bad: !!int nope\n",
    "bad: !!bool maybe\n",
    "one\n---\ntwo\n",
    "a: [1, 2\n",
    "a: b: c\n",
    "  - : [\n",
    "text: |\n  kept\n  lines\nfolded: >\n  one\n  two\n",
    'nested: [[1, [2, {x: [3]}]], {k: {kk: [true, null]}}]\nunicode: "caf\\u00e9 ✓"\n',
    SEED,
]


def _same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (1 is not 1.0 is not True), and key order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(map(repr, a)) == list(map(repr, b)) and all(
            _same(ka, kb) and _same(a[ka], b[kb]) for ka, kb in zip(a, b, strict=True)
        )
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def _outcome(parse: Any, text: str) -> tuple[str, Any]:
    try:
        return "value", parse(text)
    except Exception as exc:
        return "error", (type(exc), str(exc))


@pytest.mark.parametrize("text", DOCUMENTS)
def test_parse_yaml_is_pyyaml_safe_load(text: str) -> None:
    """Every document, plain or not, valid or not: the same value (types included) or the
    same exception with the same message as ``yaml.load`` with the safe loader."""
    for _ in range(2):  # the second time with the resolver's memo warm
        ours = _outcome(policy_module._parse_yaml, text)
        theirs = _outcome(lambda t: yaml.load(t, Loader=SAFE), text)
        assert ours[0] == theirs[0], (ours, theirs)
        assert _same(ours[1], theirs[1]), (ours, theirs)


def test_parse_yaml_on_the_bundled_examples() -> None:
    """The example IPS files parse to exactly what PyYAML gives."""
    for path in sorted((examples_dir() / "demo" / "ips").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert _same(policy_module._parse_yaml(text), yaml.load(text, Loader=SAFE)), path


def test_same_file_twice_is_the_same_policy(tmp_path: Path) -> None:
    """Same path, same bytes: the very same (frozen) policy, not parsed again; changed bytes:
    parsed again."""
    path = tmp_path / "seed-60-40.yaml"
    path.write_text(SEED, encoding="utf-8")
    first = load_policy(path)
    assert load_policy(path) is first
    assert load_policy(path, SEED) is first
    path.write_text(SEED.replace("60%", "55%").replace("40%", "45%"), encoding="utf-8")
    changed = load_policy(path)
    assert changed is not first
    assert str(changed.asset_classes["global_equity"].target) == "0.55"
    clear_loaded()
    again = load_policy(path)
    assert again is not changed and again == changed


def test_cached_errors_are_the_same_errors(tmp_path: Path) -> None:
    """A refused file gives the same message every time; the same bytes at another path name
    that path."""
    bad = SEED.replace("target: 40%", "target: 30%")
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    messages = []
    for folder in (one, one, two):
        path = folder / "seed-60-40.yaml"
        path.write_text(bad, encoding="utf-8")
        with pytest.raises(PolicyError) as info:
            load_policy(path)
        messages.append(str(info.value))
    expected = "field (top level): asset class targets add up to 90.0%, not 100%"
    assert messages[0] == messages[1] == f"{one / 'seed-60-40.yaml'}: {expected}"
    assert messages[2] == f"{two / 'seed-60-40.yaml'}: {expected}"


def test_cached_id_check_follows_the_path(tmp_path: Path) -> None:
    """The same bytes under another file name are refused for their id, not taken from the cache."""
    good = tmp_path / "seed-60-40.yaml"
    good.write_text(SEED, encoding="utf-8")
    load_policy(good)
    other = tmp_path / "other.yaml"
    other.write_text(SEED, encoding="utf-8")
    with pytest.raises(PolicyError, match=r"other.yaml: field id: 'seed-60-40' differs"):
        load_policy(other)


def test_omitted_sections_get_their_defaults(tmp_path: Path) -> None:
    """Trading and restrictions (built by factories, not copied) default as before, each policy
    with its own."""
    path = tmp_path / "seed-60-40.yaml"
    path.write_text(SEED, encoding="utf-8")
    p = load_policy(path)
    q = load_policy(path, SEED + "# another version\n")
    assert p.trading == TradingPolicy() and p.restrictions == Restrictions()
    assert p.trading.cost_bp == {} and p.restrictions.do_not_sell == []
    assert p.trading.cost_bp is not q.trading.cost_bp
    assert p.restrictions.do_not_sell is not q.restrictions.do_not_sell


@pytest.mark.parametrize("enabled", [True, False])
def test_load_policies_leaves_the_collector_as_it_was(
    tmp_path: Path, enabled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The collector is paused during a load and left as it was found, error or not."""
    ws = init_workspace(tmp_path / "ws")
    (ws.ips / "seed-60-40.yaml").write_text(SEED, encoding="utf-8")
    (ws.ips / "broken.yaml").write_text("a: [1, 2\n", encoding="utf-8")
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        pset = load_policies(Workspace(ws.root))
        assert gc.isenabled() is enabled
        assert [p.id for p in pset.policies] == ["seed-60-40"]
        assert pset.errors == {"broken": "ips/broken.yaml, line 2: not valid YAML"}
        (ws.ips / "folder.yaml").mkdir()  # not a regular file: refused, not read
        pset = load_policies(Workspace(ws.root))
        assert pset.errors["folder"] == "ips/folder.yaml: a folder, not a regular file: not read"
        assert gc.isenabled() is enabled

        def crash(*args: object, **kwargs: object) -> None:
            raise RuntimeError("unexpected")

        monkeypatch.setattr("ballast.portfolio.policy_set.load_policy", crash)
        shutil.rmtree(policy_cache.folder(ws.root))  # parsed again, not taken from the cache
        with pytest.raises(RuntimeError):  # an unexpected error still leaves it as it was
            load_policies(Workspace(ws.root))
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()
