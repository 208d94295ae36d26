"""`nnstudio train ... --detach`: the same training in a process of its own, which outlives the terminal (a dropped
SSH connection, a closed window), followed and steered later from the studio or `nnstudio runs`.

The arguments are checked here first, as `train` checks them (a bad one: one line, exit 2, nothing
started). Then the very same command line, minus --detach, runs in a new session (no controlling
terminal: no hangup reaches it), reading nothing (stdin is /dev/null) and writing its output to a log
file. This waits until the child holds its run folder (its marker names the child's pid), moves the
log into that folder (`train.log`) and says the run's name, its pid, the log and how to follow and
steer it; then exits 0. A child that fails before it gets there (a data set that cannot be loaded)
has its error printed, and its exit status is this command's.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from nnstudio import saves

from ..run.arguments import UsageError

#: set in the detached child's environment: its --detach is done (it trains in the foreground of its own session)
DETACHED = "NNSTUDIO_DETACHED"
#: where a detached run's output goes until its run folder exists (a hidden folder: no run is listed from it)
LOGS_FOLDER = ".logs"
#: the log's name in the run folder
LOG_FILE = "train.log"
#: seconds between two looks for the child's run folder
LOOK_SECONDS = 0.05
#: how many of the log's last lines are shown when the child failed
SHOWN_LINES = 20


def wanted(args) -> bool:
    """Whether this `train` is to detach (not in the detached child itself, which runs the same arguments)."""
    return bool(getattr(args, "detach", False)) and not os.environ.get(DETACHED)


def check(args) -> None:
    """What cannot be detached: UsageError (exit 2) before anything starts."""
    if args.write_config is not None:
        raise UsageError("--detach has nothing to run: --write-config writes the settings and trains nothing")
    if args.no_checkpoints:
        raise UsageError("--detach needs the run's checkpoints: a detached run is followed and steered through its "
                         "run folder (and resumed from it); leave out --no-checkpoints")


def run_detached(args, folder: Path, prog: str) -> int:
    """Start the training in a detached child and report it once it holds its run folder (see the module)."""
    command_line = [word for word in getattr(args, "command_line", None) or sys.argv[1:] if word != "--detach"]
    runs = saves.runs_folder(folder)
    logs = runs / LOGS_FOLDER
    try:
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"train-{datetime.now().strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        log = open(log_path, "ab")
    except OSError as error:
        print(f"{prog}: error: cannot write the detached run's log in {logs}: {error.strerror or error}",
              file=sys.stderr)
        return 1
    with log:
        child = subprocess.Popen([sys.executable, "-m", "nnstudio.tui", *command_line], stdin=subprocess.DEVNULL,
                                 stdout=log, stderr=log, start_new_session=True,
                                 env={**os.environ, DETACHED: "1"})
    try:
        run_dir = _wait_for_run(child, runs)
    except KeyboardInterrupt:
        print(f"{prog}: the run goes on in the background (pid {child.pid}); its output: {log_path}",
              file=sys.stderr)
        return 130
    if run_dir is None:
        if _show_failure(log_path, prog):
            with contextlib.suppress(OSError):   # (all it said is shown)
                log_path.unlink()
                logs.rmdir()
        return child.returncode
    log_path = _move_log(log_path, run_dir)
    _report(args, run_dir, child.pid, log_path)
    return 0


def _wait_for_run(child: subprocess.Popen, runs: Path) -> Path | None:
    """The run folder whose marker names the child (once it holds its lock), or None if the child ended first."""
    host = socket.gethostname()
    while True:
        ended = child.poll() is not None
        found = _run_of(child.pid, host, runs)
        if found is not None:
            return found
        if ended:
            return None
        time.sleep(LOOK_SECONDS)


def _run_of(pid: int, host: str, runs: Path) -> Path | None:
    with contextlib.suppress(OSError):
        for entry in os.scandir(runs):
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            try:
                with open(Path(entry.path) / saves.checkpoints.RUN_FILE, "rb") as file:
                    marker = json.loads(file.read(saves.checkpoints.MAX_MARKER_BYTES))
            except (OSError, ValueError):
                continue
            if isinstance(marker, dict) and marker.get("pid") == pid and marker.get("host") == host:
                return Path(entry.path)
    return None


def _move_log(log_path: Path, run_dir: Path) -> Path:
    """The log into the run folder (the child writes on into it: a rename keeps the open file); where it now is."""
    target, n = run_dir / LOG_FILE, 1
    while target.exists():
        n += 1
        target = run_dir / f"train-{n}.log"
    try:
        os.replace(log_path, target)
    except OSError:
        return log_path
    return target


def _show_failure(log_path: Path, prog: str) -> bool:
    """What the child said before it ended (its error line last), on stderr; True if that was all of it."""
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    shown = [line for line in lines if line.strip()][-SHOWN_LINES:]
    if len(shown) < len([line for line in lines if line.strip()]):
        print(f"(the last {len(shown)} lines of {log_path})", file=sys.stderr)
    for line in shown:
        print(line, file=sys.stderr)
    if not shown:
        print(f"{prog}: error: the detached run ended before it started, saying nothing", file=sys.stderr)
    return len(shown) == len([line for line in lines if line.strip()])


def _report(args, run_dir: Path, pid: int, log_path: Path) -> None:
    name = run_dir.name
    if args.json:
        print(json.dumps({"event": "detached", "run": name, "run_dir": str(run_dir), "pid": pid,
                          "log": str(log_path)}))
        return
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"training in the background: [bold]{escape(name)}[/] (pid {pid}); it goes on when this terminal "
                  f"closes")
    console.print(f"output: {escape(str(log_path))}")
    console.print(f"follow it live in the studio: its Runs pane (6), o; or see it: nnstudio runs show {escape(name)}")
    console.print(f"steer it: nnstudio runs pause|resume|stop {escape(name)}; nnstudio runs set {escape(name)} "
                  f"--lr X")
