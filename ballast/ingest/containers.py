"""Archives and compressed files are refused with a reason, never unpacked.

Nothing in an archive is extracted, so a member named ``../../x`` (zip slip) cannot reach the
file system; the reason says so, so that operations know the file was hostile, not just zipped.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath, PureWindowsPath

from ballast.errors import DataError

_MAGIC = {
    b"PK\x03\x04": "a zip archive",
    b"\x1f\x8b": "gzip-compressed",
    b"BZh": "bzip2-compressed",
    b"\xfd7zXZ\x00": "xz-compressed",
    b"7z\xbc\xaf\x27\x1c": "a 7-Zip archive",
    b"Rar!": "a RAR archive",
}


def _unsafe_member(data: bytes) -> str | None:
    """The first member path that would escape a folder it was unpacked into, if any."""
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    for name in names:
        posix, windows = PurePosixPath(name), PureWindowsPath(name)
        if (
            posix.is_absolute()
            or windows.is_absolute()
            or windows.drive
            or ".." in posix.parts
            or ".." in windows.parts
        ):
            return name
    return None


def refuse(data: bytes, name: str) -> None:
    """Raise a ``DataError`` for an archive or compressed file; return for anything else."""
    for magic, what in _MAGIC.items():
        if data.startswith(magic):
            if magic == b"PK\x03\x04" and (bad := _unsafe_member(data)):
                raise DataError(
                    name,
                    f"a zip archive with an unsafe member path {bad!r} "
                    "(zip slip): refused, nothing was extracted",
                )
            raise DataError(name, f"is {what}: unpack it and drop the files themselves")
