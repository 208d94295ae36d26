"""The studio stops a run gently on SIGHUP (its SSH connection dropped) or SIGTERM, and leaves: the run
stops at a batch boundary with its checkpoint, stays resumable, and the exit status names the signal.
A terminal that fails a write has hung up too, whether or not SIGHUP has arrived."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from nnstudio import saves
from nnstudio.tui.studio import stop_signals
from nnstudio.tui.studio.stop_signals import TerminalGone, TerminalOrNothing

from test_cli_train import child_env
from test_studio_app import WAIT, blobs, press_while_training, studio, wait_for, wait_status  # noqa: F401


async def _training_then(tmp_path, blobs, deliver, expected_status: int) -> Path:
    """Start a long run, `deliver(app)` a stop; the app must leave with `expected_status`. Its run folder."""
    app = studio(tmp_path, blobs, **{"training.epochs": 5000})
    async with app.run_test() as pilot:
        await press_while_training(pilot, "space")
        await wait_for(pilot, lambda: app.session is not None and app.session.epochs_done >= 1, "an epoch")
        run_dir = app.session.run_dir
        deliver(app)
        await wait_for(pilot, lambda: app.return_code is not None, "the studio to leave")
        assert not app.runner.busy
    assert app.return_code == expected_status
    return run_dir


def _is_resumable(run_dir: Path) -> None:
    run = saves.read_run(run_dir)
    assert run.interrupted and run.status == "running"
    checkpoint = saves.load(run.resume_point).checkpoint
    assert checkpoint is not None and checkpoint.epoch >= 1


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
async def test_a_stop_signal_stops_the_run_with_a_checkpoint_and_leaves(tmp_path, blobs, monkeypatch, signum):
    monkeypatch.setattr(stop_signals, "forget_the_terminal", lambda: None)   # (pytest's own streams stay)
    run_dir = await _training_then(tmp_path, blobs, lambda app: app.stop_signals.received(signum), 128 + signum)
    _is_resumable(run_dir)


async def test_a_failed_write_to_the_terminal_is_a_hangup(tmp_path, blobs, monkeypatch):
    monkeypatch.setattr(stop_signals, "forget_the_terminal", lambda: None)
    run_dir = await _training_then(tmp_path, blobs, lambda app: app.post_message(TerminalGone()), 129)
    _is_resumable(run_dir)


def test_the_terminal_file_survives_a_failed_write_and_says_so_once(monkeypatch):
    class DeadTerminal:
        def write(self, text):
            raise OSError(5, "Input/output error")

        def flush(self):
            raise OSError(5, "Input/output error")

        def fileno(self):
            return 2

    class App:
        posted: list = []

        def post_message(self, message):
            self.posted.append(message)

    forgotten = []
    monkeypatch.setattr(stop_signals, "forget_the_terminal", lambda: forgotten.append(True))
    app = App()
    file = TerminalOrNothing(DeadTerminal(), app)
    assert file.write("frame") == 5
    file.flush()
    assert file.write("next frame") == 10
    assert len(app.posted) == 1 and isinstance(app.posted[0], TerminalGone) and forgotten
    assert file.fileno() == 2


# ---------------------------------------------------------------------------------------- a real terminal
def _drain(master: int, stop: threading.Event, screen: bytearray) -> None:
    """Read what the studio draws (into `screen`), so that it never waits for a full terminal."""
    while not stop.is_set():
        try:
            data = os.read(master, 65536)
        except OSError:
            return
        if not data:
            return
        screen += data


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="needs POSIX terminals")
@pytest.mark.parametrize("sighup", [True, False], ids=["with SIGHUP", "only the terminal gone"])
def test_the_studio_in_a_terminal_that_hangs_up_stops_gently_and_exits_129(tmp_path, sighup):
    """The whole path: a real pseudo-terminal, a key that starts training, then the terminal closes and
    SIGHUP comes (as when sshd loses the connection); the run is resumable and the studio is gone. Without
    the signal (it may come after the first failed write, or not at all), the failed write is enough."""
    master, terminal = pty.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**child_env(tmp_path), "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"),
           "TERM": "xterm-256color", "NNSTUDIO_SAVES_DIR": str(tmp_path / "saves")}
    command = [sys.executable, "-m", "nnstudio.tui", "--dataset", "blobs", "--epochs", "5000", "--no-resume",
               "--batch-size", "8"]
    child = subprocess.Popen(command, stdin=terminal, stdout=terminal, stderr=terminal, env=env, cwd=tmp_path,
                             start_new_session=True)
    os.close(terminal)
    stop, screen = threading.Event(), bytearray()
    reader = threading.Thread(target=_drain, args=(master, stop, screen), daemon=True)
    reader.start()
    runs = tmp_path / "saves" / "runs"

    def wait_until(condition, what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not condition():
            assert child.poll() is None, f"the studio ended before {what}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)

    try:
        wait_until(lambda: b"Welcome to nnstudio" in screen, "the studio to be ready")
        os.write(master, b" ")
        wait_until(lambda: list(runs.glob("*/epoch-0001.safetensors")), "the first epoch")
        stop.set()
        os.close(master)          # the connection dropped ...
        master = None
        if sighup:
            child.send_signal(signal.SIGHUP)   # ... and the hangup is signalled
        assert child.wait(timeout=WAIT) == 129
    finally:
        stop.set()
        if master is not None:
            os.close(master)
        if child.poll() is None:
            child.kill()
            child.wait()
    (run_dir,) = runs.iterdir()
    _is_resumable(run_dir)


async def test_ctrl_c_quits_the_studio_as_q_does_and_the_run_stops_with_its_checkpoint(tmp_path, blobs):
    """Textual's own ctrl+c only said how to quit, while the run went on: an SSH user's first reflex did nothing."""
    from nnstudio.tui.studio.confirm_screen import ConfirmScreen
    app = studio(tmp_path, blobs, **{"training.epochs": 5000})
    async with app.run_test() as pilot:
        await press_while_training(pilot, "space")
        await wait_for(pilot, lambda: app.runner.unsaved_epochs >= 1, "an epoch the studio knows of")   # (so it asks)
        run_dir = app.session.run_dir
        await press_while_training(pilot, "ctrl+c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the quit question")
        await press_while_training(pilot, "y")
        await wait_for(pilot, lambda: app.return_code is not None, "the studio to leave")
    assert app.return_code == 0
    _is_resumable(run_dir)


async def test_a_question_is_never_hidden_under_a_notification(tmp_path, blobs):
    from nnstudio.tui.studio.confirm_screen import ConfirmScreen
    app = studio(tmp_path, blobs)
    async with app.run_test(size=(80, 24)) as pilot:
        app.notify("a long message " * 20, timeout=60)
        await pilot.pause()
        app.push_screen(ConfirmScreen("Quit nnstudio?", detail="unsaved"))
        await pilot.pause()
        assert not list(app._notifications)
