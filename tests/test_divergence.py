"""Divergence without NaN: the growth rule's thresholds, the trainer that applies it, and the numbering of its
message in a session continuing a save (the command line's side is in test_cli_divergence.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnstudio.datasets import BatchIterator
from nnstudio.engine import divergence, events, manual_seed, nn
from nnstudio.engine.divergence import LOSS_GROWTH, RUNNING_MEAN_SAMPLES, best_loss, chance_loss, grew_too_far
from nnstudio.engine.optim import SGD
from nnstudio.engine.trainer import Trainer
from nnstudio.tui.run import Session, Status
from nnstudio.tui.run.config import RunConfig


# ---------------------------------------------------------------------------------------- the rule

def test_the_documented_thresholds():
    assert LOSS_GROWTH == 10.0 and RUNNING_MEAN_SAMPLES == 1000 and divergence.MAX_GRAD_NORM == 1e6


@pytest.mark.parametrize("best", [0.12, 1.0, 3e-4])
def test_the_growth_rule_at_its_boundaries(best):
    chance = math.log(10)
    high = max(20 * best, 2 * chance)   # far above chance, so only the growth counts
    assert not grew_too_far(9.9 * best, best, min(chance, 9.0 * best))   # 9.9x above chance: not yet
    assert grew_too_far(10.1 * best, best, min(chance, 9.0 * best))      # 10.1x above chance: diverged
    assert not grew_too_far(10.0 * best, best, 9.0 * best)               # exactly 10x is not "more than"
    assert not grew_too_far(10.1 * best, best, 11.0 * best)              # 10.1x but below chance: not diverged
    assert grew_too_far(high, best, chance)
    assert not grew_too_far(high, None, chance)   # no best epoch yet
    assert not grew_too_far(high, best, None)     # no chance level known: the rule is off


def test_the_rule_says_what_grew_in_one_line():
    assert divergence.loss_growth(1.0, 0.5, 0.1) is None
    text = divergence.loss_growth(30350.0, 0.1234, math.log(10))
    assert text == ("the training loss grew to 3.035e+04, more than 10 times its best (0.1234) and above the "
                    "chance level (2.303)")


def test_the_chance_level_is_ln_k_for_classes_and_the_targets_variance_otherwise():
    assert chance_loss(classes=10) == pytest.approx(math.log(10))
    assert chance_loss(np.zeros(5, np.int64), classes=2) == pytest.approx(math.log(2))   # labels do not matter
    rng = np.random.default_rng(0)
    y = rng.normal(3.0, 2.0, (10_000, 2)).astype(np.float32)
    y[:, 1] *= 0.5
    expected = np.var(y.astype(np.float64), axis=0).mean()   # predicting each output's mean
    assert chance_loss(y) == pytest.approx(expected, rel=1e-5)
    assert chance_loss(y[:, 0]) == pytest.approx(np.var(y[:, 0].astype(np.float64)), rel=1e-5)
    images = rng.random((300, 1, 4, 4)).astype(np.float32)   # an autoencoder's targets: its inputs
    assert chance_loss(images) == pytest.approx(np.var(images.reshape(300, -1).astype(np.float64), axis=0).mean())
    assert chance_loss(np.full(7, 2.5)) == 0.0
    assert chance_loss() is None and chance_loss(np.zeros((0, 3))) is None


def test_the_best_of_a_history_skips_what_is_not_a_loss():
    assert best_loss([0.5, None, float("nan"), float("inf"), True, -1.0, "0.01", 0.25, 2]) == 0.25
    assert best_loss([None, float("nan")]) is None and best_loss([]) is None


def test_a_diverged_event_numbers_what_it_says_from_its_fields():
    at_end = events.Diverged(3, None, "the loss grew", 3)
    assert at_end.message == ("Training diverged at the end of epoch 4: the loss grew. Restored the weights after "
                              "epoch 3. " + divergence.DIVERGENCE_ADVICE)
    assert "at epoch 1, batch 16: x. Restored the initial weights." in events.Diverged(0, 15, "x", 0).message
    resumed = events.Diverged(4, 9, "x", 4, restored_batch=3)
    assert "Restored the weights at batch 3 of epoch 5, where this run started." in resumed.message


# ---------------------------------------------------------------------------------------- the trainer

def blobs(n, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[2, 0], [-2, 1], [0, -2]], np.float32)
    return (centres[y] + rng.normal(0, 0.5, (n, 2))).astype(np.float32), y


def trainer_on_blobs(n=256, epochs=3, lr=0.05, hidden=True, **kwargs):
    """A small classifier on 3 blobs; its loss function can be swapped (`trainer.loss_fn`) to inject losses."""
    x, y = blobs(n)
    manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3)) if hidden else nn.Sequential(nn.Linear(2, 3))
    seen: list = []
    trainer = Trainer(model, SGD(model.parameters(), lr=lr), nn.CrossEntropyLoss(), BatchIterator(x, y, 32, seed=0),
                      epochs=epochs, val_data=blobs(64, seed=1), classes=3, on_event=seen.append, **kwargs)
    return trainer, seen


def lifted_from(trainer, epoch: int, extra: float):
    """The trainer's loss plus `extra` from 0-based `epoch` on: a loss that grows while gradients stay the same."""
    cross_entropy = trainer.loss_fn
    return lambda out, y: cross_entropy(out, y) + (extra if trainer.epoch >= epoch else 0.0)


