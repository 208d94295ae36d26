"""A baseline as a kept run: kernel ridge fitted on a run's data and recorded as a run of one epoch, so that it is
listed, ranked and overlaid with the networks it is a yardstick for (the "models" experiment, a sweep's trial).

    baseline = check_baseline({"model": "kernel-ridge", "gamma": 20})   # checked knobs, defaults filled in
    run = kernel_ridge_run(config, baseline, on_run=print)            # BaselineRun: its run folder and figures
    run.epoch["val_acc"]                                              # on the run's validation rows

The fit is `baseline.fit_kernel_ridge`'s: the training rows a network trained with `config` sees (the
same split, seed, scaling and training subset). Its run folder holds what any run's does but checkpoints:
a marker and a history whose one epoch has the fit's figures on the rows it was fitted on (train) and
on the validation rows. Its losses are mean squared errors for a regression set (the networks' loss
there too) and none for classes: kernel ridge gives scores, not probabilities to take a cross-entropy of.
There is nothing to resume or fork (one linear solve, no weights trained step by step).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from nnstudio import saves
from nnstudio.engine import events
from nnstudio.engine.fields import FieldError, short_repr

from .baseline import ALPHA, GAMMA, SAMPLES, fit_kernel_ridge
from .config import RunConfig
from .history import HistoryRecorder
from .reports import SessionError

#: the baselines a run can be: the model's name in a baseline's settings, and as runs list it
MODELS = {"kernel-ridge": "kernel ridge (RBF)"}
KNOBS = {field.name: field for field in (ALPHA, GAMMA, SAMPLES)}


def check_baseline(baseline: Mapping[str, Any]) -> dict[str, Any]:
    """A baseline's settings checked, defaults filled in: {"model": "kernel-ridge", "alpha", "gamma", "samples"}.
    ValueError naming what is wrong."""
    if not isinstance(baseline, Mapping) or baseline.get("model") not in MODELS:
        model = baseline.get("model") if isinstance(baseline, Mapping) else baseline
        raise ValueError(f"a baseline's model must be one of {', '.join(MODELS)}, got {short_repr(model)}")
    unknown = [key for key in baseline if key != "model" and key not in KNOBS]
    if unknown:
        raise ValueError(f"a {baseline['model']} baseline has no setting {unknown[0]!r}; its settings: "
                         f"{', '.join(KNOBS)}")
    try:
        return {"model": baseline["model"],
                **{name: field.check(baseline.get(name, field.default)) for name, field in KNOBS.items()}}
    except FieldError as error:
        raise ValueError(f"{baseline['model']} baseline: {error}") from None


@dataclass
class BaselineRun:
    """A baseline's run folder (its name) and the figures of its one epoch (a history's epoch record)."""

    run: str
    epoch: dict[str, Any]


def kernel_ridge_run(config: RunConfig, baseline: Mapping[str, Any], *,
                     on_run: Callable[[str], None] | None = None, origin: dict | None = None) -> BaselineRun:
    """Fit kernel ridge on the run's data and keep it as a finished run in the config's saves folder.
    SessionError for anything that stops it (the data set, a bad knob, a singular kernel, the run folder).
    `origin`: where the run came from (a sweep's trial names its sweep), else new."""
    try:
        knobs = check_baseline(baseline)
    except ValueError as error:
        raise SessionError(str(error)) from None
    started = time.monotonic()
    try:
        fit = fit_kernel_ridge(config, alpha=knobs["alpha"], gamma=knobs["gamma"], samples=knobs["samples"])
    except ValueError as error:   # (the solve; the data set's own problems are SessionErrors already)
        raise SessionError(f"kernel ridge could not be fitted: {error}") from None
    classes = fit.dataset.task == "classification"
    try:
        run_dir = saves.new_run_dir(f"{config.data.name}-kernel-ridge", config.checkpoints.folder)
        manager = saves.CheckpointManager(run_dir, keep_last=1, monitor="val_acc" if classes else "val_loss",
                                          mode="max" if classes else "min")
    except saves.SaveError as error:
        raise SessionError(f"cannot keep the kernel ridge run: {error}") from None
    recorder = HistoryRecorder(run_dir, train_size=len(fit.rows))
    try:
        recorder.start(config=_settings(config), origin=origin or {"kind": "new"}, dataset=fit.dataset.name,
                       model="kernel-ridge", task=fit.dataset.task, baseline={**knobs, "gamma_used": fit.model.gamma_})
        if on_run is not None:
            on_run(run_dir.name)
        record = _epoch(fit, classes, time.monotonic() - started)
        recorder.epoch(record)
        recorder.end("finished", "", at=(1, 0))
        manager.finish("finished")
    finally:
        recorder.close()
        manager.close()
    return BaselineRun(run_dir.name, {**record.as_dict(), "n": len(fit.rows)})


def _settings(config: RunConfig) -> dict:
    """The run settings a baseline uses, as its history records them: its data (the same rows as the networks')
    and seed, and one epoch. Not the network's model, optimizer or schedule: it had none, and a run listed
    with them would read as a network trained with them."""
    settings = config.portable_dict()
    return {"data": settings["data"], "training": {"seed": config.training.seed, "epochs": 1}}


def _epoch(fit, classes: bool, elapsed: float) -> events.EpochEnd:
    """The fit's figures as an epoch's: accuracy (classes) or mean squared error (regression), on the rows it was
    fitted on and on the validation rows (none when the run holds none out)."""
    data, model = fit.data, fit.model

    def figures(x: np.ndarray, y: np.ndarray) -> tuple[float | None, float | None]:
        if not len(x):
            return None, None
        predicted = model.predict(x)
        if classes:
            return None, float(np.mean(predicted == y))
        return float(np.mean((predicted - y.reshape(predicted.shape)) ** 2)), None

    train_loss, train_acc = figures(data.x_train[fit.rows], data.y_train[fit.rows])
    val_loss, val_acc = figures(data.x_val, data.y_val)
    seconds = max(fit.seconds, 1e-9)
    return events.EpochEnd(epoch=0, epochs=1, train_loss=train_loss,   # (None: the history says null)
                           train_accuracy=train_acc, val_loss=val_loss, val_accuracy=val_acc, lr=None,
                           grad_norms={}, weight_norms={}, update_ratios={}, samples_per_s=len(fit.rows) / seconds,
                           seconds=fit.seconds, elapsed=elapsed, eta=0.0)
