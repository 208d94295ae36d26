"""The layer types a model spec may use, in one table: `LAYER_TYPES`.

Each type says what fields a layer of it has (data for forms and validation), how it changes the
shape of one sample, how many parameters it learns, how its settings read in a summary, and which
module it builds. The model builder's form is generated from this table and `engine.spec`
validates, summarises and builds specs from it, so the two never disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from . import nn
from .fields import Field
from .nn.init import SCHEMES
from .nn.module import Module

Shape = tuple[int, ...]

INIT_CHOICES = ("auto",) + tuple(SCHEMES)

#: no size, stride or padding is anywhere near this; bigger integers are typos or garbage
LARGEST_SIZE = 10 ** 9


class ShapeProblem(Exception):
    """A layer cannot take the shape it is given; `engine.spec` turns it into a SpecError that names the layer."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# ====================================================================== shapes, parameters, settings
def shape_text(shape: Shape) -> str:
    """(16, 28, 28) -> "16x28x28", (128,) -> "128"."""
    return "x".join(str(d) for d in shape)


def _need_flat(layer: dict, shape: Shape, hint: str) -> None:
    if len(shape) != 1:
        raise ShapeProblem(f"{layer['type']} needs a flat input (a vector of features), but its input "
                           f"has shape {shape_text(shape)}; {hint}")


def _need_image(layer: dict, shape: Shape) -> None:
    if len(shape) != 3:
        raise ShapeProblem(f"{layer['type']} needs an image input (channels x height x width), but its "
                           f"input is flat ({shape_text(shape)} features); for images set input_shape to "
                           f"[channels, height, width], e.g. [1, 28, 28], and use conv/pool layers before flatten")


def _window_output(layer: dict, shape: Shape, stride: int) -> Shape:
    """Height and width after a kernel slides over the padded image (PyTorch's floor rule)."""
    k, pad = layer["kernel"], layer["padding"]
    h, w = shape[1] + 2 * pad, shape[2] + 2 * pad
    if k > h or k > w:
        padded = f" (padded by {pad})" if pad else ""
        raise ShapeProblem(f"kernel {k}x{k} is larger than its input {shape[1]}x{shape[2]}{padded}; "
                           f"use a smaller kernel, more padding, or fewer pooling layers before it", "kernel")
    return (h - k) // stride + 1, (w - k) // stride + 1


def _same(layer: dict, shape: Shape) -> Shape:
    return shape


def _no_params(layer: dict, shape: Shape) -> int:
    return 0


def _no_settings(layer: dict) -> str:
    return ""


def _linear_shape(layer: dict, shape: Shape) -> Shape:
    _need_flat(layer, shape, "add a flatten layer before it")
    return (layer["out"],)


def _linear_params(layer: dict, shape: Shape) -> int:
    return shape[0] * layer["out"] + (layer["out"] if layer["bias"] else 0)


def _weight_extras(layer: dict) -> str:
    extras = "" if layer["bias"] else ", no bias"
    return extras + ("" if layer["init"] == "auto" else f", init={layer['init']}")


def _conv_shape(layer: dict, shape: Shape) -> Shape:
    _need_image(layer, shape)
    return (layer["out"], *_window_output(layer, shape, layer["stride"]))


def _conv_params(layer: dict, shape: Shape) -> int:
    return layer["out"] * shape[0] * layer["kernel"] ** 2 + (layer["out"] if layer["bias"] else 0)


def _conv_settings(layer: dict) -> str:
    text = f"{layer['out']}, {layer['kernel']}x{layer['kernel']}"
    text += f", stride {layer['stride']}" if layer["stride"] != 1 else ""
    text += f", pad {layer['padding']}" if layer["padding"] else ""
    return text + _weight_extras(layer)


def _pool_stride(layer: dict) -> int:
    return layer["kernel"] if layer["stride"] is None else layer["stride"]


def _pool_shape(layer: dict, shape: Shape) -> Shape:
    _need_image(layer, shape)
    if layer["padding"] > layer["kernel"] // 2:
        raise ShapeProblem(f"padding {layer['padding']} must be at most half the kernel "
                           f"({layer['kernel']} // 2 = {layer['kernel'] // 2})", "padding")
    return (shape[0], *_window_output(layer, shape, _pool_stride(layer)))


def _pool_settings(layer: dict) -> str:
    text = f"{layer['kernel']}x{layer['kernel']}"
    text += f", stride {layer['stride']}" if layer["stride"] not in (None, layer["kernel"]) else ""
    return text + (f", pad {layer['padding']}" if layer["padding"] else "")


def _flatten_shape(layer: dict, shape: Shape) -> Shape:
    return (math.prod(shape),)


def _bn1d_shape(layer: dict, shape: Shape) -> Shape:
    _need_flat(layer, shape, "after conv layers use batchnorm2d, or flatten first")
    return shape


def _bn2d_shape(layer: dict, shape: Shape) -> Shape:
    if len(shape) != 3:
        raise ShapeProblem(f"batchnorm2d normalises the channels of an image, but its input is flat "
                           f"({shape_text(shape)} features); use batchnorm1d after linear layers")
    return shape


def _bn_params(layer: dict, shape: Shape) -> int:
    return 2 * shape[0]  # a scale and a shift per feature/channel (running statistics are buffers)


# ====================================================================== building modules
def _make_linear(layer: dict, shape: Shape, activation: str | None) -> Module:
    return nn.Linear(shape[0], layer["out"], bias=layer["bias"], init=layer["init"], activation=activation)


