"""Turning a run configuration into engine objects: model spec, optimizer, schedule, loss, early stopping.

One place maps config names to engine classes, so the session, the command line and the
studio cannot disagree about what "adam with momentum 0.9" means.
"""

from __future__ import annotations

from nnstudio.datasets import DataShape
from nnstudio.datasets.dataset import Dataset
from nnstudio.engine import nn, optim
from nnstudio.engine.spec import SpecError

from .config import RunConfig, model_spec
from .fitting import fit_preset, fit_problem, preset_problem
from .settings import OptimizerSettings
from .reports import MismatchError


def fit_spec(config: RunConfig, dataset: Dataset) -> dict:
    """The run's model spec for `dataset`: a preset fitted to its shapes; a custom spec must already match them
    (`fitting.fit_problem` says which layer to change). MismatchError if it does not fit."""
    shape = DataShape.of(dataset)
    if config.model.spec is None:
        try:
            spec = fit_preset(config.model.preset, shape)
        except (SpecError, ValueError) as error:
            problem = preset_problem(config.model.preset, shape) or str(error)
            raise MismatchError(f"the {config.model.preset} preset does not fit data set {dataset.name}: "
                                f"{problem}") from None
    else:
        spec = model_spec(config)
    problem = fit_problem(spec, shape)
    if problem is not None:
        raise MismatchError(f"the model does not fit data set {dataset.name}: {problem}")
    return spec


def make_optimizer(config: RunConfig, params) -> optim.Optimizer:
    """The configured optimizer; for Adam/AdamW, "momentum" is the first beta."""
    return optimizer_of(config.optimizer, params)


def optimizer_of(o: OptimizerSettings, params) -> optim.Optimizer:
    """The engine optimizer an optimizer section describes (a run's, or one racer's in `race`)."""
    if o.name == "sgd":
        return optim.SGD(params, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov, weight_decay=o.weight_decay)
    if o.name == "rmsprop":
        return optim.RMSprop(params, lr=o.lr, alpha=o.alpha, eps=o.eps, momentum=o.momentum,
                             weight_decay=o.weight_decay)
    cls = optim.AdamW if o.name == "adamw" else optim.Adam
    return cls(params, lr=o.lr, betas=(o.momentum, o.beta2), eps=o.eps, weight_decay=o.weight_decay)


def make_scheduler(config: RunConfig, optimizer, epochs: int | None = None):
    """The configured learning-rate schedule, or None; cosine anneals over the epochs after warm-up.

    `epochs` is how many the schedule spans (default `training.epochs`): a run continuing a
    save starts a fresh schedule over the epochs it still has to train.
    """
    s = config.schedule
    if s.name == "step":
        return optim.StepLR(optimizer, step_size=s.step_size, gamma=s.gamma, warmup_epochs=s.warmup_epochs)
    if s.name == "cosine":
        span = max((config.training.epochs if epochs is None else epochs) - s.warmup_epochs, 1)
        return optim.CosineAnnealingLR(optimizer, T_max=span, eta_min=s.eta_min, warmup_epochs=s.warmup_epochs)
    return None


def make_early_stopping(config: RunConfig) -> optim.EarlyStopping | None:
    t = config.training
    return optim.EarlyStopping(patience=t.early_stopping, min_delta=t.min_delta) if t.early_stopping else None


def make_loss(task: str, reconstruct: bool, config: RunConfig) -> nn.Module:
    """The loss for the task: cross-entropy for classes, mean squared error otherwise."""
    if task == "classification" and not reconstruct:
        return nn.CrossEntropyLoss(label_smoothing=config.training.label_smoothing)
    return nn.MSELoss()
