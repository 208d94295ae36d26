"""Deleting runs and their checkpoints, guarded: what `nnstudio runs rm` and `runs prune` do to the disk.

    path = run_folder_in("mnist-mlp-20250101-101010", runs_folder(folder))   # SaveError: not one to delete
    freed = remove_run(path, runs_folder(folder))    # the whole run folder
    freed = prune_run(path, runs_folder(folder))     # its checkpoints; run.json and history.jsonl stay
    remove_stale_lock(path, runs_folder(folder))     # the .lock an ended run left, if no one holds it

Only a run folder is ever deleted: a real folder (not a symbolic link) directly inside the runs
folder, holding a run's marker or history. Nothing is deleted while a live process holds the
run's lock (`checkpoints.take_lock`): the deletion holds it itself, so a process starting to
write the run at that moment waits, then finds the run gone or pruned instead of writing into it.
Sizes count a hard-linked file once (`best.safetensors` is a link to an epoch's checkpoint).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from .atomic import fsync_dir, is_temp_name, temp_target, write_json
from .checkpoints import (BEST_FILE, HISTORY_FILE, LOCK_FILE, LOCKED, PARTIAL_FILE, RUN_FILE, _EPOCH_FILE, _read_marker,
                          take_lock)
from .errors import SaveError
from .schema import utc_now

def disk_usage(paths: Iterator[Path] | list[Path]) -> int:
    """Bytes the files take, each file (inode) counted once however many links to it are listed."""
    seen, total = set(), 0
    for path in paths:
        try:
            stat = os.lstat(path)
        except OSError:
            continue
        if (stat.st_dev, stat.st_ino) not in seen:
            seen.add((stat.st_dev, stat.st_ino))
            total += stat.st_size
    return total


def files_under(folder: Path) -> Iterator[Path]:
    """Every file under `folder` (links not followed)."""
    for root, _, files in os.walk(folder):
        for name in files:
            yield Path(root, name)


def folder_size(folder: str | Path) -> int:
    """Bytes under a folder, hard links counted once."""
    return disk_usage(files_under(Path(folder)))


def is_checkpoint_name(name: str) -> bool:
    """A file `prune` deletes: a checkpoint (epoch, partial, best) or a killed write's temp file of one."""
    if is_temp_name(name):
        target = temp_target(name)
        return target is not None and is_checkpoint_name(target)
    return name in (BEST_FILE, PARTIAL_FILE) or _EPOCH_FILE.fullmatch(name) is not None


def checkpoint_files(run_dir: str | Path) -> list[Path]:
    """The run's checkpoint files (and their temp files), sorted by name."""
    with contextlib.suppress(OSError):
        return sorted(Path(entry.path) for entry in os.scandir(run_dir)
                      if is_checkpoint_name(entry.name) and entry.is_file(follow_symlinks=False))
    return []


def run_folder_in(path: str | Path, runs: Path) -> Path:
    """`path` if it is a run folder inside `runs` that may be deleted, else SaveError saying why not.

    Refused: what is not there, a symbolic link (wherever it points), anything whose real place is
    not directly inside the runs folder (`..`, the runs or saves folder itself, a folder elsewhere),
    a file, and a folder that holds neither a run's marker nor its history.
    """
    path = Path(path)
    if not os.path.lexists(path):
        raise SaveError("no such run folder", path)
    if path.is_symlink():
        raise SaveError(f"is a symbolic link (to {os.readlink(path)}), not a run folder; only run folders are "
                        f"deleted (remove the link itself with rm)", path)
    real, home = Path(os.path.realpath(path)), Path(os.path.realpath(runs))
    if real.parent != home:
        raise SaveError(f"is not a run folder inside the runs folder {home}; only those are deleted", path)
    if not real.is_dir():
        raise SaveError("is a file, not a run folder", path)
    if _read_marker(real) is None and not (real / HISTORY_FILE).is_file():
        raise SaveError(f"is not a run folder (it holds no readable {RUN_FILE} nor {HISTORY_FILE}); only run folders "
                        f"are deleted", path)
    return real


@contextlib.contextmanager
def _holding(run_dir: Path) -> Iterator[None]:
    """The run's lock, held while its files are deleted: SaveError if a live process holds it."""
    try:
        fd = take_lock(run_dir)
    except SaveError as error:
        if error.problem == LOCKED:
            raise SaveError("a live nnstudio process is training this run (it holds the run's lock); stop it first",
                            run_dir) from None
        raise
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)


def remove_run(path: str | Path, runs: Path) -> int:
    """Delete a run folder inside `runs` (checked as `run_folder_in`), unless a live process holds it; the bytes
    freed. SaveError if it is refused, or if some of it could not be deleted (what remains is named)."""
    run_dir = run_folder_in(path, runs)
    size = folder_size(run_dir)
    failed: list[str] = []

    def note(function, name, error) -> None:   # (go on, and say what stayed)
        error = error[1] if isinstance(error, tuple) else error
        failed.append(f"{Path(name).name}: {getattr(error, 'strerror', None) or error}")

    with _holding(run_dir):   # (rmtree does not follow links inside the folder, and refuses a link itself)
        if sys.version_info >= (3, 12):
            shutil.rmtree(run_dir, onexc=note)
        else:
            shutil.rmtree(run_dir, onerror=note)
    if failed:
        raise SaveError(f"could not delete all of it ({'; '.join(failed[:3])})", run_dir)
    with contextlib.suppress(OSError):
        fsync_dir(run_dir.parent)
    return size


def prune_run(path: str | Path, runs: Path) -> int:
    """Delete the checkpoints of a run folder inside `runs` (checked as `run_folder_in`) and keep its marker and
    history, marked as pruned; the bytes freed.

    SaveError if it is refused, if a live process holds the run, or if a checkpoint could not be
    deleted. The run's stale lock file goes too. A file with another link outside the run frees nothing.
    """
    run_dir = run_folder_in(path, runs)
    with _holding(run_dir):
        doomed = checkpoint_files(run_dir)
        before = folder_size(run_dir)
        failed = []
        for file in doomed:
            try:
                file.unlink()
            except FileNotFoundError:
                pass
            except OSError as error:
                failed.append(f"{file.name}: {error.strerror or error}")
        _mark_pruned(run_dir)
        with contextlib.suppress(OSError):
            (run_dir / LOCK_FILE).unlink()
            fsync_dir(run_dir)
        freed = max(before - folder_size(run_dir), 0)
    if failed:
        raise SaveError(f"could not delete {'; '.join(failed[:3])}", run_dir)
    return freed


def _mark_pruned(run_dir: Path) -> None:
    """The marker says when the checkpoints went, and no longer names one."""
    marker = _read_marker(run_dir)
    if marker is None:
        return
    marker["pruned_at"] = utc_now()
    marker["last_checkpoint"] = None
    if isinstance(marker.get("best"), dict):
        marker["best"]["file"] = None
    write_json(run_dir / RUN_FILE, marker)


def remove_stale_lock(path: str | Path, runs: Path) -> bool:
    """Remove the lock file a run folder inside `runs` left, if no live process holds it; whether one was removed."""
    try:
        run_dir = run_folder_in(path, runs)
        if not (run_dir / LOCK_FILE).is_file():
            return False
        with _holding(run_dir):
            (run_dir / LOCK_FILE).unlink()
    except (SaveError, OSError):
        return False
    return True
