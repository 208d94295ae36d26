"""A yardstick for the networks: kernel ridge regression, fitted in closed form on a run's own data.

    record = kernel_ridge_baseline(config, alpha=1e-3, samples=5000)
    record["test_acc"]          # or record["test_mse"] for a regression data set

No training loop, no learning rate: one linear solve (`nnstudio.engine.kernel_ridge`). It sees
the rows a network trained with `config` would see (`training_data.prepare_run_data`: the same split,
seed and scaling), so "logistic regression vs an MLP vs kernel ridge" compares like with like.
Its price is memory (an n x n kernel), so it fits on a random subset of the training rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from nnstudio.datasets import PreparedData
from nnstudio.datasets.dataset import Dataset
from nnstudio.engine.fields import Field
from nnstudio.engine.kernel_ridge import ALPHA, GAMMA, MAX_SAMPLES, KernelRidge

from .config import RunConfig
from .training_data import load_run_dataset, prepare_run_data

#: the knobs (the command line parses with them): the engine's, and how many rows to fit on
SAMPLES = Field("samples", int, "training rows to fit on (a random subset; the kernel holds samples^2 numbers)",
                default=5000, low=1, high=MAX_SAMPLES)


def kernel_ridge_baseline(config: RunConfig, *, alpha: float = ALPHA.default, gamma: float | None = GAMMA.default,
                          samples: int = SAMPLES.default, dataset: Dataset | None = None,
                          on_event: Callable[[Any], None] = lambda event: None) -> dict[str, Any]:
    """Fit kernel ridge on (a random subset of) the run's training rows; its figures on the test rows, JSON-able.

    SessionError if the data set cannot be had; the knobs are checked with their fields (FieldError).
    """
    fit = fit_kernel_ridge(config, alpha=alpha, gamma=gamma, samples=samples, dataset=dataset, on_event=on_event)
    model, data, dataset = fit.model, fit.data, fit.dataset
    predicted = model.predict(data.x_test)
    record: dict[str, Any] = {
        "dataset": dataset.name, "model": "kernel ridge (RBF)", "alpha": model.alpha, "gamma": model.gamma_,
        "train_size": int(len(fit.rows)), "train_available": int(len(data.x_train)), "test_size": int(len(data.x_test)),
        "task": dataset.task}
    if dataset.task == "classification":
        record["test_acc"] = float(np.mean(predicted == data.y_test))
    else:
        record["test_mse"] = float(np.mean((predicted - data.y_test.reshape(predicted.shape)) ** 2))
    record["seconds"] = round(time.perf_counter() - fit.started, 3)
    return record


@dataclass
class KernelRidgeFit:
    """Kernel ridge fitted on a run's data: the model, the prepared data, the training rows it used."""

    model: KernelRidge
    dataset: Dataset
    data: PreparedData
    rows: np.ndarray        # the rows of data.x_train it was fitted on
    started: float          # time.perf_counter() when the fit began
    seconds: float          # how long the fit took


def fit_kernel_ridge(config: RunConfig, *, alpha: float = ALPHA.default, gamma: float | None = GAMMA.default,
                     samples: int = SAMPLES.default, dataset: Dataset | None = None,
                     on_event: Callable[[Any], None] = lambda event: None) -> KernelRidgeFit:
    """Kernel ridge fitted on a random subset (by the run's seed) of the training rows a network trained with
    `config` would see. SessionError if the data set cannot be had; FieldError for a bad knob; ValueError if the
    solve cannot be done (a singular kernel)."""
    alpha, gamma, samples = ALPHA.check(alpha), GAMMA.check(gamma), SAMPLES.check(samples)
    dataset = dataset if dataset is not None else load_run_dataset(config, on_event)
    data = prepare_run_data(config, dataset)
    rng = np.random.default_rng(config.training.seed)
    rows = np.sort(rng.permutation(len(data.x_train))[:samples])
    started = time.perf_counter()
    model = KernelRidge(alpha=alpha, gamma=gamma).fit(data.x_train[rows], data.y_train[rows])
    return KernelRidgeFit(model, dataset, data, rows, started, time.perf_counter() - started)
