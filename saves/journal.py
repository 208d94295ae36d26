"""An append-only journal of JSON records, one per line: what a run's history is kept in.

    journal = Journal(run_dir / "history.jsonl")
    journal.append({"kind": "batch", "loss": 0.31})     # buffered; written at most every FLUSH_SECONDS
    journal.flush()                                     # now (an epoch's end, a stop)
    journal.close()                                     # flushed and synced
    read = read_journal(run_dir / "history.jsonl")      # .records, and .notes on what was skipped
    tail = JournalTail(run_dir / "history.jsonl")       # a reader that follows it as it grows:
    tail.read()                                         # the records of the whole lines added since its last read

Lines are only ever added, each whole in one `write` to a file opened for appending, so a crash
or a full disk mid-write leaves at worst a torn last line. Reading takes every sound line, skips
a torn or damaged one with a note, and stops at a documented size (`MAX_JOURNAL_BYTES`) rather
than run out of memory on a file that grew without end or was made to.

Records are written as Python's `json` writes them, NaN and infinity included (a diverging loss
is a fact worth keeping); the reader accepts them.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .errors import SaveError

#: buffered records are written out at least this often while a run goes on
FLUSH_SECONDS = 1.0
#: a journal is read up to this size (a 20-epoch MNIST run writes about 2 MB)
MAX_JOURNAL_BYTES = 256 * 1024 * 1024
_DECODER = json.JSONDecoder()


class Journal:
    """Appends records to a journal file; the file is created if it is not there."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self._clock = clock
        self._pending: list[str] = []
        self._lock = threading.Lock()   # (the training thread and a live setting's may both append)
        self._written_at = clock()
        try:
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        except OSError as error:
            raise SaveError(f"cannot write the history: {error.strerror or error}", self.path) from None
        self._start_on_a_new_line()

    def _start_on_a_new_line(self) -> None:
        """A journal torn mid-line by a crash is continued on a line of its own (the torn one stays skipped)."""
        try:
            size = os.fstat(self._fd).st_size
            if size:
                with open(self.path, "rb") as file:
                    file.seek(size - 1)
                    if file.read(1) != b"\n":
                        self._pending.append("")
        except OSError:
            pass

    def append(self, record: dict) -> None:
        """Add a record (written within FLUSH_SECONDS, or at the next `flush`)."""
        line = json.dumps(record, separators=(",", ":"))
        with self._lock:
            self._pending.append(line)
            due = self._clock() - self._written_at >= FLUSH_SECONDS
        if due:
            self.flush()

    def flush(self) -> None:
        """Write the buffered records now, whole lines in one write. SaveError if the disk refuses."""
        with self._lock:
            self._written_at = self._clock()
            if not self._pending or self._fd is None:
                return
            data = ("\n".join(self._pending) + "\n").encode()
            self._pending.clear()
            self._write(data)

    def _write(self, data: bytes) -> None:
        try:
            written = os.write(self._fd, data)
            while written < len(data):   # (a write to a regular file is whole unless the disk filled)
                written += os.write(self._fd, data[written:])
        except OSError as error:
            raise SaveError(f"cannot write the history: {error.strerror or error}", self.path) from None

    def close(self) -> None:
        """Flush, sync and close (closing twice is harmless)."""
        if self._fd is None:
            return
        try:
            self.flush()
            os.fsync(self._fd)
        except (OSError, SaveError):   # (a full disk: what was written stays readable)
            pass
        finally:
            os.close(self._fd)
            self._fd = None


@dataclass
class JournalRead:
    """What a journal holds: its sound records in order, and a note for everything skipped."""

    records: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_journal(path: str | Path, *, max_bytes: int = MAX_JOURNAL_BYTES, skip: bytes | None = None) -> JournalRead:
    """Every sound record of a journal; a torn last line or a damaged one is skipped with a note.

    `skip`: lines that start with these bytes are passed over unread (a reader that needs only some
    kinds of records spares itself parsing the rest: a run's batches are most of its history).
    SaveError only if the file cannot be read at all (missing, a folder, no permission).
    """
    path = Path(path)
    read = JournalRead()
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            data = file.read(max_bytes)
    except OSError as error:
        raise SaveError(f"cannot read the history: {error.strerror or error}", path) from None
    if size > max_bytes:
        limit = f"{max_bytes // 2**20} MB" if max_bytes >= 2**20 else f"{max_bytes} bytes"
        read.notes.append(f"{path.name} is larger than {limit}; only its first {limit} were read")
        data = data[:data.rfind(b"\n") + 1]
    lines = data.split(b"\n")
    torn = lines.pop()   # after the last newline: empty, unless the last line was cut short
    lines = [line for line in lines if line.strip() and not (skip is not None and line.startswith(skip))]
    _parse(lines, read, path.name)
    if torn.strip() and size <= max_bytes and not (skip is not None and torn.startswith(skip)):
        record = _record(torn)
        if record is not None:
            read.records.append(record)
        else:
            read.notes.append(f"the last line of {path.name} was cut short (a crash mid-write) and is skipped")
    return read


