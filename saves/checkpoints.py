"""Checkpoints of a training run, and finding the run a dropped connection cut off.

A run owns one folder, `runs/<name>-<time>/` in the saves folder:

    epoch-0007.safetensors ...   the last `keep_last` epochs' checkpoints (finished epochs only)
    partial.safetensors          where a run stopped mid-epoch (gone once a later epoch is checkpointed)
    best.safetensors             the checkpoint with the best monitored metric (a hard link when possible)
    run.json                     the run's state marker: status, last epoch, best, times (written atomically)
    history.jsonl                the run's history as it goes (written by the run core, `tui/run/history.py`)
    .lock                        locked (flock) while a process is writing the run; removed by `finish`

`runs prune` (`run_folders.py`) deletes a run's checkpoints and keeps its marker and history; the
marker then says when (`pruned_at`): the run can be listed and compared, not resumed.

A run whose marker still says "running" but whose lock nobody holds was interrupted: its
process died without saying goodbye (killed, SSH dropped, power cut). The lock tells such a
run from one that is still training in another terminal; the kernel releases it on death.
A run continues from its *resume point* (`resume_point`): the partial checkpoint while it is
at least as far on as the newest epoch's, else the newest readable epoch checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
import re
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .api import read_metadata, save_checkpoint
from .atomic import fsync_dir, link_or_copy, remove_stale_temp_files, write_json
from .errors import SaveError
from .naming import folder_or_default, sanitize_name
from .schema import parse_time, utc_now

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; every "running" run without a process looks interrupted
    fcntl = None  # type: ignore[assignment]

RUN_FILE = "run.json"
#: the run's history (its records are the run core's business: `tui/run/history.py`)
HISTORY_FILE = "history.jsonl"
#: the longest run marker read (a real one is about 450 bytes): `saves list` reads every run's
MAX_MARKER_BYTES = 64 * 1024
LOCK_FILE = ".lock"
BEST_FILE = "best.safetensors"
#: a run's checkpoint of a stop mid-epoch (epoch-NNNN files hold finished epochs only)
PARTIAL_FILE = "partial.safetensors"
RUNS_FOLDER = "runs"
STATUSES = ("running", "finished", "stopped", "failed")
_EPOCH_FILE = re.compile(r"epoch-([0-9]+)\.safetensors")
#: without a lock to prove no one else writes the run (no fcntl: Windows), its temp files untouched this long are a
#: dead writer's (a live one touches its file with every chunk); with the lock held, all of them are
STALE_TEMP_SECONDS = 300.0
#: how long a new writer waits for a run's lock: long enough for any probe, short enough to report a real writer
LOCK_WAIT_SECONDS = 0.5
#: what taking a run's lock says when a live process holds it
LOCKED = "another nnstudio process is writing this run"


def runs_folder(folder: str | Path | None = None) -> Path:
    """Where runs live: the `runs` folder inside the saves folder."""
    return folder_or_default(folder) / RUNS_FOLDER


def new_run_dir(name: str = "run", folder: str | Path | None = None) -> Path:
    """A fresh, empty folder for a run, created here: runs/<name>-<YYYYmmdd-HHMMSS>[-n].

    Created with a plain mkdir, which fails if the folder exists, and retried with the next
    suffix: two runs started in the same second (in two terminals) never share a folder,
    where checking first and creating later would let both pick the same name.
    """
    parent = runs_folder(folder)
    base = f"{sanitize_name(name)}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for n in range(1, 10_000):
            candidate = parent / (base if n == 1 else f"{base}-{n}")
            try:
                candidate.mkdir()
            except FileExistsError:
                continue
            return candidate
    except OSError as error:
        raise SaveError(f"cannot create a run folder: {error.strerror or error}", parent) from None
    raise SaveError(f"cannot create a run folder: every name {base}-n is taken", parent)


def is_run_dir(path: str | Path) -> bool:
    """Whether `path` is a run's folder (it holds a readable run marker), as opposed to e.g. the saves folder.

    A session resuming a checkpoint keeps writing to the checkpoint's folder only if this is true;
    a checkpoint lying anywhere else gets a fresh run folder, so its neighbours are never pruned.
    """
    path = Path(path)
    return path.is_dir() and _read_marker(path) is not None


def _owned(name: str) -> bool:
    """Whether a file name is one a run writes itself (its temp files may be cleaned up by the run)."""
    return name in (RUN_FILE, BEST_FILE, PARTIAL_FILE) or _EPOCH_FILE.fullmatch(name) is not None


def epoch_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """The run's per-epoch checkpoint files as (epoch, path), oldest first."""
    found = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(run_dir):
            match = _EPOCH_FILE.fullmatch(entry.name)
            if match:
                found.append((int(match.group(1)), Path(entry.path)))
    return sorted(found)


