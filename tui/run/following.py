"""Following a run that another process trains (`nnstudio train --detach`, another studio): its history read as
it grows, the status it moves through, and the commands that steer it through its run folder (`steering.py`).

    followed = FollowedRun(run_dir)
    history = followed.open()        # the history so far; SessionError unless another process trains the run
    for event in followed.poll():    # what came since, as a session would report it: BatchRows, EpochEnd,
        ...                          # StatusChanged, SettingChanged, Notice (a command refused), FollowEnded
    followed.pause(); followed.set_live("optimizer.lr", 0.01); followed.stop("stopped from ...")
    answer = steer(run_dir, "pause", by="nnstudio runs pause")   # the command line: send, wait for the answer

A follower never trains and never takes the run's lock: it reads. The process that trains the run
answers every command in its history and records each status it moves to, so a follower shows
what came of a command when the run says so. If that process dies without an end record (killed,
a power cut), the lock it held is gone: the follower says the run was cut off, and that it
resumes (`nnstudio train --resume`).
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from nnstudio import saves
from nnstudio.engine import events
from nnstudio.saves.journal import JournalTail

from .config import LIVE_SETTINGS, ConfigError, RunConfig, portable
from .history import HISTORY_FILE, RunHistory, history_of, replay
from .reports import Notice, SessionError
from .runs import summarize
from .status import Status, StatusChanged
from .steering import send_command

#: seconds a command's sender waits for the run to answer it (it looks every `steering.POLL_SECONDS`)
ANSWER_SECONDS = 5.0
#: how often the command line looks for the answer
LOOK_SECONDS = 0.05
#: how each way a run ends reads as a status
ENDINGS = {status.value: status for status in (Status.FINISHED, Status.EARLY_STOPPED, Status.STOPPED,
                                                Status.DIVERGED, Status.FAILED)}


@dataclass(frozen=True)
class BatchRows:
    """Batches the run trained since the last poll, as the studio's bridge takes them: (epoch, batch, batches, loss,
    examples seen in the epoch) each, 0-based as `events.BatchEnd` counts; and the newest as a BatchEnd."""

    rows: list[tuple[int, int, int, float, int]]
    latest: events.BatchEnd


@dataclass(frozen=True)
class SettingChanged:
    """The followed run took a live setting (sent by this follower or by anyone else)."""

    path: str
    value: Any


@dataclass(frozen=True)
class FollowEnded:
    """The followed run ended (`status`, and its own words `why`), or its process died without a word (`cut_off`)."""

    status: Status
    why: str
    cut_off: bool = False
    text: str = ""


def running_elsewhere(run_dir: str | Path) -> saves.RunInfo:
    """The run at `run_dir`, which another process must be training now; SessionError otherwise, saying what it is."""
    info = saves.read_run(run_dir)
    if info is None:
        raise SessionError(f"{run_dir}: not a run folder (it has no readable run.json)")
    if info.status != "running" or not info.active:
        summary = summarize(info, batches=False)
        what = f"it {summary.status}" + (f" ({summary.why})" if summary.why else "") \
            if summary.status != "interrupted" else "it was cut off (interrupted): nnstudio train --resume goes on"
        raise SessionError(f"{info.name} is not training now: {what}")
    return info


class FollowedRun:
    """A run trained by another process, seen through its run folder, and steered through it (any thread: its
    status is a plain attribute; `poll` from one thread at a time)."""

    def __init__(self, run_dir: str | Path, *, by: str = "a studio following it",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.run_dir = Path(run_dir)
        self.by = f"{by} (pid {os.getpid()})"
        self._clock = clock
        self.tail = JournalTail(self.run_dir / HISTORY_FILE)
        self.status = Status.PREPARING
        self.holder = ""
        self.config: RunConfig | None = None
        self.train_size: int | None = None
        self.epochs_done = 0
        self.ended: FollowEnded | None = None
        self._sent: dict[str, tuple[str, float]] = {}   # id -> (what was asked, when): until answered
        self._pace: tuple[float, int] | None = None      # (when, examples) of the first batch seen live
        self._rate = 0.0                                 # examples a second: the last epoch's, or seen here
        self._lock = threading.Lock()   # a command sent (and the status it asks for) and a poll, one at a time
        self._problem: str | None = None   # why the history could not be read at the last poll

    @property
    def name(self) -> str:
        return self.run_dir.name

    @property
    def busy(self) -> bool:
        return self.ended is None

    # ------------------------------------------------------------------ reading
    def open(self) -> RunHistory:
        """The run's history so far; SessionError unless another process trains it now, or if it has no history."""
        info = running_elsewhere(self.run_dir)
        self.holder = info.holder
        try:
            read = self.tail.read()
        except saves.SaveError as error:
            raise SessionError(str(error)) from None
        history = history_of(read.records, read.notes)
        if not history.runs:
            raise SessionError(f"{info.name} has no history to follow yet (its process writes it once it trains)")
        try:
            self.config = RunConfig.from_dict(portable(history.config))
        except ConfigError as error:
            raise SessionError(f"{info.name}: its settings do not read ({error}); it was written by another "
                               f"nnstudio") from None
        size = history.runs[0].get("train_size")
        self.train_size = size if type(size) is int and size > 0 else None
        if history.epochs:
            self._epoch(history.epochs[-1])   # (where it stands, at what pace)
        kept, _ = replay(read.records)
        for record in kept:
            self._move(record)
        if history.end is not None:
            self._ended(history.end)
        return history

    def poll(self) -> list:
        """What the run did since the last poll, as events (see the module's docstring); a FollowEnded last."""
        with self._lock:
            return self._poll()

    def _poll(self) -> list:
        if self.ended is not None:
            return []
        found = self._read()
        if self.ended is None and not saves.is_locked(self.run_dir):   # (the lock goes last: read once more)
            found += self._read()
            if self.ended is None:
                self.status = Status.STOPPED
                self.ended = FollowEnded(Status.STOPPED, "", cut_off=True, text=(
                    f"{self.name} was cut off: its process ({self.holder}) ended without a word; it resumes where "
                    f"its last checkpoint stands (nnstudio train --resume {self.name})"))
                found += [StatusChanged(self.status), self.ended]
        now = self._clock()
        for command_id, (what, sent) in list(self._sent.items()):
            if now - sent > ANSWER_SECONDS:
                del self._sent[command_id]
                found.append(Notice(f"{self.name} did not answer '{what}' within {ANSWER_SECONDS:g} s "
                                    f"({self.holder} trains it)"))
        return found

    def _read(self) -> list:
        try:
            read = self.tail.read()
        except saves.SaveError as error:   # (said once; the next poll tries again)
            said, self._problem = self._problem, str(error)
            return [Notice(self._problem)] if said != self._problem else []
        self._problem = None
        records, notes = replay(read.records)
        found: list = [Notice(note) for note in [*read.notes, *notes]]
        rows: list[tuple] = []
        latest = None
        before = self.status
        for record in records:
            kind = record["kind"]
            if kind == "batch":
                row, latest = self._batch(record)
                rows.append(row)
            elif kind == "epoch":
                found.append(self._epoch(record))
            elif kind == "setting":
                found.append(self._setting(record))
            elif kind == "command":
                found += self._answered(record)
            self._move(record)
        if rows:
            found.insert(0, BatchRows(rows, latest))
        if self.status is not before:
            found.append(StatusChanged(self.status))
        if self.ended is not None:
            found.append(self.ended)
        return found

    def _move(self, record: dict) -> None:
        """The status a record says the run moved to (a status record, unless a command sent here is unanswered:
        what it asked shows until then; a run record: running again; the end)."""
        kind = record["kind"]
        if kind == "run":
            self.status = Status.RUNNING
        elif kind == "status" and not self._sent:
            self.status = Status(record["status"])
        elif kind == "end":
            self._ended(record)

    def _ended(self, record: dict) -> None:
        status = ENDINGS.get(record.get("status"), Status.FAILED)
        why = str(record.get("why") or "")
        self.status = status
        self.ended = FollowEnded(status, why, text=f"{self.name} {status}" + (f": {why}" if why else "") +
                                 f" (epoch {self.epochs_done})")

    def _batch(self, record: dict) -> tuple[tuple, events.BatchEnd]:
        size = self.train_size
        batch_size = self.config.training.batch_size if self.config is not None else 1
        batches = max(math.ceil(size / batch_size), 1) if size else max(record["b"], 1)
        epoch, batch = record["e"] - 1, record["b"] - 1
        seen = record["n"] - epoch * size if size else 0
        if not self.epochs_done or not self._rate:   # (until an epoch says its pace: the pace seen here)
            now = self._clock()
            if self._pace is None:
                self._pace = (now, record["n"])
            elif now - self._pace[0] >= 1.0:
                self._rate = (record["n"] - self._pace[1]) / (now - self._pace[0])
        loss, accuracy = float(record["loss"]), record.get("acc")
        latest = events.BatchEnd(epoch, batch, batches, loss, accuracy if isinstance(accuracy, (int, float)) else None,
                                 self._rate, seen=seen)
        return (epoch, batch, batches, loss, seen), latest

    def _epoch(self, record: dict) -> events.EpochEnd:
        self.epochs_done = record["epoch"]
        if isinstance(record.get("samples_per_second"), (int, float)):
            self._rate = float(record["samples_per_second"])   # (the trainer's own: a pause does not count)
        return epoch_event(record, self.config.training.epochs if self.config is not None else record["epoch"])

    def _setting(self, record: dict) -> SettingChanged:
        path, value = record.get("path"), record.get("value")
        if self.config is not None and path in LIVE_SETTINGS:
            try:
                self.config = self.config.replace(**{path: value})
            except ConfigError:
                pass
        return SettingChanged(str(path), value)

    def _answered(self, record: dict) -> list:
        """A command answered: news only if it was sent from here and refused (what it did, the history shows)."""
        sent = self._sent.pop(record.get("id"), None)
        if sent is None or record.get("ok"):
            return []
        return [Notice(f"{self.name} refused '{sent[0]}': {record.get('why') or 'no reason given'}")]

    # ------------------------------------------------------------------ steering (the run's own checks apply)
    def _send(self, do: str, what: str, **fields: Any) -> None:
        """(Called with the lock held: the status it asks for is set before a poll can read another.)"""
        if self.ended is not None:
            raise SessionError(f"{self.name} has ended ({self.status}): nothing to {do}")
        try:
            command_id = send_command(self.run_dir, do, by=self.by, **fields)
        except saves.SaveError as error:
            raise SessionError(str(error)) from None
        self._sent[command_id] = (what, self._clock())

    def _command(self, do: str, what: str, moves: tuple[Status, ...], to: Status, **fields: Any) -> None:
        """Send a command and show at once what it asks for (as a session's own commands do) when the run is in
        one of the statuses it `moves`; the run's status records say what came of it."""
        with self._lock:
            self._send(do, what, **fields)
            if self.status in moves:
                self.status = to

    def pause(self) -> None:
        self._command("pause", "pause", (Status.RUNNING, Status.STEPPING), Status.PAUSING)

    def resume(self) -> None:
        self._command("resume", "resume", (Status.PAUSED, Status.PAUSING), Status.RUNNING)

    def step(self, size: str) -> None:
        self._command("step", f"step one {size}", (Status.PAUSED,), Status.STEPPING, size=size)

    def stop(self, why: str) -> None:
        self._command("stop", "stop", (Status.RUNNING, Status.PAUSING, Status.PAUSED, Status.STEPPING),
                      Status.STOPPING, why=why)

    def set_live(self, path: str, value: Any) -> Any:
        """Send a live setting, checked here first as the run will check it (ConfigError: nothing sent); the value
        as the config holds it. The run's setting record says when it took it."""
        if path not in LIVE_SETTINGS:
            raise ConfigError(path, f"cannot change during training (live settings: {', '.join(LIVE_SETTINGS)})")
        typed = (self.config or RunConfig()).replace(**{path: value}).get(path)
        with self._lock:
            self._send("set", f"{path} {typed}", path=path, value=typed)
        return typed


