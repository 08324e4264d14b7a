"""The witness: the chain's head, signed with an Ed25519 key kept outside the workspace, written
to a folder the workspace does not own (write-once storage), so a rewrite of the whole chain and
its head file is caught.

Settings: the ``witness:`` section of ``<workspace>/ballast.yaml`` (optional)::

    witness:
      path: /mnt/worm/ballast-witness     # a folder outside the workspace (write-once storage)
      key: /etc/ballast/witness.key       # Ed25519 private key (PEM), mode 0600, outside it
      public_key: /etc/ballast/witness.pub   # for verify (default: the key's path + .pub)
      after_run: true                     # anchor after each review or monitor run
      workspace_id: null                  # default: audit/workspace-id (made at first anchor)

An anchor is one file ``<workspace id>.<seq>.<hash prefix>.json`` created exclusively (never
overwritten) in the witness folder, holding::

    {"format": "ballast-witness/1", "workspace": id, "seq": n, "row_hash": hash,
     "at": "YYYY-MM-DDTHH:MM:SS.ffffffZ", "key": fingerprint, "signature": base64}

signed over the canonical JSON of every field but ``signature`` (sorted keys, no spaces). The
key's fingerprint is the SHA-256 of its 32 raw public bytes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from ballast import config as ballast_config
from ballast.errors import BallastError
from ballast.workspace import Workspace

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

FORMAT = "ballast-witness/1"
KEY_NAME, PUBLIC_NAME = "ballast-witness.key", "ballast-witness.pub"


class WitnessConfig(BaseModel):
    """Where the witness is and which key signs for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str | None = None
    key: str | None = None
    public_key: str | None = None
    after_run: bool = True
    workspace_id: str | None = None

    def public_key_path(self) -> Path | None:
        if self.public_key:
            return Path(self.public_key).expanduser()
        return Path(self.key).expanduser().with_suffix(".pub") if self.key else None


def load_config(root: Path) -> WitnessConfig:
    """The workspace's witness settings (none by default)."""
    return ballast_config.section(Path(root), "witness", WitnessConfig)


# -- keys ------------------------------------------------------------------------------------


