"""A run's history file: what the recorder writes, and the history read back as the run now stands."""

from __future__ import annotations

import json
import math

from nnstudio.engine import events
from nnstudio.tui.run.history import HISTORY_FILE, HistoryRecorder, read_history


def batch(epoch: int, index: int, loss: float, seen: int, acc: float | None = 0.5) -> events.BatchEnd:
    return events.BatchEnd(epoch, index, 3, loss, acc, 100.0, loss, seen=seen)


def epoch_end(epoch: int, loss: float) -> events.EpochEnd:
    return events.EpochEnd(epoch, 5, loss, 0.9, loss, 0.8, 0.01, {}, {}, {}, 100.0, 1.0, float(epoch + 1), 4.0)


def _two_epochs(recorder: HistoryRecorder) -> None:
    for e in range(2):
        for b in range(3):
            recorder.batch(batch(e, b, 1.0 / (e * 3 + b + 1), seen=(b + 1) * 10))
        recorder.epoch(epoch_end(e, 0.5 / (e + 1)))


def test_a_run_s_batches_epochs_settings_and_end_read_back(tmp_path):
    recorder = HistoryRecorder(tmp_path, train_size=30)
    recorder.start(config={"optimizer": {"lr": 0.01}}, origin={"kind": "new"})
    _two_epochs(recorder)
    recorder.setting("optimizer.lr", 0.001, at=(2, 0))
    recorder.end("finished", "completed", at=(2, 0))
    recorder.close()

    history = read_history(tmp_path)
    assert history.notes == [] and history.origin == {"kind": "new"} and history.config["optimizer"]["lr"] == 0.01
    assert history.batches.epoch.tolist() == [1, 1, 1, 2, 2, 2] and history.batches.batch.tolist() == [1, 2, 3] * 2
    assert history.batches.examples.tolist() == [10, 20, 30, 40, 50, 60]   # examples seen, for fair comparisons
    assert history.batches.loss[0] == 1.0 and history.batches.accuracy[0] == 0.5
    assert [e["epoch"] for e in history.epochs] == [1, 2] and history.epochs[-1]["n"] == 60
    assert history.settings == [{"kind": "setting", "path": "optimizer.lr", "value": 0.001, "at": [2, 0]}]
    assert history.end["status"] == "finished"


def test_a_continuation_replays_from_where_it_goes_on(tmp_path):
    """Killed in epoch 2 after its second batch, resumed from the checkpoint of epoch 1: the file still holds
    the lost batches and the end of the first attempt, the history as it now stands does not."""
    first = HistoryRecorder(tmp_path, train_size=30)
    first.start(config={}, origin={"kind": "new"})
    _two_epochs(first)
    first.end("stopped", "", at=(2, 0))
    first.close()

    resumed = HistoryRecorder(tmp_path, train_size=30)
    resumed.start(config={"resumed": True}, origin={"kind": "new"}, at=(1, 1))
    resumed.batch(batch(1, 1, 0.25, seen=20))
    resumed.close()

    history = read_history(tmp_path)
    assert len(history.runs) == 2 and history.config == {"resumed": True} and history.end is None
    assert list(zip(history.batches.epoch.tolist(), history.batches.batch.tolist())) == [(1, 1), (1, 2), (1, 3),
                                                                                         (2, 1), (2, 2)]
    assert history.batches.loss[-1] == 0.25 and [e["epoch"] for e in history.epochs] == [1]


def test_a_damaged_or_newer_history_is_read_as_far_as_it_is_sound(tmp_path):
    recorder = HistoryRecorder(tmp_path, train_size=30)
    recorder.start(config={}, origin={"kind": "new"})
    _two_epochs(recorder)
    recorder.close()
    path = tmp_path / HISTORY_FILE
    with open(path, "a") as file:
        file.write(json.dumps({"kind": "gradient-histogram", "bins": [1, 2]}) + "\n")   # a later version's
        file.write(json.dumps({"kind": "batch", "e": "x"}) + "\n")                      # a record gone wrong
        file.write('{"kind": "batch", "e": 3, "b"')                                      # torn by a crash
    history = read_history(tmp_path)
    assert len(history.batches) == 6 and len(history.epochs) == 2
    assert history.notes == ["the last line of history.jsonl was cut short (a crash mid-write) and is skipped",
                             "a batch record of history.jsonl does not read; skipped",
                             "history.jsonl was written by a newer nnstudio; read as far as this version "
                             "understands it"]


def test_a_history_that_cannot_be_written_stops_being_kept_and_says_so_once(tmp_path):
    recorder = HistoryRecorder(tmp_path / "missing" / "run", train_size=30)
    assert recorder.problem.startswith("the run's history is no longer kept (")
    recorder.batch(batch(0, 0, math.nan, seen=10))   # nothing more is tried
    recorder.close()


# ---------------------------------------------------------------------------------------- kept by the session
from nnstudio.tui.run import Session  # noqa: E402
from nnstudio.tui.run.config import RunConfig  # noqa: E402


def _config(tmp_path, **overrides) -> RunConfig:
    config = RunConfig.from_dict({
        "data": {"name": "blobs", "size": 200}, "optimizer": {"name": "adam", "lr": 0.01},
        "training": {"epochs": 3, "batch_size": 16, "seed": 2}, "checkpoints": {"folder": str(tmp_path)}})
    return config.with_overrides(overrides) if overrides else config


