"""Steering a run through its run folder (`steering.py`) and following it (`following.py`): commands applied between
batches and answered in the history, bad ones refused and recorded, torn lines skipped, the status a run moves
to recorded; a follower that reads the history as it grows; a second trainer refused, naming the holder.

A session trains in a thread of this process (blobs, batches of 8: thousands of tiny epochs); it is steered
only through its folder, as another process would. Every wait is for a record of the run's history or an
answer to a command, with a generous guard, never for a time.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from nnstudio import saves
from nnstudio.saves.journal import JournalTail
from nnstudio.tui.run import RunConfig, Session, SessionError, Status, StatusChanged
from nnstudio.tui.run.following import BatchRows, FollowedRun, FollowEnded, SettingChanged, steer
from nnstudio.tui.run.history import read_history
from nnstudio.tui.run.steering import COMMANDS_FILE, Steered, send_command

#: the longest any wait here may take before the test fails (a loaded machine is slow, never this slow)
GUARD = 60.0


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + GUARD
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def records(run_dir: Path, kind: str) -> list[dict]:
    """The run's history records of one kind (read as a follower reads them: the file as it is now)."""
    path = run_dir / "history.jsonl"
    if not path.exists():
        return []
    found = []
    for line in path.read_bytes().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("kind") == kind:
            found.append(record)
    return found


class Training:
    """A session training blobs for ever in a thread, its news kept."""

    def __init__(self, folder: Path) -> None:
        config = RunConfig().replace(**{"data.name": "blobs", "training.epochs": 5000, "training.batch_size": 8,
                                        "checkpoints.folder": str(folder)})
        self.news: list = []
        self.session = Session(config, on_event=self.news.append)
        self.thread = threading.Thread(target=self.session.run, daemon=True)

    def start(self) -> "Training":
        self.thread.start()
        wait_until(lambda: self.session.run_dir is not None and records(self.session.run_dir, "batch"),
                   "the run's first batch in its history")
        return self

    @property
    def run_dir(self) -> Path:
        return self.session.run_dir

    def end(self) -> None:
        self.session.stop("the test is over")
        self.thread.join(GUARD)


@pytest.fixture
def training(tmp_path):
    run = Training(tmp_path / "saves").start()
    yield run
    run.end()


def test_commands_are_applied_between_batches_answered_and_recorded(training):
    run_dir = training.run_dir
    paused = steer(run_dir, "pause", by="a test", wait=GUARD, done=lambda r: r.get("status") == "paused")
    assert paused.answer["ok"] and paused.answer["why"] == "" and paused.answer["by"] == "a test"
    assert paused.done["kind"] == "status" and training.session.status is Status.PAUSED
    assert steer(run_dir, "pause", by="a test", wait=GUARD).answer["why"] == "it was already paused"

    lr = steer(run_dir, "set", by="a test", wait=GUARD, path="optimizer.lr", value=0.001).answer
    assert lr["ok"] and lr["value"] == 0.001 and training.session.config.optimizer.lr == 0.001
    typed = steer(run_dir, "set", by="a test", wait=GUARD, path="training.batch_size", value="16").answer
    assert typed["ok"] and typed["value"] == 16   # (text is read by the setting's rules)
    assert [(r["path"], r["value"]) for r in records(run_dir, "setting")] == [("optimizer.lr", 0.001),
                                                                              ("training.batch_size", 16)]
    step = steer(run_dir, "step", by="a test", wait=GUARD, size="batch",
                 done=lambda r: r.get("kind") == "status" and r.get("status") == "paused")
    assert step.answer["ok"] and step.done is not None

    resumed = steer(run_dir, "resume", by="a test", wait=GUARD).answer
    assert resumed["ok"] and resumed["why"] == ""
    wait_until(lambda: records(run_dir, "status")[-1]["status"] == "running", "the run to say it runs again")
    stopped = steer(run_dir, "stop", by="a test", wait=GUARD, why="stopped by a test",
                    done=lambda r: r.get("kind") == "end")
    assert stopped.done["status"] == "stopped" and stopped.done["why"] == "stopped by a test"
    training.thread.join(GUARD)
    history = read_history(run_dir)
    assert [s["status"] for s in history.statuses][:2] in (["pausing", "paused"], ["paused"])
    assert [c["do"] for c in history.commands] == ["pause", "pause", "set", "set", "step", "resume", "stop"]
    applied = [news.text for news in training.news if isinstance(news, Steered)]
    assert applied[0] == "asked to pause by a test" and "optimizer.lr set to 0.001 by a test" in applied


def test_bad_commands_and_torn_lines_are_refused_and_recorded_and_the_run_goes_on(training):
    run_dir = training.run_dir
    refused = steer(run_dir, "set", by="a test", wait=GUARD, path="optimizer.lr", value=-1).answer
    assert not refused["ok"] and refused["why"] == "optimizer.lr: must be a number >= 0, got -1"
    assert not steer(run_dir, "set", by="a test", wait=GUARD, path="model.preset", value="cnn").answer["ok"]
    assert "unknown command 'explode'" in steer(run_dir, "explode", by="a test", wait=GUARD).answer["why"]
    assert "only while paused" in steer(run_dir, "step", by="a test", wait=GUARD, size="epoch").answer["why"]
    with open(run_dir / COMMANDS_FILE, "ab") as file:   # a sender that died mid-line; the next one comes after
        file.write(b'{"id":"torn","do":"sto')
    after = steer(run_dir, "pause", by="a test", wait=GUARD)
    assert after.answer["ok"]
    notes = [c for c in records(run_dir, "command") if c["id"] is None]
    assert len(notes) == 1 and not notes[0]["ok"] and "damaged line" in notes[0]["why"]
    assert training.session.status in (Status.PAUSING, Status.PAUSED) and training.session.config.optimizer.lr != -1
    assert not records(run_dir, "end")


