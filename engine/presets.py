"""The classic models of the course as ready-made specs: logistic regression to a small CNN.

Each preset is a function returning a normalised model spec (see `spec.py`), so a preset is
only a starting point: the model builder can edit it like any other spec.

    preset_spec("mlp", hidden=(256, 128))  ->  {"name": "mlp", "input_shape": [784], "layers": [...]}
    PRESETS["cnn"].training                ->  {"optimizer.lr": 0.003, "training.epochs": 10, ...}

A preset also says how it is best trained (`Preset.training`): the run settings it was measured
with on full MNIST, as plain data keyed by the run core's setting paths. The engine only carries
them; `nnstudio.tui.run` checks them and makes them the defaults of a run of that preset.

Classifiers end with a plain linear layer (logits): `CrossEntropyLoss` applies the softmax.
"""

from __future__ import annotations

import difflib
import inspect
import numbers
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

from .layer_types import LAYER_TYPES
from .spec import validate_spec

ACTIVATIONS = tuple(name for name, t in LAYER_TYPES.items() if t.category == "activation")


def _sizes(value: Any, name: str) -> list[Any]:
    """Hidden sizes as a list; a single number means one hidden layer (the spec checks the numbers)."""
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return [value]
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"{name} must be a list of layer sizes such as (128, 64), got {value!r}")
    return list(value)


def _check_activation(activation: Any) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
    return activation


def _flatten_if_image(input_shape: Sequence[int]) -> list[dict]:
    """Dense models take flat vectors; an image input gets a flatten layer first."""
    return [{"type": "flatten"}] if len(input_shape) > 1 else []


def _finish(name: str, input_shape: Sequence[int], **sections: list[dict]) -> dict:
    """Validate the assembled spec so a bad argument fails here, naming the layer it produced."""
    shape = list(input_shape) if isinstance(input_shape, (list, tuple)) else input_shape
    return validate_spec({"name": name, "input_shape": shape, **sections})


def logistic_regression(input_shape: Sequence[int] = (784,), classes: int = 10) -> dict:
    """Multinomial logistic (softmax) regression: one linear layer from pixels to class scores."""
    layers = _flatten_if_image(input_shape) + [{"type": "linear", "out": classes}]
    return _finish("logreg", input_shape, layers=layers)


def mlp(input_shape: Sequence[int] = (784,), hidden: Sequence[int] = (128, 64), classes: int = 10,
        activation: str = "relu", dropout: float = 0.2) -> dict:
    """A multilayer perceptron 784-128-64-10 with ReLU, each hidden layer followed by dropout.

    Without dropout (the benchmark MLP, `dropout=0`) it overfits MNIST within a few epochs
    (99.7% train, 97.6% test); with dropout 0.2 and its recommended training it reaches 98.2%.
    """
    activation = _check_activation(activation)
    layers = _flatten_if_image(input_shape)
    for size in _sizes(hidden, "hidden"):
        layers += [{"type": "linear", "out": size}, {"type": activation}]
        if dropout != 0:  # any other value, even an invalid one, goes to the spec to be checked
            layers.append({"type": "dropout", "p": dropout})
    layers.append({"type": "linear", "out": classes})
    return _finish("mlp", input_shape, layers=layers)


def deep_mlp(input_shape: Sequence[int] = (784,), hidden: Sequence[int] = (256, 256, 128, 64), classes: int = 10,
             activation: str = "relu", dropout: float = 0.2) -> dict:
    """A deeper MLP: each hidden block is linear -> batch norm -> activation -> dropout.

    The linear layers before batch norm have no bias: batch norm subtracts the mean and adds
    its own learned shift, so a bias there would be cancelled and learn nothing.
    """
    activation = _check_activation(activation)
    layers = _flatten_if_image(input_shape)
    for size in _sizes(hidden, "hidden"):
        layers += [{"type": "linear", "out": size, "bias": False}, {"type": "batchnorm1d"}, {"type": activation}]
        if dropout != 0:
            layers.append({"type": "dropout", "p": dropout})
    layers.append({"type": "linear", "out": classes})
    return _finish("deep-mlp", input_shape, layers=layers)


