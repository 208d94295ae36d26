"""The training session on small synthetic data: events, commands, divergence, checkpoints, exact resume."""

from __future__ import annotations

import math
import queue
import shutil
import threading

import numpy as np
import pytest

from nnstudio import saves
from nnstudio.engine import build_model, events
from nnstudio.engine.presets import preset_spec
from nnstudio.tui.run import session as session_module
from nnstudio.tui.run.config import ConfigError, RunConfig
from nnstudio.saves import PARTIAL_FILE, resume_point
from hostile_saves import edit_document
from nnstudio.tui.run import (CheckpointSaved, MismatchError, NothingToTrain, Prepared, Session, SessionError,
                              Status, StatusChanged, saved_config)

DROPOUT_SPEC = {"input_shape": [2], "layers": [
    {"type": "linear", "out": 16}, {"type": "relu"}, {"type": "dropout", "p": 0.2}, {"type": "linear", "out": 3}]}


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """Whatever a session writes to a relative folder (./saves) lands in the test's own folder."""
    monkeypatch.chdir(tmp_path)


def config(tmp_path, **overrides) -> RunConfig:
    base = {"data": {"name": "blobs", "size": 240, "classes": 3}, "model": {"spec": DROPOUT_SPEC}, "schedule": {"name": "none"},
            "optimizer": {"name": "adam", "lr": 0.01}, "training": {"epochs": 3, "batch_size": 32, "seed": 7},
            "checkpoints": {"folder": str(tmp_path / "saves"), "keep_last": 2}}
    cfg = RunConfig.from_dict(base)
    return cfg.with_overrides(overrides) if overrides else cfg


def weights(session):
    return {name: value.copy() for name, value in session.model.state_dict().items()}


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name, value in a.items():
        np.testing.assert_array_equal(value, b[name])


def wait_for(inbox: queue.Queue, kind) -> object:
    while True:
        event = inbox.get(timeout=30)
        if isinstance(event, kind):
            return event


def trainer_state(checkpoint) -> dict:
    return saves.read_metadata(checkpoint).checkpoint["data_state"]["trainer"]


def stopped_mid_epoch(tmp_path, epochs=4) -> Session:
    """A run stopped three batches into its second epoch (from another thread, as the studio does)."""
    inbox: queue.Queue = queue.Queue()
    session = Session(config(tmp_path, **{"training.epochs": epochs}), on_event=inbox.put)
    session.pause()
    worker = threading.Thread(target=session.run)
    worker.start()
    wait_for(inbox, events.Paused)
    session.step_epoch()
    wait_for(inbox, events.Paused)
    for _ in range(3):
        session.step_batch()
        wait_for(inbox, events.Paused)
    session.stop()
    worker.join(timeout=30)
    assert session.status == "stopped" and session.trainer.epoch == 1
    return session


def test_a_run_reports_epochs_checkpoints_and_finishes(tmp_path):
    seen = []
    session = Session(config(tmp_path), on_event=seen.append)
    assert session.run() == "finished"
    assert [e.status for e in seen if isinstance(e, StatusChanged)] == ["preparing", "running", "finished"]
    assert [e.session for e in seen if isinstance(e, Prepared)] == [session]
    kinds = [type(e).__name__ for e in seen if not isinstance(e, (StatusChanged, Prepared))]
    assert kinds.count("EpochEnd") == 3 and kinds.count("CheckpointSaved") == 4 and kinds[-1] == "Finished"
    # the run's starting point first (so a stop in epoch 1 is resumable), then one after each epoch
    assert kinds[0] == "CheckpointSaved" and kinds.index("BatchEnd") < kinds.index("EpochEnd")
    assert kinds[kinds.index("EpochEnd") + 1] == "CheckpointSaved"
    end = next(e for e in seen if isinstance(e, events.EpochEnd))
    assert end.probe_outputs.shape == (60, 3) and end.confusion.shape == (3, 3)
    assert [h["epoch"] for h in session.history] == [1, 2, 3]
    assert session.history[-1]["val_acc"] > 0.8
    saved = [e for e in seen if isinstance(e, CheckpointSaved)]
    assert [e.epoch for e in saved] == [0, 1, 2, 3] and saved[-1].path.exists()
    assert len(list(session.run_dir.glob("epoch-*.safetensors"))) == 2  # keep_last


