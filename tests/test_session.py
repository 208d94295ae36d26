"""The training session on small synthetic data: events, commands, divergence, checkpoints, exact resume."""

from __future__ import annotations

import queue
import threading

import numpy as np
import pytest

from nnstudio.engine import events
from nnstudio.tui.config import ConfigError, RunConfig
from nnstudio.tui.session import CheckpointSaved, Session, SessionError

DROPOUT_SPEC = {"input_shape": [2], "layers": [
    {"type": "linear", "out": 16}, {"type": "relu"}, {"type": "dropout", "p": 0.2}, {"type": "linear", "out": 3}]}


def config(tmp_path, **overrides) -> RunConfig:
    base = {"data": {"name": "blobs", "size": 240, "classes": 3}, "model": {"spec": DROPOUT_SPEC},
            "optimizer": {"name": "adam", "lr": 0.01}, "training": {"epochs": 3, "batch_size": 32, "seed": 7},
            "checkpoints": {"folder": str(tmp_path / "saves"), "keep_last": 2}}
    cfg = RunConfig.from_dict(base)
    return cfg.with_overrides(overrides) if overrides else cfg


def weights(session):
    return {name: value.copy() for name, value in session.model.state_dict().items()}


def test_a_run_reports_epochs_checkpoints_and_finishes(tmp_path):
    seen = []
    session = Session(config(tmp_path), on_event=seen.append)
    assert session.run() == "finished"
    kinds = [type(e).__name__ for e in seen]
    assert kinds.count("EpochEnd") == 3 and kinds.count("CheckpointSaved") == 3 and kinds[-1] == "Finished"
    assert kinds.index("BatchEnd") < kinds.index("EpochEnd") < kinds.index("CheckpointSaved")
    end = next(e for e in seen if isinstance(e, events.EpochEnd))
    assert end.probe_outputs.shape == (60, 3) and end.confusion.shape == (3, 3)
    assert [h["epoch"] for h in session.history] == [1, 2, 3]
    assert session.history[-1]["val_acc"] > 0.8
    saved = [e for e in seen if isinstance(e, CheckpointSaved)]
    assert saved[-1].epoch == 3 and saved[-1].path.exists()
    assert len(list(session.run_dir.glob("epoch-*.safetensors"))) == 2  # keep_last


def test_a_stopped_run_resumes_bit_identically(tmp_path):
    straight = Session(config(tmp_path / "a", **{"training.epochs": 4}))
    assert straight.run() == "finished"

    inbox: queue.Queue = queue.Queue()
    first = Session(config(tmp_path / "b", **{"training.epochs": 4}), on_event=inbox.put)
    first.pause()
    worker = threading.Thread(target=first.run)
    worker.start()
    inbox.get(timeout=30)  # the first Paused (after any notices)
    first.step_epoch()
    while not isinstance(inbox.get(timeout=30), events.Paused):
        pass
    for _ in range(3):  # stop in the middle of epoch 2
        first.step_batch()
        while not isinstance(inbox.get(timeout=30), events.Paused):
            pass
    first.stop()
    worker.join(timeout=30)
    assert first.status == "stopped" and first.trainer.epoch == 1

    resumed = Session.resume(first.run_dir)
    assert resumed.trainer.epoch == 1 and len(resumed.history) == 1
    assert resumed.run() == "finished"
    for name, value in weights(straight).items():
        np.testing.assert_array_equal(weights(resumed)[name], value)
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in straight.history]


def test_an_absurd_learning_rate_diverges_and_restores(tmp_path):
    seen = []
    session = Session(config(tmp_path, **{"optimizer.name": "sgd", "optimizer.lr": 1e9, "optimizer.momentum": 0.0}),
                      on_event=seen.append)
    session.prepare()
    initial = weights(session)
    assert session.run() == "diverged"
    diverged = next(e for e in seen if isinstance(e, events.Diverged))
    assert "learning rate" in diverged.message
    for name, value in initial.items():
        np.testing.assert_array_equal(weights(session)[name], value)


def test_early_stopping_finishes_the_run(tmp_path):
    seen = []
    session = Session(config(tmp_path, **{"optimizer.lr": 0.0, "training.epochs": 50, "training.early_stopping": 2}),
                      on_event=seen.append, checkpoints=False)
    assert session.run() == "early-stopped"
    assert seen[-1].reason == "early-stopped" and len(session.history) == 3


def test_live_settings_are_validated_before_they_apply(tmp_path):
    session = Session(config(tmp_path), checkpoints=False)
    session.prepare()
    assert session.set_live("optimizer.lr", "0.05") == 0.05
    assert session.controller.take_settings() == {"lr": 0.05}
    with pytest.raises(ConfigError, match="optimizer.lr"):
        session.set_live("optimizer.lr", "fast")
    with pytest.raises(ConfigError, match="cannot change during training"):
        session.set_live("training.epochs", 3)
    assert session.controller.take_settings() == {}
    assert session.config.optimizer.lr == 0.05


def test_a_model_that_does_not_fit_the_data_is_refused(tmp_path):
    with pytest.raises(SessionError, match="blobs"):
        Session(config(tmp_path, **{"model.preset": "cnn"})).prepare()
    spec = dict(DROPOUT_SPEC, input_shape=[5])
    with pytest.raises(SessionError, match=r"expects inputs of shape \(5,\)"):
        Session(config(tmp_path, **{"model.spec": spec})).prepare()


def test_save_and_continue_from_a_save(tmp_path):
    session = Session(config(tmp_path), checkpoints=False)
    session.run()
    path = session.save("blobs-model")
    assert path.name == "blobs-model.safetensors"
    with pytest.raises(SessionError, match="exists"):
        session.save("blobs-model")
    again = Session.from_save(path)
    for name, value in weights(session).items():
        np.testing.assert_array_equal(weights(again)[name], value)
    assert len(again.history) == 3


def test_a_cnn_preset_trains_on_images(tmp_path):
    cfg = RunConfig.from_dict({"data": {"name": "mnist-embedded", "val_fraction": 0.2}, "model": {"preset": "cnn"},
                               "training": {"epochs": 1, "batch_size": 64}})
    session = Session(cfg, checkpoints=False)
    session.prepare()
    assert session.data.x_train.shape[1:] == (1, 28, 28)
    assert session.run() == "finished"
    assert session.history[0]["val_acc"] > 0.5
