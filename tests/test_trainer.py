"""The engine's Trainer: events, commands from another thread, divergence, early stopping."""

from __future__ import annotations

import itertools
import queue
import threading
import types

import numpy as np
import pytest

from nnstudio.datasets import BatchIterator
from nnstudio.engine import Tensor, events, manual_seed, nn
from nnstudio.engine.control import Controller
from nnstudio.engine.metrics import layer_name
from nnstudio.engine import trainer as trainer_module
from nnstudio.engine.optim import SGD, Adam, CosineAnnealingLR, EarlyStopping, StepLR
from nnstudio.engine.trainer import Trainer


def blobs(n=256, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[2, 0], [-2, 1], [0, -2]], np.float32)
    return (centres[y] + rng.normal(0, 0.5, (n, 2))).astype(np.float32), y


def small_model():
    manual_seed(0)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))


def make_trainer(epochs=3, lr=0.05, optimizer=SGD, batch_size=32, **kwargs):
    x, y = blobs()
    model = small_model()
    collected = []
    trainer = Trainer(model, optimizer(model.parameters(), lr=lr), kwargs.pop("loss_fn", nn.CrossEntropyLoss()),
                      BatchIterator(x, y, batch_size, seed=0), epochs=epochs, val_data=blobs(64, seed=1), classes=3,
                      probe=x[:5], on_event=kwargs.pop("on_event", collected.append), **kwargs)
    return trainer, collected


@pytest.fixture
def fake_clock(monkeypatch):
    """The trainer's clock, faked: 1/64 s passes between two readings (exact in binary, the same on every
    machine), so the times it reports are checked without timing anything."""
    ticks = itertools.count()
    monkeypatch.setattr(trainer_module, "time", types.SimpleNamespace(perf_counter=lambda: next(ticks) / 64))


def of_kind(seen, kind):
    return [e for e in seen if isinstance(e, kind)]


def test_events_arrive_in_order_with_their_fields(fake_clock):
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
    record = end.as_dict()
    assert record["epoch"] == 1 and record["elapsed"] == end.elapsed and record["seconds"] == end.seconds


def test_epoch_figures_agree_with_a_hand_written_loop(fake_clock):
    """Loss, accuracy, gradient norms and update ratios of each epoch, recomputed by an independent loop.

    Eight batches an epoch: every batch is a sampled one, so the per-layer means cover them all.
    """
    trainer, seen = make_trainer(epochs=2)
    assert trainer.run() == "finished"
    model = small_model()  # the same initial weights
    optimizer, loss_fn = SGD(model.parameters(), lr=0.05), nn.CrossEntropyLoss()
    x, y = blobs()
    batches = BatchIterator(x, y, 32, seed=0)
    ends, batch_ends = of_kind(seen, events.EpochEnd), of_kind(seen, events.BatchEnd)
    for epoch, end in enumerate(ends):
        losses, sizes, correct, grads, ratios = [], [], 0, [], []
        for xb, yb in batches:
            out = model(Tensor(xb))
            loss = loss_fn(out, yb)
            optimizer.zero_grad()
            loss.backward()
            grads.append(per_layer({n: p.grad for n, p in model.named_parameters()}))
            before = {n: p.data.copy() for n, p in model.named_parameters()}
            optimizer.step()
            step = per_layer({n: p.data - before[n] for n, p in model.named_parameters()})
            size = per_layer(before)
            ratios.append({layer: step[layer] / size[layer] for layer in step})
            losses.append(loss.item())
            sizes.append(len(yb))
            correct += int((out.data.argmax(axis=1) == yb).sum())
        assert end.train_loss == pytest.approx(np.average(losses, weights=sizes), rel=1e-6)
        assert end.train_accuracy == correct / sum(sizes)
        for layer in ("0", "2"):
            assert end.grad_norms[layer] == pytest.approx(np.mean([g[layer] for g in grads]), rel=1e-5)
            assert end.update_ratios[layer] == pytest.approx(np.mean([r[layer] for r in ratios]), rel=1e-5)
        running = batch_ends[8 * epoch:8 * epoch + 8]
        assert [b.loss for b in running] == pytest.approx(losses, rel=1e-6)
        assert [b.mean_loss for b in running] == pytest.approx(
            [np.average(losses[:k + 1], weights=sizes[:k + 1]) for k in range(8)], rel=1e-6)
    first, second = ends
    assert first.elapsed >= first.seconds > 0
    assert second.elapsed >= first.elapsed + second.seconds
    assert second.elapsed == trainer.elapsed
    assert [end.samples_per_s for end in ends] == [256 / end.seconds for end in ends]
    assert first.eta == first.elapsed and second.eta == 0  # the pace so far, times the epochs left