def test_a_stopped_run_resumes_bit_identically(tmp_path):
    straight = Session(config(tmp_path / "a", **{"training.epochs": 4}))
    assert straight.run() == "finished"

    first = stopped_mid_epoch(tmp_path / "b")
    resumed = Session.open_checkpoint(first.run_dir)
    assert resumed.trainer.epoch == 1 and len(resumed.history) == 1
    assert resumed.batches_into_epoch == 3  # the partial checkpoint, not epoch 1's
    assert resumed.run() == "finished"
    assert_same_weights(weights(resumed), weights(straight))
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in straight.history]
    assert not (first.run_dir / PARTIAL_FILE).exists()  # stale once a later epoch was checkpointed


def test_a_stop_mid_epoch_keeps_the_last_epoch_s_checkpoint_clean(tmp_path):
    session = stopped_mid_epoch(tmp_path)
    assert trainer_state(session.run_dir / "epoch-0001.safetensors")["tally"]["batches"] == 0
    partial = session.run_dir / PARTIAL_FILE
    assert trainer_state(partial)["tally"]["batches"] == 3 and resume_point(session.run_dir) == partial
    stale = tmp_path / "stale.safetensors"
    shutil.copy(partial, stale)
    Session.open_checkpoint(session.run_dir).run()
    shutil.copy(stale, partial)  # a partial checkpoint older than the last epoch's is passed over
    assert resume_point(session.run_dir) == session.run_dir / "epoch-0004.safetensors"


def test_a_stop_in_the_first_epoch_can_be_resumed_from_the_starting_checkpoint(tmp_path):
    inbox: queue.Queue = queue.Queue()
    session = Session(config(tmp_path), on_event=inbox.put)
    session.pause()
    worker = threading.Thread(target=session.run)
    worker.start()
    wait_for(inbox, events.Paused)
    session.step_batch()
    wait_for(inbox, events.Paused)
    session.stop()
    worker.join(timeout=30)
    run = saves.read_run(session.run_dir)
    assert run.interrupted and run.latest.name == "epoch-0000.safetensors"  # what --resume finds
    assert resume_point(session.run_dir).name == PARTIAL_FILE
    assert run.resume_point == session.run_dir / PARTIAL_FILE  # and what `saves list` names
    assert Session.open_checkpoint(session.run_dir).batches_into_epoch == 1


def test_a_checkpoint_outside_a_run_folder_resumes_into_a_fresh_one(tmp_path):
    first = stopped_mid_epoch(tmp_path)
    loose = tmp_path / "loose"
    loose.mkdir()
    shutil.copy(first.run_dir / "epoch-0001.safetensors", loose / "copy.safetensors")
    resumed = Session.open_checkpoint(loose / "copy.safetensors", folder=tmp_path / "saves")
    assert resumed.run_dir is None
    assert resumed.run() == "finished"
    assert sorted(p.name for p in loose.iterdir()) == ["copy.safetensors"]  # not taken over
    assert resumed.run_dir.parent == first.run_dir.parent and resumed.run_dir != first.run_dir
    assert saves.read_run(resumed.run_dir).status == "finished"
    # an older checkpoint of a run is not its resume point either: the run's own folder is left alone
    older = Session.open_checkpoint(first.run_dir / "epoch-0001.safetensors")
    assert older.run_dir is None
    assert Session.open_checkpoint(first.run_dir / PARTIAL_FILE).run_dir == first.run_dir


