"""A run's whole history, kept in its run folder as it trains: every batch, every epoch, every live
setting change, and how it ended. The monitor, run comparison, forks and sweeps all read it.

    recorder = HistoryRecorder(run_dir, train_size=54_000)
    recorder.start(config=..., origin={"kind": "new"})      # or continuing: at=(epochs done, batches into the next)
    recorder.batch(event); recorder.epoch(event); recorder.setting("optimizer.lr", 0.01, at=(3, 120))
    recorder.status("paused", at=(3, 120)); recorder.command({"id": "c1", "do": "pause", "ok": True}, at=(3, 120))
    recorder.end("stopped", "", at=(3, 121)); recorder.close()
    history = read_history(run_dir)      # RunHistory: .runs, .epochs, .batches, .settings, .end, .notes

It is `history.jsonl` (`saves.journal`: append-only, one JSON record per line, a torn last line
skipped with a note). The records, told apart by "kind":

    run      a run starts in the folder, or continues in it: format, time, config, origin (where it
             came from: new, a save it continued, a run it resumed, the run and epoch it forked),
             and for a continuation `at`, the position it goes on from
    batch    e (1-based epoch), b (batches done in it), n (examples seen since the run's start), loss, acc
    epoch    the epoch's figures (`EpochEnd.as_dict`) and n
    setting  path, value, and `at`, where it took effect
    status   status (running, pausing, paused, stepping, stopping) as the run moved to it, and `at`: what a
             process following the run shows (`following.py`)
    command  a command sent through the run folder (`steering.py`) and what came of it: id, do, ok, why,
             by, and `at`; its sender waits for it
    end      status, why, and `at`

A position is [epochs done, batches done in the next epoch]. A continuation drops what its file
holds past the position it goes on from (a run resumed from its last checkpoint trains that part
again), so reading replays the file into the history as the run now stands.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from nnstudio.saves import SaveError, checkpoints
from nnstudio.engine import events
from nnstudio.saves.journal import Journal, read_journal

HISTORY_FILE = checkpoints.HISTORY_FILE
#: the version of the records written here; a newer one is read as far as this version understands it
FORMAT = 1
KINDS = ("run", "batch", "epoch", "setting", "status", "command", "end")
#: the statuses a status record holds: those a run moves through while it trains (how it ends is its end record)
MOVES = ("running", "pausing", "paused", "stepping", "stopping")
#: how every batch record's line starts (the recorder writes "kind" first, compactly): a reader that needs no
#: batches skips these lines unparsed (`read_history(batches=False)`), most of a long run's file
BATCH_LINE = b'{"kind":"batch"'


def _number(value: float | None) -> float | None:
    return None if value is None else float(value)


class HistoryRecorder:
    """Writes a run's history as the session reports it.

    A history that cannot be written (a full disk) must not end the run: its checkpoints are what
    resuming needs. The first failure is kept in `problem` (the session says it once) and the
    recorder writes nothing more.
    """

    def __init__(self, run_dir: str | Path, *, train_size: int) -> None:
        self.journal: Journal | None = None
        self.problem: str | None = None
        self.train_size = train_size
        with self._unless_failing():
            self.journal = Journal(Path(run_dir) / HISTORY_FILE)

    @contextlib.contextmanager
    def _unless_failing(self) -> Iterator[None]:
        try:
            yield
        except SaveError as error:
            self.problem = f"the run's history is no longer kept ({error}); its checkpoints are"
            self.journal = None

    def _append(self, record: dict, flush: bool = False) -> None:
        if self.journal is None:
            return
        with self._unless_failing():
            self.journal.append(record)
            if flush:
                self.journal.flush()

    def start(self, *, config: dict, origin: dict, at: tuple[int, int] | None = None, **facts) -> None:
        """A run starts in the folder (`at` None) or continues in it from position `at`."""
        record = {"kind": "run", "format": FORMAT, "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "config": config, "origin": origin, "train_size": self.train_size, **facts}
        if at is not None:
            record["at"] = list(at)
        self._append(record, flush=True)

    def batch(self, event: events.BatchEnd) -> None:
        """A batch as the session numbers it (epoch after those of a save it continues)."""
        self._append({"kind": "batch", "e": event.epoch + 1, "b": event.batch + 1,
                      "n": event.epoch * self.train_size + event.seen, "loss": float(event.loss),
                      "acc": _number(event.accuracy)})

    def epoch(self, event: events.EpochEnd) -> None:
        self._append({"kind": "epoch", **event.as_dict(), "n": (event.epoch + 1) * self.train_size}, flush=True)

    def setting(self, path: str, value, *, at: tuple[int, int]) -> None:
        """A live setting change (from any thread: the journal takes one writer at a time)."""
        self._append({"kind": "setting", "path": path, "value": value, "at": list(at)})

    def status(self, status: str, *, at: tuple[int, int]) -> None:
        """The run moved to `status` (written at once: a paused run writes nothing else a follower could wait for)."""
        self._append({"kind": "status", "status": status, "at": list(at)}, flush=True)

    def command(self, answer: dict, *, at: tuple[int, int]) -> None:
        """What came of a command sent through the run folder (written at once: its sender waits for it)."""
        self._append({"kind": "command", **answer, "at": list(at)}, flush=True)

    def end(self, status: str, why: str, *, at: tuple[int, int]) -> None:
        self._append({"kind": "end", "status": status, "why": why, "at": list(at)}, flush=True)

    def inherit(self, records: list[dict]) -> None:
        """The records a fork starts with: its parent's, up to the epoch it branches from."""
        for record in records:
            self._append(record)

    def close(self) -> None:
        if self.journal is not None:
            self.journal.close()
            self.journal = None