def test_the_eta_is_this_run_s_pace_times_the_epochs_left(fake_clock):
    """A trainer restored from a slow earlier run (3 epochs in 1,000 s): its ETA is the pace of the epochs it
    trains now, not the whole run's elapsed time over all its epochs."""
    trainer, seen = make_trainer(epochs=5)
    trainer.load_state_dict({**trainer.state_dict(), "epoch": 3, "elapsed": 1000.0})
    assert trainer.run() == "finished"
    first, second = of_kind(seen, events.EpochEnd)
    assert first.eta == pytest.approx(first.elapsed - 1000.0) and second.eta == 0


def per_layer(named: dict) -> dict:
    squares: dict = {}
    for name, array in named.items():
        layer = layer_name(name)
        squares[layer] = squares.get(layer, 0.0) + float(np.sum(np.square(array, dtype=np.float64)))
    return {layer: float(np.sqrt(total)) for layer, total in squares.items()}


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
    assert next_event(inbox) == events.Resumed(1, 0)  # a step does not send it; lifting the pause does
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
    initial = trainer.model.state_dict()
    assert trainer.run() == "diverged"
    assert of_kind(seen, events.Diverged)[0].restored_epoch == 0
    for name, value in trainer.model.state_dict().items():
        np.testing.assert_array_equal(value, initial[name])


def test_an_epoch_that_ends_broken_is_not_kept_nor_reported():
    """One batch an epoch at an absurd rate: the batch's loss is fine, the weights it leaves are not."""
    trainer, seen = make_trainer(epochs=3, lr=1e30, batch_size=1000)
    initial = trainer.model.state_dict()
    assert trainer.run() == "diverged"
    assert of_kind(seen, events.EpochEnd) == []
    diverged = seen[-1]
    assert "at the end of epoch 1: the validation loss became nan" in diverged.message
    assert "Restored the initial weights" in diverged.message and diverged.restored_epoch == 0
    for name, value in trainer.model.state_dict().items():
        np.testing.assert_array_equal(value, initial[name])


def test_a_broken_epoch_after_good_ones_restores_the_last_good_epoch():
    kept = {}

    def on_event(event):
        seen.append(event)
        if isinstance(event, events.EpochEnd) and event.epoch == 0:
            kept.update(trainer.model.state_dict())
            trainer.controller.set(lr=1e30, batch_size=1000)  # the next epoch: one absurd step

    seen: list = []
    trainer, _ = make_trainer(epochs=3, on_event=on_event)
    assert trainer.run() == "diverged"
    assert len(of_kind(seen, events.EpochEnd)) == 1
    assert seen[-1].restored_epoch == 1 and "Restored the weights after epoch 1" in seen[-1].message
    for name, value in trainer.model.state_dict().items():
        np.testing.assert_array_equal(value, kept[name])


def test_the_gradient_norm_is_checked_on_every_batch():
    """32 batches an epoch, so only every other one is sampled; the blow-up comes on an unsampled one."""
    calls = []
    cross_entropy = nn.CrossEntropyLoss()

    def exploding_loss(out, y):
        calls.append(1)
        return cross_entropy(out, y) * (1e9 if len(calls) == 2 else 1.0)

    trainer, seen = make_trainer(batch_size=8, loss_fn=exploding_loss)
    initial = trainer.model.state_dict()
    assert trainer.run() == "diverged"
    assert "at epoch 1, batch 2: the gradient norm reached" in seen[-1].message
    for name, value in trainer.model.state_dict().items():
        np.testing.assert_array_equal(value, initial[name])


def test_divergence_prints_no_numpy_warnings(recwarn):
    trainer, _ = make_trainer(epochs=3, lr=1e30, batch_size=1000)
    assert trainer.run() == "diverged"
    assert [str(w.message) for w in recwarn if issubclass(w.category, RuntimeWarning)] == []


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


# ---------------------------------------------------------------------------------------- live learning rate
def scheduled(schedule_class, lr=0.1, **settings):
    trainer, _ = make_trainer(lr=lr)
    trainer.scheduler = schedule_class(trainer.optimizer, **settings)
    return trainer, trainer.scheduler


def rates_after(scheduler, steps):
    rates = []
    for _ in range(steps):
        scheduler.step()
        rates.append(scheduler.optimizer.lr)
    return rates


