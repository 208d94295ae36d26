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
import re
import secrets
import time
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from .errors import SaveError

TEMP_SUFFIX = ".tmp"
#: what a writer told not to replace a file hears, in words for any front end (the command line names its flag,
#: the studio asks first)
EXISTS = "already exists; choose another name, or overwrite it"
#: how our temp files are named: "." + the final name + "." + 8 random hex digits + ".tmp"
_TEMP_NAME = re.compile(r"\.(.+)\.[0-9a-f]{8}" + re.escape(TEMP_SUFFIX), re.DOTALL)


def temp_name(final: Path) -> Path:
    """A fresh temp file name beside `final` (hidden, so listings skip it; random, so writers never share one)."""
    return final.with_name(f".{final.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def temp_target(name: str) -> str | None:
    """The final file name a temp file of ours was being written for, or None if `name` is not one of ours."""
    match = _TEMP_NAME.fullmatch(name)
    return match.group(1) if match else None


def is_temp_name(name: str) -> bool:
    """Whether a file name is one of our in-progress temporary files."""
    return temp_target(name) is not None


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
        temp = temp_name(final)
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
        raise SaveError(EXISTS, final) from None
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        if final.exists():  # a file system without hard links: check, then rename
            raise SaveError(EXISTS, final) from None
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
        raise SaveError(EXISTS, final)
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
    """Atomically make `target` a copy of `source`: a hard link where possible (no bytes copied).

    Any failure is a SaveError naming both files, and leaves `target` as it was.
    """
    source, target = Path(source), Path(target)
    temp = temp_name(target)
    try:
        os.link(source, temp)
    except OSError:
        _copy(source, target)
        return
    try:
        os.replace(temp, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temp.unlink()
        if isinstance(error, OSError):
            raise SaveError(f"cannot link {source} here: {error.strerror or error}", target) from None
        raise
    fsync_dir(target.parent)


def _copy(source: Path, target: Path) -> None:
    """Where hard links are not possible: copy the bytes through an atomic writer."""
    try:
        with open(source, "rb") as src, atomic_writer(target, overwrite=True) as dst:
            while chunk := src.read(8 * 1024 * 1024):
                dst.write(chunk)
    except SaveError as error:
        raise SaveError(f"cannot copy {source} here: {error.problem}", target) from None
    except OSError as error:
        raise SaveError(f"cannot copy {source} here: {error.strerror or error}", target) from None


def remove_stale_temp_files(folder: str | Path, older_than: float = 3600.0,
                            owned: Callable[[str], bool] | None = None) -> list[Path]:
    """Delete temp files left by killed writers, if untouched for `older_than` seconds (a live writer's are fresh).

    Only our own temp names are considered, and with `owned` only those whose final name it
    accepts: a run cleans up after its own files, never another writer's in the same folder.
    """
    removed = []
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            target = temp_target(entry.name)
            if target is None or (owned is not None and not owned(target)):
                continue
            with contextlib.suppress(OSError):
                if entry.is_file(follow_symlinks=False) and now - entry.stat(follow_symlinks=False).st_mtime >= older_than:
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    if removed:
        fsync_dir(Path(folder))
    return removed
