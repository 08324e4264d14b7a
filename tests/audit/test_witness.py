"""The witness (issue 11 item 4): an Ed25519 key outside the workspace, ``ballast audit keygen``
and ``anchor``, signed anchors in a folder the workspace does not own, and ``verify`` holding
the chain to them, so a consistent rewrite of the whole chain and ``audit/head`` is caught."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
from pathlib import Path

import duckdb
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ballast.audit import anchoring, witness
from ballast.audit import chain as audit
from ballast.errors import BallastError
from ballast.warehouse import db
from ballast.workspace import Workspace
from tests.audit.test_tamper import AS_OF, forge_approver, report, rewrite_chain
from tests.conftest import copy_demo
from tests.support.audit_cli import cli

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> tuple[Path, Path]:
    """One key pair, made by ``ballast audit keygen`` in a folder outside any workspace."""
    folder = tmp_path_factory.mktemp("keys") / "ballast"
    done = cli("audit", "keygen", str(folder))
    assert done.exit_code == 0, done.output
    return folder / witness.KEY_NAME, folder / witness.PUBLIC_NAME


def configure(ws: Workspace, witness_folder: Path, key: Path, after_run: bool = False) -> None:
    cfg = {"witness": {"path": str(witness_folder), "key": str(key), "after_run": after_run}}
    (ws.root / "ballast.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory, prefect_harness, keys) -> tuple[Workspace, Path, str]:
    """A real review of the demo with the witness configured to anchor after each run, and an
    approval (anchored by hand): the workspace, its witness folder and the run id."""
    from ballast.flows.review import quarterly_review

    from ballast.audit import approvals

    base = tmp_path_factory.mktemp("witnessed")
    ws, folder = copy_demo(base / "ws"), base / "witness"
    configure(ws, folder, keys[0], after_run=True)
    run_id = quarterly_review(workspace=str(ws.root), as_of=AS_OF)["run_id"]
    with db.connect(ws.warehouse) as con:
        approvals.record_approval(con, ws, run_id, "seed-60-40", by="Jane", note=None, actor="t")
    done = cli("audit", "anchor", "-w", str(ws.root))
    assert done.exit_code == 0, done.output
    return ws, folder, run_id


@pytest.fixture
def ws(reviewed, tmp_path) -> Workspace:
    """A private copy of the workspace; its ballast.yaml still names the shared witness, which
    the tests only read (a test that anchors gets a witness of its own)."""
    shutil.copytree(reviewed[0].root, tmp_path / "ws")
    return Workspace(tmp_path / "ws")


def anchors(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def last_seq(ws: Workspace) -> int:
    with db.connect(ws.warehouse) as con:
        return audit.rows(con)[-1]["seq"]


def test_keygen_makes_a_key_pair_kept_private(keys, tmp_path) -> None:
    private, public = keys
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in private.read_bytes() and b"PUBLIC KEY" in public.read_bytes()
    again = cli("audit", "keygen", str(private.parent))
    assert isinstance(again.exception, BallastError) and "already exists" in str(again.exception)
    inside = copy_demo(tmp_path / "ws")
    refused = cli("audit", "keygen", str(inside.root / "keys"))
    assert isinstance(refused.exception, BallastError)
    assert "keep the key outside it" in str(refused.exception)
    assert not (inside.root / "keys").exists()


def test_after_run_and_anchor_write_signed_anchors(reviewed, keys) -> None:
    """After the run (``after_run``) and after ``ballast audit anchor``: one read-only file per
    head, in the documented format, whose signature the public key verifies."""
    ws, folder, _ = reviewed
    found = anchors(folder)
    assert [a["seq"] for a in found] == [last_seq(ws) - 1, last_seq(ws)]  # run_finished, approval
    public = serialization.load_pem_public_key(keys[1].read_bytes())
    assert isinstance(public, Ed25519PublicKey)
    for path in folder.glob("*.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o444
        a = json.loads(path.read_text())
        assert set(a) == {"format", "workspace", "seq", "row_hash", "at", "key", "signature"}
        assert a["format"] == "ballast-witness/1"
        assert a["workspace"] == (ws.audit / "workspace-id").read_text().strip()
        assert path.name.startswith(f"{a['workspace']}.{a['seq']:012d}.{a['row_hash'][:16]}")
        body = {k: v for k, v in a.items() if k != "signature"}
        message = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        public.verify(base64.b64decode(a["signature"]), message.encode())  # raises if forged
    with db.connect(ws.warehouse) as con:
        head = audit.rows(con)[-1]
    assert found[-1]["row_hash"] == head["row_hash"]
    again = cli("audit", "anchor", "-w", str(ws.root))
    assert again.exit_code == 0 and "already anchored" in again.output


def test_verify_with_the_witness(ws: Workspace) -> None:
    done = cli("audit", "verify", "-w", str(ws.root))
    assert done.exit_code == 0, done.output
    assert f"witnessed up to seq {last_seq(ws)}" in done.output
    assert report(ws).findings.counts["anchors"] == 2


def test_consistent_rewrite_is_caught_by_the_witness(ws: Workspace, reviewed) -> None:
    """The rewrite ``test_tamper`` shows passing without a witness (who approved, every hash and
    the head recomputed) is named by the anchor of that row."""
    rewrite_chain(ws, forge_approver)
    seq = last_seq(ws)
    found = report(ws).findings.problems
    assert len(found) == 1, found
    assert found[0].startswith(f"seq {seq}: the witness anchored hash")
    assert "the chain was rewritten" in found[0]
    bad = cli("audit", "verify", "-w", str(ws.root))
    assert bad.exit_code == 1 and "the chain was rewritten" in bad.output


def test_rewrite_of_every_row_is_caught(ws: Workspace) -> None:
    """Every row rewritten (the actor of each), head included: both anchors name it."""

    def actor(row: dict) -> None:
        row["actor"] = "mallory"

    rewrite_chain(ws, actor)
    found = report(ws).findings.problems
    assert len(found) == 2 and all("the chain was rewritten" in p for p in found), found


def test_truncation_with_a_rewritten_head_is_caught(ws: Workspace) -> None:
    """The approval deleted and ``audit/head`` moved back to the row before it: consistent
    without the witness, named with it."""
    seq = last_seq(ws)
    with db.connect(ws.warehouse) as con:
        con.execute(f"delete from audit_log where seq = {seq}")
        before = audit.rows(con)[-1]
    audit.head_path(ws).write_text(f"{before['seq']} {before['row_hash']}\n")
    found = report(ws).findings.problems
    assert len(found) == 1, found
    assert f"the witness anchored the chain at seq {seq}" in found[0]
    assert f"the log ends at seq {seq - 1}: rows were removed" in found[0]


def test_whole_trail_and_id_deleted_is_caught_by_the_witness(ws: Workspace, reviewed) -> None:
    """Every audit row, the head and the workspace id removed, and the runs and ledger emptied
    too: the witness still holds this key's anchors."""
    con = duckdb.connect(str(ws.warehouse))
    for table in ("audit_log", "runs", "run_inputs", "run_outputs", "run_portfolios"):
        con.execute(f"delete from {table}")
    for table in ("run_allocations", "run_trades", "file_ledger", "validation_results"):
        con.execute(f"delete from {table}")
    for table in ("positions", "lots", "prices", "transactions", "securities"):
        con.execute(f"delete from {table}")
    con.close()
    audit.head_path(ws).unlink()
    (ws.audit / "workspace-id").unlink()
    found = report(ws).findings.problems
    assert len(found) == 1, found
    assert "holds anchors signed by this key" in found[0] and "were removed" in found[0]