def _latest_readable(run_dir: Path) -> tuple[int, Path] | None:
    """The newest per-epoch checkpoint whose header reads, as (epoch, path) (its name gives the epoch), or None."""
    for epoch, path in reversed(epoch_checkpoints(run_dir)):
        try:
            read_metadata(path)
        except SaveError:
            continue
        return epoch, path
    return None


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest per-epoch checkpoint whose header reads, or None."""
    latest = _latest_readable(Path(run_dir))
    return latest[1] if latest is not None else None


def _partial_epoch(run_dir: Path) -> int | None:
    """The epochs done by the run's partial checkpoint (from its header), or None if there is none that reads."""
    path = run_dir / PARTIAL_FILE
    if not path.is_file():
        return None
    try:
        return read_metadata(path).checkpoint["epoch"]
    except (SaveError, TypeError, KeyError):
        return None


def _checkpoints_of(run_dir: Path) -> tuple[Path | None, Path | None]:
    """The run's newest readable epoch checkpoint and its resume point (each header read once)."""
    latest = _latest_readable(run_dir)
    latest_path = latest[1] if latest is not None else None
    partial_epoch = _partial_epoch(run_dir)
    if partial_epoch is not None and (latest is None or partial_epoch >= latest[0]):
        return latest_path, run_dir / PARTIAL_FILE
    return latest_path, latest_path


def resume_point(run_dir: str | Path) -> Path | None:
    """Where a run folder continues from: its partial checkpoint (a stop mid-epoch) while that is at least
    as far on as its newest epoch checkpoint, else that newest readable epoch checkpoint; None if it has neither.

    The folder's marker is not read: ask `is_run_dir` (or `read_run`, whose `resume_point` this is) first.
    """
    return _checkpoints_of(Path(run_dir))[1]


def is_locked(run_dir: str | Path) -> bool:
    """Whether a live process holds the run's lock now (False where locks do not exist): a cheap probe, no marker
    read, for a follower that asks again and again."""
    return _is_locked(Path(run_dir))


