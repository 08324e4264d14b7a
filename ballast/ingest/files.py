"""Byte-for-byte file keeping: the archive (named by content hash) and quarantine (with reasons)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def sha256_file(path: Path) -> tuple[str, int]:
    """SHA-256 hex digest and size of a file, read in chunks."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def safe_name(name: str) -> str:
    """A file name with no path or shell characters in it."""
    cleaned = _UNSAFE.sub("_", name).strip("._") or "file"
    return cleaned[:120]


def _atomic_copy(src: Path, dest: Path) -> None:
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


def archive(src: Path, sha256: str, archive_dir: Path) -> Path:
    """Keep ``src`` in the archive as ``<sha256><ext>``; an existing copy is never rewritten."""
    suffix = "".join(Path(safe_name(src.name)).suffixes[-2:])[:16]
    dest = archive_dir / f"{sha256}{suffix}"
    if not dest.exists():
        _atomic_copy(src, dest)
    return dest


def quarantine(
    src: Path, file_id: int, reason: str, quarantine_dir: Path, *, move: bool = False
) -> Path:
    """Put ``src`` in quarantine beside a ``.reason.txt`` that says what is wrong.

    ``move`` renames an inbox file there (cheap for a huge file); otherwise it is copied.
    """
    dest = quarantine_dir / f"{file_id:06d}-{safe_name(src.name)}"
    if move:
        try:
            os.replace(src, dest)
        except OSError:  # another file system: copy instead
            _atomic_copy(src, dest)
    else:
        _atomic_copy(src, dest)
    dest.with_name(dest.name + ".reason.txt").write_text(
        f"{reason}\n\noriginal name: {src.name}\n", encoding="utf-8"
    )
    return dest