def test_forged_anchors_are_named(ws: Workspace, reviewed, keys, tmp_path) -> None:
    """An anchor edited in the witness folder, and one signed by another key."""
    _, shared, _ = reviewed
    folder = tmp_path / "witness"
    shutil.copytree(shared, folder)
    os.chmod(folder, 0o755)
    first = sorted(folder.glob("*.json"))[0]
    entry = json.loads(first.read_text())
    first.chmod(0o644)
    first.write_text(json.dumps(entry | {"at": "2020-01-01T00:00:00.000000Z"}))
    other = tmp_path / "other"
    witness.keygen(other)
    key = witness.load_private(other / witness.KEY_NAME, ws)
    forged = witness.sign(key, entry["workspace"], 1, "f" * 64)
    witness.write(folder, forged)
    (ws.root / "ballast.yaml").write_text(
        yaml.safe_dump({"witness": {"path": str(folder), "public_key": str(keys[1])}})
    )
    found = report(ws).findings.problems
    assert len(found) == 2, found
    assert all("its signature does not verify with the public key" in p for p in found), found
    assert any(first.name in p for p in found)


def test_verify_options_name_the_witness(ws: Workspace, reviewed, keys, tmp_path) -> None:
    """``--witness`` and ``--public-key`` check a workspace whose ballast.yaml names no witness
    (an auditor's copy); an empty witness folder is a problem for a chain with rows."""
    (ws.root / "ballast.yaml").unlink()
    _, folder, _ = reviewed
    given = ["--witness", str(folder), "--public-key", str(keys[1])]
    done = cli("audit", "verify", "-w", str(ws.root), *given)
    assert done.exit_code == 0 and "witnessed up to seq" in done.output, done.output
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = cli(
        "audit", "verify", "-w", str(ws.root), "--witness", str(empty), "--public-key", str(keys[1])
    )
    assert bad.exit_code == 1 and "holds no anchor of this workspace" in bad.output


