"""The studio runner's status rules, without an app: what each event from the training thread does
to the status, given the command the user gave last."""

from __future__ import annotations

from nnstudio.engine import events
from nnstudio.tui.studio.runner import SessionRunner


class _Host:
    """Stands in for the app: the runner only posts to it here."""

    def post_message(self, message) -> None:
        pass


def runner_in(status: str) -> tuple[SessionRunner, list[str]]:
    seen: list[str] = []
    runner = SessionRunner(_Host(), on_status=seen.append)
    runner.status = status
    return runner, seen


def test_events_move_the_status():
    runner, seen = runner_in("paused")
    runner.record(events.Resumed(epoch=0, batch=3))
    runner.record(events.Paused(epoch=0, batch=5))
    runner.record(events.Finished(epochs_done=1, reason="completed"))
    assert seen == ["running", "paused", "finished"]


def test_a_resume_overtaken_by_a_pause_does_not_show_running():
    runner, seen = runner_in("pausing")  # space pressed again before the thread's Resumed arrived
    runner.record(events.Resumed(epoch=0, batch=3))
    assert runner.status == "pausing" and seen == []
    runner.record(events.Paused(epoch=0, batch=4))
    assert runner.status == "paused"


def test_a_stop_outranks_pauses_and_resumes_until_the_run_has_stopped():
    runner, seen = runner_in("stopping")
    runner.record(events.Paused(epoch=1, batch=0))
    runner.record(events.Resumed(epoch=1, batch=0))
    assert runner.status == "stopping" and seen == []
    runner.record(events.Stopped(epoch=1, batch=0))
    assert seen == ["stopped"]


def test_trained_epochs_are_counted_as_unsaved_work():
    runner, _ = runner_in("running")
    for epoch in range(2):
        runner.record(events.EpochEnd(epoch=epoch, epochs=2, train_loss=1.0, train_accuracy=0.5, val_loss=None,
                                      val_accuracy=None, lr=0.1, grad_norms={}, weight_norms={}, update_ratios={},
                                      samples_per_s=1.0, seconds=1.0, elapsed=1.0, eta=0.0))
    assert runner.unsaved_epochs == 2
