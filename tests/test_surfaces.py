"""The optimizers' test functions (engine/surfaces.py): their values by hand, their minima, and their gradients
(the engine's backward) against float64 finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine.gradcheck import gradcheck
from nnstudio.engine.surfaces import HIMMELBLAU_MINIMA, SURFACES
from nnstudio.engine.tensor import Tensor

NAMES = list(SURFACES)


def central_differences(surface, point, h=1e-6) -> np.ndarray:
    """The gradient by central differences in float64, written out (no engine code)."""
    x, y = point
    f = lambda a, b: float(surface.values(np.array(a), np.array(b)))
    return np.array([(f(x + h, y) - f(x - h, y)) / (2 * h), (f(x, y + h) - f(x, y - h)) / (2 * h)])


def points_in(surface, count=6, seed=0) -> np.ndarray:
    x_low, x_high, y_low, y_high = surface.box
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(x_low, x_high, count), rng.uniform(y_low, y_high, count)])


@pytest.mark.parametrize("name", NAMES)
def test_the_gradient_from_backward_matches_finite_differences(name):
    surface = SURFACES[name]
    for point in points_in(surface):
        _, grad = surface.value_and_grad(point)
        np.testing.assert_allclose(grad, central_differences(surface, point), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_the_engine_gradcheck_passes_at_the_start_and_in_the_box(name):
    surface = SURFACES[name]
    for point in [surface.start, *points_in(surface, 3, seed=1)]:
        gradcheck(surface.loss, [np.array(point, dtype=np.float64)])


def test_values_by_hand():
    cases = {"rosenbrock": ((0.0, 0.0), 1.0), "beale": ((0.0, 0.0), 1.5 ** 2 + 2.25 ** 2 + 2.625 ** 2),
             "himmelblau": ((0.0, 0.0), 121.0 + 49.0), "saddle": ((1.0, 2.0), -3.0), "ravine": ((1.0, 1.0), 25.5)}
    for name, (point, value) in cases.items():
        loss, _ = SURFACES[name].value_and_grad(point)
        assert loss == pytest.approx(value), name


def test_gradients_by_hand():
    """Derivatives written out here, in the test only: the engine never writes them."""
    _, grad = SURFACES["rosenbrock"].value_and_grad((0.5, 0.0))   # (-2(1-x) - 400x(y-x^2), 200(y-x^2))
    np.testing.assert_allclose(grad, [-2 * 0.5 - 400 * 0.5 * (0 - 0.25), 200 * (0 - 0.25)])
    _, grad = SURFACES["ravine"].value_and_grad((2.0, -1.0))      # (x, 50y)
    np.testing.assert_allclose(grad, [2.0, -50.0])
    _, grad = SURFACES["saddle"].value_and_grad((1.0, 3.0))       # (2x, -2y)
    np.testing.assert_allclose(grad, [2.0, -6.0])


@pytest.mark.parametrize("name", [n for n in NAMES if SURFACES[n].minima])
def test_every_minimum_is_flat_and_the_lowest_point_of_the_box(name):
    surface = SURFACES[name]
    xs, ys = np.meshgrid(np.linspace(*surface.box[:2], 201), np.linspace(*surface.box[2:], 201))
    lowest = surface.values(xs, ys).min()
    for minimum in surface.minima:
        value, grad = surface.value_and_grad(minimum)
        assert value <= lowest + 1e-9
        assert value == pytest.approx(0.0, abs=1e-9)
        np.testing.assert_allclose(grad, 0.0, atol=1e-4)   # Himmelblau's three are given to 6 decimals


def test_himmelblau_has_four_minima_and_distance_is_to_the_nearest():
    surface = SURFACES["himmelblau"]
    assert len(surface.minima) == 4 == len(HIMMELBLAU_MINIMA)
    assert surface.distance((3.0, 2.5)) == pytest.approx(0.5)
    assert surface.distance((-3.779310, -3.283186)) == pytest.approx(0.0)
    assert surface.target_name == "the nearest minimum"


def test_the_saddle_has_no_minimum_and_is_measured_from_the_saddle_point():
    surface = SURFACES["saddle"]
    assert surface.minima == () and surface.target == ((0.0, 0.0),)
    assert surface.distance((3.0, 4.0)) == pytest.approx(5.0)
    assert surface.target_name == "the saddle point"
    _, grad = surface.value_and_grad((0.0, 0.0))
    np.testing.assert_allclose(grad, 0.0)


@pytest.mark.parametrize("name", NAMES)
def test_each_race_is_set_up_inside_its_box(name):
    surface = SURFACES[name]
    x_low, x_high, y_low, y_high = surface.box
    for x, y in (surface.start, *surface.minima):
        assert x_low <= x <= x_high and y_low <= y <= y_high
    assert surface.lr > 0 and surface.steps > 0 and surface.about


def test_the_map_and_the_loss_are_one_formula():
    surface = SURFACES["beale"]
    points = points_in(surface, 5)
    grid = surface.values(points[:, 0], points[:, 1])
    for point, value in zip(points, grid):
        assert surface.loss(Tensor(point, dtype=np.float64)).item() == pytest.approx(value)
