"""Model specs: a model described as plain JSON-able data, and the one function that builds it.

    {"input_shape": [784], "layers": [{"type": "linear", "out": 128}, {"type": "relu"},
                                      {"type": "linear", "out": 10}]}

    {"input_shape": [784], "encoder": [...], "decoder": [...]}      # an autoencoder

The model builder pane, the save format and config files all read and write this one format.
Every layer type and its fields live in one table, `engine.layer_types.LAYER_TYPES`: a form can
be generated from it, and `validate_spec` checks specs against the same table, so the two never
disagree.

    validate_spec(spec) -> normalised copy (defaults filled in) or SpecError naming the layer
    summarize(spec)     -> per-layer rows (output shape, parameters), like Keras' summary()
    build_model(spec)   -> nn.Sequential, or Autoencoder for encoder/decoder specs (a relu followed
                           by a maxpool2d is built pool first: the same result, computed faster)
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterator, NamedTuple

import numpy as np

from .fields import FieldError, short_repr, suggest, value_and_kind
from .layer_types import LARGEST_SIZE, LAYER_TYPES, LayerType, Shape, ShapeProblem, shape_text
from .nn.module import Module, Sequential

#: a model bigger than this would not train in NumPy anyway; refusing it early keeps a typo
#: such as out=1280000 from freezing the studio while it allocates gigabytes
MAX_PARAMETERS = 100_000_000
#: the same guard for the values one sample produces at any layer (e.g. a huge padding)
MAX_VALUES_PER_SAMPLE = 20_000_000

_SECTIONS = ("layers", "encoder", "decoder")
_TOP_LEVEL_KEYS = ("name", "input_shape") + _SECTIONS


class SpecError(ValueError):
    """A model spec is invalid; the message names the layer and the problem.

    `section` ("layers", "encoder" or "decoder"), `index`, `layer_type` and `field` are
    also attributes, so a form can highlight the offending entry.
    """

    def __init__(self, message: str, *, section: str | None = None, index: int | None = None,
                 layer_type: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.section, self.index, self.layer_type, self.field = section, index, layer_type, field


# ====================================================================== layers by type name
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
            except ShapeProblem as problem:
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
