"""Ready-made experiments: the lessons this field teaches with, each one a sweep planned from plain data.

    experiment("optimizers")                  # by name; UsageError listing them for a name there is not
    exp.plan(exp.base_config())               # its SweepPlan: every trial's config checked, as any sweep's
    exp.refused(["--epochs", "--lr"])         # "--lr": a flag that would set what it varies, or None
    lesson(exp, sweep)                        # the figures that show the lesson, per trial, from the runs' histories

An experiment says what it teaches (`lesson`), what to look at (`look_at`), the settings its
trials share (`base`, dotted paths), the trials themselves (`variants`: what each one changes, as
it reads in the table), how to read the result (`reading`), and the figures of each run that
show it (`figures`, read from its history by `lesson`). Flags may change what the trials share
(--epochs, --data-dir, --dataset, --seed...), never what the experiment varies: the CLI refuses
those (`refused`). Each was tuned to show its lesson within about a minute on two cores (README).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

from nnstudio import saves
from nnstudio.engine.fields import suggest
from nnstudio.engine.presets import preset_spec

from .arguments import FLAGS_BY_OPTION, UsageError
from .config import ConfigError, RunConfig
from .curves import first_and_last
from .fitting import data_shape_of, refit
from .history import read_history
from .sweeps import Axis, SweepPlan, Trial

#: what --model sets: the model is varied when a trial changes either, or fits a baseline instead
MODEL_PATHS = ("model.preset", "model.spec")


@dataclass(frozen=True)
class Variant:
    """One trial of an experiment: how it reads in each column of the table, and what it changes."""

    texts: Mapping[str, str]                      # {flag the experiment varies: this trial's value, as shown}
    overrides: Mapping[str, Any] = field(default_factory=dict)   # {setting path: value}
    baseline: Mapping[str, Any] | None = None     # fit this instead of training a network (`baseline_run`)
    name: str = ""                                # what the lesson calls it ("SGD + momentum"), in labels and legends


@dataclass(frozen=True)
class Experiment:
    """A lesson as a sweep: the settings its trials share, the trials, and how to read what they show."""

    name: str
    title: str
    lesson: str
    look_at: str
    reading: str
    base: Mapping[str, Any]
    options: tuple[str, ...]          # the flags it varies: the ranking's columns
    variants: tuple[Variant, ...]
    figures: tuple[str, ...]          # `FIGURES` shown per trial after the ranking

    @property
    def varied(self) -> frozenset[str]:
        """The settings its trials set apart (a baseline's trial sets the model apart)."""
        paths = {path for v in self.variants for path in v.overrides}
        if any(v.baseline is not None for v in self.variants):
            paths.update(MODEL_PATHS)
        return frozenset(paths)

    def base_config(self) -> RunConfig:
        """The settings its trials share, before any flag changes them."""
        return RunConfig().with_overrides(self.base)

    def refused(self, options: list[str]) -> str | None:
        """The first of these flags that would set what the experiment varies (its trials set it), or None."""
        for option in options:
            paths = MODEL_PATHS if option == "--model" else \
                (FLAGS_BY_OPTION[option].path,) if option in FLAGS_BY_OPTION else ()
            if self.varied.intersection(paths):
                return option
        return None

    def plan(self, shared: RunConfig) -> SweepPlan:
        """Its trials on `shared` (its base, as flags changed it); a trial whose settings clash is a UsageError
        naming it, before anything trains. A model spec is fitted to the data set's inputs and classes."""
        shape = data_shape_of(shared)
        trials = []
        for number, variant in enumerate(self.variants, 1):
            overrides = dict(variant.overrides)
            if isinstance(overrides.get("model.spec"), dict) and shape is not None:
                overrides["model.spec"] = refit(overrides["model.spec"], shape)[0]
            texts = {_path(option): variant.texts.get(option, "") for option in self.options}
            trial = Trial(number, overrides, texts, dict(variant.baseline) if variant.baseline else None, variant.name)
            try:
                shared.with_overrides(overrides)
            except ConfigError as error:
                raise UsageError(f"the {self.name} experiment's trial {number} ({trial.label}): {error}") from None
            trials.append(trial)
        axes = [Axis(option, (), tuple(v.texts.get(option, "") for v in self.variants)) for option in self.options]
        return SweepPlan(shared, axes, trials, experiment=self.name)


def _path(option: str) -> str:
    return "model.preset" if option == "--model" else FLAGS_BY_OPTION[option].path


def experiment(name: str) -> Experiment:
    """The experiment called `name`; a UsageError that lists them for any other name."""
    if name in EXPERIMENTS:
        return EXPERIMENTS[name]
    raise UsageError(f"--experiment {name}: no such experiment{suggest(name, EXPERIMENTS)}; the experiments: "
                     f"{', '.join(EXPERIMENTS)} (nnstudio sweep --experiment list says what each teaches)")


# ====================================================================== the figures that show a lesson
@dataclass(frozen=True)
class Figure:
    """One column of an experiment's lesson table: its heading and how it reads a run's epoch records."""

    heading: str
    read: Callable[[list[dict]], str]


def _values(epochs: list[dict], key: str) -> list[tuple[int, float]]:
    """(epoch, value) for every epoch with a finite `key`."""
    return [(int(e.get("epoch", i + 1)), float(e[key])) for i, e in enumerate(epochs)
            if isinstance(e.get(key), (int, float)) and not isinstance(e.get(key), bool) and math.isfinite(e[key])]


def _last(epochs: list[dict], key: str) -> float | None:
    values = _values(epochs, key)
    return values[-1][1] if values else None


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _by_epoch(epochs: list[dict]) -> str:
    """Validation accuracy epoch by epoch, in percent (at most `_SHOWN` epochs, evenly picked, the last always)."""
    values = [value for _, value in _values(epochs, "val_acc")]
    if len(values) > _SHOWN:
        values = [values[round(i * (len(values) - 1) / (_SHOWN - 1))] for i in range(_SHOWN)]
    return " ".join(f"{100 * v:.0f}" for v in values) or "—"


_SHOWN = 8


def _gap(epochs: list[dict]) -> str:
    train, val = _last(epochs, "train_acc"), _last(epochs, "val_acc")
    return "—" if train is None or val is None else f"{100 * (train - val):+.1f} points"


def _val_loss_turn(epochs: list[dict]) -> str:
    """Where the validation loss was lowest and how far it climbed after (overfitting)."""
    values = _values(epochs, "val_loss")
    if not values:
        return "—"
    epoch, lowest = min(values, key=lambda item: item[1])
    return f"{lowest:.3f} @{epoch} → {values[-1][1]:.3f}"


def _weights(epochs: list[dict]) -> str:
    """The size of all the weights together (the root of their sum of squares), first epoch to last."""
    sizes = []
    for e in epochs:
        norms = e.get("weight_norms") if isinstance(e.get("weight_norms"), dict) else {}
        if norms:
            sizes.append(math.sqrt(sum(float(v) ** 2 for v in norms.values())))
    return "—" if not sizes else f"{sizes[0]:.1f} → {sizes[-1]:.1f}"


def _norms(epochs: list[dict], which: int) -> list[float]:
    """Each epoch's gradient norm of the first (0) or last (-1) layer with weights."""
    pairs = [first_and_last(e.get("grad_norms")) for e in epochs]
    return [pair[which] for pair in pairs if pair is not None]


def _grad(which: int) -> Callable[[list[dict]], str]:
    def read(epochs: list[dict]) -> str:
        norms = _norms(epochs, which)
        return "—" if not norms else f"{norms[0]:.0e} → {norms[-1]:.0e}"
    return read


def _grad_ratio(epochs: list[dict]) -> str:
    """How many times smaller the first layer's gradient is than the last's, in the first epoch."""
    first, last = _norms(epochs, 0), _norms(epochs, -1)
    if not first or not last or first[0] <= 0:
        return "—"
    return f"1/{last[0] / first[0]:,.0f}" if last[0] >= first[0] else f"{first[0] / last[0]:,.1f}"


FIGURES: dict[str, Figure] = {
    "val_acc_by_epoch": Figure("val acc by epoch (%)", _by_epoch),
    "train_acc": Figure("final train acc", lambda epochs: _percent(_last(epochs, "train_acc"))),
    "val_acc": Figure("final val acc", lambda epochs: _percent(_last(epochs, "val_acc"))),
    "gap": Figure("train − val acc", _gap),
    "val_loss_turn": Figure("val loss: lowest @epoch → last", _val_loss_turn),
    "weights": Figure("weight norm", _weights),
    "train_loss": Figure("train loss", lambda epochs: "—" if _last(epochs, "train_loss") is None
                         else f"{_last(epochs, 'train_loss'):.3f}"),
    "grad_first": Figure("first layer", _grad(0)),
    "grad_last": Figure("last layer", _grad(-1)),
    "grad_ratio": Figure("first/last", _grad_ratio),
}


@dataclass
class Lesson:
    """An experiment's figures per trial (in the plan's order): the table printed after the ranking."""

    headings: list[str]
    rows: list[list[str]]


def lesson(exp: Experiment, sweep) -> Lesson:
    """The figures that show `exp`'s lesson, for each trial of `sweep` (a `Sweep`) from its run's history."""
    runs = saves.runs_folder(sweep.plan.base.checkpoints.folder)
    rows = []
    for trial in sweep.plan.trials:
        epochs: list[dict] = []
        if trial.number in sweep.runs:
            try:
                epochs = read_history(runs / sweep.runs[trial.number], batches=False).epochs
            except saves.SaveError:
                epochs = []
        rows.append([str(trial.number), *(trial.texts.get(axis.path, "") for axis in sweep.plan.axes),
                     *(FIGURES[name].read(epochs) for name in exp.figures)])
    return Lesson(["trial", *(axis.option.lstrip("-") for axis in sweep.plan.axes),
                   *(FIGURES[name].heading for name in exp.figures)], rows)


# ====================================================================== the experiments
def _mlp(name: str, hidden=(128, 64), activation: str = "relu", dropout: float = 0.0, init: str = "auto") -> dict:
    """An MLP spec for MNIST-sized inputs (`Experiment.plan` fits it to the data set), named for the run list."""
    spec = preset_spec("mlp", hidden=hidden, activation=activation, dropout=dropout)
    for layer in spec["layers"]:
        if layer["type"] == "linear" and init != "auto":
            layer["init"] = init
    return {**spec, "name": name}


#: (4,000 rows: the embedded digits standing in for a missing MNIST have 4,500 once validation is held out)
_MNIST_SUBSET = {"data.name": "mnist", "data.train_size": 4000, "model.preset": "mlp", "schedule.name": "none",
                 "training.batch_size": 64}

EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in (
    Experiment(
        "optimizers", "Optimizers: plain SGD, momentum, RMSprop and Adam",
        "The same network and data, four update rules. Plain SGD crawls; momentum carries it along the "
        "valley it zigzags in; RMSprop and Adam scale each weight's step by its recent gradients and get there "
        "in a few epochs.",
        "how fast validation accuracy climbs, epoch by epoch",
        "Read the first epochs: RMSprop and Adam are ahead at once, momentum close behind; plain SGD with the "
        "same learning rate as momentum's is still climbing at the end.",
        {**_MNIST_SUBSET, "training.epochs": 8},
        ("--optimizer", "--lr", "--momentum"),
        (Variant({"--optimizer": "sgd", "--lr": "0.01", "--momentum": "0"},
                 {"optimizer.name": "sgd", "optimizer.lr": 0.01, "optimizer.momentum": 0.0}, name="SGD"),
         Variant({"--optimizer": "sgd", "--lr": "0.01", "--momentum": "0.9"},
                 {"optimizer.name": "sgd", "optimizer.lr": 0.01, "optimizer.momentum": 0.9}, name="SGD + momentum"),
         Variant({"--optimizer": "rmsprop", "--lr": "0.001", "--momentum": "0"},
                 {"optimizer.name": "rmsprop", "optimizer.lr": 1e-3, "optimizer.momentum": 0.0}, name="RMSprop"),
         Variant({"--optimizer": "adam", "--lr": "0.001", "--momentum": "0.9"},
                 {"optimizer.name": "adam", "optimizer.lr": 1e-3, "optimizer.momentum": 0.9}, name="Adam")),
        ("val_acc_by_epoch", "train_acc")),
    Experiment(
        "learning-rate", "The learning rate: too small, right, too large",
        "The one setting that matters most. Too small and the loss barely moves; a good one brings it down "
        "fast; too large and every step overshoots: the network is knocked into guessing, or the loss blows up "
        "and the run diverges.",
        "the ranking (the middle rates win), and the largest rates' train loss and status",
        "0.0001 is still crawling at the end; 0.01 and 0.1 are best; at 1 the training loss sits at about 2.3 "
        "(ln 10: guessing among ten digits, its units knocked dead); 10 diverges in its first batches.",
        {**_MNIST_SUBSET, "optimizer.name": "sgd", "optimizer.momentum": 0.9, "training.epochs": 5},
        ("--lr",),
        tuple(Variant({"--lr": text}, {"optimizer.lr": float(text)})
              for text in ("0.0001", "0.001", "0.01", "0.1", "1", "10")),
        ("val_acc_by_epoch", "train_loss")),
    Experiment(
        "overfitting", "Overfitting: a network memorises a small training set",
        "With few examples a network learns them by heart: training accuracy reaches 100% while the "
        "validation loss turns and climbs. More data is the surest cure.",
        "the gap between train and validation accuracy, and where the validation loss was lowest",
        "Every trial ends at 100% on its own training rows; on the validation rows it falls 20 to 30 points "
        "short with 100 examples, about 5 with 4,000: the gap is what was memorised rather than learnt. In each, "
        "the validation loss bottoms out part-way through and then climbs while the training loss keeps falling: "
        "the moment to stop (--early-stopping keeps the best epoch).",
        {"data.name": "mnist", "model.spec": _mlp("mlp-no-dropout", hidden=(256, 128)), "optimizer.name": "adam",
         "optimizer.lr": 1e-3, "schedule.name": "none", "training.batch_size": 32, "training.epochs": 30},
        ("--train-size",),
        tuple(Variant({"--train-size": str(n)}, {"data.train_size": n}) for n in (100, 1000, 4000)),
        ("train_acc", "val_acc", "gap", "val_loss_turn")),
    Experiment(
        "weight-decay", "Weight decay: small weights against overfitting",
        "Weight decay pulls every weight towards zero at each step. Without it a network memorising a small "
        "training set grows its weights and grows sure of its mistakes: the validation loss turns and climbs. "
        "A little decay keeps the weights small and the validation loss falling; too much and it underfits.",
        "the weights' size and the validation loss as the decay grows",
        "Without decay the weights grow and the validation loss ends well above its lowest; with 0.003 the "
        "weights shrink to less than half and the validation loss does not turn up: it ends the lowest of all; "
        "with 0.03 even the training accuracy drops: too much.",
        {"data.name": "mnist", "data.train_size": 1000, "model.spec": _mlp("mlp-no-dropout", hidden=(256, 128)),
         "optimizer.name": "sgd", "optimizer.lr": 0.05, "optimizer.momentum": 0.9, "schedule.name": "none",
         "training.batch_size": 32, "training.epochs": 30},
        ("--weight-decay",),
        tuple(Variant({"--weight-decay": text}, {"optimizer.weight_decay": float(text)})
              for text in ("0", "0.0003", "0.003", "0.03")),
        ("weights", "val_loss_turn", "train_acc", "val_acc")),
    Experiment(
        "models", "Models: logistic regression, an MLP and kernel ridge on spirals",
        "A linear model draws straight boundaries, and spirals cannot be split by them. An MLP bends its "
        "boundaries by learning features; kernel ridge bends them with a fixed kernel and one linear solve, "
        "no training loop at all.",
        "the ranking: logistic regression stays under 50% (a third is chance), the other two reach 98%",
        "Kernel ridge gets there in one step (a run of one epoch); the MLP needs its epochs, but would scale to "
        "data far too big for a kernel's n x n matrix.",
        {"data.name": "spirals", "data.size": 2000, "optimizer.name": "adam", "optimizer.lr": 0.01,
         "schedule.name": "none", "training.epochs": 40, "training.batch_size": 64},
        ("--model",),
        (Variant({"--model": "logreg"}, {"model.preset": "logreg"}, name="logistic regression"),
         Variant({"--model": "mlp"}, {"model.preset": "mlp"}, name="MLP"),
         Variant({"--model": "kernel ridge"}, baseline={"model": "kernel-ridge", "samples": 5000}, name="kernel ridge")),
        ("train_acc", "val_acc")),
    Experiment(
        "depth", "Initialisation and depth: vanishing gradients",
        "Backpropagation multiplies by each layer's derivative on the way down. A sigmoid's is at most 1/4, so "
        "in a deep sigmoid network the first layers get gradients thousands of times smaller than the last and "
        "hardly learn, whatever the initialisation; ReLU with He initialisation keeps them the same size from "
        "layer to layer.",
        "the gradient norm of the first layer against the last's, from the first epoch to the last",
        "With 2 sigmoid layers the first layer's gradient is a few times smaller than the last's; with 8 it is "
        "tens of thousands of times smaller and the network stays at chance (about 10%). A larger (He) "
        "initialisation shrinks the gap to thousands of times but does not save the sigmoid, which saturates; "
        "ReLU + He keeps the first and last layers' gradients of one size, and the deep network learns.",
        {**_MNIST_SUBSET, "data.train_size": 2000, "optimizer.name": "sgd", "optimizer.lr": 0.05,
         "optimizer.momentum": 0.9, "training.epochs": 8},
        ("--model",),
        (Variant({"--model": "sigmoid ×2, Xavier"},
                 {"model.spec": _mlp("sigmoid-2-xavier", hidden=(64,) * 2, activation="sigmoid")},
                 name="sigmoid ×2, Xavier"),
         Variant({"--model": "sigmoid ×8, Xavier"},
                 {"model.spec": _mlp("sigmoid-8-xavier", hidden=(64,) * 8, activation="sigmoid")},
                 name="sigmoid ×8, Xavier"),
         Variant({"--model": "sigmoid ×8, He"},
                 {"model.spec": _mlp("sigmoid-8-he", hidden=(64,) * 8, activation="sigmoid", init="kaiming")},
                 name="sigmoid ×8, He"),
         Variant({"--model": "ReLU ×8, He"},
                 {"model.spec": _mlp("relu-8-he", hidden=(64,) * 8, activation="relu")},
                 name="ReLU ×8, He")),
        ("grad_first", "grad_last", "grad_ratio", "val_acc")),
)}
