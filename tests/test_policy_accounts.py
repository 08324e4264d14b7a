"""The coordinator's accounts of a shard's IPS files (issue #13): the accounts the parsed
policies name, found in the warehouse for an IPS seen before and parsed only for one that is
not (new, edited, invalid, another model file, another ballast)."""

from __future__ import annotations

import duckdb
import pytest

from ballast.cluster import policy_accounts
from ballast.cluster.policy_accounts import PolicyAccounts
from ballast.portfolio import models
from ballast.portfolio.policy_set import accounts_of, find_policies, read_policies, read_texts
from ballast.warehouse import db
from ballast.workspace import Workspace

MODEL = """\
id: growth
name: Growth 60/40
default_band: 500bp
asset_classes:
  us_equity: {target: 60%}
  ig_bonds:  {target: 40%}
"""
CLASSES = "asset_classes: {us_equity: {target: 60%}, ig_bonds: {target: 40%}}\n"


def _fund(pid: str, accounts: list[str], tail: str = CLASSES) -> str:
    listed = ", ".join(f'{{id: "{a}", tax_status: taxable}}' for a in accounts)
    return f"id: {pid}\nname: Fund {pid}\naccounts: [{listed}]\n{tail}"


def _workspace(ws: Workspace) -> None:
    (ws.models / "growth.yaml").write_text(MODEL, encoding="utf-8")
    texts = {
        "p1": _fund("p1", ["A1", "A2"]),
        "p2": _fund("p2", ["B1"], "model: growth\n"),
        "p3": _fund("p3", ["C1"]),
        "p4": "a: [1, 2\n",  # not YAML
        "p5": _fund("p5", ["E1"], "asset_classes: {us_equity: {target: 70%}}\n"),  # not 100 %
        "p6": _fund("other", ["F1"]),  # its id is not its file name
    }
    for pid, text in texts.items():
        (ws.ips / f"{pid}.yaml").write_text(text, encoding="utf-8")


def _lookup(con: duckdb.DuckDBPyConnection, ws: Workspace) -> tuple[list[str], int]:
    """The accounts, and how many IPS files were parsed to find them."""
    cache = PolicyAccounts(con, models.read_folder(ws.models), ws.root)
    found = cache.accounts(read_texts(ws, find_policies(ws)))
    return found, cache.parsed


def _parsed(ws: Workspace) -> list[str]:
    """The reference: every IPS parsed and validated, as a local review does."""
    return accounts_of(read_policies(ws, find_policies(ws)))


def test_an_ips_seen_before_is_not_parsed_again(empty_ws: Workspace) -> None:
    _workspace(empty_ws)
    with db.connect(empty_ws.warehouse) as con:
        assert _lookup(con, empty_ws) == (["A1", "A2", "B1", "C1"], 6)
        assert _parsed(empty_ws) == ["A1", "A2", "B1", "C1"]
        # the three invalid files are never kept: they are parsed each time
        assert _lookup(con, empty_ws) == (["A1", "A2", "B1", "C1"], 3)
        kept = con.execute("select count(*) from policy_accounts").fetchall()
        assert kept == [(4,)]


def test_an_edited_ips_is_parsed_again(empty_ws: Workspace) -> None:
    _workspace(empty_ws)
    with db.connect(empty_ws.warehouse) as con:
        _lookup(con, empty_ws)
        (empty_ws.ips / "p3.yaml").write_text(_fund("p3", ["C9", "C2"]), encoding="utf-8")
        (empty_ws.ips / "p5.yaml").write_text(_fund("p5", ["E1"]), encoding="utf-8")  # mended
        assert _parsed(empty_ws) == ["A1", "A2", "B1", "C2", "C9", "E1"]
        assert _lookup(con, empty_ws) == (["A1", "A2", "B1", "C2", "C9", "E1"], 4)
        assert _lookup(con, empty_ws) == (["A1", "A2", "B1", "C2", "C9", "E1"], 2)


