"""SIGHUP (a dropped SSH connection) and SIGTERM stop a run as Ctrl+C does: at a batch boundary, with a
checkpoint of where it stopped, and the conventional exit status (128 + the signal's number). After a
hangup nothing is written to the terminal that is gone, and the run is not lost to a failed write."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nnstudio import saves
from nnstudio.tui.run import signals
from nnstudio.tui.run.history import read_history
from nnstudio.tui.run.signals import GracefulStop, StopSignal, exit_status, stop_signals_unwind

from test_cli_train import child_env, nnstudio

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="needs POSIX signals")

LONG_RUN = ["train", "--dataset", "blobs", "--batch-size", "8", "--epochs", "5000", "--json", "--seed", "3"]


@pytest.fixture(autouse=True)
def saves_in_the_working_folder(monkeypatch):
    monkeypatch.setenv("NNSTUDIO_SAVES_DIR", "saves")


def _stop_after_the_first_epoch(tmp_path: Path, signum: int, *, hang_up: bool = False) -> tuple[int, list[dict]]:
    """Start a long run, send `signum` once its first epoch is done; its exit status and JSON lines.

    With `hang_up`, the display (stderr) is a terminal, which is closed (as sshd does when the
    connection drops) just before the signal arrives.
    """
    command = [sys.executable, "-m", "nnstudio.tui", *LONG_RUN]
    master, terminal = pty.openpty() if hang_up else (None, None)
    display = terminal if hang_up else open(tmp_path / "display.txt", "w")
    child = subprocess.Popen(command, cwd=tmp_path, env=child_env(tmp_path), stdout=subprocess.PIPE,
                             stderr=display, stdin=terminal if hang_up else subprocess.DEVNULL, text=True)
    try:
        if hang_up:
            os.close(terminal)
            os.set_blocking(master, False)
        first = json.loads(child.stdout.readline())
        assert first["event"] == "epoch" and first["epoch"] == 1
        if hang_up:
            os.close(master)   # the terminal is gone: its writes now fail
            master = None
        child.send_signal(signum)
        rest, _ = child.communicate(timeout=60)
    finally:
        if master is not None:
            os.close(master)
        if not hang_up:
            display.close()
        if child.poll() is None:
            child.kill()
            child.wait()
    return child.returncode, [json.loads(line) for line in rest.splitlines() if line.strip()]


@pytest.mark.parametrize("signum, status, name", [
    (signal.SIGTERM, 143, "SIGTERM"),
    (signal.SIGHUP, 129, "SIGHUP (the terminal closed)"),
])
def test_sigterm_and_sighup_stop_at_a_batch_with_a_checkpoint_and_the_run_resumes(tmp_path, signum, status, name):
    code, lines = _stop_after_the_first_epoch(tmp_path, signum, hang_up=signum == signal.SIGHUP)
    assert code == status
    final = lines[-1]
    assert final["event"] == "stopped" and final["stopped_by"] == name and final["epochs_done"] >= 1
    checkpoint = saves.load(tmp_path / final["checkpoint"]).checkpoint
    assert checkpoint is not None and checkpoint.epoch == final["epochs_done"]
    if final["stopped_in_batch"]:   # (almost always: a signal rarely lands between two epochs)
        assert Path(final["checkpoint"]).name == saves.PARTIAL_FILE
        assert checkpoint.data_state["trainer"]["tally"]["batches"] == final["stopped_in_batch"]
    run = saves.read_run(tmp_path / final["run_dir"])
    assert run.status == "running" and run.interrupted   # found by a plain --resume
    assert read_history(run.path).end["why"] == f"stopped by {name}"
    resumed = nnstudio(tmp_path, "train", "--resume", "--epochs", str(final["epochs_done"] + 1), "--json")
    assert resumed.returncode == 0, resumed.stderr
    if final["stopped_in_batch"]:   # where it goes on, as the stop said it ("after epoch 1" it was not)
        assert (f"{final['stopped_in_batch']} batches into epoch {final['epochs_done'] + 1}"
                in " ".join(resumed.stderr.split()))
    assert json.loads(resumed.stdout.splitlines()[-1])["event"] == "finished"


def test_a_hangup_leaves_nothing_on_the_terminal_and_no_traceback(tmp_path):
    """The display went to a terminal that closed: the run's end is not written anywhere it could fail."""
    code, lines = _stop_after_the_first_epoch(tmp_path, signal.SIGHUP, hang_up=True)
    assert code == 129 and lines[-1]["event"] == "stopped"   # stdout (a pipe here) still gets its JSON