def of_kind(seen, kind):
    return [e for e in seen if isinstance(e, kind)]


def weights(model):
    return {name: value.copy() for name, value in model.state_dict().items()}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for name, value in a.items():
        np.testing.assert_array_equal(value, b[name])


def test_an_epoch_whose_loss_grew_far_past_the_best_diverges_and_restores_the_best_so_far():
    trainer, seen = trainer_on_blobs(epochs=4)
    trainer.loss_fn = lifted_from(trainer, 1, 100.0)
    kept = {}
    trainer.on_event = lambda e: (seen.append(e), isinstance(e, events.EpochEnd) and kept.update(weights(trainer.model)))
    assert trainer.run() == "diverged"
    assert len(of_kind(seen, events.EpochEnd)) == 1   # the grown epoch is not reported as a normal one
    diverged = seen[-1]
    assert (diverged.epoch, diverged.batch, diverged.restored_epoch) == (1, None, 1)
    assert diverged.message.startswith("Training diverged at the end of epoch 2: the training loss grew to 10")
    assert "more than 10 times its best" in diverged.message and "Restored the weights after epoch 1" in diverged.message
    assert_same_weights(weights(trainer.model), kept)


def test_a_loss_ten_times_its_best_but_below_chance_is_not_divergence():
    trainer, seen = trainer_on_blobs(epochs=3, chance_loss=1000.0)
    trainer.loss_fn = lifted_from(trainer, 1, 100.0)
    assert trainer.run() == "finished" and len(of_kind(seen, events.EpochEnd)) == 3