def test_a_save_waits_for_the_batch_boundary(tmp_path, monkeypatch):
    """The loss of one batch blocks until released: a pause asked for meanwhile leaves the loop inside
    that step, and a save from another thread must wait for the step to end, not write half-stepped weights."""
    session = Session(config(tmp_path), checkpoints=False)
    session.prepare()
    in_step, release = threading.Event(), threading.Event()
    loss_fn = session.trainer.loss_fn

    def slow_loss(out, y):
        if session.batches_into_epoch == 2 and not release.is_set():
            in_step.set()
            release.wait(30)
        return loss_fn(out, y)

    session.trainer.loss_fn = slow_loss
    worker = threading.Thread(target=session.run)
    worker.start()
    assert in_step.wait(30)
    session.pause()  # asked for, not reached: the third batch is still running
    saved: list = []
    saver = threading.Thread(target=lambda: saved.append(session.save("mid-run")))
    saver.start()
    saver.join(timeout=0.3)
    assert saver.is_alive() and not saved and not (tmp_path / "saves" / "mid-run.safetensors").exists()
    release.set()
    saver.join(timeout=30)
    assert saved and session.controller.waiting
    assert session.batches_into_epoch == 3
    assert_same_weights(saves.load(saved[0]).model.state_dict(), weights(session))  # after the step, whole
    session.stop()
    worker.join(timeout=30)


def test_a_save_that_cannot_reach_the_boundary_is_refused(tmp_path, monkeypatch):
    session = Session(config(tmp_path), checkpoints=False)
    session.prepare()
    session._status = Status.RUNNING  # as if its thread were stuck in a long batch after a pause was asked for
    session.pause()
    monkeypatch.setattr(session_module, "SAVE_WAIT_SECONDS", 0.05)
    with pytest.raises(SessionError, match="has not finished its batch"):
        session.save("never")
    session.controller.resume()
    with pytest.raises(SessionError, match="pause or stop"):
        session.save("never")
    assert not (tmp_path / "saves").exists()


def test_an_absurd_learning_rate_diverges_and_restores(tmp_path):
    seen = []
    session = Session(config(tmp_path, **{"optimizer.name": "sgd", "optimizer.lr": 1e9, "optimizer.momentum": 0.0}),
                      on_event=seen.append)
    session.prepare()
    initial = weights(session)
    assert session.run() == "diverged"
    diverged = next(e for e in seen if isinstance(e, events.Diverged))
    assert "learning rate" in diverged.message
    assert_same_weights(weights(session), initial)


def test_an_epoch_that_ends_broken_is_neither_recorded_nor_checkpointed(tmp_path):
    seen = []
    session = Session(config(tmp_path, **{"optimizer.name": "sgd", "optimizer.lr": 1e30, "optimizer.momentum": 0.0,
                                          "training.batch_size": 1000}), on_event=seen.append)
    assert session.run() == "diverged"
    assert seen[-1] == StatusChanged(Status.DIVERGED)  # last, once the run folder is marked
    assert "Restored the initial weights" in seen[-2].message and session.history == []
    assert [e.epoch for e in seen if isinstance(e, CheckpointSaved)] == [0]
    assert sorted(p.name for p in session.run_dir.glob("*.safetensors")) == ["epoch-0000.safetensors"]
    assert saves.read_run(session.run_dir).status == "failed"


def test_early_stopping_finishes_the_run(tmp_path):
    seen = []
    session = Session(config(tmp_path, **{"optimizer.lr": 0.0, "training.epochs": 50, "training.early_stopping": 2}),
                      on_event=seen.append, checkpoints=False)
    assert session.run() == "early-stopped"
    assert seen[-1] == StatusChanged(Status.EARLY_STOPPED) and session.status == "early-stopped"
    assert seen[-2].reason == "early-stopped" and len(session.history) == 3


def test_live_settings_are_validated_before_they_apply(tmp_path):
    session = Session(config(tmp_path), checkpoints=False)
    session.prepare()
    assert session.set_live("optimizer.lr", 0.05) == 0.05 and session.set_live("training.batch_size", 16) == 16
    assert session.controller.take_settings() == {"lr": 0.05, "batch_size": 16}
    for bad in ("fast", "0.1", -1.0, float("nan"), True):   # values travel typed: text was parsed at the edge
        with pytest.raises(ConfigError, match="^optimizer.lr: must be a number >= 0"):
            session.set_live("optimizer.lr", bad)
    with pytest.raises(ConfigError, match="cannot change during training"):
        session.set_live("training.epochs", 3)
    assert session.controller.take_settings() == {}
    assert session.config.optimizer.lr == 0.05