@dataclass
class Batches:
    """Every batch of a run, column by column (one row per batch, in order)."""

    epoch: np.ndarray      # 1-based epoch of each batch
    batch: np.ndarray      # batches done in that epoch, this one included
    examples: np.ndarray   # examples seen since the run's start, this batch's included
    loss: np.ndarray
    accuracy: np.ndarray   # running accuracy over the epoch (NaN without classes)

    @classmethod
    def of(cls, rows: list[tuple]) -> "Batches":
        if not rows:
            return cls(*(np.zeros(0, dtype) for dtype in (np.int64, np.int64, np.int64, np.float64, np.float64)))
        e, b, n, loss, acc = zip(*rows)
        return cls(np.array(e, np.int64), np.array(b, np.int64), np.array(n, np.int64),
                   np.array(loss, np.float64), np.array(acc, np.float64))

    def __len__(self) -> int:
        return len(self.loss)


@dataclass
class RunHistory:
    """A run's history as it now stands (continuations replayed), and notes on what could not be read."""

    runs: list[dict] = field(default_factory=list)       # the run record of its start, then one per continuation
    epochs: list[dict] = field(default_factory=list)
    batches: Batches = field(default_factory=lambda: Batches.of([]))
    settings: list[dict] = field(default_factory=list)
    statuses: list[dict] = field(default_factory=list)   # how it moved while it trained (status records)
    commands: list[dict] = field(default_factory=list)   # the commands sent through its run folder, answered
    end: dict | None = None                              # how the latest continuation ended (None: it did not say)
    moved_to: str | None = None                          # the latest continuation's latest status (None: none said)
    notes: list[str] = field(default_factory=list)

    @property
    def config(self) -> dict:
        """The config the run trains with now (its latest continuation's)."""
        return self.runs[-1].get("config", {}) if self.runs else {}

    @property
    def origin(self) -> dict:
        """Where the run came from (its start's origin)."""
        return self.runs[0].get("origin", {}) if self.runs else {}