def test_within_an_epoch_the_running_mean_is_held_to_the_rule_once_it_covers_enough_samples():
    trainer, seen = trainer_on_blobs(n=2048, epochs=3)
    trainer.loss_fn = lifted_from(trainer, 1, 100.0)
    assert trainer.run() == "diverged"
    diverged = seen[-1]
    first = -(-RUNNING_MEAN_SAMPLES // 32)   # batches of 32 until the running mean covers enough samples
    assert (diverged.epoch, diverged.batch) == (1, first - 1)
    assert f"at epoch 2, batch {first}: the training loss grew to" in diverged.message
    assert [e.batch for e in of_kind(seen, events.BatchEnd) if e.epoch == 1] == list(range(first - 1))


def test_a_real_blow_up_without_nan_nor_a_large_gradient_is_divergence():
    """A linear classifier pushed by a huge step: the loss grows huge but stays finite, and its gradient norm stays
    small (cross-entropy's gradient is bounded), so only the growth rule can tell."""
    trainer, seen = trainer_on_blobs(epochs=3, hidden=False)
    kept = {}

    def on_event(event):
        seen.append(event)
        if isinstance(event, events.EpochEnd):
            kept.update(weights(trainer.model))
            trainer.controller.set(lr=1e4)

    trainer.on_event = on_event
    assert trainer.run() == "diverged"
    assert len(of_kind(seen, events.EpochEnd)) == 1
    assert all(math.isfinite(e.loss) for e in of_kind(seen, events.BatchEnd))
    assert "the training loss grew to" in seen[-1].message and "Restored the weights after epoch 1" in seen[-1].message
    assert_same_weights(weights(trainer.model), kept)


def test_a_best_loss_given_before_the_run_counts_in_its_first_epoch():
    """A run continuing a save has no best epoch of its own yet: the save's best stands in."""
    trainer, seen = trainer_on_blobs(epochs=2)
    initial = weights(trainer.model)
    trainer.loss_fn = lifted_from(trainer, 0, 5.0)
    trainer.best_loss = 0.1
    assert trainer.run() == "diverged"
    assert "at the end of epoch 1" in seen[-1].message and "Restored the initial weights" in seen[-1].message
    assert_same_weights(weights(trainer.model), initial)
    fresh, _ = trainer_on_blobs(epochs=2)   # without one, the first epoch sets the best
    fresh.loss_fn = lifted_from(fresh, 0, 5.0)
    assert fresh.run() == "finished" and 5.0 < fresh.best_loss < 6.0


def test_the_best_loss_is_part_of_the_trainer_s_state():
    trainer, _ = trainer_on_blobs(epochs=2)
    assert trainer.run() == "finished"
    state = trainer.state_dict()
    assert state["best_loss"] == trainer.best_loss and trainer.best_loss > 0
    again, _ = trainer_on_blobs()
    again.load_state_dict(state)
    assert again.best_loss == trainer.best_loss
    older = {key: value for key, value in state.items() if key != "best_loss"}   # checkpoints before the rule
    again.load_state_dict(older)
    assert again.best_loss is None
    for bad in ("0.1", -1.0, float("nan"), True):
        with pytest.raises(ValueError, match="best_loss must be a number >= 0"):
            again.load_state_dict({**state, "best_loss": bad})


# ---------------------------------------------------------------------------------------- a session continuing a save

SPEC = {"input_shape": [2], "layers": [{"type": "linear", "out": 16}, {"type": "relu"}, {"type": "linear", "out": 3}]}


def config(tmp_path, **overrides) -> RunConfig:
    base = {"data": {"name": "blobs", "size": 240, "classes": 3}, "model": {"spec": SPEC}, "schedule": {"name": "none"},
            "optimizer": {"name": "adam", "lr": 0.01}, "training": {"epochs": 3, "batch_size": 32, "seed": 7},
            "checkpoints": {"folder": str(tmp_path / "saves"), "keep_last": 2}}
    cfg = RunConfig.from_dict(base)
    return cfg.with_overrides(overrides) if overrides else cfg


@pytest.fixture
def base(tmp_path):
    """A save of 3 epochs on blobs, and its weights."""
    session = Session(config(tmp_path), checkpoints=False)
    assert session.run() == "finished"
    return session.save("base"), weights(session.model)


def test_a_continued_save_diverges_numbered_as_its_table(tmp_path, base):
    path, saved = base
    seen: list = []
    more = Session.from_save(path, config=config(tmp_path, **{"training.epochs": 5}), on_event=seen.append)
    assert more.trainer.best_loss == min(h["train_loss"] for h in more.history)   # the save's best
    more.trainer.loss_fn = lifted_from(more.trainer, 0, 100.0)
    assert more.run() == Status.DIVERGED
    diverged = of_kind(seen, events.Diverged)[0]
    assert (diverged.epoch, diverged.restored_epoch) == (3, 3)   # epoch 4 of the history, as the table numbers it
    assert diverged.message.startswith("Training diverged at the end of epoch 4: the training loss grew to")
    assert "Restored the weights after epoch 3." in diverged.message
    assert_same_weights(weights(more.model), saved)
    assert len(more.history) == 3 and more.epochs_done == 3


def test_a_gradient_blow_up_in_a_continued_save_is_numbered_as_its_table_too(tmp_path, base):
    path, _ = base
    seen: list = []
    more = Session.from_save(path, config=config(tmp_path, **{"training.epochs": 5}), on_event=seen.append)
    cross_entropy, calls = more.trainer.loss_fn, []

    def exploding(out, y):
        calls.append(1)
        return cross_entropy(out, y) * (1e9 if len(calls) == 2 else 1.0)

    more.trainer.loss_fn = exploding
    assert more.run() == Status.DIVERGED
    message = of_kind(seen, events.Diverged)[0].message
    assert "at epoch 4, batch 2: the gradient norm reached" in message and "Restored the weights after epoch 3." in message


def test_a_save_continued_on_another_data_set_does_not_take_its_best(tmp_path, base):
    path, _ = base
    other = config(tmp_path, **{"training.epochs": 5, "data.name": "spirals"})
    assert Session.from_save(path, config=other).trainer.best_loss is None   # its losses do not compare


def test_a_resumed_continuation_keeps_its_best_and_its_numbering(tmp_path, base):
    path, _ = base
    more = Session.from_save(path, config=config(tmp_path, **{"training.epochs": 5}))
    assert more.run() == Status.FINISHED
    seen: list = []
    resumed = Session.open_checkpoint(more.run_dir / "epoch-0004.safetensors", on_event=seen.append)
    assert resumed.trainer.best_loss == min(h["train_loss"] for h in resumed.history[:4])
    resumed.trainer.loss_fn = lifted_from(resumed.trainer, 0, 100.0)
    assert resumed.run() == Status.DIVERGED
    message = of_kind(seen, events.Diverged)[0].message
    assert "at the end of epoch 5" in message and "Restored the weights after epoch 4." in message


def test_the_session_gives_the_trainer_the_chance_level_of_its_task(tmp_path):
    session = Session(config(tmp_path), checkpoints=False)
    session.prepare()
    assert session.trainer.chance_loss == pytest.approx(math.log(3))
    regression = Session(RunConfig.from_dict({"data": {"name": "sine"}, "training": {"epochs": 1}}), checkpoints=False)
    regression.prepare()
    assert regression.task == "regression"
    assert regression.trainer.chance_loss == pytest.approx(np.var(regression.data.y_train.astype(np.float64)))


def test_the_advice_does_not_suggest_clipping_to_a_run_that_clipped():
    """--clip-norm 1 and still diverged: "turn on gradient clipping" was no help."""
    from nnstudio.engine import events
    clipped = events.Diverged(2, 5, "the gradient norm reached 3e+11", 2, clipped=True)
    assert clipped.message.endswith("Lower the learning rate (gradients were already clipped), and start again.")
    assert events.Diverged(2, 5, "x", 2).message.endswith(divergence.DIVERGENCE_ADVICE)


def test_before_a_best_epoch_a_loss_far_above_chance_is_divergence():
    """A spirals run at lr 5 reached 14,000 in its first epoch (chance 1.1) and was called finished."""
    chance = math.log(3)
    assert not divergence.grew_too_far(99 * chance, None, chance)
    assert divergence.grew_too_far(101 * chance, None, chance)
    assert not divergence.grew_too_far(1e9, None, None)   # (no chance level known: off)
    assert divergence.loss_growth(1.434e4, None, chance) == (
        "the training loss grew to 1.434e+04, more than 100 times the chance level (1.099: the loss of a model "
        "that has learnt nothing)")
