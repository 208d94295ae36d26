"""Model specs: a model described as plain JSON-able data, and the one function that builds it.

    {"input_shape": [784], "layers": [{"type": "linear", "out": 128}, {"type": "relu"},
                                      {"type": "linear", "out": 10}]}

    {"input_shape": [784], "encoder": [...], "decoder": [...]}      # an autoencoder

The model builder pane, the save format and config files all read and write this one format.
Every layer type and its fields live in one table, `LAYER_TYPES`: a form can be generated
from it, and `validate_spec` checks specs against the same table, so the two never disagree.

    validate_spec(spec) -> normalised copy (defaults filled in) or SpecError naming the layer
    summarize(spec)     -> per-layer rows (output shape, parameters), like Keras' summary()
    build_model(spec)   -> nn.Sequential, or Autoencoder for encoder/decoder specs (a relu followed
                           by a maxpool2d is built pool first: the same result, computed faster)
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Iterator, NamedTuple

import numpy as np

from . import nn
from .fields import Field, FieldError, short_repr, suggest, value_and_kind
from .nn.init import SCHEMES
from .nn.module import Module, Sequential

Shape = tuple[int, ...]

#: a model bigger than this would not train in NumPy anyway; refusing it early keeps a typo
#: such as out=1280000 from freezing the studio while it allocates gigabytes
MAX_PARAMETERS = 100_000_000
#: the same guard for the values one sample produces at any layer (e.g. a huge padding)
MAX_VALUES_PER_SAMPLE = 20_000_000

INIT_CHOICES = ("auto",) + tuple(SCHEMES)

#: no size, stride or padding is anywhere near this; bigger integers are typos or garbage
LARGEST_SIZE = 10 ** 9


class SpecError(ValueError):
    """A model spec is invalid; the message names the layer and the problem.

    `section` ("layers", "encoder" or "decoder"), `index`, `layer_type` and `field` are
    also attributes, so a form can highlight the offending entry.
    """

    def __init__(self, message: str, *, section: str | None = None, index: int | None = None,
                 layer_type: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.section, self.index, self.layer_type, self.field = section, index, layer_type, field


class _Problem(Exception):
    """Raised inside checks without context; turned into a SpecError that names the layer."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# ====================================================================== shapes, parameters, settings
def shape_text(shape: Shape) -> str:
    """(16, 28, 28) -> "16x28x28", (128,) -> "128"."""
    return "x".join(str(d) for d in shape)


def _need_flat(layer: dict, shape: Shape, hint: str) -> None:
    if len(shape) != 1:
        raise _Problem(f"{layer['type']} needs a flat input (a vector of features), but its input "
                       f"has shape {shape_text(shape)}; {hint}")


def _need_image(layer: dict, shape: Shape) -> None:
    if len(shape) != 3:
        raise _Problem(f"{layer['type']} needs an image input (channels x height x width), but its "
                       f"input is flat ({shape_text(shape)} features); for images set input_shape to "
                       f"[channels, height, width], e.g. [1, 28, 28], and use conv/pool layers before flatten")