def test_a_model_that_does_not_fit_the_data_is_refused(tmp_path):
    with pytest.raises(MismatchError, match="blobs"):
        Session(config(tmp_path, **{"model.preset": "cnn"})).prepare()
    spec = dict(DROPOUT_SPEC, input_shape=[5])
    with pytest.raises(SessionError, match=r"model's input is 5, but blobs has 2 features"):
        Session(config(tmp_path, **{"model.spec": spec})).prepare()


def test_save_and_continue_from_a_save(tmp_path):
    session = Session(config(tmp_path), checkpoints=False)
    session.run()
    path = session.save("blobs-model")
    assert path.name == "blobs-model.safetensors"
    with pytest.raises(SessionError, match="exists"):
        session.save("blobs-model")
    again = Session.from_save(path)
    assert_same_weights(weights(again), weights(session))
    assert len(again.history) == 3


def test_a_continued_save_numbers_its_epochs_after_the_saved_ones(tmp_path):
    base = Session(config(tmp_path), checkpoints=False)
    base.run()
    path = base.save("base")
    seen = []
    # training.epochs is the total the run trains up to, the save's 3 epochs included: 2 more
    more = Session.from_save(path, config=config(tmp_path, **{"training.epochs": 5}), on_event=seen.append)
    assert (more.epoch_offset, more.epochs_done, more.epochs_planned, more.epochs_left) == (3, 3, 5, 2)
    assert more.run() == "finished"
    assert [h["epoch"] for h in more.history] == [1, 2, 3, 4, 5]
    # the events it passes on are numbered as its history is (views add nothing)
    assert [(e.epoch, e.epochs) for e in seen if isinstance(e, events.EpochEnd)] == [(3, 5), (4, 5)]
    assert {e.epoch for e in seen if isinstance(e, events.BatchEnd)} == {3, 4}
    assert [e.epoch for e in seen if isinstance(e, CheckpointSaved)] == [3, 4, 5]
    assert sorted(p.name for p in more.run_dir.glob("epoch-*")) == ["epoch-0004.safetensors", "epoch-0005.safetensors"]
    assert more.config.training.epochs == 5 and more.trainer.epochs == 2  # the total; the trainer's share
    saved = saves.read_metadata(more.save("more"))
    assert saved.epochs == 5 and [h["epoch"] for h in saved.history] == [1, 2, 3, 4, 5]
    resumed = Session.open_checkpoint(more.run_dir / "epoch-0004.safetensors")
    assert (resumed.epoch_offset, resumed.epochs_done) == (3, 4)


def test_a_save_that_has_all_its_epochs_trains_only_when_asked_for_more(tmp_path):
    base = Session(config(tmp_path, **{"schedule.name": "cosine"}), checkpoints=False)
    base.run()
    again = Session.from_save(base.save("base"))
    assert (again.epochs_done, again.epochs_planned, again.epochs_left) == (3, 3, 0)  # "up to 3": all done
    with pytest.raises(NothingToTrain):
        again.plan()
    assert again.run(epochs=5) == "finished" and again.epochs_done == 5 and again.config.training.epochs == 5
    more = Session.from_save(base.save("more"), config=config(tmp_path, **{"schedule.name": "cosine",
                                                                        "training.epochs": 7}))
    assert more.scheduler.T_max == 4  # a fresh schedule spans the epochs still to train, not the total


def test_a_checkpoint_of_an_older_version_resumes_its_plan(tmp_path, monkeypatch):
    """Checkpoints written before training.epochs counted the save's epochs held the trainer's share."""
    base = Session(config(tmp_path), checkpoints=False)
    base.run()
    more = Session.from_save(base.save("base"), config=config(tmp_path, **{"training.epochs": 5}))
    parts = more._checkpoint_parts

    def older() -> dict:
        record = parts()
        state = {k: v for k, v in record["data_state"].items() if k != "epochs_planned"}
        old_config = {**record["config"], "training": {**record["config"]["training"], "epochs": 2}}
        return {**record, "data_state": state, "config": old_config}

    monkeypatch.setattr(more, "_checkpoint_parts", older)
    assert more.run() == "finished"
    resumed = Session.open_checkpoint(more.run_dir / "epoch-0004.safetensors")
    assert (resumed.epochs_done, resumed.epochs_planned, resumed.epochs_left) == (4, 5, 1)
    assert resumed.run() == "finished" and [h["epoch"] for h in resumed.history] == [1, 2, 3, 4, 5]