def test_anchor_refused_on_a_broken_chain(ws: Workspace, reviewed, keys, tmp_path) -> None:
    folder = tmp_path / "witness"
    configure(ws, folder, keys[0])
    con = duckdb.connect(str(ws.warehouse))
    con.execute("update audit_log set actor = 'mallory' where seq = 2")
    con.close()
    done = cli("audit", "anchor", "-w", str(ws.root))
    assert isinstance(done.exception, BallastError)
    assert str(done.exception).startswith("refused: seq 2 (") and not folder.exists()


def test_anchor_refused_when_the_chain_contradicts_the_witness(
    ws: Workspace, reviewed, keys, tmp_path
) -> None:
    """A rewritten chain is never blessed by a new anchor."""
    _, shared, _ = reviewed
    folder = tmp_path / "witness"
    shutil.copytree(shared, folder)
    configure(ws, folder, keys[0])
    rewrite_chain(ws, forge_approver)
    with db.connect(ws.warehouse) as con, pytest.raises(BallastError, match="chain was rewritten"):
        anchoring.anchor(con, ws)
    assert len(list(folder.glob("*.json"))) == 2


@pytest.mark.parametrize("where", ["key inside", "key readable", "witness inside", "none"])
def test_anchor_settings_refused(ws: Workspace, keys, tmp_path, where: str) -> None:
    key, folder = keys[0], tmp_path / "witness"
    if where == "key inside":
        key = ws.root / "witness.key"
        shutil.copyfile(keys[0], key)
        key.chmod(0o600)
    elif where == "key readable":
        key = tmp_path / "open.key"
        shutil.copyfile(keys[0], key)
        key.chmod(0o644)
    elif where == "witness inside":
        folder = ws.root / "witness"
    configure(ws, folder, key)
    if where == "none":
        (ws.root / "ballast.yaml").unlink()
    done = cli("audit", "anchor", "-w", str(ws.root))
    assert isinstance(done.exception, BallastError), done.output
    said = {
        "key inside": "must be kept outside the workspace",
        "key readable": "readable by its owner only",
        "witness inside": "inside the workspace, so it witnesses nothing",
        "none": "no witness configured",
    }[where]
    assert said in str(done.exception)


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs sysfs")
def test_witness_that_cannot_be_written_is_one_line_and_74(ws: Workspace, keys, tmp_path) -> None:
    """A witness folder nobody may create files in (sysfs; write-once storage that refuses):
    ``ballast audit anchor`` says so in one line and exits 74; nothing is half-written."""
    from ballast.errors import EXIT_STORAGE
    from tests.support.one_line import BALLAST, run

    configure(ws, Path("/sys/kernel/ballast-witness"), keys[0])
    proc, line = run([BALLAST, "audit", "anchor", "-w", str(ws.root)], tmp_path)
    assert proc.returncode == EXIT_STORAGE, line
    assert "/sys/kernel/ballast-witness" in line


def test_anchor_reads_the_log_from_the_newest_anchor_on(
    ws: Workspace, reviewed, keys, tmp_path, monkeypatch
) -> None:
    """Anchoring after each run costs the rows since the last anchor, not the whole log; a row
    edited since then is still refused."""
    _, shared, _ = reviewed
    folder = tmp_path / "witness"
    shutil.copytree(shared, folder)
    os.chmod(folder, 0o755)
    configure(ws, folder, keys[0])
    seq = last_seq(ws)
    with db.connect(ws.warehouse) as con:
        audit.append(con, ws, "legal_hold", actor="t", subject="x", payload={"kind": "run"})
    monkeypatch.setattr(audit, "rows", lambda con: pytest.fail("read the whole log"))
    with db.connect(ws.warehouse) as con:
        done, new = anchoring.anchor(con, ws)
    assert new and done.seq == seq + 1
    with db.connect(ws.warehouse) as con:
        audit.append(con, ws, "legal_hold", actor="t", subject="y", payload={"kind": "run"})
        con.execute(f"update audit_log set actor = 'mallory' where seq = {seq + 2}")
        with pytest.raises(BallastError, match=f"refused: seq {seq + 2} "):
            anchoring.anchor(con, ws)
