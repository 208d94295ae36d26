"""Turning a run configuration into engine objects: model spec, optimizer, schedule, loss, early stopping.

One place maps config names to engine classes, so the session, the command line and the
studio cannot disagree about what "adam with momentum 0.9" means.
"""

from __future__ import annotations

from nnstudio.datasets.dataset import Dataset
from nnstudio.engine import nn, optim
from nnstudio.engine.presets import PRESETS
from nnstudio.engine.spec import SpecError, is_autoencoder, summarize

from .config import RunConfig, model_spec
from .reports import MismatchError


def fit_spec(config: RunConfig, dataset: Dataset) -> dict:
    """The run's model spec for `dataset`: a preset fitted to its shapes; a custom spec must already match them.

    Image data sets can be fed flat (N, 784) or as images (N, 1, 28, 28): a model whose
    input is 3-D (a CNN) gets the image layout, any other the flat one.
    """
    classes = dataset.num_classes or 1
    shapes = {tuple(dataset.input_shape)} | ({tuple(dataset.image_shape)} if dataset.image_shape else set())
    try:
        input_shape = list(dataset.input_shape)
        if config.model.spec is None and dataset.image_shape:
            default = PRESETS[config.model.preset].options().get("input_shape")
            if default is not None and len(default) == 3:
                input_shape = list(dataset.image_shape)
        spec = model_spec(config, input_shape=input_shape, classes=classes)
        summary = summarize(spec)
    except (SpecError, ValueError) as error:
        raise MismatchError(f"the model does not fit data set {dataset.name}: {error}") from None
    if tuple(summary.input_shape) not in shapes:
        raise MismatchError(f"the model expects inputs of shape {tuple(summary.input_shape)}, but data set "
                           f"{dataset.name} has {' or '.join(str(s) for s in sorted(shapes, key=len))}")
    expected = tuple(dataset.input_shape) if is_autoencoder(spec) else \
        (dataset.num_classes,) if dataset.task == "classification" else (1,)
    if tuple(summary.output_shape) != expected:
        raise MismatchError(f"the model outputs shape {tuple(summary.output_shape)}, but data set {dataset.name} "
                           f"needs {expected} ({'reconstructions' if is_autoencoder(spec) else dataset.task})")
    return spec


def make_optimizer(config: RunConfig, params) -> optim.Optimizer:
    """The configured optimizer; for Adam/AdamW, "momentum" is the first beta."""
    o = config.optimizer
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