def _parse(lines: list[bytes], read: JournalRead, name: str) -> None:
    """The records of whole lines into `read`, and a note for the damaged ones."""
    damaged = 0
    records = _all_records(lines)
    if records is not None:
        read.records.extend(records)
    else:   # a damaged line somewhere: line by line, to keep every sound one
        for line in lines:
            record = _record(line)
            if record is None:
                damaged += 1
            else:
                read.records.append(record)
    if damaged:
        read.notes.append(f"{damaged} damaged line{'s' if damaged > 1 else ''} of {name} skipped")


class JournalTail:
    """Follows a journal that another process appends to: each `read` gives the records of the whole lines added
    since the last one (a line still being written waits for its end; a damaged one is skipped with a note).

    `offset` starts it there (a file's size: only what comes after). Looking costs one `stat` when nothing was
    added, so it can be asked many times a second. A file replaced or cut shorter is read again from its start
    (`restarted` says so).
    """

    def __init__(self, path: str | Path, *, offset: int = 0, max_bytes: int = MAX_JOURNAL_BYTES) -> None:
        self.path = Path(path)
        self.offset = offset
        self.max_bytes = max_bytes
        self.restarted = False
        self._file: tuple[int, int] | None = None   # (device, inode) of the file read

    @classmethod
    def at_end(cls, path: str | Path, *, max_bytes: int = MAX_JOURNAL_BYTES) -> "JournalTail":
        """A tail that gives only what is added from now on (from the start, if there is no file yet); it reads
        at most `max_bytes` a time (the rest at the next read)."""
        try:
            size = os.stat(path).st_size
        except OSError:
            size = 0
        return cls(path, offset=size, max_bytes=max_bytes)

    def read(self) -> JournalRead:
        """The records added since the last read (none if the file is not there). SaveError if it cannot be read."""
        read = JournalRead()
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            return read
        except OSError as error:
            raise SaveError(f"cannot read {self.path.name}: {error.strerror or error}", self.path) from None
        same = self._file is None or self._file == (status.st_dev, status.st_ino)
        if status.st_size == self.offset and same:
            return read
        if status.st_size < self.offset or not same:
            self.offset, self.restarted = 0, True
        try:
            with open(self.path, "rb") as file:
                self._file = (os.fstat(file.fileno()).st_dev, os.fstat(file.fileno()).st_ino)
                file.seek(self.offset)
                data = file.read(self.max_bytes)
        except OSError as error:
            raise SaveError(f"cannot read {self.path.name}: {error.strerror or error}", self.path) from None
        whole = data[:data.rfind(b"\n") + 1]
        if not whole and len(data) >= self.max_bytes:   # (one line longer than anything a journal writes)
            whole = data
            read.notes.append(f"a line of {self.path.name} longer than {self.max_bytes} bytes was skipped")
        else:
            _parse([line for line in whole.split(b"\n") if line.strip()], read, self.path.name)
        self.offset += len(whole)
        return read


def _all_records(lines: list[bytes]) -> list[dict] | None:
    """Every line's record, decoded from one text (twice as fast as line by line: a long run's history has tens
    of thousands of lines); None unless each line holds exactly one sound record, wholly."""
    try:
        text = b"\n".join(lines).decode("utf-8")
    except UnicodeDecodeError:
        return None
    records, at, scan = [], 0, _DECODER.raw_decode
    try:
        for line in text.split("\n"):
            record, stop = scan(text, at)
            if stop != at + len(line) or not isinstance(record, dict):
                return None
            records.append(record)
            at = stop + 1
    except (ValueError, RecursionError):
        return None
    return records


def _record(line: bytes) -> dict | None:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) else None
