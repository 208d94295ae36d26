"""Views of a layer's numbers: their distributions (now, and epoch by epoch from the run's records), and the
gradient flow through the layers (each layer's gradient norm and update-to-weight ratio, per epoch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnstudio.engine.tensor import Tensor
from nnstudio.engine.inside import QUANTILES, dead_fraction, histogram, layer_values, saturated_fraction, trace

from .jsonable import numbers
from .subject import Layer, NotApplicable, Subject

#: the four kinds of numbers of a layer, in the order they are shown
KINDS = ("weight", "bias", "activation", "gradient")
#: examples whose activations the current histograms describe
PROBE_ROWS = 256
#: bins of a current histogram
BINS = 24
#: the update-to-weight ratio people aim for (about 1e-3), and the band around it read as healthy
HEALTHY_RATIO = 1e-3
HEALTHY_BAND = (1e-4, 1e-2)


@dataclass(frozen=True, eq=False)
class Distributions:
    """One layer's weights, biases, activations and gradients: histograms now, and quantiles per epoch."""

    layer: Layer
    layers: int
    activation: str | None
    now: dict[str, dict]                   # kind -> {"edges", "counts"} (kinds without numbers left out)
    epochs: list[int]                      # the epochs with records, numbered from 1
    over_epochs: dict[str, list[list[float]]]   # kind -> one QUANTILES list per epoch in `epochs`
    dead: float | None                     # share of the layer's units a ReLU never lets through, on a probe batch
    saturated: float | None                # share of tanh/sigmoid units stuck in a flat tail
    dead_over_epochs: list[float | None]

    view = "distributions"

    def to_json(self) -> dict:
        return {"view": self.view, "layer": self.layer.number, "layer_name": self.layer.name,
                "layer_kind": self.layer.shape_text, "activation": self.activation, "histograms": self.now,
                "quantile_percents": list(QUANTILES), "epochs": self.epochs, "quantiles": self.over_epochs,
                "dead_fraction": self.dead, "saturated_fraction": self.saturated,
                "dead_fraction_by_epoch": self.dead_over_epochs}


def _gradients_on(subject: Subject, x: np.ndarray, y: np.ndarray) -> None:
    """Give the model's parameters the gradients of its loss on (x, y), in evaluation mode: a loaded save has
    none (training left its last batch's), and "gradients now" should still say something."""
    model = subject.model
    was_training = model.training
    model.eval()
    try:
        with np.errstate(all="ignore"):
            model.zero_grad()
            subject.loss_fn(model(Tensor(x)), y).backward()
    finally:
        model.train(was_training)


def distributions(subject: Subject, layer: int | None) -> Distributions:
    """Weight layer `layer` (from 1): its numbers now (activations on test examples; the gradients of the last
    batch trained, or, for a model that has none, on PROBE_ROWS training examples) and as each epoch's record
    left them."""
    chosen = subject.layer(layer)
    if chosen.module.weight.grad is None and len(subject.x_train):
        _gradients_on(subject, subject.x_train[:PROBE_ROWS], subject.targets[:PROBE_ROWS])
    probe = subject.x_test[:PROBE_ROWS] if len(subject.x_test) else subject.x_train[:PROBE_ROWS]
    traced = trace(subject.model, probe)[chosen.number - 1]
    now = {kind: histogram(values, BINS) for kind, values in layer_values(traced).items()
           if values is not None and np.size(values)}
    epochs, over, dead = [], {kind: [] for kind in KINDS}, []
    for record in subject.epoch_records():
        entry = (record.get("distributions") or {}).get(chosen.name)
        if not entry:
            continue
        epochs.append(int(record["epoch"]))
        for kind in KINDS:
            over[kind].append(list(entry.get(kind) or []))
        dead.append(entry.get("dead"))
    return Distributions(chosen, len(subject.layers()), traced.activation, now, epochs,
                         {kind: rows for kind, rows in over.items() if any(rows)},
                         dead_fraction(traced), saturated_fraction(traced), dead)


@dataclass(frozen=True, eq=False)
class GradientFlow:
    """Per layer and epoch: the gradient norm and the update-to-weight ratio the run recorded."""

    layers: list[str]                      # parameter prefixes, in the model's order
    labels: list[str]                      # how to name each: "1 linear 2→128", "norm 3"
    epochs: list[int]
    grad_norms: np.ndarray                 # (layers, epochs), NaN where not recorded
    update_ratios: np.ndarray

    view = "gradient-flow"

    def latest(self, figures: np.ndarray) -> np.ndarray:
        return figures[:, -1] if figures.shape[1] else np.full(len(self.layers), np.nan)

    def verdicts(self) -> list[str]:
        """Each layer's latest update ratio read against the healthy band: "too small", "healthy", "too large"
        (or "not recorded")."""
        found = []
        for ratio in self.latest(self.update_ratios):
            if not np.isfinite(ratio):
                found.append("not recorded")
            elif ratio < HEALTHY_BAND[0]:
                found.append("too small")
            elif ratio > HEALTHY_BAND[1]:
                found.append("too large")
            else:
                found.append("healthy")
        return found

    def to_json(self) -> dict:
        return {"view": self.view, "layers": self.layers, "labels": self.labels, "epochs": self.epochs,
                "grad_norms": numbers(self.grad_norms), "update_ratios": numbers(self.update_ratios),
                "healthy_ratio": HEALTHY_RATIO, "healthy_band": list(HEALTHY_BAND), "verdicts": self.verdicts()}


def gradient_flow(subject: Subject) -> GradientFlow:
    """The gradient norms and update ratios of every layer with parameters, epoch by epoch."""
    records = [r for r in subject.epoch_records() if r.get("grad_norms")]
    if not records:
        raise NotApplicable("gradient flow needs at least one finished epoch, and this model has none recorded "
                            "(train, then look again; a run that diverged in its first epoch has none: "
                            "try a smaller learning rate)")
    names = [name for name, _ in _parameter_layers(subject)]
    labels = [subject.layer_label(name) for name in names]
    norms = np.array([[r["grad_norms"].get(n, np.nan) for r in records] for n in names], dtype=float)
    ratios = np.array([[(r.get("update_ratios") or {}).get(n, np.nan) for r in records] for n in names], dtype=float)
    return GradientFlow(names, labels, [int(r["epoch"]) for r in records], norms, ratios)


def _parameter_layers(subject: Subject) -> list[tuple[str, object]]:
    """Every layer with parameters (weight layers and batch norms), in order."""
    seen: dict[str, None] = {}
    for name, _ in subject.model.named_parameters():
        seen.setdefault(name.rpartition(".")[0] or name, None)
    return [(name, None) for name in seen]