def _make_conv(layer: dict, shape: Shape, activation: str | None) -> Module:
    return nn.Conv2d(shape[0], layer["out"], layer["kernel"], stride=layer["stride"], padding=layer["padding"],
                     bias=layer["bias"], init=layer["init"], activation=activation)


def _make_simple(class_name: str, **settings: str) -> Callable[[dict, Shape, str | None], Module]:
    """A builder for a layer class that takes spec fields as keyword arguments (spec name -> kwarg).

    The class is looked up by name when the model is built, so this module imports before every
    layer class exists.
    """
    def make(layer: dict, shape: Shape, activation: str | None) -> Module:
        return getattr(nn, class_name)(**{kwarg: layer[name] for name, kwarg in settings.items()})
    return make


def _make_batchnorm(class_name: str) -> Callable[[dict, Shape, str | None], Module]:
    def make(layer: dict, shape: Shape, activation: str | None) -> Module:
        return getattr(nn, class_name)(shape[0])
    return make


# ====================================================================== the layer table
@dataclass(frozen=True)
class LayerType:
    """One kind of layer: its fields (data for forms and validation) and how it acts on shapes."""

    name: str
    category: str                    # "weights", "activation", "pooling", "shape", "regularisation", "normalisation"
    description: str
    make: Callable[[dict, Shape, str | None], Module]
    fields: tuple[Field, ...] = ()
    output_shape: Callable[[dict, Shape], Shape] = _same
    param_count: Callable[[dict, Shape], int] = _no_params
    settings: Callable[[dict], str] = _no_settings

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def _int(name: str, description: str, **rules: Any) -> Field:
    """A whole-number field of a layer (a size, a stride, a padding): never anywhere near LARGEST_SIZE."""
    return Field(name, int, description, largest=LARGEST_SIZE, **rules)


def _size(name: str, description: str, example: int) -> Field:
    return _int(name, description, low=1, example=example)


_BIAS = Field("bias", bool, "learn an offset added to each output", default=True)
_INIT = Field("init", str, "weight initialiser; auto picks it from the activation that follows",
              default="auto", choices=INIT_CHOICES)


def _activation(name: str, class_name: str, description: str, fields: tuple[Field, ...] = (),
                settings: Callable[[dict], str] = _no_settings, **kwargs: str) -> LayerType:
    return LayerType(name, "activation", description, _make_simple(class_name, **kwargs), fields, settings=settings)


_LAYER_LIST = [
    LayerType("linear", "weights", "fully connected layer: every output is a weighted sum of all inputs",
              _make_linear,
              (_size("out", "number of output features", 128), _BIAS, _INIT),
              _linear_shape, _linear_params,
              lambda layer: f"out={layer['out']}" + _weight_extras(layer)),
    LayerType("conv2d", "weights", "2-D convolution: slides small learned filters over an image",
              _make_conv,
              (_size("out", "number of output channels (filters)", 16),
               _size("kernel", "filter size in pixels (kernel x kernel)", 3),
               _int("stride", "step between filter positions", default=1, low=1),
               _int("padding", "zeros added around each side of the image", default=0, low=0),
               _BIAS, _INIT),
              _conv_shape, _conv_params, _conv_settings),
    LayerType("maxpool2d", "pooling", "keeps the largest value in each window, shrinking the image",
              _make_simple("MaxPool2d", kernel="kernel_size", stride="stride", padding="padding"),
              (_size("kernel", "window size in pixels (kernel x kernel)", 2),
               _int("stride", "step between windows; null means the same as kernel", default=None, low=1,
                    nullable=True),
               _int("padding", "padding around each side; at most half the kernel", default=0, low=0)),
              _pool_shape, settings=_pool_settings),
    LayerType("flatten", "shape", "turns an image (channels x height x width) into a flat vector",
              _make_simple("Flatten"), output_shape=_flatten_shape),
    LayerType("dropout", "regularisation", "randomly zeroes a fraction p of values while training",
              _make_simple("Dropout", p="p"),
              (Field("p", float, "probability of zeroing each value", default=0.5, low=0.0, high=1.0, high_open=True),),
              settings=lambda layer: f"p={layer['p']:g}"),
    LayerType("batchnorm1d", "normalisation", "normalises each feature over the batch (after linear layers)",
              _make_batchnorm("BatchNorm1d"), output_shape=_bn1d_shape, param_count=_bn_params),
    LayerType("batchnorm2d", "normalisation", "normalises each channel over the batch (after conv layers)",
              _make_batchnorm("BatchNorm2d"), output_shape=_bn2d_shape, param_count=_bn_params),
    _activation("relu", "ReLU", "max(x, 0): the default choice for hidden layers"),
    _activation("leaky_relu", "LeakyReLU", "like relu but lets a small slope through for x < 0",
                (Field("slope", float, "slope for negative inputs", default=0.01, low=0.0, high=1.0, high_open=True),),
                settings=lambda layer: f"slope={layer['slope']:g}", slope="negative_slope"),
    _activation("gelu", "GELU", "smooth relu used by transformers"),
    _activation("tanh", "Tanh", "squashes to (-1, 1)"),
    _activation("sigmoid", "Sigmoid", "squashes to (0, 1); outputs of autoencoders and binary classifiers"),
    _activation("silu", "SiLU", "x * sigmoid(x), also called swish"),
    _activation("softmax", "Softmax", "turns scores into probabilities (not needed before CrossEntropyLoss)"),
    _activation("log_softmax", "LogSoftmax", "log of softmax; pair it with NLLLoss"),
]

#: every layer type by name; a UI form and `validate_spec` both read this table
LAYER_TYPES: dict[str, LayerType] = {t.name: t for t in _LAYER_LIST}
