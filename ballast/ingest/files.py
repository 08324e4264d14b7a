"""Byte-for-byte file keeping: the archive (named by content hash) and quarantine (with reasons).

Files are read in 1 MiB chunks, never whole; a copy keeps a sparse file's holes, and quarantine
moves an inbox file by renaming it (same file system), so a huge file costs no memory.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CHUNK = 1 << 20


def sha256_file(path: Path) -> tuple[str, int]:
    """SHA-256 hex digest and size of a file, read in chunks."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def safe_name(name: str) -> str:
    """A file name with no path or shell characters in it."""
    cleaned = _UNSAFE.sub("_", name).strip("._") or "file"
    return cleaned[:120]


def _copy_extents(fd_in: int, fd_out: int, size: int) -> bool:
    """Copy only the data extents (``SEEK_DATA``/``SEEK_HOLE``), then set the size, so the holes
    of a sparse file stay holes instead of being written out as zeros. False when the file
    system cannot tell where the holes are (nothing was copied)."""
    pos = 0
    while pos < size:
        try:
            start = os.lseek(fd_in, pos, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # nothing but a hole up to the end
                break
            if pos == 0 and exc.errno in (errno.EINVAL, errno.EOPNOTSUPP):
                return False
            raise
        end = min(os.lseek(fd_in, start, os.SEEK_HOLE), size)
        os.lseek(fd_out, start, os.SEEK_SET)
        while start < end:
            chunk = os.pread(fd_in, min(_CHUNK, end - start), start)
            if not chunk:
                break
            os.write(fd_out, chunk)
            start += len(chunk)
        pos = end
    os.ftruncate(fd_out, size)
    return True


def _copy(src: Path, dest: Path) -> None:
    """``src`` to ``dest`` byte for byte, in chunks; a sparse file stays sparse where the system
    can tell (a 1 GiB file of holes then costs no disk and no time), else a plain copy."""
    if hasattr(os, "SEEK_DATA"):
        fd_in = os.open(src, os.O_RDONLY)
        try:
            fd_out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                if _copy_extents(fd_in, fd_out, os.fstat(fd_in).st_size):
                    return
            finally:
                os.close(fd_out)
        finally:
            os.close(fd_in)
    shutil.copyfile(src, dest)


def _atomic_copy(src: Path, dest: Path) -> None:
    tmp = dest.with_name(f".{dest.name}.tmp")
    _copy(src, tmp)
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
