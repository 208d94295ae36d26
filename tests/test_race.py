"""The optimizer race (tui/run/race.py): the engine's optimizers step as computed here by hand (float64), take the
run settings' hyperparameters, stop when they diverge (no exception, no NaN), and take a new lr live."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from nnstudio.engine import optim
from nnstudio.engine.surfaces import SURFACES
from nnstudio.tui.run import race as race_module
from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.run.race import OPTIMIZERS, Race, RaceSettings

START = (-4.0, 1.5)


def ravine_grad(p: np.ndarray) -> np.ndarray:
    """The gradient of 0.5 (x^2 + 50 y^2), by hand."""
    return np.array([p[0], 50.0 * p[1]])


def racer(race: Race, name: str):
    (found,) = [r for r in race.racers if r.name == name]
    return found


def run(name: str, steps: int, lr: float = 0.01, settings: RaceSettings | None = None) -> np.ndarray:
    race = Race("ravine", start=START, lr=lr, settings=settings or RaceSettings(), names=(name,))
    race.step(steps)
    return racer(race, name).path


def test_sgd_follows_the_hand_computed_steps():
    p, expected = np.array(START), [START]
    for _ in range(4):
        p = p - 0.01 * ravine_grad(p)
        expected.append(tuple(p))
    np.testing.assert_allclose(run("sgd", 4), expected, rtol=1e-13)


def test_adam_follows_the_hand_computed_steps():
    """Adam as the paper writes it: m, v, their bias corrections, p -= lr m^ / (sqrt(v^) + eps)."""
    beta1, beta2, eps, lr = 0.9, 0.999, 1e-8, 0.01
    p, m, v, expected = np.array(START), np.zeros(2), np.zeros(2), [START]
    for t in range(1, 5):
        g = ravine_grad(p)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        p = p - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
        expected.append(tuple(p))
    path = run("adam", 4, lr)
    np.testing.assert_allclose(path, expected, rtol=1e-12)
    np.testing.assert_allclose(path[1], np.array(START) - lr * np.sign(START), rtol=1e-6)  # Adam's first step: lr


def test_momentum_and_nesterov_follow_the_hand_computed_steps():
    mu, lr = 0.9, 0.01
    for nesterov in (False, True):
        p, b, expected = np.array(START), None, [START]
        for _ in range(4):
            g = ravine_grad(p)
            b = g.copy() if b is None else mu * b + g
            p = p - lr * (g + mu * b if nesterov else b)
            expected.append(tuple(p))
        np.testing.assert_allclose(run("nesterov" if nesterov else "momentum", 4), expected, rtol=1e-13)


def test_rmsprop_and_adamw_follow_the_hand_computed_steps():
    alpha, eps, lr, wd = 0.9, 1e-8, 0.01, 0.1
    settings = RaceSettings(alpha=alpha, weight_decay=wd)
    p, v, expected = np.array(START), np.zeros(2), [START]
    for _ in range(3):
        g = ravine_grad(p) + wd * p
        v = alpha * v + (1 - alpha) * g * g
        p = p - lr * g / (np.sqrt(v) + eps)
        expected.append(tuple(p))
    np.testing.assert_allclose(run("rmsprop", 3, lr, settings), expected, rtol=1e-12)

    p, m, v, expected = np.array(START), np.zeros(2), np.zeros(2), [START]
    for t in range(1, 4):
        p = p * (1 - lr * wd)                    # decoupled: the weights shrink, the gradient is the loss's
        g = ravine_grad(p / (1 - lr * wd))       # (taken where the point stood before the decay)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        p = p - lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        expected.append(tuple(p))
    np.testing.assert_allclose(run("adamw", 3, lr, settings), expected, rtol=1e-12)


def test_the_racers_are_the_engine_optimizers_with_the_run_settings():
    config = RunConfig().replace(**{"optimizer.momentum": 0.5, "optimizer.weight_decay": 0.01,
                                    "optimizer.beta2": 0.99, "optimizer.eps": 1e-6})
    race = Race("rosenbrock", settings=RaceSettings.of(config))
    kinds = {r.name: r.optimizer for r in race.racers}
    assert [r.name for r in race.racers] == list(OPTIMIZERS)
    assert type(kinds["sgd"]) is optim.SGD and kinds["sgd"].momentum == 0
    assert kinds["momentum"].momentum == 0.5 and not kinds["momentum"].nesterov
    assert kinds["nesterov"].momentum == 0.5 and kinds["nesterov"].nesterov
    assert type(kinds["rmsprop"]) is optim.RMSprop and kinds["rmsprop"].momentum == 0
    assert type(kinds["adam"]) is optim.Adam and kinds["adam"].betas == (0.5, 0.99) and kinds["adam"].eps == 1e-6
    assert type(kinds["adamw"]) is optim.AdamW and kinds["adamw"].weight_decay == 0.01
    assert all(o.weight_decay == 0.01 for o in kinds.values())
    assert all(o.lr == SURFACES["rosenbrock"].lr for o in kinds.values())
    assert race.notes() == []   # weight decay: AdamW moves apart from Adam


def test_momentum_zero_leaves_the_momentum_racers_out_and_says_so():
    race = Race("ravine", settings=RaceSettings(momentum=0.0))
    assert [r.name for r in race.racers] == ["sgd", "rmsprop", "adam", "adamw"]
    assert race.left_out == ["momentum left out: momentum is 0 in the settings",
                             "nesterov left out: momentum is 0 in the settings"]
    assert race.notes()[-1] == "AdamW = Adam: weight decay 0"


def test_a_racer_that_overflows_stops_as_diverged_and_the_others_go_on():
    race = Race("rosenbrock", lr=0.05, names=("sgd", "adam"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no overflow warning escapes either
        race.step(200)
    sgd, adam = racer(race, "sgd"), racer(race, "adam")
    assert sgd.status == "diverged" and not sgd.racing and sgd.steps < 10
    assert np.isfinite(sgd.path).all() and math.isfinite(sgd.distance)
    assert adam.racing and adam.steps == 200 == race.step_count
    stopped_at = len(sgd.path)
    race.step(5)
    assert len(sgd.path) == stopped_at   # a diverged racer takes no more steps


def test_a_racer_that_leaves_far_beyond_the_box_stops():
    """At lr 0.05, SGD's y is multiplied by 1 - 50 lr = -1.5 a step: finite for hundreds of steps, but gone."""
    race = Race("ravine", lr=0.05, names=("sgd",))
    race.step(500)
    (sgd,) = race.racers
    assert sgd.status == "diverged" and not race.racing
    far = race_module.FAR * 4   # the box is 4 high, centred on y = 0
    assert far / 1.5 < abs(sgd.position[1]) <= far   # its last point inside the limit; the next one past it
    assert sgd.steps < 20