def test_commands_sent_before_the_run_took_its_lock_are_not_its_own(tmp_path):
    """A stop left in the file for a process that is gone must not stop the run that resumes the folder later."""
    first = Training(tmp_path / "saves").start()
    first.end()
    run_dir = first.run_dir
    send_command(run_dir, "stop", by="a sender too late")
    resumed = Session.open_checkpoint(run_dir)
    thread = threading.Thread(target=resumed.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(read_history(run_dir).runs) == 2, "the resumed run's run record")
        answer = steer(run_dir, "pause", by="a test", wait=GUARD).answer
        assert answer["ok"] and [c["by"] for c in read_history(run_dir).commands] == ["a test"]
    finally:
        resumed.stop("the test is over")
        thread.join(GUARD)


def test_a_follower_reads_the_history_as_it_grows_and_steers_the_run(training):
    followed = FollowedRun(training.run_dir, by="a test follower")
    history = followed.open()
    assert history.runs and followed.status is Status.RUNNING and followed.config.data.name == "blobs"
    assert followed.holder == f"pid {os.getpid()} on {socket.gethostname()}"
    seen: list = []

    def poll_until(condition, what: str) -> None:
        wait_until(lambda: seen.extend(followed.poll()) or condition(), what)

    poll_until(lambda: any(isinstance(e, BatchRows) for e in seen), "batches")
    rows = next(e for e in seen if isinstance(e, BatchRows))
    assert rows.latest.batches == 113 and all(0 <= row[1] < 113 for row in rows.rows)   # (900 rows, batches of 8)
    followed.pause()
    assert followed.status is Status.PAUSING   # (at once, as a session's own pause)
    poll_until(lambda: followed.status is Status.PAUSED, "the run to say it paused")
    followed.set_live("optimizer.lr", 0.001)
    poll_until(lambda: any(isinstance(e, SettingChanged) for e in seen), "the setting taken")
    assert followed.config.optimizer.lr == 0.001 and training.session.config.optimizer.lr == 0.001
    with pytest.raises(Exception, match="must be a number >= 0"):
        followed.set_live("optimizer.lr", -3)   # (checked here first: nothing sent)
    followed.stop("stopped by a test follower")
    poll_until(lambda: followed.ended is not None, "the end")
    ended = [e for e in seen if isinstance(e, FollowEnded)]
    assert len(ended) == 1 and ended[0].status is Status.STOPPED and ended[0].why == "stopped by a test follower"
    assert any(isinstance(e, StatusChanged) and e.status is Status.STOPPED for e in seen)
    with pytest.raises(SessionError, match="has ended"):
        followed.resume()


def test_only_a_run_another_process_trains_can_be_followed_or_steered(tmp_path):
    run = Training(tmp_path / "saves").start()
    run.end()
    with pytest.raises(SessionError, match="is not training now: it stopped \\(the test is over\\)"):
        FollowedRun(run.run_dir).open()
    with pytest.raises(SessionError, match="is not training now"):
        steer(run.run_dir, "pause", by="a test")


def test_a_second_trainer_is_refused_and_told_who_holds_the_run(training):
    run_dir = training.run_dir
    with pytest.raises(SessionError) as refused:
        Session.open_checkpoint(run_dir)
    assert str(refused.value) == (
        f"{run_dir.name} is being trained by another process (pid {os.getpid()} on {socket.gethostname()}, which "
        f"holds its lock): follow it in the studio's Runs pane (o), or stop it first (nnstudio runs stop "
        f"{run_dir.name})")
    with pytest.raises(saves.SaveError, match="another nnstudio process is writing this run"):
        saves.CheckpointManager(run_dir)
    assert saves.read_run(run_dir).holder == f"pid {os.getpid()} on {socket.gethostname()}"


def test_a_journal_tail_gives_whole_lines_once_and_starts_over_on_a_new_file(tmp_path):
    path = tmp_path / "journal.jsonl"
    tail = JournalTail(path)
    assert tail.read().records == []   # (no file yet)
    path.write_bytes(b'{"a":1}\n{"b":')
    assert tail.read().records == [{"a": 1}]
    assert tail.read().records == []   # (the line being written waits for its end)
    with open(path, "ab") as file:
        file.write(b'2}\nnot json\n{"c":3}\n')
    read = tail.read()
    assert read.records == [{"b": 2}, {"c": 3}] and read.notes == ["1 damaged line of journal.jsonl skipped"]
    replaced = tmp_path / "new.jsonl"
    replaced.write_bytes(b'{"d":4}\n')
    os.replace(replaced, path)
    assert tail.read().records == [{"d": 4}] and tail.restarted
    assert JournalTail.at_end(path).read().records == []


def test_a_journal_tail_reads_a_bounded_amount_a_time_and_skips_a_line_longer_than_that(tmp_path):
    path = tmp_path / "commands.jsonl"
    path.write_bytes(b'{"long":"' + b"x" * 40 + b'"}\n{"do":"pause"}\n')
    tail = JournalTail(path, max_bytes=24)
    first = tail.read()
    assert first.records == [] and first.notes == ["a line of commands.jsonl longer than 24 bytes was skipped"]
    found = []
    for _ in range(5):
        found += tail.read().records
    assert found == [{"do": "pause"}]   # (the rest of the long line does not read: skipped with a note)
