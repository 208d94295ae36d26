"""Checkpoints of a training run, and finding the run a dropped connection cut off.

A run owns one folder (by default `saves/runs/<name>-<time>/`):

    epoch-0007.safetensors ...   the last `keep_last` epochs' checkpoints
    best.safetensors             the checkpoint with the best monitored metric (a hard link when possible)
    run.json                     the run's state marker: status, last epoch, best, times (written atomically)
    .lock                        locked (flock) while a process is writing the run

A run whose marker still says "running" but whose lock nobody holds was interrupted: its
process died without saying goodbye (killed, SSH dropped, power cut). The lock tells such a
run from one that is still training in another terminal; the kernel releases it on death.
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
import re
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .api import read_metadata, save_checkpoint
from .atomic import link_or_copy, remove_stale_temp_files, write_json
from .errors import SaveError
from .naming import default_folder, sanitize_name
from .schema import parse_time, utc_now

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; every "running" run without a process looks interrupted
    fcntl = None  # type: ignore[assignment]

RUN_FILE = "run.json"
LOCK_FILE = ".lock"
BEST_FILE = "best.safetensors"
RUNS_FOLDER = "runs"
STATUSES = ("running", "finished", "stopped", "failed")
_EPOCH_FILE = re.compile(r"epoch-([0-9]+)\.safetensors")


def runs_folder(folder: str | Path | None = None) -> Path:
    """Where runs live: the `runs` folder inside the saves folder."""
    return Path(folder if folder is not None else default_folder()) / RUNS_FOLDER


def new_run_dir(name: str = "run", folder: str | Path | None = None) -> Path:
    """A fresh, not yet existing folder for a run: runs/<name>-<YYYYmmdd-HHMMSS>[-n]."""
    base = runs_folder(folder) / f"{sanitize_name(name)}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def epoch_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """The run's per-epoch checkpoint files as (epoch, path), oldest first."""
    found = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(run_dir):
            match = _EPOCH_FILE.fullmatch(entry.name)
            if match:
                found.append((int(match.group(1)), Path(entry.path)))
    return sorted(found)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest per-epoch checkpoint whose header reads, or None."""
    for _, path in reversed(epoch_checkpoints(run_dir)):
        try:
            read_metadata(path)
        except SaveError:
            continue
        return path
    return None


def _is_locked(run_dir: Path) -> bool:
    """Whether a live process holds the run's lock (False where locks do not exist)."""
    if fcntl is None:
        return False
    try:
        fd = os.open(run_dir / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _improves(value: float, best: float | None, mode: str) -> bool:
    if math.isnan(value):
        return False
    if best is None:
        return True
    return value > best if mode == "max" else value < best


def _read_marker(run_dir: Path) -> dict | None:
    """The run's marker, or None if it is missing or unreadable (a marker is ours, but files get damaged)."""
    try:
        text = (run_dir / RUN_FILE).read_text(encoding="utf-8")
        marker = json.loads(text)
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
        remove_stale_temp_files(self.run_dir, older_than=0)  # we hold the lock: any temp file is a dead writer's
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
        if fcntl is None:
            return
        fd = os.open(self.run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SaveError("another nnstudio process is writing this run", self.run_dir) from None
        self._lock_fd = fd

    def close(self) -> None:
        """Release the run without changing its status (what a crash would leave, minus the crash)."""
        fd = getattr(self, "_lock_fd", None)  # absent if __init__ failed early
        if fd is not None:
            self._lock_fd = None
            os.close(fd)  # closing releases the flock

    def __del__(self) -> None:
        self.close()

    def __enter__(self) -> "CheckpointManager":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if self.status == "running":
            self.finish("finished" if kind is None else "stopped" if issubclass(kind, KeyboardInterrupt) else "failed")
        self.close()

    # ------------------------------------------------------------------ the marker
    def _write_marker(self) -> None:
        latest = self.latest()
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
        self.close()

    # ------------------------------------------------------------------ checkpoints
    def save(self, epoch: int, model, optimizer, *, metric: float | None = None, **checkpoint) -> Path:
        """Write epoch `epoch`'s checkpoint (see `save_checkpoint` for the keyword arguments), update
        `best.safetensors` if `metric` improves, drop checkpoints beyond the last `keep_last`."""
        if self.status != "running" or (fcntl is not None and self._lock_fd is None):
            raise SaveError("this run is closed; open it again with a new CheckpointManager", self.run_dir)
        if metric is not None and (isinstance(metric, bool) or not isinstance(metric, numbers.Real)):
            raise ValueError(f"metric must be a number or None, got {metric!r}")
        path = save_checkpoint(self.run_dir / f"epoch-{epoch:04d}.safetensors", model, optimizer, epoch=epoch,
                               overwrite=True, **checkpoint)
        self.last_epoch = epoch
        if metric is not None and _improves(float(metric), self.best_value, self.mode):
            link_or_copy(path, self.run_dir / BEST_FILE)
            self.best_value, self.best_epoch = float(metric), epoch
        for _, old in epoch_checkpoints(self.run_dir)[:-self.keep_last]:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
        self._write_marker()
        return path

    def checkpoints(self) -> list[tuple[int, Path]]:
        return epoch_checkpoints(self.run_dir)

    def latest(self) -> Path | None:
        """The newest readable per-epoch checkpoint."""
        return latest_checkpoint(self.run_dir)

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
    latest: Path | None        # newest readable checkpoint
    best: Path | None
    best_value: float | None
    active: bool               # a live process holds its lock

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def interrupted(self) -> bool:
        """Cut off mid-training and resumable: still marked running, nobody writing it, a checkpoint to go on from."""
        return self.status == "running" and not self.active and self.latest is not None

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

    return RunInfo(run_dir, marker["status"], text("started_at"), text("updated_at"),
                   marker["last_epoch"] if isinstance(marker.get("last_epoch"), int) else None,
                   latest_checkpoint(run_dir), best if best.is_file() else None,
                   best_value if isinstance(best_value, (int, float)) else None, _is_locked(run_dir))


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