# ---------------------------------------------------------------------------------------- the handlers
class FakeSession:
    stops = 0

    def stop(self) -> None:
        self.stops += 1


def _deliver(signum: int) -> None:
    os.kill(os.getpid(), signum)
    time.sleep(0.05)   # Python runs the handler between bytecodes: by now


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_second_ctrl_c_or_sigterm_interrupts_at_once_and_the_handlers_are_put_back(signum):
    session, before = FakeSession(), {s: signal.getsignal(s) for s in signals.STOP_SIGNALS}
    stopper = GracefulStop(session.stop)
    with pytest.raises(StopSignal) as raised:
        with stopper.installed():
            _deliver(signum)
            assert session.stops == 1 and stopper.signum == signum
            _deliver(signum)
            time.sleep(5)
    assert raised.value.signum == signum and exit_status(raised.value.signum) == 128 + signum
    assert session.stops == 1 and {s: signal.getsignal(s) for s in signals.STOP_SIGNALS} == before


def test_a_second_hangup_is_ignored_the_shell_passes_one_on(monkeypatch):
    forgotten = []
    monkeypatch.setattr(signals, "forget_the_terminal", lambda: forgotten.append(True))
    session = FakeSession()
    stopper = GracefulStop(session.stop)
    with stopper.installed():
        _deliver(signal.SIGHUP)
        _deliver(signal.SIGHUP)
    assert session.stops == 1 and stopper.signum == signal.SIGHUP and len(forgotten) == 2
    assert stopper.name == "SIGHUP (the terminal closed)"


def test_outside_a_run_sigterm_unwinds_like_ctrl_c():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt) as raised:
        with stop_signals_unwind():
            _deliver(signal.SIGTERM)
    assert raised.value.signum == signal.SIGTERM and signal.getsignal(signal.SIGTERM) is before


def test_outside_a_run_a_command_stopped_by_sigterm_says_so_and_exits_143(tmp_path):
    """Before a run starts (here: a command's work replaced by a long wait), SIGTERM is no silent death."""
    script = ("import sys, time\n"
              "from nnstudio.tui import main\n"
              "from nnstudio.tui.cli import train\n"
              "def waiting(args):\n"
              "    print('ready', flush=True)\n"
              "    time.sleep(60)\n"
              "train.run_train = waiting\n"
              "sys.exit(main.main(['train', '--dataset', 'blobs']))\n")
    child = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, env=child_env(tmp_path),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 143 and err.strip() == "interrupted"


def test_forget_the_terminal_leaves_files_and_pipes_alone(tmp_path):
    """Only a terminal is replaced by /dev/null: output sent to a file still reaches it."""
    script = ("import os, sys\n"
              "from nnstudio.tui.run.signals import forget_the_terminal\n"
              "forget_the_terminal()\n"
              "print('to the file', flush=True)\n"
              "os.write(2, b'to the terminal\\n')\n")
    master, terminal = pty.openpty()
    try:
        with open(tmp_path / "out.txt", "w") as out:
            subprocess.run([sys.executable, "-c", script], stdout=out, stderr=terminal, stdin=subprocess.DEVNULL,
                           env=child_env(tmp_path), timeout=60, check=True)
        os.set_blocking(master, False)
        try:
            shown = os.read(master, 1000)
        except BlockingIOError:
            shown = b""
    finally:
        os.close(master)
        os.close(terminal)
    assert (tmp_path / "out.txt").read_text() == "to the file\n" and b"to the terminal" not in shown
