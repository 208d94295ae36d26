"""The engine's Trainer: events, commands from another thread, divergence, early stopping."""

from __future__ import annotations

import queue
import threading

import numpy as np
import pytest

from nnstudio.datasets import BatchIterator
from nnstudio.engine import events, manual_seed, nn
from nnstudio.engine.optim import SGD, Adam, EarlyStopping
from nnstudio.engine.trainer import Trainer


def blobs(n=256, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[2, 0], [-2, 1], [0, -2]], np.float32)
    return (centres[y] + rng.normal(0, 0.5, (n, 2))).astype(np.float32), y


def make_trainer(epochs=3, lr=0.05, optimizer=SGD, **kwargs):
    manual_seed(0)
    x, y = blobs()
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    collected = []
    trainer = Trainer(model, optimizer(model.parameters(), lr=lr), nn.CrossEntropyLoss(),
                      BatchIterator(x, y, 32, seed=0), epochs=epochs, val_data=blobs(64, seed=1), classes=3,
                      probe=x[:5], on_event=kwargs.pop("on_event", collected.append), **kwargs)
    return trainer, collected


def test_events_arrive_in_order_with_their_fields():
    trainer, seen = make_trainer(epochs=2)
    assert trainer.run() == "finished"
    kinds = [type(e).__name__ for e in seen]
    assert kinds == (["BatchEnd"] * 8 + ["EpochEnd"]) * 2 + ["Finished"]
    batch = seen[0]
    assert (batch.epoch, batch.batch, batch.batches) == (0, 0, 8)
    assert np.isfinite(batch.loss) and 0 <= batch.accuracy <= 1
    end = seen[8]
    assert end.epoch == 0 and end.epochs == 2
    assert end.val_loss is not None and 0 <= end.val_accuracy <= 1
    assert set(end.grad_norms) == set(end.weight_norms) == set(end.update_ratios) == {"0", "2"}
    assert all(v > 0 for v in end.grad_norms.values())
    assert end.confusion.shape == (3, 3) and end.confusion.sum() == 64
    np.testing.assert_allclose(end.probe_outputs.sum(axis=1), 1.0, rtol=1e-5)
    assert end.lr == pytest.approx(0.05) and end.samples_per_s > 0 and end.eta > 0
    assert seen[-1] == events.Finished(2, "completed")
    assert seen[-2].eta == 0
    assert seen[-2].val_loss < end.val_loss  # it learns


def run_in_thread(trainer):
    inbox: queue.Queue = queue.Queue()
    trainer.on_event = inbox.put
    thread = threading.Thread(target=trainer.run, daemon=True)
    thread.start()
    return inbox, thread


def next_event(inbox, kind=None):
    while True:
        event = inbox.get(timeout=10)
        if kind is None or isinstance(event, kind):
            return event


def test_pause_step_resume_and_stop_from_another_thread():
    trainer, _ = make_trainer(epochs=50)
    trainer.controller.pause()
    inbox, thread = run_in_thread(trainer)
    assert next_event(inbox) == events.Paused(0, 0)

    trainer.controller.step_batch()
    assert isinstance(next_event(inbox), events.BatchEnd)
    assert next_event(inbox) == events.Paused(0, 1)

    trainer.controller.step_epoch()
    kinds = []
    while True:
        event = next_event(inbox)
        kinds.append(type(event).__name__)
        if isinstance(event, events.Paused):
            break
    assert kinds == ["BatchEnd"] * 7 + ["EpochEnd", "Paused"]
    assert event == events.Paused(1, 0)

    trainer.controller.resume()
    next_event(inbox, events.EpochEnd)
    trainer.controller.stop()
    stopped = next_event(inbox, events.Stopped)
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert stopped.epoch >= 2 and trainer.epoch == stopped.epoch


def test_a_paused_run_can_be_stopped():
    trainer, _ = make_trainer()
    trainer.controller.pause()
    inbox, thread = run_in_thread(trainer)
    next_event(inbox, events.Paused)
    trainer.controller.stop()
    assert next_event(inbox) == events.Stopped(0, 0)
    thread.join(timeout=10)


def test_a_live_learning_rate_change_applies_at_the_next_batch():
    trainer, _ = make_trainer()
    weights = trainer.model[0].weight
    trainer.controller.pause()
    inbox, thread = run_in_thread(trainer)
    next_event(inbox, events.Paused)
    trainer.controller.set(lr=0.0)
    before = weights.data.copy()
    trainer.controller.step_batch()
    next_event(inbox, events.Paused)
    np.testing.assert_array_equal(weights.data, before)  # lr 0: no change
    trainer.controller.set(lr=0.1, momentum=0.5, batch_size=16)
    trainer.controller.step_batch()
    next_event(inbox, events.Paused)
    assert not np.array_equal(weights.data, before)
    assert trainer.optimizer.lr == 0.1 and trainer.optimizer.momentum == 0.5 and trainer.batches.batch_size == 16
    trainer.controller.stop()
    thread.join(timeout=10)
    with pytest.raises(ValueError, match="cannot change epochs"):
        trainer.controller.set(epochs=3)


def test_divergence_stops_the_run_and_restores_the_last_good_weights():
    trainer, seen = make_trainer(epochs=5, lr=1e6, optimizer=SGD)
    initial = trainer.model.state_dict()
    assert trainer.run() == "diverged"
    diverged = seen[-1]
    assert isinstance(diverged, events.Diverged)
    assert "Lower the learning rate" in diverged.message and diverged.restored_epoch == 0
    for name, value in trainer.model.state_dict().items():
        np.testing.assert_array_equal(value, initial[name])


def test_divergence_is_caught_by_gradient_clipping_too():
    trainer, seen = make_trainer(epochs=5, lr=1e6, clip_norm=1.0)
    assert trainer.run() == "diverged"
    assert all(np.isfinite(p.data).all() for p in trainer.model.parameters())


def test_early_stopping_ends_the_run():
    trainer, seen = make_trainer(epochs=100, lr=0.0, early_stopping=EarlyStopping(patience=2))
    assert trainer.run() == "early-stopped"
    finished = seen[-1]
    assert finished.reason == "early-stopped" and finished.epochs_done == 3
    assert "not improved for 2 epochs" in finished.message


def test_an_error_is_reported_as_failed_not_raised():
    def broken_loss(out, y):
        raise RuntimeError("data set file vanished")

    trainer, seen = make_trainer()
    trainer.loss_fn = broken_loss
    assert trainer.run() == "failed"
    assert isinstance(seen[-1], events.Failed) and "data set file vanished" in seen[-1].message


def test_regression_runs_report_no_accuracy():
    manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (128, 1)).astype(np.float32)
    y = np.sin(3 * x).astype(np.float32)
    model = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1))
    seen = []
    trainer = Trainer(model, Adam(model.parameters(), lr=0.01), nn.MSELoss(), BatchIterator(x, y, 32),
                      epochs=2, val_data=(x, y), on_event=seen.append)
    assert trainer.run() == "finished"
    end = [e for e in seen if isinstance(e, events.EpochEnd)][-1]
    assert end.train_accuracy is None and end.val_accuracy is None and end.confusion is None