def cnn(input_shape: Sequence[int] = (1, 28, 28), classes: int = 10, channels: Sequence[int] = (16, 32),
        hidden: Sequence[int] = (64,), dropout: float = 0.25) -> dict:
    """A small convolutional network: (conv 3x3 pad 1 -> ReLU -> max-pool 2) per entry of `channels`,
    then flatten, a linear + ReLU per entry of `hidden`, dropout, and the linear layer to the classes.

    On 28x28 MNIST: 16 and 32 channels, 7x7 maps, 1568 -> 64 -> 10. The small hidden layer and
    the dropout add about a tenth to an epoch; `hidden=(), dropout=0` is the benchmark CNN.
    """
    layers: list[dict] = []
    for out in _sizes(channels, "channels"):
        layers += [{"type": "conv2d", "out": out, "kernel": 3, "padding": 1}, {"type": "relu"},
                   {"type": "maxpool2d", "kernel": 2}]
    layers.append({"type": "flatten"})
    for size in _sizes(hidden, "hidden"):
        layers += [{"type": "linear", "out": size}, {"type": "relu"}]
    if dropout != 0:  # any other value, even an invalid one, goes to the spec to be checked
        layers.append({"type": "dropout", "p": dropout})
    layers.append({"type": "linear", "out": classes})
    return _finish("cnn", input_shape, layers=layers)


def autoencoder(input_shape: Sequence[int] = (784,), hidden: Sequence[int] = (128,), bottleneck: int = 32,
                activation: str = "relu") -> dict:
    """A dense autoencoder: input -> hidden -> bottleneck code -> hidden (mirrored) -> input.

    The output is a sigmoid, as pixels scaled to [0, 1] are; the code has no activation.
    """
    activation = _check_activation(activation)
    if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 1:
        raise ValueError(f"the autoencoder preset reconstructs flat inputs; use input_shape=(784,) "
                         f"(images are flattened by the data loader), got {input_shape!r}")
    sizes = _sizes(hidden, "hidden")
    encoder: list[dict] = []
    for size in sizes:
        encoder += [{"type": "linear", "out": size}, {"type": activation}]
    encoder.append({"type": "linear", "out": bottleneck})
    decoder: list[dict] = []
    for size in reversed(sizes):
        decoder += [{"type": "linear", "out": size}, {"type": activation}]
    decoder += [{"type": "linear", "out": input_shape[0]}, {"type": "sigmoid"}]
    return _finish("autoencoder", input_shape, encoder=encoder, decoder=decoder)


@dataclass(frozen=True)
class Preset:
    """A named model recipe: call it (with optional overrides) to get a spec.

    `training` holds the run settings the recipe is best trained with, keyed by the run core's
    setting paths ("training.epochs", "schedule.name"): plain data, so the engine need not know
    the run's settings; those not named keep their usual defaults.
    """

    name: str
    description: str
    function: Callable[..., dict]
    needs_images: bool = False
    """True for a recipe that only makes sense on images (convolutions; reconstructing pictures)."""
    training: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "training", MappingProxyType(dict(self.training)))   # read-only, a copy

    def options(self) -> dict[str, Any]:
        """The recipe's settings and their defaults, e.g. {"hidden": (128, 64), ...}."""
        return {p.name: p.default for p in inspect.signature(self.function).parameters.values()}

    def __call__(self, **overrides: Any) -> dict:
        options = self.options()
        for key in overrides:
            if key not in options:
                close = difflib.get_close_matches(key, list(options), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(f"preset {self.name!r} has no setting {key!r}{hint}; "
                                 f"its settings are: {', '.join(options)}")
        return self.function(**overrides)


#: every preset by name, in the order a menu shows them. The training settings of the MLP and the
#: CNN were chosen by measurement on full MNIST (README, Presets): 98.2% and 99.2% test accuracy.
PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("logreg", "logistic regression: one linear layer, pixels to class scores", logistic_regression),
    Preset("mlp", "multilayer perceptron 784-128-64-10 with ReLU and dropout", mlp,
           training={"optimizer.lr": 3e-3, "training.epochs": 20, "schedule.name": "cosine"}),
    Preset("deep-mlp", "4 hidden layers with batch norm and dropout", deep_mlp),
    Preset("cnn", "small CNN: two conv 3x3 + max-pool blocks (16, 32 channels), linear 64, dropout", cnn,
           needs_images=True, training={"optimizer.lr": 3e-3, "training.epochs": 10, "schedule.name": "cosine"}),
    Preset("autoencoder", "dense autoencoder 784-128-32-128-784 with a sigmoid output", autoencoder,
           needs_images=True),
)}


def preset_spec(name: str, **overrides: Any) -> dict:
    """The spec of preset `name`, with any of its settings overridden."""
    if name not in PRESETS:
        close = difflib.get_close_matches(str(name), list(PRESETS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown preset {name!r}{hint}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[name](**overrides)
