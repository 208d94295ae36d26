"""The run's status: one type, owned by the session, moved by commands at once and by the loop's news after.

The rules are checked without threads (the loop's events are handed to them directly); the
studio's runner adds nothing to them but the threads, so its tests here only check that it
reads the session's status and counts unsaved epochs.
"""

from __future__ import annotations

import pytest

from nnstudio.engine import events
from nnstudio.tui.run import RunConfig, Session, Status, StatusChanged
from nnstudio.tui.run.status import after_event
from nnstudio.tui.studio.runner import Refused, SessionRunner

PAUSED, RESUMED = events.Paused(epoch=0, batch=5), events.Resumed(epoch=0, batch=3)


def test_the_loops_pauses_and_resumes_move_the_status():
    assert after_event(Status.PAUSING, PAUSED) is Status.PAUSED
    assert after_event(Status.STEPPING, PAUSED) is Status.PAUSED
    assert after_event(Status.PAUSED, RESUMED) is Status.RUNNING


def test_a_resume_overtaken_by_a_pause_does_not_show_running():
    assert after_event(Status.PAUSING, RESUMED) is Status.PAUSING  # space pressed again before Resumed arrived


def test_a_stop_outranks_pauses_and_resumes_until_the_run_has_stopped():
    assert after_event(Status.STOPPING, PAUSED) is Status.STOPPING
    assert after_event(Status.STOPPING, RESUMED) is Status.STOPPING


@pytest.mark.parametrize("event", [events.Finished(1, "completed"), events.Stopped(0, 3),
                                   events.Diverged(0, 3, "blew up", 0), events.Failed("boom"),
                                   events.BatchEnd(0, 0, 1, 1.0, None, 1.0)])
def test_how_a_run_ends_is_not_taken_from_the_loops_news(event):
    """The end is the status `run` returns, set once the run's checkpoints are closed."""
    assert after_event(Status.STOPPING, event) is Status.STOPPING
    assert after_event(Status.RUNNING, event) is Status.RUNNING


def test_statuses_say_when_a_thread_is_alive_and_when_weights_can_be_saved():
    assert {s for s in Status if s.busy} == {Status.PREPARING, Status.RUNNING, Status.PAUSING, Status.PAUSED,
                                             Status.STEPPING, Status.STOPPING}
    assert {s for s in Status if s.still} == {Status.IDLE, Status.PAUSED, Status.STOPPED, Status.FINISHED,
                                              Status.EARLY_STOPPED, Status.DIVERGED}
    assert {s for s in Status if s.ended} == {Status.DIVERGED, Status.FAILED}


def test_a_status_is_its_word_wherever_words_are_used():
    assert Status.EARLY_STOPPED == "early-stopped" and f"{Status.PAUSED}" == "paused" == str(Status.PAUSED)
    assert {"stopped": 130}[Status.STOPPED] == 130 and Status("finished") is Status.FINISHED


class _Host:
    """Stands in for the app: the runner posts to it and runs workers on it (never, here)."""

    def post_message(self, message) -> None:
        pass


def test_commands_move_a_sessions_status_at_once_and_report_it():
    seen = []
    session = Session(RunConfig(), on_event=seen.append)
    session.pause()                                       # nothing under way: the status stays (a run started
    assert session.status is Status.IDLE and seen == []   # now starts paused, as the studio's n from idle wants)
    session.controller.reset()
    session._status = Status.RUNNING                      # as if its loop were running (no thread here)
    session.pause()
    session.resume()
    session.pause()
    session.stop()
    session.resume()                                      # a stop is not undone by a resume
    assert [e.status for e in seen] == ["pausing", "running", "pausing", "stopping"]
    assert all(isinstance(e, StatusChanged) for e in seen)


def test_the_runner_reads_the_sessions_status():
    runner = SessionRunner(_Host())
    assert runner.status is Status.IDLE and not runner.busy
    runner.opening = True                                 # a save being opened in a thread: no session yet
    assert runner.status is Status.PREPARING and runner.busy
    runner.opening = False
    runner.session = Session(RunConfig())
    runner.session._status = Status.PAUSED
    assert runner.status is Status.PAUSED and runner.busy


def test_trained_epochs_are_counted_as_unsaved_work():
    runner = SessionRunner(_Host())
    for epoch in range(2):
        runner.record(events.EpochEnd(epoch=epoch, epochs=2, train_loss=1.0, train_accuracy=0.5, val_loss=None,
                                      val_accuracy=None, lr=0.1, grad_norms={}, weight_norms={}, update_ratios={},
                                      samples_per_s=1.0, seconds=1.0, elapsed=1.0, eta=0.0))
    assert runner.unsaved_epochs == 2


class _WorkerHost(_Host):
    """Records the workers the runner starts, without running them (as if their threads had not begun yet)."""

    def __init__(self) -> None:
        self.started: list = []

    def run_worker(self, work, **options) -> None:
        self.started.append(work)


def test_a_second_press_before_the_thread_begins_starts_nothing():
    host = _WorkerHost()
    runner = SessionRunner(host)
    config = RunConfig().replace(**{"data.name": "blobs"})
    assert runner.toggle(config) is True
    assert runner.status is Status.PREPARING and runner.busy   # at once, not when the thread gets to it
    for second in (lambda: runner.toggle(config), lambda: runner.step("epoch", config)):   # refused, and said why
        with pytest.raises(Refused, match="being prepared"):
            second()
    assert len(host.started) == 1


def test_a_stopped_run_continued_is_running_at_once_and_a_step_is_stepping():
    host = _WorkerHost()
    runner = SessionRunner(host)
    session = runner.session = Session(RunConfig().replace(**{"data.name": "blobs"}))
    session.prepare()
    session._status = Status.STOPPED                      # as after a stop (no thread here)
    runner.start(session.config)
    assert runner.status is Status.RUNNING and not session.controller.stop_requested
    session._status = Status.STOPPED
    runner.start(session.config, step="batch")
    assert runner.status is Status.STEPPING and len(host.started) == 2
