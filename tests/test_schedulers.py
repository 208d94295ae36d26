"""Learning-rate schedules and early stopping: exact sequences worked out by hand, and persistence."""

import json
import math

import numpy as np
import pytest

from nnstudio.engine.nn import Parameter
from nnstudio.engine.optim import SGD, CosineAnnealingLR, EarlyStopping, StepLR


def optimizer(lr=1.0):
    return SGD([Parameter(np.zeros(2))], lr=lr)


def lrs(schedule, epochs):
    """The rate of epochs 0..epochs-1, checking that the optimizer really got each one."""
    out = []
    for epoch in range(epochs):
        if epoch:
            schedule.step()
        np.testing.assert_allclose(schedule.optimizer.lr, schedule.get_last_lr())
        out.append(schedule.get_last_lr())
    return out


# ---------------------------------------------------------------------------------- StepLR
def test_step_lr_sequence():
    np.testing.assert_allclose(lrs(StepLR(optimizer(1.0), step_size=2, gamma=0.5), 7),
                               [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125])


def test_step_lr_with_warmup_then_starts_as_if_at_epoch_0():
    # warm-up epoch e < 3: base * (e + 1) / 4; then StepLR from its own epoch 0
    np.testing.assert_allclose(lrs(StepLR(optimizer(0.8), step_size=2, gamma=0.5, warmup_epochs=3), 8),
                               [0.2, 0.4, 0.6, 0.8, 0.8, 0.4, 0.4, 0.2])


def test_base_lr_comes_from_the_optimizer():
    schedule = StepLR(optimizer(0.3), step_size=1, gamma=0.1)
    np.testing.assert_allclose(schedule.base_lr, 0.3)
    schedule.step()
    np.testing.assert_allclose(schedule.optimizer.lr, 0.03)


# ---------------------------------------------------------------------------------- cosine
def test_cosine_sequence_with_eta_min_holds_after_t_max():
    # eta_min + (1.1 - 0.1) * (1 + cos(pi e / 4)) / 2 for e = 0..4, then eta_min stays
    half = math.sqrt(0.5)
    expected = [1.1, 0.1 + (1 + half) / 2, 0.6, 0.1 + (1 - half) / 2, 0.1, 0.1, 0.1]
    np.testing.assert_allclose(lrs(CosineAnnealingLR(optimizer(1.1), T_max=4, eta_min=0.1), 7), expected)


def test_cosine_with_warmup():
    # warm-up 2 epochs at 1/3 and 2/3 of base, then cosine over T_max = 2 from 0.9 to 0
    np.testing.assert_allclose(lrs(CosineAnnealingLR(optimizer(0.9), T_max=2, warmup_epochs=2), 6),
                               [0.3, 0.6, 0.9, 0.45, 0.0, 0.0], atol=1e-15)


# ---------------------------------------------------------------------------------- persistence
@pytest.mark.parametrize("make", [
    lambda opt: StepLR(opt, step_size=3, gamma=0.5, warmup_epochs=2),
    lambda opt: CosineAnnealingLR(opt, T_max=5, eta_min=0.01, warmup_epochs=2),
], ids=["StepLR", "Cosine"])
def test_state_round_trip_continues_the_same_sequence(make):
    original = make(optimizer(0.5))
    for _ in range(4):
        original.step()
    state = json.loads(json.dumps(original.state_dict()))

    resumed_opt = optimizer(0.05)  # e.g. restored from a checkpoint after the schedule lowered it
    resumed = make(resumed_opt)
    resumed.load_state_dict(state)
    np.testing.assert_allclose(resumed.base_lr, 0.5)
    np.testing.assert_allclose(resumed_opt.lr, original.optimizer.lr)  # set at once, not one epoch late
    for _ in range(6):
        original.step()
        resumed.step()
        np.testing.assert_allclose(resumed.get_last_lr(), original.get_last_lr())


def test_load_state_dict_rejects_mismatches_and_changes_nothing():
    schedule = StepLR(optimizer(1.0), step_size=2)
    good = StepLR(optimizer(1.0), step_size=3).state_dict()
    bad_cases = [
        (CosineAnnealingLR(optimizer(), T_max=3).state_dict(), "for 'CosineAnnealingLR'"),
        ({**good, "step_size": 0}, "step_size"),
        ({**good, "last_epoch": -1}, "last_epoch"),
        ({**good, "base_lr": float("nan")}, "base_lr"),
        ({k: v for k, v in good.items() if k != "gamma"}, "missing 'gamma'"),
        ({**good, "extra": 1}, "unexpected"),
    ]
    for state, message in bad_cases:
        with pytest.raises(ValueError, match=message):
            schedule.load_state_dict(state)
        assert schedule.step_size == 2 and schedule.last_epoch == 0


