"""`nnstudio train --detach` and `nnstudio runs pause|resume|stop|set`: a real second process trains in the
background, is listed as running, is steered from the command line, and is stopped; a second trainer is refused.

Every wait is for the run's history or its lock (what the command line itself waits on), with a generous
guard; a test that fails still stops the processes it started (`detached_runs_stopped`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
from pathlib import Path

import pytest

from nnstudio import saves
from nnstudio.saves.checkpoints import CheckpointManager
from nnstudio.tui.run import following
from nnstudio.tui.run.history import read_history

from test_cli_train import nnstudio, run_cli
from test_steering import GUARD, records, wait_until

LONG = ["--dataset", "blobs", "--batch-size", "8", "--epochs", "5000", "--seed", "3"]

pytestmark = pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX sessions")


@pytest.fixture(autouse=True)
def detached_runs_stopped(tmp_path, monkeypatch):
    """Saves in ./saves of tmp_path; afterwards, any run a process still trains there is sent SIGTERM (its pid is
    in its marker: a process this test started) and waited for."""
    monkeypatch.setenv("NNSTUDIO_SAVES_DIR", "saves")
    monkeypatch.chdir(tmp_path)
    yield
    for run in saves.find_runs(tmp_path / "saves"):
        if run.active and run.pid is not None and run.pid != os.getpid():
            with contextlib.suppress(ProcessLookupError):
                os.kill(run.pid, signal.SIGTERM)
            wait_until(lambda: not saves.is_locked(run.path), f"{run.name}'s process to end")


def detach(tmp_path: Path, *args: str) -> tuple[Path, int]:
    """Start a detached run; its run folder and pid, as `--json` reports them."""
    done = nnstudio(tmp_path, "train", *LONG, *args, "--detach", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["event"] == "detached"
    return tmp_path / report["run_dir"], report["pid"]


def test_a_detached_run_trains_on_in_its_own_process_and_is_steered_from_the_command_line(tmp_path):
    done = nnstudio(tmp_path, "train", *LONG, "--detach")
    assert done.returncode == 0, done.stderr
    run_dir = next((tmp_path / "saves" / "runs").glob("blobs-mlp-*"))
    name, pid = run_dir.name, saves.read_run(run_dir).pid
    assert f"training in the background: {name} (pid {pid})" in done.stdout
    assert f"output: {Path('saves/runs') / name / 'train.log'}" in done.stdout.replace(str(tmp_path) + "/", "")
    assert pid != os.getpid() and os.getsid(pid) == pid   # (a session of its own: no terminal's hangup reaches it)
    assert (run_dir / "train.log").is_file() and not list((tmp_path / "saves" / "runs" / ".logs").iterdir())

    listed = nnstudio(tmp_path, "runs", "list", "--json")
    assert [(r["name"], r["status"]) for r in map(json.loads, listed.stdout.splitlines())] == [(name, "running")]
    shown = " ".join(nnstudio(tmp_path, "runs", "show", name).stdout.split())
    assert f"running: pid {pid} on {socket.gethostname()} is training it" in shown

    paused = nnstudio(tmp_path, "runs", "pause", name[-6:])   # (a part of its name, as every runs command takes)
    assert paused.returncode == 0, paused.stderr
    assert paused.stdout.startswith(f"paused {name} at ") and f"resume it: nnstudio runs resume {name}" in paused.stdout
    assert records(run_dir, "status")[-1]["status"] == "paused"
    shown = " ".join(nnstudio(tmp_path, "runs", "show", name).stdout.split())
    assert f"paused: pid {pid} on {socket.gethostname()} holds it, paused; go on: nnstudio runs resume {name}" in shown
    [listed] = map(json.loads, nnstudio(tmp_path, "runs", "list", "--json").stdout.splitlines())
    assert (listed["status"], listed["paused"]) == ("running", True)
    assert " paused " in nnstudio(tmp_path, "runs", "list").stdout

    changed = nnstudio(tmp_path, "runs", "set", name, "--lr", "0.001", "--batch-size", "16")
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.splitlines() == [f"{name}: optimizer.lr set to 0.001",
                                           f"{name}: training.batch_size set to 16"]
    assert [(r["path"], r["value"]) for r in records(run_dir, "setting")] == [("optimizer.lr", 0.001),
                                                                              ("training.batch_size", 16)]
    [listed] = map(json.loads, nnstudio(tmp_path, "runs", "list", "--json").stdout.splitlines())
    assert listed["lr"] == 0.001   # (the rate it trains with now, not the one it started with)
    bad = nnstudio(tmp_path, "runs", "set", name, "--lr", "-1")
    assert bad.returncode == 2 and bad.stderr.strip() == (
        "nnstudio runs set: error: --lr: optimizer.lr: must be a number >= 0, got '-1'")

    resumed = nnstudio(tmp_path, "runs", "resume", name)
    assert (resumed.returncode, resumed.stdout.strip()) == (0, f"resumed {name}")

    second = nnstudio(tmp_path, "train", "--resume", name)
    assert second.returncode == 1 and second.stderr.strip() == (
        f"nnstudio train: error: {name} is being trained by another process (pid {pid} on {socket.gethostname()}, "
        f"which holds its lock): follow it in the studio's Runs pane (o), or stop it first (nnstudio runs stop {name})")

    stopped = nnstudio(tmp_path, "runs", "stop", name)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.startswith(f"{name} stopped at ") and f"nnstudio train --resume {name}" in stopped.stdout
    wait_until(lambda: not saves.is_locked(run_dir), "the detached process to let go of its run")
    history = read_history(run_dir)
    assert history.end["status"] == "stopped" and history.end["why"] == "stopped by nnstudio runs stop"
    assert [c["do"] for c in history.commands] == ["pause", "set", "set", "resume", "stop"]
    assert "notice: asked to pause by nnstudio runs pause" in (run_dir / "train.log").read_text()

    again = nnstudio(tmp_path, "runs", "pause", name)
    assert again.returncode == 1 and again.stderr.strip() == (
        f"nnstudio runs pause: error: {name} is not training now: it stopped (stopped by nnstudio runs stop)")
    assert nnstudio(tmp_path, "runs", "list", "--json").stdout.count('"status": "stopped"') == 1


def test_detach_refuses_what_it_cannot_run_before_anything_starts(tmp_path):
    for args, message in ((["--no-checkpoints"], "--detach needs the run's checkpoints"),
                          (["--write-config", "run.toml"], "--detach has nothing to run"),
                          (["--lr", "fast"], "--lr: optimizer.lr: must be a number")):
        done = nnstudio(tmp_path, "train", *LONG, *args, "--detach")
        assert done.returncode == 2 and done.stderr.startswith(f"nnstudio train: error: {message}"), done.stderr
    assert not (tmp_path / "saves").exists() and not (tmp_path / "run.toml").exists()


def test_a_detached_run_that_fails_before_it_trains_says_why_with_train_s_exit_status(tmp_path):
    (tmp_path / "empty").mkdir()
    done = nnstudio(tmp_path, "train", "--dataset", "mnist", "--data-dir", "empty", "--detach")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith("nnstudio train: error: mnist not found in empty")
    assert not [p for p in (tmp_path / "saves" / "runs").iterdir()]   # (its log shown, then removed)


def test_a_run_that_does_not_answer_is_one_line(tmp_path, monkeypatch, capsys):
    """A process that holds the run but does not read its commands (an older nnstudio): said so, exit 1."""
    run_dir = saves.new_run_dir("quiet", tmp_path / "saves")
    holder = CheckpointManager(run_dir)   # the lock held, nothing steering
    monkeypatch.setattr(following, "ANSWER_SECONDS", 0.3)
    try:
        assert run_cli("runs", "pause", run_dir.name) == 1
    finally:
        holder.close()
    assert capsys.readouterr().err.strip() == (
        f"nnstudio runs pause: error: {run_dir.name} did not answer within 0.3 s (pid {os.getpid()} on "
        f"{socket.gethostname()} holds its lock; an nnstudio older than run commands, or a process that no longer "
        f"reads them)")
    assert run_cli("runs", "stop", "nothing-like-it") == 2
    assert "no run named 'nothing-like-it'" in capsys.readouterr().err


def test_a_follower_of_a_run_whose_process_is_killed_says_it_was_cut_off(tmp_path):
    """No end record, and the lock gone with the process (the kernel lets go of a killed process's locks)."""
    run_dir, pid = detach(tmp_path)
    followed = following.FollowedRun(run_dir)
    followed.open()
    os.kill(pid, signal.SIGKILL)
    found: list = []
    wait_until(lambda: found.extend(followed.poll()) or followed.ended is not None, "the follower to notice")
    assert followed.ended.cut_off and followed.status is following.Status.STOPPED
    assert followed.ended.text == (f"{run_dir.name} was cut off: its process (pid {pid} on {socket.gethostname()}) "
                                   f"ended without a word; it resumes where its last checkpoint stands (nnstudio "
                                   f"train --resume {run_dir.name})")
    assert found[-1] is followed.ended and saves.read_run(run_dir).interrupted
