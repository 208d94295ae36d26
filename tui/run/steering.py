"""Steering a run through its run folder: pause, resume, step, stop and live settings sent by another process (a
studio that follows the run, `nnstudio runs pause`), applied by the process that trains it.

    command_id = send_command(run_dir, "pause", by="nnstudio runs pause (pid 4242)")
    send_command(run_dir, "set", path="optimizer.lr", value=0.01)
    send_command(run_dir, "stop", why="stopped by nnstudio runs stop")
    steering = Steering(recording, tail); steering.start() ... steering.close()   # the training process's side

The commands are `commands.jsonl` in the run folder, appended to as a journal is (`saves.journal`):
one JSON object a line, {"id", "do", "by"} and for `set` "path" and "value", for `step` "size", for
`stop` "why". The process that trains the run looks at it every POLL_SECONDS from a thread of its
own (a paused loop waits on its controller and could not look itself; a look when nothing came is
one `stat`), applies each new command through the session's own commands (`RunControls`,
`Session.set_live`: a value is checked as a typed one is) and answers it in the run's history, a
`command` record (ok, or why not) that its sender waits for. It also records there each status the
run moves to, so that a follower sees what came of it. A line that does not read, an unknown
command, a bad value: refused, the refusal recorded, the run undisturbed.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnstudio import saves
from nnstudio.saves.journal import JournalTail

from .config import ConfigError, parse_value
from .history import MOVES
from .reports import Notice
from .status import Status

if TYPE_CHECKING:
    from .recording import RunRecording

COMMANDS_FILE = "commands.jsonl"
#: seconds between two looks at the command file while a run trains
POLL_SECONDS = 0.2
#: what may be asked
ACTIONS = ("pause", "resume", "step", "stop", "set")
#: the longest text kept of a command's `by` and `why`
MAX_TEXT = 200
#: the most of the command file read at one look (a command is a line of a few hundred bytes)
READ_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Steered(Notice):
    """A command from the run folder was applied or refused (`text` says which, and who sent it); a `set` that was
    applied names its setting and the value it now has, so a front end shows it."""

    do: str = ""
    ok: bool = True
    path: str | None = None
    value: Any = None


def send_command(run_dir: str | Path, do: str, *, by: str = "", **fields: Any) -> str:
    """Append a command for the process that trains the run; its id (the run's history answers it by that id).
    SaveError if the run folder cannot be written."""
    command_id = uuid.uuid4().hex[:12]
    line = json.dumps({"id": command_id, "do": do, "by": by, **fields}, separators=(",", ":")).encode()
    path = Path(run_dir) / COMMANDS_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    except OSError as error:
        raise saves.SaveError(f"cannot send the command: {error.strerror or error}", path) from None
    try:
        size = os.fstat(fd).st_size
        torn = bool(size) and os.lseek(fd, size - 1, os.SEEK_SET) >= 0 and os.read(fd, 1) != b"\n"
        os.write(fd, (b"\n" if torn else b"") + line + b"\n")   # (one write: whole, beside any other sender's)
    except OSError as error:
        raise saves.SaveError(f"cannot send the command: {error.strerror or error}", path) from None
    finally:
        os.close(fd)
    return command_id


def _text(value: Any) -> str:
    """A sender's words as a record keeps them: text, one line, not too long."""
    return " ".join(value.split())[:MAX_TEXT] if isinstance(value, str) else ""


class Steering:
    """The training process's side: a thread that applies the commands of the run folder and records the status.

    `tail` reads the command file from where the run took its lock (`JournalTail.at_end` then): what came
    before was meant for an earlier process.
    """

    def __init__(self, recording: "RunRecording", tail: JournalTail) -> None:
        self.recording = recording
        self.session = recording.session
        self.tail = tail
        self._recorded = Status.RUNNING   # (a run record says the run is under way)
        self._quit = threading.Event()
        self._thread: threading.Thread | None = None
        self._looking = threading.Lock()
        self._problem: str | None = None   # why the command file could not be read at the last look

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="nnstudio-steering", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop looking (the loop has ended: nothing sent from now on applies to this run)."""
        self._quit.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None

    def _loop(self) -> None:
        while True:
            self.look()
            if self._quit.wait(POLL_SECONDS):
                return

    def look(self) -> None:
        """Apply what came in the command file since the last look; record the status if it moved."""
        with self._looking:
            if self._quit.is_set():
                return
            try:
                read = self.tail.read()
                self._problem = None
            except saves.SaveError as error:   # (recorded once, not at every look)
                read = None
                if str(error) != self._problem:
                    self._problem = str(error)
                    self._answer({"id": None, "do": None, "by": ""}, False, self._problem)
            if read is not None:
                for note in read.notes:
                    self._answer({"id": None, "do": None, "by": ""}, False, f"{note} (not a command)")
                for command in read.records:
                    ok, why, extra = self.apply(command)
                    self._answer(command, ok, why, **extra)
            self._record_status()

    def apply(self, command: dict) -> tuple[bool, str, dict]:
        """Carry out one command: (applied, why not or what it found, what the answer adds)."""
        session, do = self.session, command.get("do")
        status = session.status
        if do not in ACTIONS:
            return False, f"unknown command {str(do)[:40]!r} (commands: {', '.join(ACTIONS)})", {}
        if do == "pause":
            if status in (Status.PAUSING, Status.PAUSED):
                return True, "it was already paused", {}
            session.pause()
        elif do == "resume":
            if status not in (Status.PAUSING, Status.PAUSED, Status.STEPPING):
                return True, f"it was {status}, not paused", {}
            session.resume()
        elif do == "step":
            size = command.get("size")
            if size not in ("batch", "epoch"):
                return False, f"step takes a size, batch or epoch (got {str(size)[:40]!r})", {}
            if status is not Status.PAUSED:
                return False, f"it steps only while paused (it is {status}): pause it first", {}
            getattr(session, f"step_{size}")()
        elif do == "stop":
            if status is Status.STOPPING:
                return True, "it was already stopping", {}
            session.stop(_text(command.get("why")) or f"stopped by {_text(command.get('by')) or 'another process'}")
        else:
            return self._set(command)
        return True, "", {}

    def _set(self, command: dict) -> tuple[bool, str, dict]:
        path, value = command.get("path"), command.get("value")
        if not isinstance(path, str):
            return False, "set names a setting: path (e.g. optimizer.lr)", {}
        try:
            if isinstance(value, str):   # (typed as text: read by the setting's rules)
                value = parse_value(path, value)
            typed = self.session.set_live(path, value)
        except ConfigError as error:
            return False, str(error), {"path": path}
        return True, "", {"path": path, "value": typed}

    def _answer(self, command: dict, ok: bool, why: str, **extra: Any) -> None:
        """The command's answer in the history (its sender waits for it), and news for this process's front end."""
        command_id = command.get("id")
        answer = {"id": command_id if isinstance(command_id, str) else None,
                  "do": command.get("do") if command.get("do") in ACTIONS else None,
                  "ok": ok, "why": why, "by": _text(command.get("by")), **extra}
        self.recording.command(answer)
        self.session.on_event(Steered(_news(answer), answer["do"] or "", ok, answer.get("path"), answer.get("value")))

    def _record_status(self) -> None:
        status = self.session.status
        if status.value in MOVES and status is not self._recorded:
            self._recorded = status
            self.recording.status(status.value)


def _news(answer: dict) -> str:
    """"paused by nnstudio runs pause (pid 4242)", "refused optimizer.lr from ...: why"."""
    do, why, sender = answer["do"], answer["why"], answer["by"] or "another process"
    by = f" by {sender}"
    if not answer["ok"]:
        what = f"{do} {answer['path']}" if do == "set" and answer.get("path") else do or "a command"
        return f"refused {what} from {sender}: {why}"
    done = {"pause": "asked to pause", "resume": "resumed", "step": "asked to step", "stop": "asked to stop"}
    text = f"{answer['path']} set to {answer['value']:g}" if do == "set" and isinstance(answer.get("value"), float) \
        else f"{answer['path']} set to {answer['value']}" if do == "set" else done[do]
    return f"{text}{by}" + (f" ({why})" if why else "")