@pytest.mark.parametrize("make, message", [
    (lambda: StepLR(optimizer(), step_size=0), "step_size"),
    (lambda: StepLR(optimizer(), step_size=1.5), "step_size"),
    (lambda: StepLR(optimizer(), step_size=1, gamma=0.0), "gamma"),
    (lambda: StepLR(optimizer(), step_size=1, warmup_epochs=-1), "warmup_epochs"),
    (lambda: CosineAnnealingLR(optimizer(), T_max=0), "T_max"),
    (lambda: CosineAnnealingLR(optimizer(), T_max=3, eta_min=-0.1), "eta_min"),
])
def test_schedules_reject_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ---------------------------------------------------------------------------------- retargeting
def test_retargeting_is_exact_for_the_current_epoch():
    for schedule in (StepLR(optimizer(0.3), step_size=2, gamma=0.3),
                     CosineAnnealingLR(optimizer(0.3), T_max=7, eta_min=0.02)):
        for _ in range(3):
            schedule.step()
        for typed in (0.0, 1e-4, 0.7, 0.0, 0.05):
            schedule.retarget(typed)
            assert schedule.lr_at(schedule.last_epoch) == pytest.approx(typed, abs=1e-15)


# ---------------------------------------------------------------------------------- early stopping
def steps(stopper, values):
    return [stopper.step(v) for v in values]


def test_early_stopping_patience():
    stopper = EarlyStopping(patience=2)
    assert steps(stopper, [1.0, 0.9, 0.95, 0.91]) == [False, False, False, True]
    assert stopper.should_stop and stopper.num_bad_epochs == 2
    np.testing.assert_allclose(stopper.best, 0.9)
    assert stopper.best_epoch == 1
    assert stopper.step(0.5) is False  # an improvement resets the count
    assert stopper.num_bad_epochs == 0 and stopper.best_epoch == 4 and not stopper.should_stop


def test_early_stopping_min_delta():
    # 0.95 and 0.92 are not below 1.0 - 0.1; 0.85 is
    stopper = EarlyStopping(patience=3, min_delta=0.1)
    assert steps(stopper, [1.0, 0.95, 0.92, 0.85]) == [False] * 4
    np.testing.assert_allclose(stopper.best, 0.85)
    assert stopper.best_epoch == 3 and stopper.num_bad_epochs == 0
    assert steps(stopper, [0.8, 0.76, 0.9]) == [False, False, True]


def test_early_stopping_mode_max():
    stopper = EarlyStopping(patience=2, min_delta=0.01, mode="max")
    assert steps(stopper, [0.5, 0.7, 0.705, 0.69]) == [False, False, False, True]
    np.testing.assert_allclose(stopper.best, 0.7)
    assert stopper.best_epoch == 1


def test_early_stopping_nan_never_improves():
    stopper = EarlyStopping(patience=2)
    assert steps(stopper, [float("nan"), 1.0, float("nan"), float("nan")]) == [False, False, False, True]
    np.testing.assert_allclose(stopper.best, 1.0)
    assert stopper.best_epoch == 1


def test_early_stopping_state_round_trip():
    stopper = EarlyStopping(patience=3, mode="max")
    steps(stopper, [0.5, 0.6, 0.55])
    state = json.loads(json.dumps(stopper.state_dict()))
    resumed = EarlyStopping(patience=3, mode="max")
    resumed.load_state_dict(state)
    assert (resumed.best_epoch, resumed.num_bad_epochs, resumed.epoch) == (1, 1, 3)
    np.testing.assert_allclose(resumed.best, 0.6)
    assert steps(resumed, [0.58, 0.59]) == steps(stopper, [0.58, 0.59]) == [False, True]
    with pytest.raises(ValueError, match="mode='max'"):
        EarlyStopping(mode="min").load_state_dict(state)


@pytest.mark.parametrize("kwargs, message", [
    ({"patience": 0}, "patience"),
    ({"min_delta": -0.1}, "min_delta"),
    ({"mode": "lowest"}, "mode"),
])
def test_early_stopping_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EarlyStopping(**kwargs)
