"""Atomic file replacement: a file under its final name is always complete, old or new, never half.

The bytes go to a hidden temporary file in the same folder (a rename is only atomic within
one file system), which is flushed and fsynced before it takes the final name with
`os.replace`; then the folder is fsynced so the rename itself survives a power cut. A writer
killed at any moment leaves at worst a stray `.NAME.XXXXXXXX.tmp`, which readers ignore.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import time
from pathlib import Path
from typing import BinaryIO, Iterator

from .errors import SaveError

TEMP_SUFFIX = ".tmp"


def is_temp_name(name: str) -> bool:
    """Whether a file name is one of our in-progress temporary files."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def fsync_dir(folder: Path) -> None:
    """Make a rename or deletion in `folder` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _open_temp(final: Path) -> tuple[Path, BinaryIO]:
    """Create a new hidden temp file beside `final` (O_EXCL, so two writers never share one)."""
    for _ in range(100):
        temp = final.with_name(f".{final.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        return temp, os.fdopen(fd, "wb")
    raise SaveError("could not create a temporary file", final.parent)


def _commit(temp: Path, final: Path, overwrite: bool) -> None:
    """Give the finished temp file its final name; without `overwrite`, never replace an existing file."""
    if overwrite:
        os.replace(temp, final)
        return
    try:
        os.link(temp, final)  # fails atomically if `final` exists: no window between check and rename
    except FileExistsError:
        raise SaveError("already exists; pass overwrite=True (--overwrite) to replace it", final) from None
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        if final.exists():  # a file system without hard links: check, then rename
            raise SaveError("already exists; pass overwrite=True (--overwrite) to replace it", final) from None
        os.replace(temp, final)
    else:
        os.unlink(temp)


@contextlib.contextmanager
def atomic_writer(path: str | Path, *, overwrite: bool = False) -> Iterator[BinaryIO]:
    """`with atomic_writer(path) as f: f.write(...)` - `path` appears only once everything is on disk.

    Raises SaveError if `path` exists and `overwrite` is false (checked before writing, so no
    time is wasted, and again at the rename). On any exception the temp file is removed and
    `path` is untouched.
    """
    final = Path(path)
    if not overwrite and final.exists():
        raise SaveError("already exists; pass overwrite=True (--overwrite) to replace it", final)
    if final.is_dir():
        raise SaveError("is a folder, not a file", final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        temp, file = _open_temp(final)
    except OSError as error:
        raise SaveError(f"cannot write here: {error.strerror or error}", final) from None
    try:
        with file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        _commit(temp, final, overwrite)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temp.unlink()
        if isinstance(error, OSError):
            raise SaveError(f"could not write: {error.strerror or error}", final) from None
        raise
    fsync_dir(final.parent)


def write_bytes(path: str | Path, data: bytes, *, overwrite: bool = False) -> Path:
    """Atomically write `data` to `path`."""
    with atomic_writer(path, overwrite=overwrite) as file:
        file.write(data)
    return Path(path)


def write_json(path: str | Path, document: object, *, overwrite: bool = True) -> Path:
    """Atomically write a small JSON document (e.g. a run's state marker)."""
    text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def link_or_copy(source: Path, target: Path) -> None:
    """Atomically make `target` a copy of `source`: a hard link where possible (no bytes copied)."""
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
    try:
        os.link(source, temp)
    except OSError:
        with open(source, "rb") as src, atomic_writer(target, overwrite=True) as dst:
            while chunk := src.read(8 * 1024 * 1024):
                dst.write(chunk)
        return
    try:
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    fsync_dir(target.parent)


def remove_stale_temp_files(folder: str | Path, older_than: float = 3600.0) -> list[Path]:
    """Delete temp files left by killed writers, if untouched for `older_than` seconds (a live writer's are fresh)."""
    removed = []
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if is_temp_name(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    if now - entry.stat(follow_symlinks=False).st_mtime >= older_than:
                        os.unlink(entry.path)
                        removed.append(Path(entry.path))
    return removed