def epoch_event(record: dict, planned: int) -> events.EpochEnd:
    """An epoch record as the session reported it (without the arrays a history does not keep)."""
    def number(key: str) -> float | None:
        value = record.get(key)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    def layers(key: str) -> dict:
        value = record.get(key)
        return dict(value) if isinstance(value, dict) else {}

    seconds = number("seconds") or 0.0
    return events.EpochEnd(record["epoch"] - 1, planned, number("train_loss") or math.nan, number("train_acc"),
                           number("val_loss"), number("val_acc"), number("lr") or 0.0, layers("grad_norms"),
                           layers("weight_norms"), layers("update_ratios"), number("samples_per_second") or 0.0,
                           seconds, number("elapsed") or 0.0, seconds * max(planned - record["epoch"], 0))


# ====================================================================== the command line's side
@dataclass(frozen=True)
class Answer:
    """What a run said to a command: its answer record, and the record that shows it done (the status it moved
    to, its end), if that came in time."""

    run: saves.RunInfo
    answer: dict
    done: dict | None = None


def steer(run_dir: str | Path, do: str, *, by: str, wait: float | None = None,
          done: Callable[[dict], bool] | None = None, sleep: Callable[[float], None] = time.sleep,
          clock: Callable[[], float] = time.monotonic, **fields: Any) -> Answer:
    """Send `do` to the process that trains the run and wait up to `wait` seconds for its answer, then (`done`) for
    the record that shows it carried out. SessionError: the run is not training, it did not answer in time,
    or it ended first."""
    wait = ANSWER_SECONDS if wait is None else wait
    info = running_elsewhere(run_dir)
    tail = JournalTail.at_end(Path(run_dir) / HISTORY_FILE)
    try:
        command_id = send_command(run_dir, do, by=by, **fields)
    except saves.SaveError as error:
        raise SessionError(str(error)) from None
    deadline = clock() + wait
    answer: dict | None = None
    while True:
        alive = saves.is_locked(run_dir)
        for record in tail.read().records:
            if answer is None and record.get("kind") == "command" and record.get("id") == command_id:
                answer = record
            elif answer is not None and done is not None and done(record):
                return Answer(info, answer, record)
        if answer is not None and (done is None or not answer.get("ok")):
            return Answer(info, answer)
        if not alive:
            if answer is not None:
                return Answer(info, answer)
            raise SessionError(f"{info.name} ended before it answered (its process, {info.holder}, let it go)")
        if clock() > deadline:
            if answer is not None:
                return Answer(info, answer)
            raise SessionError(f"{info.name} did not answer within {wait:g} s ({info.holder} holds its lock; an "
                               f"nnstudio older than run commands, or a process that no longer reads them)")
        sleep(LOOK_SECONDS)
