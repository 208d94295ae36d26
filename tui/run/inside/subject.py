"""What the inside views look at: a model (a private copy, never the one training), its data as it sees
them, and its run's epoch records. The studio makes one from its session between two batches; `nnstudio
inspect` from a save or a run folder. The views are plain functions of a `Subject`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from nnstudio.engine.inside import weight_layers
from nnstudio.engine.nn import Module


class NotApplicable(ValueError):
    """A view that cannot be drawn for this model or data set; its message says what the view needs, in one line."""


@dataclass(frozen=True, eq=False)
class Layer:
    """One weight layer as the views name it: its number among the weight layers (from 1) and what it is."""

    number: int
    name: str        # its parameters' prefix: "2", "encoder.0"
    module: Module

    @property
    def kind(self) -> str:
        return type(self.module).__name__.lower()

    @property
    def shape_text(self) -> str:
        """"linear 784→128" or "conv2d 1→16 3×3"."""
        m = self.module
        if self.kind == "linear":
            return f"linear {m.in_features}→{m.out_features}"
        out, inp, kh, kw = m.weight.shape
        return f"conv2d {inp}→{out} {kh}×{kw}"


@dataclass(frozen=True, eq=False)
class Subject:
    """A model and what it was trained on, for looking inside it."""

    model: Module
    spec: dict
    task: str                            # "classification", "regression" or "reconstruction"
    dataset: str                         # its name
    class_names: tuple[str, ...]
    x_train: np.ndarray                  # inputs as the model sees them (scaled, laid out)
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, ...] | None  # (channels, height, width) of image inputs
    loss_fn: Callable
    history: list[dict] = field(default_factory=list)   # the run's epoch records, oldest first

    @classmethod
    def of_session(cls, session, model: Module | None = None, history: list[dict] | None = None) -> "Subject":
        """A prepared session's model (or a copy of it: `Session.model_copy`), data and epoch records."""
        data, dataset = session.data, session.dataset
        return cls(model=model if model is not None else session.model, spec=session.spec, task=session.task,
                   dataset=dataset.name,
                   class_names=tuple(dataset.class_names) if session.task == "classification" else (),
                   x_train=data.x_train, y_train=data.y_train, x_test=data.x_test, y_test=data.y_test,
                   image_shape=dataset.image_shape, loss_fn=session.loss_fn,
                   history=list(history if history is not None else session.history))

    # ------------------------------------------------------------------ what it is
    @property
    def input_size(self) -> int:
        return int(np.prod(self.x_train.shape[1:]))

    @property
    def classifies(self) -> bool:
        return self.task == "classification"

    @property
    def targets(self) -> np.ndarray:
        """What the loss compares the outputs with, for the training inputs (an autoencoder's: its inputs)."""
        return self.x_train if self.task == "reconstruction" else self.y_train

    def layers(self) -> list[Layer]:
        return [Layer(n, name, module) for n, (name, module) in enumerate(weight_layers(self.model), 1)]

    def layer(self, number: int | None, default: int = 1) -> Layer:
        """Weight layer `number` (from 1; `default` when None); NotApplicable naming the valid range."""
        layers = self.layers()
        if not layers:
            raise NotApplicable("this model has no weight layers (linear or conv2d) to look inside")
        chosen = default if number is None else number
        if not 1 <= chosen <= len(layers):
            raise NotApplicable(f"layer {chosen} is out of range: this model has weight layers 1 to {len(layers)} "
                                f"({', '.join(layer.shape_text for layer in layers)})")
        return layers[chosen - 1]

    def layer_label(self, name: str) -> str:
        """How the views name a layer with parameters: "2 linear 128→64", or "norm after 1" for a batch norm
        (numbered by the weight layer before it, as weight layers are numbered)."""
        layers = self.layers()
        layer = next((layer for layer in layers if layer.name == name), None)
        if layer is not None:
            return f"{layer.number} {layer.shape_text}"
        order = [n for n, _ in self.model.named_parameters()]
        first = next((i for i, n in enumerate(order) if n.rpartition(".")[0] == name), len(order))
        before = [w.number for w in layers if any(n.rpartition(".")[0] == w.name for n in order[:first])]
        return f"norm after {before[-1]}" if before else "norm"

    def epoch_records(self) -> list[dict]:
        """The epoch records of its history (the run's own and those it continues), in order."""
        return [record for record in self.history if "epoch" in record and "train_loss" in record]