def _window_output(layer: dict, shape: Shape, stride: int) -> Shape:
    """Height and width after a kernel slides over the padded image (PyTorch's floor rule)."""
    k, pad = layer["kernel"], layer["padding"]
    h, w = shape[1] + 2 * pad, shape[2] + 2 * pad
    if k > h or k > w:
        padded = f" (padded by {pad})" if pad else ""
        raise _Problem(f"kernel {k}x{k} is larger than its input {shape[1]}x{shape[2]}{padded}; "
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
        raise _Problem(f"padding {layer['padding']} must be at most half the kernel "
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
        raise _Problem(f"batchnorm2d normalises the channels of an image, but its input is flat "
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

_SECTIONS = ("layers", "encoder", "decoder")
_TOP_LEVEL_KEYS = ("name", "input_shape") + _SECTIONS


def new_layer(type_name: str) -> dict:
    """A valid-looking layer dict with every field set: defaults, and examples for required ones."""
    layer_type = _layer_type(type_name)
    return {"type": type_name, **{f.name: (f.example if f.required else f.default) for f in layer_type.fields}}


def _layer_type(type_name: str) -> LayerType:
    if type_name not in LAYER_TYPES:
        raise SpecError(f"unknown layer type {short_repr(type_name)}{suggest(type_name, LAYER_TYPES)}; "
                        f"known types: {', '.join(LAYER_TYPES)}")
    return LAYER_TYPES[type_name]


# ====================================================================== validation
def _where(section: str, index: int, type_name: str | None) -> str:
    prefix = "layer" if section == "layers" else f"{section} layer"
    return f"{prefix} {index}" + (f" ({type_name})" if type_name else "")


def _check_layer(layer: Any, section: str, index: int) -> dict:
    """Check one layer's type and fields (not its shape); return it normalised with defaults filled in."""
    def fail(message: str, type_name: str | None = None, field_name: str | None = None) -> SpecError:
        return SpecError(f"{_where(section, index, type_name)}: {message}", section=section, index=index,
                         layer_type=type_name, field=field_name)

    if not isinstance(layer, dict):
        raise fail(f"expected a layer object such as {{\"type\": \"relu\"}}, got {value_and_kind(layer)}")
    if "type" not in layer:
        raise fail(f"missing \"type\"; known types: {', '.join(LAYER_TYPES)}")
    type_name = layer["type"]
    if not isinstance(type_name, str) or type_name not in LAYER_TYPES:
        shown = short_repr(type_name) if isinstance(type_name, str) else value_and_kind(type_name)
        raise fail(f"unknown layer type {shown}{suggest(type_name, LAYER_TYPES)}; known types: {', '.join(LAYER_TYPES)}")
    layer_type = LAYER_TYPES[type_name]
    for key in layer:
        if key != "type" and key not in layer_type.field_names:
            known = ", ".join(layer_type.field_names) or "none"
            raise fail(f"unknown field {short_repr(key)}{suggest(key, layer_type.field_names)}; "
                       f"{type_name} accepts: {known}", type_name,
                       key if isinstance(key, str) else short_repr(key))
    normalised = {"type": type_name}
    for spec_field in layer_type.fields:
        if spec_field.name not in layer:
            if spec_field.required:
                raise fail(f"missing required field {spec_field.name!r} ({spec_field.description}, "
                           f"e.g. {spec_field.example})", type_name, spec_field.name)
            normalised[spec_field.name] = spec_field.default
            continue
        try:
            normalised[spec_field.name] = spec_field.check(layer[spec_field.name])
        except FieldError as problem:
            raise fail(str(problem), type_name, spec_field.name) from None
    return normalised


def _check_input_shape(value: Any) -> list[int]:
    expected = ("input_shape must be [features] for flat data or [channels, height, width] for images, "
                "with whole numbers >= 1")
    if not isinstance(value, (list, tuple)) or len(value) not in (1, 3):
        raise SpecError(f"{expected}; got {value_and_kind(value)}", field="input_shape")
    for d in value:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, numbers.Integral) or not 1 <= d <= LARGEST_SIZE:
            raise SpecError(f"{expected}; got {value_and_kind(list(value))}", field="input_shape")
    return [int(d) for d in value]


def _check_sections(spec: dict) -> tuple[str, ...]:
    """Which layer lists the spec has: ("layers",) or ("encoder", "decoder")."""
    has = [s for s in _SECTIONS if s in spec]
    if has == ["layers"]:
        return ("layers",)
    if has == ["encoder", "decoder"]:
        return ("encoder", "decoder")
    if not has:
        raise SpecError("a model spec needs a \"layers\" list (or \"encoder\" and \"decoder\" lists for an autoencoder)")
    if "layers" in has:
        raise SpecError("a model spec has either \"layers\" or \"encoder\"/\"decoder\", not both")
    missing = "decoder" if "encoder" in has else "encoder"
    raise SpecError(f"an autoencoder spec needs both \"encoder\" and \"decoder\"; {missing!r} is missing")


def _check_layer_list(value: Any, section: str) -> list[dict]:
    if not isinstance(value, (list, tuple)):
        raise SpecError(f"{section!r} must be a list of layer objects, got {value_and_kind(value)}", section=section)
    if not value:
        raise SpecError(f"{section!r} is empty: a model needs at least one layer", section=section)
    return [_check_layer(layer, section, i) for i, layer in enumerate(value)]


class _Step(NamedTuple):
    """One layer on its way through the model: where it is, what goes in and what comes out."""

    section: str
    index: int
    layer: dict
    in_shape: Shape
    out_shape: Shape
    params: int


def _walk(spec: dict) -> Iterator[_Step]:
    """Follow the shape of one sample through a spec whose fields are already checked."""
    shape: Shape = tuple(spec["input_shape"])
    for section in _sections_of(spec):
        for index, layer in enumerate(spec[section]):
            layer_type = LAYER_TYPES[layer["type"]]
            try:
                out_shape = layer_type.output_shape(layer, shape)
                params = layer_type.param_count(layer, shape)
            except _Problem as problem:
                raise SpecError(f"{_where(section, index, layer['type'])}: {problem}", section=section,
                                index=index, layer_type=layer["type"], field=problem.field) from None
            yield _Step(section, index, layer, shape, out_shape, params)
            shape = out_shape


def _sections_of(spec: dict) -> tuple[str, ...]:
    return ("layers",) if "layers" in spec else ("encoder", "decoder")


def _check_shapes(spec: dict) -> None:
    """Run shapes through every layer; check sizes, the parameter budget and the autoencoder's output."""
    steps = list(_walk(spec))
    for step in steps:
        size = math.prod(step.out_shape)
        if size > MAX_VALUES_PER_SAMPLE:
            shape = f" ({shape_text(step.out_shape)})" if len(step.out_shape) > 1 else ""
            raise SpecError(f"{_where(step.section, step.index, step.layer['type'])}: its output has {size:,} "
                            f"values per sample{shape}, more than the limit of "
                            f"{MAX_VALUES_PER_SAMPLE:,}", section=step.section, index=step.index,
                            layer_type=step.layer["type"])
    total = sum(step.params for step in steps)
    if total > MAX_PARAMETERS:
        raise SpecError(f"the model would have {total:,} parameters ({total * 4 / 1e9:.1f} GB), more than the "
                        f"limit of {MAX_PARAMETERS:,}; use fewer or smaller layers")
    if "encoder" in spec and steps[-1].out_shape != tuple(spec["input_shape"]):
        raise SpecError(f"an autoencoder must reconstruct its input: the decoder ends with shape "
                        f"{shape_text(steps[-1].out_shape)}, but the input has shape "
                        f"{shape_text(tuple(spec['input_shape']))}", section="decoder")


def validate_spec(spec: Any) -> dict:
    """Check a model spec and return a normalised deep copy with every default filled in.

    Raises SpecError (a ValueError) naming the layer and the problem; never anything else.
    A normalised spec is JSON-able and validates to itself.
    """
    if not isinstance(spec, dict):
        raise SpecError(f"a model spec must be an object with \"input_shape\" and \"layers\", got {value_and_kind(spec)}")
    for key in spec:
        if key not in _TOP_LEVEL_KEYS:
            raise SpecError(f"unknown top-level key {short_repr(key)}{suggest(key, _TOP_LEVEL_KEYS)}; "
                            f"a spec has: {', '.join(_TOP_LEVEL_KEYS)}")
    if "input_shape" not in spec:
        raise SpecError("missing \"input_shape\", e.g. [784] for flat MNIST or [1, 28, 28] for images",
                        field="input_shape")
    normalised: dict[str, Any] = {}
    if "name" in spec:
        if not isinstance(spec["name"], str):
            raise SpecError(f"name must be text, got {value_and_kind(spec['name'])}", field="name")
        normalised["name"] = spec["name"]
    normalised["input_shape"] = _check_input_shape(spec["input_shape"])
    for section in _check_sections(spec):
        normalised[section] = _check_layer_list(spec[section], section)
    _check_shapes(normalised)
    return normalised


def is_autoencoder(spec: dict) -> bool:
    """Whether a spec describes an encoder/decoder pair rather than a plain stack."""
    return isinstance(spec, dict) and "encoder" in spec


# ====================================================================== summaries
class SummaryRow(NamedTuple):
    """One line of a model summary."""

    index: int
    type: str
    settings: str
    output_shape: Shape
    params: int
    section: str = "layers"

    @property
    def name(self) -> str:
        """The module's name in the built model, as in `named_parameters()`: "3" or "encoder.3"."""
        return str(self.index) if self.section == "layers" else f"{self.section}.{self.index}"


class Summary(list):
    """The rows of a model summary (a plain list of SummaryRow) plus the model's totals."""

    def __init__(self, rows: list[SummaryRow], input_shape: Shape) -> None:
        super().__init__(rows)
        self.input_shape = input_shape
        self.output_shape = rows[-1].output_shape if rows else input_shape
        self.total_params = sum(row.params for row in rows)


def summarize(spec: dict) -> Summary:
    """Per layer: index, type, settings text, output shape of one sample and parameter count."""
    normalised = validate_spec(spec)
    rows = [SummaryRow(step.index, step.layer["type"], LAYER_TYPES[step.layer["type"]].settings(step.layer),
                       step.out_shape, step.params, step.section)
            for step in _walk(normalised)]
    return Summary(rows, tuple(normalised["input_shape"]))


# ====================================================================== building
class Autoencoder(Module):
    """An encoder that compresses the input to a code and a decoder that reconstructs it."""

    def __init__(self, encoder: Sequential, decoder: Sequential) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x):
        return self.decoder(self.encoder(x))

    def encode(self, x):
        """The code (bottleneck representation) of `x`."""
        return self.encoder(x)

    def decode(self, code):
        """A reconstruction from a code."""
        return self.decoder(code)


def _next_activation(layers: list[dict], index: int) -> str | None:
    """The activation applied to layer `index`'s output: the first one before the next weight layer.

    Dropout, batch norm, pooling and flatten do not change which initialiser suits a weight, so
    they are skipped; another weight layer (or the end of the model) means none follows.
    """
    for layer in layers[index + 1:]:
        category = LAYER_TYPES[layer["type"]].category
        if category == "activation":
            return layer["type"]
        if category == "weights":
            return None
    return None


def _pool_before_relu(layers: list[dict], modules: list[Module]) -> list[Module]:
    """One section's modules in the order they run fastest: a relu directly followed by a maxpool2d swapped.

    Max pooling then ReLU is exactly ReLU then max pooling, in values and in gradients, ties
    included: both pick the same window maximum; where it is <= 0 both give 0 and a zero gradient,
    else both route the gradient to the first maximum. Pooling first, the ReLU and its backward
    touch a quarter of the numbers (2x2 windows). Neither layer has parameters, so no parameter
    layer changes index: `named_parameters()` names, saves and `SummaryRow.name` still agree.
    (The summary describes the spec's order; the built `Sequential` lists the pair swapped, and
    runs its modules as listed.)
    """
    ordered = list(modules)
    i = 0
    while i + 1 < len(layers):
        if layers[i]["type"] == "relu" and layers[i + 1]["type"] == "maxpool2d":
            ordered[i], ordered[i + 1] = ordered[i + 1], ordered[i]
            i += 2
        else:
            i += 1
    return ordered


def build_model(spec: dict) -> Module:
    """Validate `spec` and build it: an `nn.Sequential`, or an `Autoencoder` for encoder/decoder specs.

    One pass changes the order, not the result: a relu followed by a maxpool2d is built as the
    pooling, then the relu (`_pool_before_relu`). The normalised spec is kept on the model as
    `model.spec` (for saving alongside the weights).
    """
    normalised = validate_spec(spec)
    steps = list(_walk(normalised))
    chain = [step.layer for step in steps]   # encoder and decoder as one chain: the code's activation counts
    modules: dict[str, list[Module]] = {section: [] for section in _sections_of(normalised)}
    for position, step in enumerate(steps):
        make = LAYER_TYPES[step.layer["type"]].make
        modules[step.section].append(make(step.layer, step.in_shape, _next_activation(chain, position)))
    built = {section: Sequential(*_pool_before_relu(normalised[section], found)) for section, found in modules.items()}
    model: Module = built["layers"] if "layers" in built else Autoencoder(built["encoder"], built["decoder"])
    model.spec = normalised
    return model


def count_parameters(spec: dict) -> int:
    """How many numbers a model built from `spec` learns, without building it."""
    return summarize(spec).total_params