def read_history(run_dir: str | Path, *, batches: bool = True) -> RunHistory:
    """The history of a run folder, replayed; SaveError if it has none that can be read.

    `batches=False` leaves the batch records unread (`.batches` empty): a listing of runs needs their epochs,
    settings and ends, and a 50-epoch MNIST run has 40,000 batch records (reading them takes 0.2 s).
    """
    read = read_journal(Path(run_dir) / HISTORY_FILE, skip=None if batches else BATCH_LINE)
    return history_of(read.records, read.notes)


def history_of(records: list[dict], notes: list[str] = ()) -> RunHistory:
    """The history that a journal's records make, replayed (`notes`: what reading it already noted)."""
    records, replayed = replay(records)
    history = RunHistory(notes=[*notes, *replayed])
    rows = []
    for record in records:
        kind = record["kind"]
        if kind == "run":
            history.runs.append(record)
            history.end = history.moved_to = None
        elif kind == "batch":
            rows.append(batch_row(record))
        elif kind == "epoch":
            history.epochs.append(record)
        elif kind == "setting":
            history.settings.append(record)
        elif kind == "status":
            history.statuses.append(record)
            history.moved_to = record.get("status")
        elif kind == "command":
            history.commands.append(record)
        else:
            history.end = record
    history.batches = Batches.of(rows)
    return history


def batch_row(record: dict) -> tuple:
    """A (checked) batch record as a row of `Batches`: epoch, batch, examples, loss, accuracy."""
    return record["e"], record["b"], record["n"], _float(record["loss"]), _float(record.get("acc"))


def replay(records: list[dict]) -> tuple[list[dict], list[str]]:
    """The records that make the run's history as it now stands, and notes on those skipped: a continuation
    drops what lies past the position it goes on from; a record that does not read, or of a kind a newer
    version writes, is skipped."""
    kept: list[dict] = []
    notes: list[str] = []
    newer = False
    for record in records:
        kind = record.get("kind")
        if kind not in KINDS:
            newer = True
            continue
        try:
            if kind == "run":
                newer |= not isinstance(record.get("format"), int) or record["format"] > FORMAT
                if "at" in record:
                    done, into = _position(record["at"])
                    kept = [r for r in kept if r["kind"] == "run" or _at(r) <= (done, into)]
            elif kind == "batch":
                for key in ("e", "b", "n"):
                    if type(record[key]) is not int or record[key] < 0:
                        raise ValueError(key)
                _float(record["loss"]), _float(record.get("acc"))
            elif kind == "epoch":
                if type(record.get("epoch")) is not int or record["epoch"] < 1:
                    raise ValueError("epoch")
            else:
                _position(record["at"])
                if kind == "status" and record.get("status") not in MOVES:
                    raise ValueError("status")
                if kind == "command" and not isinstance(record.get("ok"), bool):
                    raise ValueError("ok")
        except (KeyError, TypeError, ValueError):
            notes.append(f"a {kind} record of {HISTORY_FILE} does not read; skipped")
            continue
        kept.append(record)
    if newer:
        notes.append(f"{HISTORY_FILE} was written by a newer nnstudio; read as far as this version understands it")
    return kept, notes


def _at(record: dict) -> tuple[int, int]:
    """Where a (checked) record lies: a batch after b batches of epoch e lies at (e - 1, b); an epoch's end
    at (epoch, 0); a setting or an end where it says."""
    kind = record["kind"]
    if kind == "batch":
        return record["e"] - 1, record["b"]
    if kind == "epoch":
        return record["epoch"], 0
    return tuple(record["at"])


def records_until(run_dir: str | Path, epoch: int) -> list[dict]:
    """A run's batch, epoch and setting records up to the end of `epoch`: what a fork from there inherits."""
    records, _ = replay(read_journal(Path(run_dir) / HISTORY_FILE).records)
    return [r for r in records if r["kind"] in ("batch", "epoch", "setting") and _at(r) <= (epoch, 0)]


def _float(value) -> float:
    return math.nan if value is None else float(value)


def _position(at) -> tuple[int, int]:
    epochs, batches = at
    if type(epochs) is not int or type(batches) is not int or epochs < 0 or batches < 0:
        raise ValueError(at)
    return epochs, batches
