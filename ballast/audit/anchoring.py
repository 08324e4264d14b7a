"""Anchoring the chain to the witness (``ballast audit anchor``, and after each run when
configured), and checking the chain against the witness's anchors (``verify``).

An anchor is only written for a chain that verifies from the newest earlier anchor on and still
has that anchor's row, so a rewritten chain is never blessed. ``check`` holds the chain to each
anchor signed by the key: the row at the anchored seq must still exist and still have the
anchored hash.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from ballast.audit import chain, witness
from ballast.audit.findings import Findings
from ballast.errors import BallastError
from ballast.warehouse import db
from ballast.workspace import Workspace

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

UNWITNESSED = (
    "no witness checked: a rewrite of the whole chain together with audit/head would not be "
    "detected (configure witness: in ballast.yaml, or pass --witness and --public-key)"
)


def _against(
    entry: dict[str, Any], path: Path, by_seq: dict[int, str], last: int, found: Findings
) -> bool:
    """Whether the chain still has the anchored row; names how it does not."""
    seq, want, at = entry.get("seq"), str(entry.get("row_hash")), entry.get("at")
    if not isinstance(seq, int):
        found.problem(f"witness {path.name}: not an anchor (no seq)")
        return False
    if seq > last:
        found.problem(
            f"seq {seq}: the witness anchored the chain at seq {seq} (hash {want[:12]}…, {at}) "
            f"but the log ends at seq {last}: rows were removed"
        )
        return False
    if by_seq.get(seq) != want:
        now = by_seq.get(seq) or "no row"
        found.problem(
            f"seq {seq}: the witness anchored hash {want[:12]}… at {at}, the log now has "
            f"{now[:12]}…: the chain was rewritten"
        )
        return False
    return True


def _unanchored(
    log: list[dict[str, Any]],
    folder: Path,
    wid: str | None,
    public: Ed25519PublicKey,
    found: Findings,
) -> None:
    """A chain with no anchor of its own: a problem when it has rows, or when the workspace
    lost its id while the witness holds anchors signed by the key (its trail removed)."""
    if log:
        why = "audit/workspace-id is missing" if not wid else f"none for workspace {wid}"
        found.problem(
            f"witness {folder}: holds no anchor of this workspace ({why}): the chain "
            "cannot be checked against it (run 'ballast audit anchor')"
        )
        return
    others = witness.signed_workspaces(folder, public) if wid is None else set()
    if others:
        found.problem(
            f"witness {folder}: holds anchors signed by this key of workspace "
            f"{', '.join(sorted(others))}, but this workspace has no id and an empty audit "
            "trail: its trail and audit/workspace-id were removed (a new workspace needs a "
            "witness folder of its own)"
        )


def check(
    log: list[dict[str, Any]],
    ws: Workspace,
    folder: Path,
    public: Ed25519PublicKey,
    *,
    require_anchor: bool = True,
) -> tuple[Findings, str]:
    """The chain (its rows) against every anchor of this workspace in ``folder`` signed by
    ``public``; returns the findings and a line saying how far the chain is witnessed."""
    found = Findings()
    cfg = witness.load_config(ws.root)
    if folder.resolve().is_relative_to(ws.root.resolve()):
        found.problem(f"witness {folder}: inside the workspace, so it witnesses nothing")
        return found, "witness: not checked"
    wid = witness.workspace_id(ws, cfg)
    anchors = witness.entries(folder, wid) if wid and folder.is_dir() else []
    if not anchors:
        if require_anchor:
            _unanchored(log, folder, wid, public, found)
        return found, "witness: no anchors yet"
    by_seq = {int(r["seq"]): str(r["row_hash"]) for r in log}
    last = max(by_seq, default=0)
    newest: dict[str, Any] | None = None
    for path, entry in anchors:
        if entry is None or entry.get("workspace") != wid:
            found.problem(f"witness {path.name}: not an anchor of this workspace (altered?)")
        elif not witness.signature_ok(public, entry):
            found.problem(
                f"witness {path.name}: its signature does not verify with the public key "
                f"({witness.fingerprint(public)[:16]}…): forged or altered"
            )
        elif _against(entry, path, by_seq, last, found) and (
            newest is None or entry["seq"] > newest["seq"]
        ):
            newest = entry
    found.count("anchors", len(anchors))
    if newest is None:
        return found, "witness: no valid anchor"
    line = f"witnessed up to seq {newest['seq']} (anchored {newest['at']})"
    if newest["seq"] < last:
        line += f"; rows {newest['seq'] + 1}..{last} are newer than the last anchor"
    return found, line


def check_configured(
    log: list[dict[str, Any]],
    ws: Workspace,
    folder: Path | None = None,
    public_key: Path | None = None,
) -> tuple[Findings, str]:
    """``check`` with the witness and public key given (``verify --witness --public-key``),
    else those of ``ballast.yaml``; a line saying so when there is no witness."""
    cfg = witness.load_config(ws.root)
    folder = folder or (Path(cfg.path).expanduser() if cfg.path else None)
    if folder is None:
        return Findings(), UNWITNESSED
    public_path = public_key or cfg.public_key_path()
    found = Findings()
    if public_path is None:
        found.problem(
            f"witness {folder}: no public key to check it with (witness.public_key in "
            "ballast.yaml, or --public-key)"
        )
        return found, "witness: not checked"
    try:
        public = witness.load_public(public_path)
    except BallastError as exc:
        found.problem(f"witness: {exc}")
        return found, "witness: not checked"
    return check(log, ws, folder, public)


def _newest(
    ws: Workspace, cfg: witness.WitnessConfig, folder: Path, public: Ed25519PublicKey
) -> chain.Head | None:
    """The newest anchor of this workspace in ``folder`` that ``public`` verifies."""
    wid = witness.workspace_id(ws, cfg)
    if not wid or not folder.is_dir():
        return None
    good = [
        e
        for _, e in witness.entries(folder, wid)
        if e is not None
        and e.get("workspace") == wid
        and isinstance(e.get("seq"), int)
        and witness.signature_ok(public, e)
    ]
    if not good:
        return None
    newest = max(good, key=lambda e: int(e["seq"]))
    return chain.Head(int(newest["seq"]), str(newest["row_hash"]))


def anchor(
    con: duckdb.DuckDBPyConnection, ws: Workspace, cfg: witness.WitnessConfig | None = None
) -> tuple[witness.Anchor, bool]:
    """Anchor the chain's newest row; refused when the chain has problems from the newest
    anchor on, or no longer has that anchor's row (older rows were proven when it was made:
    an anchor's cost does not grow with the log). Returns the anchor and whether it is new."""
    cfg = cfg or witness.load_config(ws.root)
    if not cfg.path or not cfg.key:
        raise BallastError(
            "no witness configured: set witness.path and witness.key in ballast.yaml"
        )
    folder = Path(cfg.path).expanduser()
    if folder.resolve().is_relative_to(ws.root.resolve()):
        raise BallastError(
            f"refused: witness {folder}: inside the workspace, so it witnesses nothing"
        )
    key = witness.load_private(Path(cfg.key).expanduser(), ws)
    trusted = _newest(ws, cfg, folder, key.public_key())
    log = chain.rows(con) if trusted is None else chain.rows_from(con, trusted.seq)
    if not log and trusted is None:
        raise BallastError("the audit trail is empty: nothing to anchor")
    problems = [p for p in chain.check(log, ws, trusted) if not p.is_note]
    if problems:
        raise BallastError(f"refused: {problems[0]} (see 'ballast audit verify')")
    last = log[-1]
    return witness.anchor_head(ws, cfg, key, int(last["seq"]), str(last["row_hash"]))


def after_run(ws: Workspace) -> witness.Anchor | None:
    """Anchor after a run when ``witness.after_run`` is configured (None when it is not)."""
    cfg = witness.load_config(ws.root)
    if not (cfg.path and cfg.key and cfg.after_run):
        return None
    with db.connect(ws.warehouse) as con:
        return anchor(con, ws, cfg)[0]
