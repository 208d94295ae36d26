"""Two-dimensional test functions for optimizers, written with `Tensor` ops so their gradients come from autodiff.

    surface = SURFACES["rosenbrock"]
    p = Tensor(surface.start, requires_grad=True, dtype=np.float64)
    loss = surface.loss(p); loss.backward()      # p.grad: the gradient, by the engine's own backward
    surface.values(xs, ys)                       # the function on a grid of points, for drawing it

Course notebooks race optimizers on these before touching data: each has a shape that one
family of optimizers handles badly (a curved valley, a plateau, several minima, a saddle, a
ravine). The formula is written once, in `fn`, with operators a `Tensor` and a NumPy array both
have, so the map drawn and the gradients followed come from the same code and no derivative is
written by hand. Each function carries what a race on it needs: a box to draw, its minima (none
for the saddle, whose race is measured from the saddle point), a start and a learning rate that
make a race one can follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .tensor import Tensor, no_grad


def rosenbrock(x, y):
    """A long, curved, flat-bottomed valley: easy to reach, slow to follow to (1, 1)."""
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def beale(x, y):
    """Sharp ridges and wide plateaus, values spanning five orders of magnitude; the minimum at (3, 0.5)."""
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y ** 2) ** 2 + (2.625 - x + x * y ** 3) ** 2


def himmelblau(x, y):
    """Four minima of equal height (0): which one an optimizer reaches depends on its path."""
    return (x ** 2 + y - 11) ** 2 + (x + y ** 2 - 7) ** 2


def saddle(x, y):
    """x² - y²: a saddle point at (0, 0), no minimum; an optimizer must escape along y."""
    return x ** 2 - y ** 2


def ravine(x, y):
    """An ill-conditioned quadratic (condition number 50): steep across, shallow along; the minimum at (0, 0)."""
    return 0.5 * (x ** 2 + 50 * y ** 2)


@dataclass(frozen=True)
class Surface:
    """A test function and what a race on it needs."""

    name: str
    title: str
    formula: str                               # plain ASCII, for titles and the command line
    fn: Callable                               # fn(x, y) with x, y Tensors or arrays of one shape
    box: tuple[float, float, float, float]     # x_low, x_high, y_low, y_high: what is drawn
    minima: tuple[tuple[float, float], ...]    # the global minima; () for the saddle
    start: tuple[float, float]
    lr: float                                  # a learning rate at which every optimizer makes a race to watch
    steps: int                                 # how many steps show the race's outcome
    about: str = ""                            # what to watch for

    @property
    def target(self) -> tuple[tuple[float, float], ...]:
        """The points distances are measured to: the minima, or the saddle point when there is none."""
        return self.minima or ((0.0, 0.0),)

    @property
    def target_name(self) -> str:
        """What the distance is to, in words."""
        if not self.minima:
            return "the saddle point"
        return "the nearest minimum" if len(self.minima) > 1 else "the minimum"

    def loss(self, point: Tensor) -> Tensor:
        """The function at a (2,) parameter, as a scalar Tensor whose backward gives the gradient."""
        return self.fn(point[0], point[1])

    def values(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """The function at many points (arrays of one shape) in float64: the same formula, no graph recorded."""
        with no_grad(), np.errstate(over="ignore", invalid="ignore"):
            return self.fn(Tensor(np.asarray(xs, np.float64)), Tensor(np.asarray(ys, np.float64))).data

    def value_and_grad(self, point) -> tuple[float, np.ndarray]:
        """The function and its gradient (by backward) at one point, in float64 (for checks: a racer evaluates its
        own point in place, `Racer.evaluate`)."""
        p = Tensor(np.array(point, dtype=np.float64), requires_grad=True)
        loss = self.loss(p)
        loss.backward()
        return float(loss.data), p.grad.copy()

    def distance(self, point) -> float:
        """Euclidean distance from `point` to the nearest of `target`."""
        x, y = point
        return min(float(np.hypot(x - a, y - b)) for a, b in self.target)


#: Himmelblau's four minima (one exact, three to 6 decimals, as the literature gives them)
HIMMELBLAU_MINIMA = ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126))

SURFACES: dict[str, Surface] = {s.name: s for s in (
    Surface("rosenbrock", "Rosenbrock", "(1-x)^2 + 100(y-x^2)^2", rosenbrock, (-2.0, 2.0, -1.0, 3.0),
            ((1.0, 1.0),), (-1.2, 1.0), 1e-3, 3000,
            "all reach the valley at once; following its curve to (1, 1) is the race"),
    Surface("beale", "Beale", "(1.5-x+xy)^2 + (2.25-x+xy^2)^2 + (2.625-x+xy^3)^2", beale, (-4.5, 4.5, -4.5, 4.5),
            ((3.0, 0.5),), (1.0, 1.5), 5e-3, 1500,
            "a plateau and steep walls: steps scaled by the gradient stall or overshoot"),
    Surface("himmelblau", "Himmelblau", "(x^2+y-11)^2 + (x+y^2-7)^2", himmelblau, (-5.0, 5.0, -5.0, 5.0),
            HIMMELBLAU_MINIMA, (0.0, -3.0), 1e-2, 600,
            "four minima: from one start, optimizers end in different ones"),
    Surface("saddle", "Saddle", "x^2 - y^2", saddle, (-2.0, 2.0, -2.0, 2.0),
            (), (-1.8, 0.001), 0.05, 200,
            "no minimum: the gradient is almost flat across the saddle; who escapes along y first?"),
    Surface("ravine", "Ill-conditioned quadratic", "0.5(x^2 + 50y^2)", ravine, (-5.0, 5.0, -2.0, 2.0),
            ((0.0, 0.0),), (-4.5, 1.5), 0.025, 300,
            "steep across, shallow along: plain SGD crawls along x, momentum overshoots and comes back"),
)}
