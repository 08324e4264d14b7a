"""Byte-for-byte file keeping: the archive (named by content hash) and quarantine (with reasons).

Files are read in 1 MiB chunks, never whole; a copy keeps a sparse file's holes, and quarantine
moves an inbox file by renaming it (same file system), so a huge file costs no memory.

Only regular files are read (``ballast.workspace.opened``: no link followed, no FIFO waited on),
and what ballast writes here (archive copies, reasons) never follows a link planted in its way.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

from ballast.errors import printable
from ballast.workspace import Identity, NotRegular, identity, opened

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CHUNK = 1 << 20
_WRITE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
_WRITE |= getattr(os, "O_CLOEXEC", 0)


def _chunks(fd: int) -> Iterator[bytes]:
    offset = 0
    while chunk := os.pread(fd, _CHUNK, offset):
        offset += len(chunk)
        yield chunk


def sha256_fd(fd: int) -> tuple[str, int]:
    """SHA-256 hex digest and size of an open file, read in chunks from its start."""
    h = hashlib.sha256()
    size = 0
    for chunk in _chunks(fd):
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size


def read_fd(fd: int) -> bytes:
    """The whole content of an open file, from its start."""
    return b"".join(_chunks(fd))


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


def _create(dest: Path) -> int:
    """A new file at ``dest`` for writing; a link or file left there is replaced, not followed."""
    with suppress(FileNotFoundError):
        os.unlink(dest)
    return os.open(dest, _WRITE | os.O_EXCL, 0o644)


def _copy_fd(fd_in: int, size: int, dest: Path) -> None:
    """An open file to ``dest`` byte for byte, in chunks; a sparse file stays sparse where the
    system can tell (a 1 GiB file of holes then costs no disk and no time), else a plain copy."""
    fd_out = _create(dest)
    try:
        if hasattr(os, "SEEK_DATA") and _copy_extents(fd_in, fd_out, size):
            return
        os.ftruncate(fd_out, 0)
        with os.fdopen(os.dup(fd_out), "wb") as out:
            for chunk in _chunks(fd_in):
                out.write(chunk)
    finally:
        os.close(fd_out)


def _atomic_copy(src: Path, dest: Path, expect: Identity | None = None) -> None:
    """Copy the regular file ``src`` to ``dest`` through a temporary name; ``NotRegular`` when
    ``src`` is not a regular file or not the file ``expect`` describes."""
    tmp = dest.with_name(f".{dest.name}.tmp")
    with opened(src) as (fd, st):
        if expect is not None and identity(st) != expect:
            raise NotRegular("another file than the one read")
        _copy_fd(fd, st.st_size, tmp)
    os.replace(tmp, dest)


def archive(src: Path, sha256: str, archive_dir: Path, expect: Identity | None = None) -> Path:
    """Keep ``src`` in the archive as ``<sha256><ext>``; an existing copy is never rewritten.

    ``expect``: the file as it was read (``identity``); a different file raises ``NotRegular``.
    """
    suffix = "".join(Path(safe_name(src.name)).suffixes[-2:])[:16]
    dest = archive_dir / f"{sha256}{suffix}"
    if not _regular(dest):  # a link or anything else planted there is replaced, not trusted
        _atomic_copy(src, dest, expect)
    return dest


def _regular(path: Path) -> bool:
    """Whether ``path`` itself (not what a link points to) is a regular file."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


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
    note = f"{printable(reason)}\n\noriginal name: {printable(src.name)}\n"
    fd = _create(dest.with_name(dest.name + ".reason.txt"))
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(note)
    return dest