def test_on_the_saddle_leaving_is_escaping():
    race = Race("saddle", names=("sgd", "adam"))
    race.step(2000)
    assert {r.status for r in race.racers} == {"escaped"}
    assert all(r.loss < 0 and math.isfinite(r.loss) for r in race.racers)
    x_low, x_high, y_low, y_high = race.surface.box   # escaped once off the map: the last point is on it
    assert all(x_low <= r.position[0] <= x_high and y_low <= r.position[1] <= y_high for r in race.racers)
    assert not race.racing and race.step(10) == 0 and race.why_over == "every optimizer has stopped"


def test_the_learning_rate_changes_live_and_the_paths_stay():
    race = Race("ravine", start=START, lr=0.01, names=("sgd",))
    race.step(3)
    (sgd,) = race.racers
    before = sgd.path.copy()
    assert race.set_lr(0.02) == 0.02 and sgd.optimizer.lr == 0.02
    race.step(1)
    np.testing.assert_array_equal(sgd.path[:4], before)
    np.testing.assert_allclose(sgd.path[4], before[3] - 0.02 * ravine_grad(before[3]), rtol=1e-13)
    assert race.set_lr(1e9) == race_module.LR_RANGE[1] and race.set_lr(0) == race_module.LR_RANGE[0]


def test_moving_the_start_restarts_inside_the_box():
    race = Race("rosenbrock")
    race.step(10)
    assert race.move_start(0.2, -0.2) == pytest.approx((-1.0, 0.8))
    assert race.step_count == 0 and all(len(r.path) == 1 and r.position == race.start for r in race.racers)
    assert race.move_start(100, 100) == (2.0, 3.0)   # kept in the box


def test_a_race_stops_at_its_length_limit(monkeypatch):
    monkeypatch.setattr(race_module, "MAX_STEPS", 7)
    race = Race("ravine")
    assert race.step(100) == 7 and race.step_count == 7 and not race.racing and race.why_over == "it has run 7 steps"


def test_unknown_racers_are_refused_by_name():
    with pytest.raises(ValueError, match="unknown optimizer 'adma'"):
        Race("ravine", names=("adma",))


def test_the_race_as_json():
    race = Race("beale", lr=0.01, names=("sgd", "momentum"))
    race.step(300)   # momentum diverges at this lr
    data = json.loads(json.dumps(race.to_json(), allow_nan=False))
    assert data["function"] == "beale" and data["steps"] == 300 and data["lr"] == 0.01
    assert data["minima"] == [[3.0, 0.5]] and data["start"] == [1.0, 1.5]
    sgd, momentum = data["optimizers"]
    assert sgd["status"] == "racing" and len(sgd["path"]) == 301 and sgd["point"] == sgd["path"][-1]
    assert momentum["status"] == "diverged" and len(momentum["path"]) == momentum["steps"] + 1
    assert data["settings"]["momentum"] == 0.9