def test_every_run_keeps_its_history_as_it_goes(tmp_path):
    session = Session(_config(tmp_path))
    stopped = []

    def stop_in_epoch_2(event):
        if isinstance(event, events.BatchEnd) and event.epoch == 1 and event.batch == 3 and not stopped:
            stopped.append(True)
            session.set_live("optimizer.lr", 0.005)
            session.stop()

    session.on_event = stop_in_epoch_2
    assert session.run() == "stopped"
    history = read_history(session.run_dir)
    assert history.origin == {"kind": "new"} and history.runs[0]["dataset"] == "blobs"
    assert history.end["status"] == "stopped" and [e["epoch"] for e in history.epochs] == [1]
    per_epoch = len(session.batches)
    assert len(history.batches) == per_epoch + 4 and history.batches.examples[-1] == len(session.data.x_train) + 64
    assert history.settings[0]["path"] == "optimizer.lr" and history.settings[0]["value"] == 0.005

    resumed = Session.open_checkpoint(session.run_dir)   # from the partial checkpoint: the same position
    assert resumed.run() == "finished"
    history = read_history(session.run_dir)
    assert len(history.runs) == 2 and history.runs[1]["at"] == [1, 4] and history.end["status"] == "finished"
    assert [e["epoch"] for e in history.epochs] == [1, 2, 3] and len(history.batches) == 3 * per_epoch
    assert history.batches.examples.tolist() == sorted(history.batches.examples.tolist())
    assert history.notes == []


def test_a_stopped_run_records_why_it_stopped(tmp_path):
    """The first stop asked for names the reason; a stop that gives none says so; each stop of a run that is
    continued gives its own; early stopping and divergence say theirs."""
    session = Session(_config(tmp_path, **{"training.epochs": 6}))

    def stop_twice_in_epoch(epoch):
        def on_event(event):
            if isinstance(event, events.BatchEnd) and event.epoch == epoch and event.batch == 1:
                session.stop("stopped from the studio (x)" if epoch == 0 else "")
                session.stop("stopped by SIGTERM")   # (a second stop while stopping: the first one's reason stays)
        return on_event

    session.on_event = stop_twice_in_epoch(0)
    assert session.run() == "stopped"
    assert read_history(session.run_dir).end == {"kind": "end", "status": "stopped",
                                                 "why": "stopped from the studio (x)", "at": [0, 2]}
    session.on_event = stop_twice_in_epoch(1)
    assert session.run() == "stopped"
    assert read_history(session.run_dir).end["why"] == "stopped by SIGTERM"   # (not the last run's reason)
    session.on_event = lambda event: event
    session.stop()   # asked before the run starts: it stops at once, and says nothing of why
    assert session.run() == "stopped" and read_history(session.run_dir).end["why"] == "stopped on request"

    early = Session(_config(tmp_path, **{"training.epochs": 200, "training.early_stopping": 1,
                                         "optimizer.lr": 0.3}))
    assert early.run() == "early-stopped"
    assert read_history(early.run_dir).end["why"].startswith("validation loss has not improved for 1 epoch")
    wild = Session(_config(tmp_path, **{"optimizer.name": "sgd", "optimizer.lr": 1e6}))
    assert wild.run() == "diverged" and read_history(wild.run_dir).end["why"].startswith("Training diverged at")


def test_a_run_from_a_save_records_where_it_came_from(tmp_path):
    first = Session(_config(tmp_path, **{"training.epochs": 1}))
    assert first.run() == "finished"
    path = first.save("base", folder=tmp_path)
    second = Session.from_save(path, config=_config(tmp_path))
    assert second.run() == "finished"
    history = read_history(second.run_dir)
    assert history.origin == {"kind": "save", "path": str(path.resolve()), "reinitialised": False, "epochs": 1}
    assert [e["epoch"] for e in history.epochs] == [2, 3] and history.batches.epoch[0] == 2


def test_runs_are_listed_newest_first_with_what_tells_them_apart(tmp_path):
    from nnstudio.tui.run.runs import differences, list_runs
    for lr in (0.01, 0.1):
        assert Session(_config(tmp_path, **{"optimizer.lr": lr, "training.epochs": 1})).run() == "finished"
    runs = list_runs(tmp_path)
    assert [run.lr for run in runs] == [0.1, 0.01] and {run.status for run in runs} == {"finished"}
    assert all(run.dataset == "blobs" and run.optimizer == "adam" and run.epochs_done == 1 for run in runs)
    assert all(0 < run.best <= 1 and run.size > 0 and run.resumable for run in runs)
    assert differences(runs) == {"optimizer.lr": [0.1, 0.01]}


def test_a_run_named_with_a_trailing_slash_is_found(tmp_path):
    """Tab completion writes "name/": `runs show name/` said there was no such run folder."""
    from nnstudio.tui.run.run_names import find_run
    session = Session(_config(tmp_path, **{"training.epochs": 1}))
    assert session.run() == "finished"
    assert find_run(session.run_dir.name + "/", tmp_path) == session.run_dir