def _is_locked(run_dir: Path) -> bool:
    """Whether a live process holds the run's lock (False where locks do not exist).

    The probe takes a *shared* lock for a moment: probes (two terminals listing runs) never
    block each other, and a writer starting at that instant waits for it (see `_lock`).
    """
    if fcntl is None:
        return False
    try:
        fd = os.open(run_dir / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def take_lock(run_dir: Path) -> int | None:
    """Take a run's lock for writing (or deleting) it: the open lock file, to close to let go; None where locks do
    not exist. Waits up to LOCK_WAIT_SECONDS (a `find_runs` probe holds it for an instant, and must not pass for
    another writer); SaveError if another process holds it.

    A lock file may be removed by whoever holds it (`finish`, `runs prune`, `runs rm`): a process that
    opened it just before and waited gets the lock of a file no longer there, so the lock taken is checked
    to be the one the folder holds, and taken again if not.
    """
    if fcntl is None:
        return None
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as error:
            raise SaveError(f"cannot create the run's lock file: {error.strerror or error}", run_dir) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() < deadline:
                time.sleep(0.01)
                continue
            raise SaveError(LOCKED, run_dir) from None
        except OSError as error:
            os.close(fd)
            raise SaveError(f"cannot lock the run: {error.strerror or error}", run_dir) from None
        if _same_file(fd, run_dir / LOCK_FILE):
            return fd
        os.close(fd)   # (removed while this process waited for it: lock the folder's own)


def _same_file(fd: int, path: Path) -> bool:
    try:
        held, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (held.st_dev, held.st_ino) == (there.st_dev, there.st_ino)


def _improves(value: float, best: float | None, mode: str) -> bool:
    if math.isnan(value):
        return False
    if best is None:
        return True
    return value > best if mode == "max" else value < best


def _read_marker(run_dir: Path) -> dict | None:
    """The run's marker, or None if it is missing or unreadable (a marker is ours, but files get damaged).

    A marker is a few hundred bytes: one longer than MAX_MARKER_BYTES is damaged, and is not read whole.
    """
    try:
        with open(run_dir / RUN_FILE, "rb") as file:
            data = file.read(MAX_MARKER_BYTES + 1)
        if len(data) > MAX_MARKER_BYTES:
            return None
        marker = json.loads(data.decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return marker if isinstance(marker, dict) and marker.get("status") in STATUSES else None


class CheckpointManager:
    """Writes a run's checkpoints each epoch, keeping the last `keep_last` and the best.

        manager = CheckpointManager(new_run_dir("mnist-mlp"), keep_last=3, monitor="val_acc", mode="max")
        for epoch in ...:
            manager.save(epoch, model, optimizer, metric=val_acc, scheduler=..., data_rng=..., history=...)
        manager.finish()            # or finish("stopped"); a crash leaves the run "running" = interrupted

    Opening an existing run folder (to resume it) keeps its history of best and start time.
    Only one process may write a run at a time: a second one gets a SaveError.
    """

    def __init__(self, run_dir: str | Path, *, keep_last: int = 3, monitor: str = "val_acc", mode: str = "max") -> None:
        if not isinstance(keep_last, int) or keep_last < 1:
            raise ValueError(f"keep_last must be a whole number >= 1, got {keep_last!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.run_dir = Path(run_dir)
        self.keep_last, self.monitor, self.mode = keep_last, monitor, mode
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SaveError(f"cannot create the run folder: {error.strerror or error}", self.run_dir) from None
        self._lock_fd: int | None = None
        self._lock()
        self._remove_own_temp_files()
        previous = _read_marker(self.run_dir) or {}
        best = previous.get("best") if isinstance(previous.get("best"), dict) else None
        self.best_value: float | None = best.get("value") if best and previous.get("monitor") == monitor else None
        self.best_epoch: int | None = best.get("epoch") if self.best_value is not None else None
        self.started_at = previous.get("started_at") if isinstance(previous.get("started_at"), str) else utc_now()
        self.last_epoch: int | None = previous.get("last_epoch") if isinstance(previous.get("last_epoch"), int) else None
        self.status = "running"
        self._write_marker()

    # ------------------------------------------------------------------ the lock
    def _lock(self) -> None:
        self._lock_fd = take_lock(self.run_dir)

    def _remove_own_temp_files(self) -> None:
        """Delete what killed writes of this run left (`.epoch-0002.safetensors.<id>.tmp`): only the run's own
        files' temp files, never another program's in the folder. While this manager holds the lock no one
        else writes the run and it writes nothing now, so all of them go, however fresh (a run resumed a
        minute after a kill keeps no 38 MB leftover); without a lock, only stale ones."""
        older_than = 0.0 if self._lock_fd is not None else STALE_TEMP_SECONDS
        remove_stale_temp_files(self.run_dir, older_than=older_than, owned=_owned)

    def close(self) -> None:
        """Release the run without changing its status (what a crash would leave, minus the crash), and
        its own temp files (a write cut short by a full disk or a failed mark leaves one)."""
        fd = getattr(self, "_lock_fd", None)  # absent if __init__ failed early
        if fd is not None:
            self._remove_own_temp_files()
            self._release()

    def _release(self) -> None:
        fd, self._lock_fd = getattr(self, "_lock_fd", None), None
        if fd is not None:
            os.close(fd)  # closing releases the flock

    def __del__(self) -> None:
        self._release()   # (no file clean-up here: at interpreter exit it might not run to the end)

    def __enter__(self) -> "CheckpointManager":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if self.status == "running":
            self.finish("finished" if kind is None else "stopped" if issubclass(kind, KeyboardInterrupt) else "failed")
        self.close()

    # ------------------------------------------------------------------ the marker
    def _write_marker(self) -> None:
        latest = self.resume_point()
        best = ({"epoch": self.best_epoch, "value": self.best_value, "file": BEST_FILE}
                if self.best_value is not None else None)
        write_json(self.run_dir / RUN_FILE, {
            "format_version": 1, "name": self.run_dir.name, "status": self.status,
            "started_at": self.started_at, "updated_at": utc_now(), "last_epoch": self.last_epoch,
            "last_checkpoint": latest.name if latest else None, "monitor": self.monitor, "mode": self.mode,
            "best": best, "keep_last": self.keep_last, "pid": os.getpid(), "host": socket.gethostname(),
        })

    def finish(self, status: str = "finished") -> None:
        """Mark the run as over ("finished", "stopped" by the user, or "failed"); it is then not offered for resuming."""
        if status not in STATUSES or status == "running":
            raise ValueError(f"status must be one of finished, stopped, failed; got {status!r}")
        self.status = status
        self._write_marker()
        if self._lock_fd is not None:   # an ended run keeps no lock file (a taker checks it locked the folder's own)
            with contextlib.suppress(OSError):
                (self.run_dir / LOCK_FILE).unlink()
        self.close()

    # ------------------------------------------------------------------ checkpoints
    def _check_open(self) -> None:
        if self.status != "running" or (fcntl is not None and self._lock_fd is None):
            raise SaveError("this run is closed; open it again with a new CheckpointManager", self.run_dir)

    def save(self, epoch: int, model, optimizer, *, metric: float | None = None, **checkpoint) -> Path:
        """Write epoch `epoch`'s checkpoint (see `save_checkpoint` for the keyword arguments), update
        `best.safetensors` if `metric` improves, drop checkpoints beyond the last `keep_last`."""
        self._check_open()
        if metric is not None and (isinstance(metric, bool) or not isinstance(metric, numbers.Real)):
            raise ValueError(f"metric must be a number or None, got {metric!r}")
        path = save_checkpoint(self.run_dir / f"epoch-{epoch:04d}.safetensors", model, optimizer, epoch=epoch,
                               overwrite=True, **checkpoint)
        self.last_epoch = epoch
        if metric is not None and _improves(float(metric), self.best_value, self.mode):
            link_or_copy(path, self.run_dir / BEST_FILE)
            self.best_value, self.best_epoch = float(metric), epoch
        self._prune()
        self._drop_partial()
        self._write_marker()
        return path

    def save_partial(self, epoch: int, model, optimizer, **checkpoint) -> Path:
        """Write where a run stopped mid-epoch, after `epoch` finished epochs, as `partial.safetensors`:
        the clean checkpoint of the last finished epoch is never overwritten, and the next epoch's
        checkpoint (`save`) makes this one stale and removes it. It becomes the run's resume point."""
        self._check_open()
        path = save_checkpoint(self.run_dir / PARTIAL_FILE, model, optimizer, epoch=epoch, overwrite=True,
                               **checkpoint)
        self._write_marker()
        return path

    def _drop_partial(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.run_dir / PARTIAL_FILE).unlink()

    def _prune(self) -> None:
        """Delete checkpoints beyond the last `keep_last`, durably (a folder fsync), so that after a power cut
        the folder does not come back holding files the marker no longer accounts for."""
        pruned = False
        for _, old in epoch_checkpoints(self.run_dir)[:-self.keep_last]:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
                pruned = True
        if pruned:
            fsync_dir(self.run_dir)

    def checkpoints(self) -> list[tuple[int, Path]]:
        return epoch_checkpoints(self.run_dir)

    def latest(self) -> Path | None:
        """The newest readable per-epoch checkpoint."""
        return latest_checkpoint(self.run_dir)

    def resume_point(self) -> Path | None:
        """Where the run would continue from (see `resume_point`)."""
        return resume_point(self.run_dir)

    def best(self) -> Path | None:
        path = self.run_dir / BEST_FILE
        return path if path.is_file() else None


# ====================================================================== finding runs
@dataclass(frozen=True)
class RunInfo:
    """A run folder as found on disk."""

    path: Path
    status: str
    started_at: str | None
    updated_at: str | None
    last_epoch: int | None
    latest: Path | None        # newest readable per-epoch checkpoint
    resume_point: Path | None  # where it continues from: `latest`, or the partial checkpoint of a stop mid-epoch
    best: Path | None
    best_value: float | None
    active: bool               # a live process holds its lock
    pruned_at: str | None = None  # when `runs prune` deleted its checkpoints (None: never)
    pid: int | None = None        # the process that last took its lock, and its host (the marker's)
    host: str | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def holder(self) -> str:
        """Who writes the run, as a message names it: "pid 4242 on gpu-box" (as far as its marker says)."""
        pid = f"pid {self.pid}" if self.pid is not None else "a process"
        return f"{pid} on {self.host}" if self.host else pid

    @property
    def interrupted(self) -> bool:
        """Cut off mid-training and resumable: still marked running, nobody writing it, a checkpoint to go on from."""
        return self.status == "running" and not self.active and self.resume_point is not None

    @property
    def updated(self) -> datetime | None:
        return parse_time(self.updated_at) if self.updated_at else None


def read_run(run_dir: str | Path) -> RunInfo | None:
    """A run's state, or None if the folder has no readable marker."""
    run_dir = Path(run_dir)
    marker = _read_marker(run_dir)
    if marker is None:
        return None
    best = run_dir / BEST_FILE
    best_value = marker["best"].get("value") if isinstance(marker.get("best"), dict) else None

    def text(key: str) -> str | None:
        return marker[key] if isinstance(marker.get(key), str) else None

    latest, resume = _checkpoints_of(run_dir)
    return RunInfo(run_dir, marker["status"], text("started_at"), text("updated_at"),
                   marker["last_epoch"] if isinstance(marker.get("last_epoch"), int) else None,
                   latest, resume, best if best.is_file() else None,
                   best_value if isinstance(best_value, (int, float)) else None, _is_locked(run_dir), text("pruned_at"),
                   marker["pid"] if type(marker.get("pid")) is int else None, text("host"))


def find_runs(folder: str | Path | None = None) -> list[RunInfo]:
    """Every run under the saves folder's `runs/` (or `folder/runs`), most recently updated first."""
    runs = []
    try:
        entries = list(os.scandir(runs_folder(folder)))
    except OSError:
        return []
    for entry in entries:
        with contextlib.suppress(OSError):  # one unreadable folder does not hide the others
            if entry.is_dir() and not entry.name.startswith("."):
                info = read_run(entry.path)
                if info is not None:
                    runs.append(info)
    runs.sort(key=lambda r: (r.updated_at or "", r.name), reverse=True)
    return runs


def find_interrupted_runs(folder: str | Path | None = None) -> list[RunInfo]:
    """Runs cut off mid-training that can be resumed from their latest checkpoint, most recent first."""
    return [run for run in find_runs(folder) if run.interrupted]


def latest_interrupted_run(folder: str | Path | None = None) -> RunInfo | None:
    """The most recent interrupted run, or None."""
    runs = find_interrupted_runs(folder)
    return runs[0] if runs else None
