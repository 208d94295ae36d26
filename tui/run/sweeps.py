"""Sweeps: one set-up trained many times with some settings varied, each trial a kept run.

    axes = [axis("--lr", "1e-4..1e-1:4"), axis("--optimizer", "sgd,adam")]   # as typed after the flags
    plan = plan_sweep(base, axes)                  # the grid: 8 trials, every one checked before any runs
    plan = plan_sweep(base, axes, trials=5)        # 5 trials drawn at random (a range is drawn from, log-uniform)
    plan.trials[0].label                           # "lr 0.0001 · optimizer sgd"
    plan.config(plan.trials[0])                    # the trial's whole RunConfig

A value list is what a flag takes, comma-separated (`--lr 1e-3,1e-2`, `--model mlp,logistic`); a
range `A..B:N` is N values from A to B, evenly spaced on a log scale when A is above 0 (learning
rates, weight decay, batch sizes: 16..256:5 is 16, 32, 64, 128, 256), else evenly spaced. Each
value is read by its flag's own rules (`parse_flag`), so `--lr 1e-3,abc` is refused as `--lr abc`
would be, naming the flag; so is a trial whose settings clash (Nesterov with Adam, say), before
anything trains. A random sweep (`trials=N`) draws every trial from the same seeded generator:
the same command plans the same trials.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .arguments import FLAGS_BY_OPTION, UsageError, model_overrides, parse_flag
from .config import ConfigError, RunConfig
from .settings import SETTINGS, SHORT_NAMES

#: flags a sweep cannot vary: where things are, not what is compared
NOT_SWEPT = ("--data-dir", "--saves-dir", "--config")
#: the most trials one sweep plans (a grid grows fast: 5 settings of 8 values are 32,768 runs)
MAX_TRIALS = 1000


@dataclass(frozen=True)
class Axis:
    """One varied setting: the flag it was typed as, and each value as the overrides it makes."""

    option: str
    values: tuple[dict[str, Any], ...]
    texts: tuple[str, ...]
    draw: tuple[float, float, str] | None = None
    """A range to draw from at random (low, high, kind): `A..B` without `:N`, only in a random sweep."""

    @property
    def path(self) -> str:
        return FLAGS_BY_OPTION[self.option].path if self.option in FLAGS_BY_OPTION else "model.preset"


@dataclass(frozen=True)
class Trial:
    """One run of a sweep: its number (from 1) and the settings it varies."""

    number: int
    overrides: dict[str, Any]
    texts: dict[str, str] = field(default_factory=dict)   # {path: value as shown}
    baseline: dict[str, Any] | None = None
    """A model fitted with no training loop in place of the config's network (`baseline_run`): {"model":
    "kernel-ridge", "alpha": ..., "gamma": ..., "samples": ...}; None trains the network."""
    name: str = ""
    """What a lesson calls it ("SGD + momentum"); "" names it by its settings."""

    @property
    def label(self) -> str:
        """ "lr 0.001 · optimizer sgd": what sets it apart (or its name, if it has one)."""
        return self.name or " · ".join(f"{SHORT_NAMES.get(path, path)} {text}" for path, text in self.texts.items())


@dataclass
class SweepPlan:
    """The base set-up and the trials that vary it."""

    base: RunConfig
    axes: list[Axis]
    trials: list[Trial]
    experiment: str | None = None   # the ready-made experiment it runs (`experiments.py`), if any

    def config(self, trial: Trial) -> RunConfig:
        return self.base.with_overrides(trial.overrides)

    @property
    def varied(self) -> list[str]:
        return [axis.path for axis in self.axes]


# ====================================================================== reading what was typed
def axis(option: str, text: str) -> Axis:
    """A flag's text as the values a sweep tries (`1e-3,1e-2`, `1e-4..1e-1:4`, `1e-4..1e-1`); UsageError naming
    the flag for anything wrong."""
    if option in NOT_SWEPT:
        raise UsageError(f"{option} names a place, not a setting to compare: give it one value")
    parts = [part.strip() for part in text.split(",")]
    if not text.strip() or any(not part for part in parts):
        raise UsageError(f"{option} {text!r}: an empty value; give values separated by commas, e.g. "
                         f"{option} {_example(option)}")
    values: list[dict[str, Any]] = []
    texts: list[str] = []
    draw = None
    for part in parts:
        if ".." in part and option != "--model":
            low, high, count = _range(option, part)
            if count is None:
                if len(parts) > 1:
                    raise UsageError(f"{option} {part}: a range to draw from at random stands alone; to list values "
                                     f"with it, give their number: {part}:4")
                draw = (low, high, _kind(option))
                return Axis(option, (), (part,), draw)
            spaced = _spaced(low, high, count, _kind(option))
            if len(spaced) < count:
                raise UsageError(f"{option} {part}: in whole numbers these are only {len(spaced)} different values "
                                 f"({', '.join(map(str, spaced))}); list the values to try instead, e.g. "
                                 f"{option} {','.join(map(str, spaced))}")
            for value in spaced:
                values.append({FLAGS_BY_OPTION[option].path: parse_flag(option, _number_text(value))})
                texts.append(_number_text(value))
        elif option == "--model":
            values.append(model_overrides(part))
            texts.append(part)
        else:
            values.append({FLAGS_BY_OPTION[option].path: parse_flag(option, part)})
            texts.append(_number_text(next(iter(values[-1].values()))))
    unique = list(dict.fromkeys(texts))
    if len(unique) != len(texts):
        raise UsageError(f"{option} {text}: {', '.join(t for t in unique if texts.count(t) > 1)} is given twice")
    return Axis(option, tuple(values), tuple(texts), draw)


def _range(option: str, part: str) -> tuple[float, float, int | None]:
    kind = _kind(option)
    if kind is None:
        raise UsageError(f"{option} {part}: a range A..B:N takes numbers; list the values instead, e.g. "
                         f"{option} {_example(option)}")
    ends, _, count_text = part.partition(":")
    low_text, _, high_text = ends.partition("..")
    if not low_text.strip() or not high_text.strip():
        raise UsageError(f"{option} {part}: a range needs both ends, e.g. {option} "
                         f"{'2..32:5' if kind is int else '1e-4..1e-1:4'}")
    low, high = (parse_flag(option, t) for t in (low_text, high_text))
    count = None
    if count_text:
        if not count_text.isascii() or not count_text.isdigit() or int(count_text) < 2:
            raise UsageError(f"{option} {part}: the number of values after ':' must be a whole number of 2 or more")
        count = int(count_text)
    if not low < high:
        raise UsageError(f"{option} {part}: the range must go from the smaller value to the larger")
    return float(low), float(high), count


def _kind(option: str) -> type | None:
    if option not in FLAGS_BY_OPTION:
        return None
    kind = SETTINGS[FLAGS_BY_OPTION[option].path].kind
    return kind if kind in (int, float) else None


def _spaced(low: float, high: float, count: int, kind: type) -> list[float | int]:
    """`count` values from low to high: log-spaced when low > 0, else evenly; whole numbers for an int setting."""
    points = np.geomspace(low, high, count) if low > 0 else np.linspace(low, high, count)
    if kind is int:
        return list(dict.fromkeys(int(round(p)) for p in points))
    return [float(f"{p:.3g}") for p in points]


def _number_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _example(option: str) -> str:
    return {"--lr": "1e-3,1e-2 or 1e-4..1e-1:4", "--optimizer": "sgd,adam", "--model": "logreg,mlp",
            "--batch-size": "32,64,128"}.get(option, "A,B")


# ====================================================================== planning
def plan_sweep(base: RunConfig, axes: list[Axis], *, trials: int | None = None, seed: int = 0) -> SweepPlan:
    """The trials of a sweep: every point of the grid, or `trials` drawn at random; each one checked (a trial
    whose settings clash is a UsageError naming its values)."""
    if not axes:
        raise UsageError("nothing to sweep: give a flag more than one value, e.g. --lr 1e-3,1e-2 --optimizer sgd,adam")
    paths = [axis.path for axis in axes]
    if len(set(paths)) != len(paths):
        raise UsageError("a setting is swept twice; give each flag once, with all its values")
    drawn = [axis for axis in axes if axis.draw is not None]
    if drawn and trials is None:
        raise UsageError(f"{drawn[0].option} {drawn[0].texts[0]}: a range without a number of values is drawn from "
                         f"at random: add --trials N, or give the number: {drawn[0].texts[0]}:4")
    if trials is None:
        size = math.prod(len(axis.values) for axis in axes)
        if size > MAX_TRIALS:
            raise UsageError(f"the grid has {size:,} trials, more than {MAX_TRIALS}: fewer values, or --trials N "
                             "to draw N of them at random")
        points = list(itertools.product(*(range(len(axis.values)) for axis in axes)))
        chosen = [_grid_trial(n, axes, point) for n, point in enumerate(points, 1)]
    else:
        if not 1 <= trials <= MAX_TRIALS:
            raise UsageError(f"--trials {trials}: give 1 to {MAX_TRIALS}")
        chosen = _random_trials(axes, trials, seed)
    for trial in chosen:
        try:
            base.with_overrides(trial.overrides)
        except ConfigError as error:
            raise UsageError(f"trial {trial.number} ({trial.label}): {error}") from None
    return SweepPlan(base, list(axes), chosen)


def _grid_trial(number: int, axes: list[Axis], point: tuple[int, ...]) -> Trial:
    overrides: dict[str, Any] = {}
    texts: dict[str, str] = {}
    for axis, i in zip(axes, point):
        overrides.update(axis.values[i])
        texts[axis.path] = axis.texts[i]
    return Trial(number, overrides, texts)


def _random_trials(axes: list[Axis], count: int, seed: int) -> list[Trial]:
    """`count` trials drawn from one generator seeded by `seed`: a listed value uniformly, a range log-uniformly
    (uniformly from 0 or below). A grid no larger than `count` is tried whole (drawing from it would repeat)."""
    rng = np.random.default_rng(seed)
    if all(axis.draw is None for axis in axes):
        points = list(itertools.product(*(range(len(axis.values)) for axis in axes)))
        if len(points) <= count:
            return [_grid_trial(n, axes, p) for n, p in enumerate(points, 1)]
        picked = rng.choice(len(points), size=count, replace=False)
        return [_grid_trial(n, axes, points[i]) for n, i in enumerate(sorted(picked), 1)]
    trials = []
    for number in range(1, count + 1):
        overrides: dict[str, Any] = {}
        texts: dict[str, str] = {}
        for axis in axes:
            if axis.draw is None:
                i = int(rng.integers(len(axis.values)))
                overrides.update(axis.values[i])
                texts[axis.path] = axis.texts[i]
                continue
            low, high, kind = axis.draw
            value = (math.exp(rng.uniform(math.log(low), math.log(high))) if low > 0 else rng.uniform(low, high))
            value = int(round(value)) if kind is int else float(f"{value:.3g}")
            overrides[axis.path] = parse_flag(axis.option, _number_text(value))
            texts[axis.path] = _number_text(value)
        trials.append(Trial(number, overrides, texts))
    return trials