def test_the_plan_cannot_shrink_below_the_epochs_done_and_the_config_follows_it(tmp_path):
    session = Session(config(tmp_path), checkpoints=False)
    assert session.run() == "finished"
    with pytest.raises(SessionError, match="3 are already done"):
        session.run(epochs=2)
    with pytest.raises(NothingToTrain, match="3 are already done"):  # one check: a plan must leave an epoch
        session.run(epochs=3)
    with pytest.raises(NothingToTrain) as nothing:
        session.plan()
    assert (nothing.value.total, nothing.value.done) == (3, 3)
    assert session.run(epochs=5) == "finished"
    assert session.trainer.epoch == 5 and session.config.training.epochs == 5


@pytest.mark.parametrize("offset, problem", [
    (-1, "epoch_offset must be a whole number >= 0"), (True, "epoch_offset must be a whole number >= 0"),
    ("3", "epoch_offset must be a whole number >= 0"), (2.0, "epoch_offset must be a whole number >= 0"),
    (3, "says 3 epochs before this run and 1 in it, but checkpoint.epoch is 1")])
def test_a_checkpoint_with_a_bad_epoch_offset_is_refused(tmp_path, offset, problem):
    session = Session(config(tmp_path, **{"training.epochs": 1}))
    assert session.run() == "finished"
    path = edit_document(session.run_dir / "epoch-0001.safetensors",
                         lambda document: document["checkpoint"]["data_state"].update(epoch_offset=offset))
    with pytest.raises(SessionError, match=problem):
        Session.open_checkpoint(path)


def test_evaluate_test_agrees_with_the_predictions(tmp_path):
    session = Session(config(tmp_path), checkpoints=False)
    session.run()
    record = session.evaluate_test()
    predicted = session.predict_test().argmax(axis=1)
    truth = session.data.y_test
    assert record["test_size"] == len(truth) == np.sum(record["confusion"])
    assert record["test_acc"] == pytest.approx(np.mean(predicted == truth))
    for c, accuracy in enumerate(record["per_class_acc"]):
        assert accuracy == pytest.approx(np.mean(predicted[truth == c] == c))
    sine = Session(RunConfig.from_dict({"data": {"name": "sine", "size": 200}, "training": {"epochs": 1}}),
                   checkpoints=False)
    sine.prepare()
    outputs = sine.predict_test()
    errors = outputs - sine.data.y_test.reshape(outputs.shape)
    assert sine.evaluate_test()["test_mse"] == pytest.approx(float(np.mean(errors ** 2)))


def test_a_missing_data_set_in_a_given_folder_says_to_put_it_there(tmp_path):
    folder = tmp_path / "my-idx"
    folder.mkdir()
    cfg = RunConfig.from_dict({"data": {"name": "mnist", "data_dir": str(folder)}})
    with pytest.raises(SessionError) as error:
        Session(cfg, checkpoints=False).prepare()
    message = str(error.value)
    assert "copy train-images-idx3-ubyte.gz" in message and f"from {folder}" in message
    assert ".cache" not in message and "into it" in message


def test_a_cnn_preset_trains_on_images(tmp_path):
    cfg = RunConfig.from_dict({"data": {"name": "mnist-embedded", "val_fraction": 0.2}, "model": {"preset": "cnn"},
                               "training": {"epochs": 1, "batch_size": 64}})
    session = Session(cfg, checkpoints=False)
    session.prepare()
    assert session.data.x_train.shape[1:] == (1, 28, 28)
    assert session.run() == "finished"
    assert session.history[0]["val_acc"] > 0.5