def fingerprint(public: Ed25519PublicKey) -> str:
    """SHA-256 of the key's raw public bytes."""
    from cryptography.hazmat.primitives import serialization

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def _in_a_workspace(folder: Path) -> Path | None:
    for d in (folder.resolve(), *folder.resolve().parents):
        if (d / "inbox").is_dir() and (d / "ips").is_dir():  # as ``Workspace.check``
            return d
    return None


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` (never replacing a file), write and sync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # whatever the umask
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def keygen(folder: Path) -> tuple[Path, Path, str]:
    """A new key pair in ``folder``: the private key (PEM, mode 0600) and the public key;
    returns their paths and the fingerprint. Refuses a folder inside a workspace."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    folder = Path(folder).expanduser()
    home = _in_a_workspace(folder)
    if home is not None:
        raise BallastError(f"{folder}: inside the workspace {home}; keep the key outside it")
    folder.mkdir(parents=True, exist_ok=True)
    private, public = folder / KEY_NAME, folder / PUBLIC_NAME
    for p in (private, public):
        if p.exists():
            raise BallastError(f"{p}: already exists (a key is never overwritten)")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_new(private, pem, 0o600)
    _write_new(public, pub, 0o644)
    return private, public, fingerprint(key.public_key())


def _read_key_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BallastError(f"{path}: no {what} there") from None
    except OSError as exc:
        raise BallastError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None


def load_private(path: Path, ws: Workspace) -> Ed25519PrivateKey:
    """The signing key: outside the workspace, readable by its owner only, Ed25519."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if _inside(path, ws.root):
        raise BallastError(f"{path}: the witness key must be kept outside the workspace")
    data = _read_key_file(path, "witness key")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise BallastError(f"{path}: mode {mode:04o}: the key must be readable by its owner only")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise BallastError(f"{path}: not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BallastError(f"{path}: not an Ed25519 key")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    """The key ``verify`` checks anchors with."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    data = _read_key_file(path, "witness public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise BallastError(f"{path}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BallastError(f"{path}: not an Ed25519 public key")
    return key


# -- anchors ---------------------------------------------------------------------------------


def id_path(ws: Workspace) -> Path:
    return ws.audit / "workspace-id"


def workspace_id(ws: Workspace, cfg: WitnessConfig) -> str | None:
    """This workspace's id in the witness: configured, else ``audit/workspace-id``."""
    if cfg.workspace_id:
        return cfg.workspace_id
    try:
        found = id_path(ws).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return found or None


def _ensure_id(ws: Workspace, cfg: WitnessConfig) -> str:
    found = workspace_id(ws, cfg)
    if found:
        return found
    new = uuid.uuid4().hex
    id_path(ws).parent.mkdir(parents=True, exist_ok=True)
    id_path(ws).write_text(new + "\n", encoding="utf-8")
    return new


def _message(entry: dict[str, Any]) -> bytes:
    body = {k: v for k, v in entry.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Anchor:
    """One witnessed head."""

    path: Path
    seq: int
    row_hash: str
    at: str
    key: str


def _file_name(workspace: str, seq: int, row_hash: str) -> str:
    return f"{workspace}.{seq:012d}.{row_hash[:16]}.json"


def sign(key: Ed25519PrivateKey, workspace: str, seq: int, row_hash: str) -> dict[str, Any]:
    """A signed anchor entry for the head (seq, row_hash) of ``workspace``, made now."""
    entry = {
        "format": FORMAT,
        "workspace": workspace,
        "seq": seq,
        "row_hash": row_hash,
        "at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "key": fingerprint(key.public_key()),
    }
    entry["signature"] = base64.b64encode(key.sign(_message(entry))).decode("ascii")
    return entry


def write(folder: Path, entry: dict[str, Any]) -> Path:
    """Create the entry's file in the witness folder (an existing one is never replaced)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / _file_name(entry["workspace"], entry["seq"], entry["row_hash"])
    data = (json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    _write_new(path, data, 0o444)
    return path


def signature_ok(public: Ed25519PublicKey, entry: dict[str, Any]) -> bool:
    """True when ``entry`` was signed by ``public``'s private key, as it is now."""
    from cryptography.exceptions import InvalidSignature

    try:
        public.verify(
            base64.b64decode(str(entry.get("signature", "")), validate=True), _message(entry)
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def entries(folder: Path, workspace: str) -> list[tuple[Path, dict[str, Any] | None]]:
    """The anchors of ``workspace`` (``*``: of any) in the witness folder (None: a file that is
    not JSON)."""
    out: list[tuple[Path, dict[str, Any] | None]] = []
    for path in sorted(folder.glob(f"{workspace}.*.json")):
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            out.append((path, None))
            continue
        out.append((path, found if isinstance(found, dict) else None))
    return out


def signed_workspaces(folder: Path, public: Ed25519PublicKey) -> set[str]:
    """The workspace ids of every anchor in ``folder`` that ``public`` verifies."""
    if not folder.is_dir():
        return set()
    return {
        str(entry["workspace"])
        for _, entry in entries(folder, "*")
        if entry is not None and signature_ok(public, entry)
    }


def anchored(path: Path, entry: dict[str, Any]) -> Anchor:
    return Anchor(
        path, int(entry["seq"]), str(entry["row_hash"]), str(entry["at"]), str(entry["key"])
    )


def anchor_head(
    ws: Workspace, cfg: WitnessConfig, key: Ed25519PrivateKey, seq: int, row_hash: str
) -> tuple[Anchor, bool]:
    """Sign (seq, row_hash) with ``key`` and write it to the witness folder; returns the anchor
    and whether it is new (False: this head was anchored already)."""
    if not cfg.path:
        raise BallastError("no witness configured: set witness.path in ballast.yaml")
    folder = Path(cfg.path).expanduser()
    if _inside(folder, ws.root):
        raise BallastError(f"{folder}: the witness must be outside the workspace")
    wid = _ensure_id(ws, cfg)
    entry = sign(key, wid, seq, row_hash)
    path = folder / _file_name(wid, seq, row_hash)
    try:  # any other OSError (full, read-only witness) is a storage failure: exit 74
        write(folder, entry)
    except FileExistsError:
        return anchored(path, json.loads(path.read_text(encoding="utf-8"))), False
    return anchored(path, entry), True