def test_a_live_rate_under_step_lr_keeps_the_later_drops():
    trainer, scheduler = scheduled(StepLR, step_size=1, gamma=0.5)
    rates_after(scheduler, 2)  # epoch 2: 0.025
    trainer.apply_settings({"lr": 0.05})  # twice the schedule's rate for this epoch
    assert trainer.optimizer.lr == 0.05 and scheduler.lr_at(scheduler.last_epoch) == pytest.approx(0.05)
    assert rates_after(scheduler, 2) == pytest.approx([0.025, 0.0125])


def test_a_live_rate_under_cosine_scales_its_floor_too():
    trainer, scheduler = scheduled(CosineAnnealingLR, T_max=4, eta_min=0.01)
    untouched = CosineAnnealingLR(SGD(small_model().parameters(), lr=0.1), T_max=4, eta_min=0.01)
    rates_after(scheduler, 1)
    expected = rates_after(untouched, 5)
    trainer.apply_settings({"lr": expected[0] / 2})
    assert scheduler.lr_at(1) == pytest.approx(expected[0] / 2)
    assert rates_after(scheduler, 4) == pytest.approx([r / 2 for r in expected[1:]])  # ends at eta_min / 2


def test_a_live_rate_from_zero_survives_the_next_step():
    trainer, scheduler = scheduled(StepLR, lr=0.0, step_size=1, gamma=0.5)
    trainer.apply_settings({"lr": 0.2})
    assert trainer.optimizer.lr == 0.2
    assert rates_after(scheduler, 2) == pytest.approx([0.1, 0.05])
    trainer.apply_settings({"lr": 0.0})  # and back to 0, and up again: the schedule is not stuck
    trainer.apply_settings({"lr": 0.4})
    assert rates_after(scheduler, 1) == pytest.approx([0.2])


def test_a_live_rate_from_zero_with_warm_up_and_past_the_end_of_cosine():
    warm, scheduler = scheduled(StepLR, lr=0.0, step_size=10, warmup_epochs=3)
    warm.apply_settings({"lr": 0.1})  # epoch 0 of the warm-up: a quarter of the base
    assert rates_after(scheduler, 3) == pytest.approx([0.2, 0.3, 0.4])
    ended, cosine = scheduled(CosineAnnealingLR, T_max=2)
    rates_after(cosine, 3)  # past the end: the rate is eta_min = 0, whatever the base
    ended.apply_settings({"lr": 0.01})
    assert rates_after(cosine, 2) == pytest.approx([0.01, 0.01])


def test_a_live_rate_reaches_the_next_epoch_of_a_running_schedule():
    ends = []

    def on_event(event):
        if isinstance(event, events.EpochEnd):
            ends.append(event)
            if event.epoch == 0:
                trainer.controller.set(lr=0.2)  # epoch 2 would have run at 0.025

    trainer, _ = make_trainer(epochs=3, on_event=on_event)
    trainer.scheduler = StepLR(trainer.optimizer, step_size=1, gamma=0.5)
    assert trainer.run() == "finished"
    assert [e.lr for e in ends] == pytest.approx([0.05, 0.2, 0.1])


# ---------------------------------------------------------------------------------------- holding the loop still
def test_hold_waits_for_the_batch_boundary_and_keeps_the_loop_there():
    trainer, _ = make_trainer(epochs=50)
    with pytest.raises(TimeoutError):  # not paused: it never waits
        with trainer.controller.hold(timeout=0.05):
            pass
    trainer.controller.pause()
    inbox, thread = run_in_thread(trainer)
    next_event(inbox, events.Paused)
    with trainer.controller.hold(timeout=5):
        assert trainer.controller.waiting
        trainer.controller.resume()  # resumed meanwhile: it still waits until the hold ends
        trainer.controller.stop()
        thread.join(timeout=0.2)
        assert thread.is_alive() and inbox.empty()
    thread.join(timeout=10)
    assert next_event(inbox) == events.Stopped(0, 0) and not trainer.controller.waiting


def test_waiting_is_only_true_inside_the_wait():
    controller = Controller()
    assert not controller.waiting
    seen = []
    controller.pause()
    worker = threading.Thread(target=lambda: seen.append(controller.wait_while_paused()))
    worker.start()
    with controller.hold(timeout=5):
        assert controller.waiting
    controller.resume()
    worker.join(timeout=5)
    assert seen == [True] and not controller.waiting