# ====================================================================== saves move between machines
def test_a_save_records_the_config_without_the_saves_folder(tmp_path):
    """An absolute saves folder means nothing on another machine, where `train --from` would write its run there."""
    folder = tmp_path / "home" / "alice" / "saves"
    session = Session(config(tmp_path, **{"checkpoints.folder": str(folder), "training.epochs": 1}))
    session.run()
    path = session.save("model")
    assert str(folder).encode() not in path.read_bytes()
    recorded = saves.read_metadata(path).config
    assert recorded == session.config.portable_dict() and "folder" not in recorded["checkpoints"]
    assert saved_config(path) == session.config.replace(**{"checkpoints.folder": "",
                                                          "model.spec": session.spec})


OLD_RECORD = {"run": {"data": {"name": "blobs"}, "checkpoints": {"folder": "/home/alice/project/saves",
                                                                 "keep_last": 2}, "training": {"epochs": 3}},
              "optimizer": "adam", "lr": 0.001, "batch_size": 64, "seed": 0, "epochs": 3, "loss": "cross_entropy"}


def test_saves_of_nnstudio_0_1_load_with_their_settings_but_not_their_folder(tmp_path):
    """0.1 nested the run config under "run", beside summary fields, and kept the saves folder."""
    model = build_model(preset_spec("mlp", input_shape=(2,), classes=3))
    path = saves.save_model(tmp_path / "old.safetensors", model, config=OLD_RECORD, dataset="blobs")
    config = saved_config(path)
    assert config.data.name == "blobs" and config.training.epochs == 3 and config.checkpoints.keep_last == 2
    assert config.checkpoints.folder == "" and config.model.spec == model.spec


def test_a_save_without_a_run_config_trains_with_the_defaults_on_its_data_set(tmp_path):
    model = build_model(preset_spec("mlp", input_shape=(2,), classes=3))
    path = saves.save_model(tmp_path / "foreign.safetensors", model, config={"epochs": 3}, dataset="blobs")
    assert saved_config(path) == RunConfig().replace(**{"data.name": "blobs", "model.spec": model.spec})


def test_a_setting_changed_while_stopped_applies_when_the_run_goes_on(tmp_path):
    session = stopped_mid_epoch(tmp_path)
    session.set_live("optimizer.lr", 0.002)        # stopped: the loop takes it before its next batch
    assert session.run() == "finished" and session.optimizer.lr == 0.002 and session.trainer.epoch == 4


def test_a_command_the_loop_no_longer_obeyed_does_not_carry_into_the_next_run(tmp_path):
    """x pressed while the last epoch is validated: the run finishes; continuing it must not stop at once."""
    session = Session(config(tmp_path, **{"training.epochs": 1}))
    session.on_event = lambda event: session.stop() if isinstance(event, events.EpochEnd) else None
    assert session.run() == "finished" and not session.controller.stop_requested
    session.on_event = lambda event: None
    assert session.run(epochs=2) == "finished" and session.trainer.epoch == 2


def test_a_cosine_schedule_stretches_over_a_longer_plan(tmp_path):
    """A finished cosine run continued to a larger total trains at the longer curve's rate, not at its
    floor (lr 0): resumed with --epochs 4 after 2 planned, epoch 3 runs at the rate cosine-over-4 gives."""
    config = RunConfig.from_dict({
        "data": {"name": "blobs", "size": 200}, "schedule": {"name": "cosine"},
        "optimizer": {"name": "sgd", "lr": 0.1}, "training": {"epochs": 2, "batch_size": 50, "seed": 1},
        "checkpoints": {"folder": str(tmp_path)}})
    session = Session(config)
    assert session.run() == "finished" and session.optimizer.lr == pytest.approx(0.0)
    lrs = []
    session.on_event = lambda event: lrs.append(event.lr) if isinstance(event, events.EpochEnd) else None
    assert session.run(4) == "finished"
    assert lrs == [pytest.approx(0.1 * (1 + math.cos(math.pi * 2 / 4)) / 2),
                   pytest.approx(0.1 * (1 + math.cos(math.pi * 3 / 4)) / 2)]