def test_another_model_file_or_code_parses_every_ips_again(
    empty_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model file decides whether an IPS on it is valid, and ballast's code what any IPS
    may say: either changed, nothing kept before is used, and it is dropped at the next write."""
    _workspace(empty_ws)
    with db.connect(empty_ws.warehouse) as con:
        _lookup(con, empty_ws)
        broken = MODEL.replace("40%", "30%")  # 90 %: p2, on this model, is no longer valid
        (empty_ws.models / "growth.yaml").write_text(broken, encoding="utf-8")
        assert _parsed(empty_ws) == ["A1", "A2", "C1"]
        assert _lookup(con, empty_ws) == (["A1", "A2", "C1"], 6)
        contexts = con.execute("select count(distinct context) from policy_accounts").fetchall()
        assert contexts == [(1,)]  # the rows kept with the first model file are gone

        monkeypatch.setattr(policy_accounts, "code_digest", lambda: "another ballast")
        assert _lookup(con, empty_ws) == (["A1", "A2", "C1"], 6)
        assert _lookup(con, empty_ws) == (["A1", "A2", "C1"], 4)  # p2 is invalid now


def test_kept_rows_deleted_or_added_cost_only_a_parse(empty_ws: Workspace) -> None:
    _workspace(empty_ws)
    with db.connect(empty_ws.warehouse) as con:
        _lookup(con, empty_ws)
        con.execute("delete from policy_accounts where account_id = 'A2'")  # p1 keeps A1
        con.execute(
            "insert into policy_accounts select context, portfolio_id, ips_sha256, 'X9', accounts"
            " from policy_accounts where portfolio_id = 'p3'"
        )
        assert _lookup(con, empty_ws) == (["A1", "A2", "B1", "C1"], 5)  # p1, p3, three invalid
        assert _lookup(con, empty_ws) == (["A1", "A2", "B1", "C1"], 3)
        kept = con.execute("select count(*) from policy_accounts").fetchall()
        assert kept == [(4,)]


def test_a_shard_wholly_unknown_is_kept_for_its_worker(
    empty_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``policy_cache`` (a local review's shard workers share this disk), a shard none of
    whose files is known is parsed through the workspace's cache of parsed IPS files: its
    worker then takes the policies from there instead of parsing them again."""
    from ballast.portfolio import policy_cache, policy_set

    _workspace(empty_ws)
    catalog = models.read_folder(empty_ws.models)
    read = read_texts(empty_ws, find_policies(empty_ws))
    with db.connect(empty_ws.warehouse) as con:
        cache = PolicyAccounts(con, catalog, empty_ws.root, policy_cache=True)
        assert cache.accounts(read) == ["A1", "A2", "B1", "C1"] and cache.parsed == 6
    assert len(list(policy_cache.folder(empty_ws.root).glob("*.pickle"))) == 1

    def no_parse(*args: object) -> None:
        raise AssertionError("parsed again")

    monkeypatch.setattr(policy_set, "parse_texts", no_parse)
    kept = policy_set.parse_cached(read, catalog, empty_ws.root)  # what the worker does
    monkeypatch.undo()
    assert kept == policy_set.parse_texts(read, catalog, empty_ws.root)


def test_without_the_cache_nothing_is_kept_on_disk(empty_ws: Workspace) -> None:
    """On a cluster whose workers do not share this disk, nothing goes to the cache."""
    from ballast.portfolio import policy_cache

    _workspace(empty_ws)
    with db.connect(empty_ws.warehouse) as con:
        _lookup(con, empty_ws)
    assert not policy_cache.folder(empty_ws.root).exists()


def test_accounts_offered_by_a_worker_are_kept_as_if_parsed_here(empty_ws: Workspace) -> None:
    """The rows of a shard worker that parsed the files ahead (``kept_rows``) spare the
    coordinator's parse; rows of another context (other models or code) are not taken."""
    from ballast.portfolio.policy_set import parse_texts

    _workspace(empty_ws)
    catalog = models.read_folder(empty_ws.models)
    read = read_texts(empty_ws, find_policies(empty_ws))
    parsed = parse_texts(read, catalog, empty_ws.root)
    rows = policy_accounts.kept_rows(parsed, policy_accounts.context(catalog))
    with db.connect(empty_ws.warehouse) as con:
        stale = PolicyAccounts(con, catalog, empty_ws.root)
        stale.offer([("another context", *row[1:]) for row in rows])
        assert stale.accounts(read) == _parsed(empty_ws) and stale.parsed == 6
        con.execute("delete from policy_accounts")
        offered = PolicyAccounts(con, catalog, empty_ws.root)
        offered.offer(rows)
        assert offered.accounts(read) == _parsed(empty_ws)
        assert offered.parsed == 3  # only the three invalid files, which are never kept
