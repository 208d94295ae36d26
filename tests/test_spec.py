"""Model specs: validation, shapes and summaries, building, auto-initialisation and the presets."""

from __future__ import annotations

import copy
import json
import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nnstudio import saves
from nnstudio.engine import SpecError, Tensor, build_model, manual_seed, nn, summarize, validate_spec
from nnstudio.engine.fields import FieldError
from nnstudio.engine.layer_types import LAYER_TYPES, shape_text
from nnstudio.engine.presets import PRESETS, cnn, preset_spec
from nnstudio.engine.spec import Autoencoder, is_autoencoder, new_layer
from nnstudio.saves import SaveError, schema

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ACTIVATIONS = [name for name, t in LAYER_TYPES.items() if t.category == "activation"]
INITS = ["auto", "kaiming", "xavier", "lecun", "zeros"]


# ---------------------------------------------------------------------- strategies
def _activation_layer(draw) -> dict:
    name = draw(st.sampled_from(ACTIVATIONS))
    if name == "leaky_relu" and draw(st.booleans()):
        return {"type": name, "slope": draw(st.floats(0, 0.5))}
    return {"type": name}


def _dense_layer(draw) -> dict:
    kind = draw(st.sampled_from(["linear", "linear", "activation", "dropout", "batchnorm1d", "flatten"]))
    if kind == "linear":
        layer = {"type": "linear", "out": draw(st.integers(1, 12))}
        if draw(st.booleans()):
            layer["bias"] = draw(st.booleans())
        if draw(st.booleans()):
            layer["init"] = draw(st.sampled_from(INITS))
        return layer
    if kind == "activation":
        return _activation_layer(draw)
    if kind == "dropout":
        return {"type": "dropout", "p": draw(st.floats(0, 0.9))}
    return {"type": kind}


def _image_layer(draw, shape: tuple[int, int, int]) -> dict:
    _, h, w = shape
    kind = draw(st.sampled_from(["conv2d", "conv2d", "maxpool2d", "batchnorm2d", "activation", "dropout"]))
    if kind == "conv2d":
        padding = draw(st.integers(0, 2))
        return {"type": "conv2d", "out": draw(st.integers(1, 4)), "kernel": draw(st.integers(1, min(h, w) + 2 * padding)),
                "stride": draw(st.integers(1, 2)), "padding": padding}
    if kind == "maxpool2d":
        kernel = draw(st.integers(1, min(h, w, 3)))
        return {"type": "maxpool2d", "kernel": kernel, "stride": draw(st.one_of(st.none(), st.integers(1, 2))),
                "padding": draw(st.integers(0, kernel // 2))}
    if kind == "activation":
        return _activation_layer(draw)
    if kind == "dropout":
        return {"type": "dropout", "p": draw(st.floats(0, 0.9))}
    return {"type": kind}


@st.composite
def dense_specs(draw) -> dict:
    count = draw(st.integers(1, 8))
    return {"input_shape": [draw(st.integers(1, 20))], "layers": [_dense_layer(draw) for _ in range(count)]}


@st.composite
def image_specs(draw) -> dict:
    """Valid conv nets, built layer by layer while tracking the image shape so every layer fits."""
    input_shape = [draw(st.integers(1, 3)), draw(st.integers(3, 9)), draw(st.integers(3, 9))]
    spec = {"input_shape": input_shape, "layers": []}
    for _ in range(draw(st.integers(1, 5))):
        shape = summarize(spec).output_shape if spec["layers"] else tuple(input_shape)
        spec["layers"].append(_image_layer(draw, shape))
    if draw(st.booleans()):
        spec["layers"] += [{"type": "flatten"}] + [_dense_layer(draw) for _ in range(draw(st.integers(0, 3)))]
    return spec


any_specs = st.one_of(dense_specs(), image_specs())


def inputs(spec: dict, batch: int = 3) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((batch, *spec["input_shape"])).astype(np.float32)


def run(model, spec: dict, batch: int = 3) -> np.ndarray:
    return model(Tensor(inputs(spec, batch))).data


def in_spec_order(model: nn.Sequential, layers: list[dict]) -> list[nn.Module]:
    """The built modules in the order of the spec's layers: build_model's pool-before-relu swaps undone."""
    modules = list(model)
    for i, layer in enumerate(layers[:-1]):
        if layer["type"] == "relu" and isinstance(modules[i], nn.MaxPool2d):
            modules[i], modules[i + 1] = modules[i + 1], modules[i]
    return modules


# ---------------------------------------------------------------------- properties
@FAST
@given(any_specs)
@example({"input_shape": [2, 7, 7], "layers": [  # a relu before a max pooling, built pool first
    {"type": "conv2d", "out": 3, "kernel": 3, "padding": 1}, {"type": "relu"},
    {"type": "maxpool2d", "kernel": 3, "stride": 2, "padding": 1}, {"type": "flatten"}, {"type": "linear", "out": 4}]})
def test_random_valid_specs_build_models_that_match_their_summary(spec):
    summary = summarize(spec)
    model = build_model(spec).eval()  # dropout off: two passes compute the same
    assert model.num_parameters() == summary.total_params
    assert run(model, spec).shape == (3, *summary.output_shape)
    t, shapes = Tensor(inputs(spec)), []
    for module in in_spec_order(model, spec["layers"]):  # each layer's real output, as the summary says it
        t = module(t)
        shapes.append(t.shape[1:])
    assert shapes == [row.output_shape for row in summary]
    np.testing.assert_array_equal(run(model, spec), t.data)  # the order it is built in computes the same


@FAST
@given(any_specs)
def test_normalised_specs_round_trip_through_json(spec):
    normalised = validate_spec(spec)
    assert validate_spec(json.loads(json.dumps(normalised))) == normalised
    assert validate_spec(normalised) == normalised
    for layer in normalised["layers"]:  # every field is filled in, in the table's order
        assert list(layer) == ["type", *LAYER_TYPES[layer["type"]].field_names]


@FAST
@given(any_specs)
def test_validation_returns_a_copy_and_never_changes_its_input(spec):
    before = copy.deepcopy(spec)
    normalised = validate_spec(spec)
    normalised["layers"][0]["type"] = "changed"
    assert spec == before


def _wrong_values(field) -> list:
    """Values of the wrong JSON type for a field (an int is fine for a float field)."""
    candidates = {int: ["3", 2.5, True, [1], {"n": 1}], float: ["0.5", True, [0.1]],
                  bool: [1, 0, "true", 1.0], str: [1, True, ["auto"]]}[field.kind]
    return candidates + ([] if field.nullable else [None])


@st.composite
def corrupted_specs(draw):
    """A valid spec with one layer broken, and the layer's index and type."""
    spec = copy.deepcopy(draw(any_specs))
    index = draw(st.integers(0, len(spec["layers"]) - 1))
    layer = spec["layers"][index]
    fields = LAYER_TYPES[layer["type"]].fields
    sizes = [f for f in fields if f.kind is int and f.low == 1]
    corruption = draw(st.sampled_from(["unknown field", "wrong type", "bad size"]))
    if corruption == "wrong type" and fields:
        field = draw(st.sampled_from(fields))
        layer[field.name] = draw(st.sampled_from(_wrong_values(field)))
    elif corruption == "bad size" and sizes:
        layer[draw(st.sampled_from(sizes)).name] = draw(st.integers(-1000, 0))
    else:
        layer[draw(st.sampled_from(["size", "units", "activation", "kernel_size", "Out"]))] = 1
    return spec, index, layer["type"]


@FAST
@given(corrupted_specs())
def test_corrupted_specs_raise_spec_error_naming_the_layer(case):
    spec, index, type_name = case
    with pytest.raises(SpecError, match=rf"^layer {index} \({type_name}\): ") as error:
        validate_spec(spec)
    assert (error.value.index, error.value.layer_type, error.value.section) == (index, type_name, "layers")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.sampled_from([10**40, -10**40, 2**63]) | st.floats()
    | st.text(max_size=8) | st.sampled_from(list(LAYER_TYPES) + ['out', 'kernel', 'p', 'type']),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(json_values, st.sampled_from(["spec", "layers", "layer"]))
def test_arbitrary_data_is_either_valid_or_a_spec_error(value, where):
    spec = {"spec": value, "layers": {"input_shape": [4], "layers": value},
            "layer": {"input_shape": [4], "layers": [{"type": "relu"}, value]}}[where]
    try:
        validate_spec(spec)
    except SpecError:
        pass


# ---------------------------------------------------------------------- error messages
FLAT = [784]
IMAGE = [1, 28, 28]


#: (an invalid spec, a pattern its SpecError's message matches): every way a spec can be invalid
INVALID_SPECS = [
    ({"input_shape": FLAT, "layers": [{"type": "relu"}, {"type": "dense", "out": 3}]},
     r"^layer 1: unknown layer type 'dense'.*known types: linear, conv2d"),
    ({"input_shape": FLAT, "layers": [{"type": "Linear", "out": 3}]}, r"did you mean 'linear'"),
    ({"input_shape": FLAT, "layers": [{"type": "linear", "out": 3, "units": 4}]},
     r"^layer 0 \(linear\): unknown field 'units'.*accepts: out, bias, init"),
    ({"input_shape": FLAT, "layers": [{"type": "linear"}]}, r"^layer 0 \(linear\): missing required field 'out'"),
    ({"input_shape": FLAT, "layers": [{"type": "linear", "out": True}]}, r"out must be a whole number >= 1, got true \(a yes/no value\)"),
    ({"input_shape": FLAT, "layers": [{"type": "linear", "out": 12.0}]}, r"out must be a whole number"),
    ({"input_shape": FLAT, "layers": [{"type": "linear", "out": "12"}]}, r"out must be a whole number"),
    ({"input_shape": FLAT, "layers": [{"type": "linear", "out": 0}]}, r"^layer 0 \(linear\): out must be a whole number >= 1, got 0"),
    ({"input_shape": FLAT, "layers": [{"type": "linear", "out": 4, "bias": 1}]}, r"bias must be true or false"),
    ({"input_shape": FLAT, "layers": [{"type": "linear", "out": 4, "init": "he"}]}, r"init must be one of auto"),
    ({"input_shape": FLAT, "layers": [{"type": "dropout", "p": 1.0}]}, r"^layer 0 \(dropout\): p must be a number >= 0 and < 1, got 1.0"),
    ({"input_shape": FLAT, "layers": [{"type": "dropout", "p": -0.1}]}, r"p must be a number >= 0 and < 1, got -0.1"),
    ({"input_shape": FLAT, "layers": [{"type": "dropout", "p": float("nan")}]}, r"p must be a number >= 0 and < 1, got nan \(it must be a finite number\)"),
    ({"input_shape": FLAT, "layers": [{"type": "leaky_relu", "slope": float("inf")}]}, r"finite"),
    ({"input_shape": FLAT, "layers": [{"type": "conv2d", "out": 4, "kernel": 3}]},
     r"^layer 0 \(conv2d\): conv2d needs an image input"),
    ({"input_shape": IMAGE, "layers": [{"type": "linear", "out": 10}]},
     r"^layer 0 \(linear\): linear needs a flat input.*1x28x28; add a flatten layer"),
    ({"input_shape": [1, 4, 4], "layers": [{"type": "conv2d", "out": 2, "kernel": 7, "padding": 1}]},
     r"kernel 7x7 is larger than its input 4x4 \(padded by 1\)"),
    ({"input_shape": [1, 4, 4], "layers": [{"type": "maxpool2d", "kernel": 2}, {"type": "maxpool2d", "kernel": 2},
                                           {"type": "maxpool2d", "kernel": 2}]}, r"^layer 2 \(maxpool2d\): kernel 2x2"),
    ({"input_shape": [1, 8, 8], "layers": [{"type": "maxpool2d", "kernel": 2, "padding": 2}]},
     r"padding 2 must be at most half the kernel"),
    ({"input_shape": FLAT, "layers": [{"type": "batchnorm2d"}]}, r"^layer 0 \(batchnorm2d\): batchnorm2d normalises"),
    ({"input_shape": IMAGE, "layers": [{"type": "batchnorm1d"}]}, r"batchnorm1d needs a flat input"),
    ({"input_shape": FLAT, "layers": []}, r"'layers' is empty"),
    ({"input_shape": FLAT, "layers": {"type": "relu"}}, r"'layers' must be a list"),
    ({"input_shape": FLAT, "layers": ["relu"]}, r"^layer 0: expected a layer object"),
    ({"input_shape": FLAT, "layers": [{"out": 3}]}, r"^layer 0: missing \"type\""),
    ({"input_shape": FLAT, "layers": [{"type": 7}]}, r"^layer 0: unknown layer type 7"),
    ({"input_shape": [28, 28], "layers": [{"type": "relu"}]}, r"input_shape must be \[features\]"),
    ({"input_shape": [0], "layers": [{"type": "relu"}]}, r"input_shape must be"),
    ({"input_shape": [True], "layers": [{"type": "relu"}]}, r"input_shape must be"),
    ({"input_shape": "784", "layers": [{"type": "relu"}]}, r"input_shape must be"),
    ({"layers": [{"type": "relu"}]}, r"missing \"input_shape\""),
    ({"input_shape": FLAT}, r"needs a \"layers\" list"),
    ({"input_shape": FLAT, "layers": [{"type": "relu"}], "optimizer": "sgd"}, r"unknown top-level key 'optimizer'"),
    ([{"type": "relu"}], r"a model spec must be an object"),
    ({"input_shape": FLAT, "layers": [{"type": "linear", "out": 10 ** 7}]}, r"limit"),
    ({"input_shape": FLAT, "encoder": [{"type": "linear", "out": 8}]}, r"'decoder' is missing"),
    ({"input_shape": FLAT, "encoder": [{"type": "linear", "out": 8}], "decoder": [{"type": "linear", "out": 10}]},
     r"must reconstruct its input: the decoder ends with shape 10, but the input has shape 784"),
    ({"input_shape": FLAT, "encoder": [{"type": "linear", "out": 8}], "decoder": [{"type": "tanh"}, {"type": "conv2d"}]},
     r"^decoder layer 1 \(conv2d\): missing required field 'out'"),
]


@pytest.mark.parametrize("spec, expected", INVALID_SPECS)
def test_invalid_specs_get_a_clear_message(spec, expected):
    with pytest.raises(SpecError, match=expected):
        validate_spec(spec)


@pytest.mark.parametrize("layer", [{"type": "linear", "out": -10 ** 5000}, {"type": "dropout", "p": 10 ** 5000},
                                   {"type": "linear", "out": 3, 10 ** 5000: 1}, {"type": 10 ** 5000}])
def test_integers_too_long_to_print_still_give_a_spec_error(layer):
    with pytest.raises(SpecError, match="^layer 0"):
        validate_spec({"input_shape": [4], "layers": [layer]})
    with pytest.raises(SpecError, match="input_shape"):
        validate_spec({"input_shape": [10 ** 5000], "layers": [{"type": "relu"}]})


#: "layer 2 (maxpool2d): ...", "decoder layer 1 (conv2d): ...", "layer 1: ..." (the type unknown)
WHERE = re.compile(r"^(?:(encoder|decoder) )?layer (\d+)(?: \((\w+)\))?: ")
#: what a message says first when it is about one field: "out must be ...", "missing required field 'out'"
NAMED_FIELD = re.compile(r"^(?:missing required field '(\w+)'|unknown field '(\w+)'|(\w+) must be )")


@pytest.mark.parametrize("spec, expected", INVALID_SPECS)
def test_every_invalid_spec_is_a_value_error_whose_attributes_say_where(spec, expected):
    """A SpecError is a ValueError, so code that guards a spec with `except ValueError` catches every way
    a spec can be invalid; and its attributes name the entry its message names (a form highlights it)."""
    with pytest.raises(ValueError) as caught:
        validate_spec(spec)
    error = caught.value
    assert type(error) is SpecError
    message = str(error)
    if (where := WHERE.match(message)) is not None:
        section, index, layer_type = where.groups()
        assert (error.section, error.index, error.layer_type) == (section or "layers", int(index), layer_type)
        message = message[where.end():]
    else:
        assert error.index is None and error.layer_type is None
        assert error.section is None or error.section in message
    if (named := NAMED_FIELD.match(message)) is not None:
        assert error.field == next(name for name in named.groups() if name)
    if error.field is not None:
        assert re.search(rf"\b{error.field}\b", message), (error.field, message)


@pytest.mark.parametrize("spec, expected", INVALID_SPECS)
def test_a_save_with_an_invalid_spec_is_refused_with_the_engine_s_message(spec, expected, tmp_path):
    """The save reader relies on it: it checks a save's spec under `except ValueError`, so every invalid
    spec becomes a SaveError quoting the engine's message, never an unexpected exception."""
    path = tmp_path / "model.safetensors"
    saves.save_model(path, build_model({"input_shape": [4], "layers": [{"type": "linear", "out": 2}]}))
    document = saves.read_metadata(path).to_document()
    document["model"]["spec"] = copy.deepcopy(spec)
    with pytest.raises(SaveError, match=r"^metadata model\.spec is not a valid model spec: ") as caught:
        schema.validate(document)
    assert re.search(expected, str(caught.value).split("not a valid model spec: ", 1)[1])


# ---------------------------------------------------------------------- the layer table
def test_every_layer_type_is_described_for_a_form():
    for name, layer_type in LAYER_TYPES.items():
        assert layer_type.description and layer_type.category
        for field in layer_type.fields:
            assert field.description and field.constraint
            assert field.required == (field.example is not None)
            if not field.required:  # defaults pass their own checks
                assert field.check(field.default) == field.default


@pytest.mark.parametrize("type_name", list(LAYER_TYPES))
def test_new_layer_gives_a_valid_layer_of_each_type(type_name):
    input_shape = [64] if type_name in ("linear", "batchnorm1d") else [3, 8, 8]
    spec = {"input_shape": input_shape, "layers": [new_layer(type_name)]}
    assert build_model(spec).num_parameters() == summarize(spec).total_params


def test_field_parse_turns_form_text_into_checked_values():
    conv = LAYER_TYPES["conv2d"]
    assert conv.field("out").parse(" 16 ") == 16
    assert conv.field("bias").parse("false") is False
    assert LAYER_TYPES["maxpool2d"].field("stride").parse("") is None
    assert LAYER_TYPES["dropout"].field("p").parse("0.25") == 0.25
    with pytest.raises(FieldError, match="^out must be a whole number >= 1, got 'sixteen'$"):
        conv.field("out").parse("sixteen")
    with pytest.raises(FieldError, match=">= 1, got '-3'"):
        conv.field("out").parse("-3")


# ---------------------------------------------------------------------- summaries
def test_summary_rows_for_the_cnn():
    summary = summarize(cnn(hidden=(), dropout=0))   # the benchmark CNN
    assert [row.type for row in summary] == ["conv2d", "relu", "maxpool2d", "conv2d", "relu", "maxpool2d",
                                             "flatten", "linear"]
    assert summary[0].settings == "16, 3x3, pad 1"
    assert summary[0].output_shape == (16, 28, 28) and summary[5].output_shape == (32, 7, 7)
    assert summary[6].output_shape == (1568,) and summary[7].settings == "out=10"
    assert shape_text(summary[0].output_shape) == "16x28x28" and summary.input_shape == (1, 28, 28)
    assert [row.params for row in summary] == [160, 0, 0, 4640, 0, 0, 0, 15_690]
    assert summary.total_params == 20_490 == build_model(cnn(hidden=(), dropout=0)).num_parameters()
    assert [row.name for row in summary] == [str(i) for i in range(8)]


def test_summary_settings_show_non_defaults():
    rows = summarize({"input_shape": [2, 9, 9], "layers": [
        {"type": "conv2d", "out": 4, "kernel": 3, "stride": 2, "bias": False, "init": "xavier"},
        {"type": "maxpool2d", "kernel": 2, "stride": 1}, {"type": "flatten"}, {"type": "dropout", "p": 0.25},
        {"type": "leaky_relu", "slope": 0.2}]})
    assert [r.settings for r in rows] == ["4, 3x3, stride 2, no bias, init=xavier", "2x2, stride 1", "", "p=0.25",
                                          "slope=0.2"]
    assert rows[0].params == 4 * 2 * 9 and rows[1].output_shape == (4, 3, 3)


# ---------------------------------------------------------------------- building and auto-initialisation
def _weight_std(spec: dict, index: int = 0) -> float:
    manual_seed(0)
    return float(build_model(spec)[index].weight.data.std())


@pytest.mark.parametrize("after, expected_std", [
    ([{"type": "relu"}], math.sqrt(2 / 400)),                               # Kaiming: sqrt(2 / fan_in)
    ([{"type": "dropout"}, {"type": "relu"}], math.sqrt(2 / 400)),          # dropout is skipped
    ([{"type": "tanh"}], 5 / 3 * math.sqrt(2 / (400 + 1600))),             # Xavier with tanh's gain
    ([{"type": "dropout", "p": 0.1}, {"type": "tanh"}], 5 / 3 * math.sqrt(2 / 2000)),
    ([], 1 / math.sqrt(400)),                                               # output layer: LeCun
    ([{"type": "linear", "out": 2}, {"type": "relu"}], 1 / math.sqrt(400)),  # the next weight layer stops the search
])
def test_auto_init_follows_the_next_activation(after, expected_std):
    spec = {"input_shape": [400], "layers": [{"type": "linear", "out": 1600}, *after]}
    assert _weight_std(spec) == pytest.approx(expected_std, rel=0.02)


def test_auto_init_skips_batchnorm_and_explicit_init_wins():
    spec = {"input_shape": [400], "layers": [{"type": "linear", "out": 1600}, {"type": "batchnorm1d"},
                                             {"type": "tanh"}]}
    assert _weight_std(spec) == pytest.approx(5 / 3 * math.sqrt(2 / 2000), rel=0.02)
    spec["layers"][0]["init"] = "kaiming"
    assert _weight_std(spec) == pytest.approx(math.sqrt(2 / 400), rel=0.02)
    spec["layers"][0]["init"] = "zeros"
    assert _weight_std(spec) == 0


def test_auto_init_of_conv_layers():
    spec = {"input_shape": [64, 12, 12], "layers": [{"type": "conv2d", "out": 128, "kernel": 3},
                                                    {"type": "maxpool2d", "kernel": 2}, {"type": "relu"}]}
    assert _weight_std(spec) == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.02)


def test_built_model_layers_and_spec():
    spec = preset_spec("mlp")
    model = build_model(spec)
    assert isinstance(model, nn.Sequential) and len(model) == 7
    assert isinstance(model[0], nn.Linear) and isinstance(model[1], nn.ReLU) and isinstance(model[2], nn.Dropout)
    assert model.spec == validate_spec(spec)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "3.weight", "3.bias",
                                                              "6.weight", "6.bias"]


def test_a_relu_before_max_pooling_is_built_pool_first():
    """build_model's one reordering: values and gradients exactly those of the spec's order, every
    parameter layer at its index (named_parameters() and the summary's names agree)."""
    spec = cnn(hidden=(), dropout=0)
    manual_seed(0)
    model = build_model(spec)
    assert [type(m).__name__ for m in model] == ["Conv2d", "MaxPool2d", "ReLU", "Conv2d", "MaxPool2d", "ReLU",
                                                 "Flatten", "Linear"]
    assert [name for name, _ in model.named_parameters()] == [f"{row.name}.{p}" for row in summarize(spec)
                                                              if row.params for p in ("weight", "bias")]
    as_written = nn.Sequential(*(model[i] for i in (0, 2, 1, 3, 5, 4, 6, 7)))  # the same modules in spec order
    x = inputs(spec, 4)
    upstream = np.random.default_rng(1).standard_normal((4, 10)).astype(np.float32)

    def outputs_and_gradients(sequence):
        sequence.zero_grad()
        out = sequence(Tensor(x))
        out.backward(upstream)
        return [out.data] + [p.grad for p in model.parameters()]

    for built, written in zip(outputs_and_gradients(model), outputs_and_gradients(as_written)):
        np.testing.assert_array_equal(built, written)


@pytest.mark.parametrize("layers, order", [
    (["leaky_relu", "maxpool2d"], ["LeakyReLU", "MaxPool2d"]),  # a slope can round distinct values into ties
    (["maxpool2d", "relu"], ["MaxPool2d", "ReLU"]),
    (["relu", "relu", "maxpool2d", "relu"], ["ReLU", "MaxPool2d", "ReLU", "ReLU"]),
    (["relu", "maxpool2d", "maxpool2d"], ["MaxPool2d", "ReLU", "MaxPool2d"]),
    (["relu", "dropout", "maxpool2d"], ["ReLU", "Dropout", "MaxPool2d"]),
])
def test_only_a_relu_directly_before_max_pooling_moves(layers, order):
    spec = {"input_shape": [1, 8, 8], "layers": [{"type": t, **({"kernel": 2} if t == "maxpool2d" else {})}
                                                 for t in layers]}
    assert [type(m).__name__ for m in build_model(spec)] == order


def test_autoencoder_spec_builds_an_autoencoder():
    spec = preset_spec("autoencoder")
    assert is_autoencoder(spec) and not is_autoencoder(preset_spec("mlp"))
    model = build_model(spec)
    assert isinstance(model, Autoencoder)
    assert isinstance(model.encoder, nn.Sequential) and isinstance(model.decoder, nn.Sequential)
    x = Tensor(np.random.default_rng(0).random((5, 784), dtype=np.float32))
    assert model.encode(x).shape == (5, 32)
    out = model(x).data
    assert out.shape == (5, 784) and np.all((out > 0) & (out < 1))
    rows = summarize(spec)
    assert rows[0].name == "encoder.0" and rows[-1].name == "decoder.3"
    assert {name.rsplit(".", 1)[0] for name, _ in model.named_parameters()} == {
        row.name for row in rows if row.params}
    assert model.num_parameters() == rows.total_params


# ---------------------------------------------------------------------- presets
CLASSES = {"logreg": 10, "mlp": 10, "deep-mlp": 10, "cnn": 10, "autoencoder": 784}


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_builds_and_runs(name):
    assert PRESETS[name].description
    spec = preset_spec(name)
    model = build_model(spec)
    out = run(model, spec, batch=4)
    assert out.shape == (4, CLASSES[name]) and np.all(np.isfinite(out))
    assert model.num_parameters() == summarize(spec).total_params
    assert validate_spec(json.loads(json.dumps(spec))) == spec


def test_cnn_preset_is_the_course_cnn_with_a_small_hidden_layer_and_dropout():
    convs = 16 * 9 + 16 + 32 * 16 * 9 + 32
    assert build_model(preset_spec("cnn")).num_parameters() == convs + 1568 * 64 + 64 + 64 * 10 + 10
    assert [layer["type"] for layer in preset_spec("cnn")["layers"][-5:]] == ["flatten", "linear", "relu", "dropout",
                                                                              "linear"]
    assert build_model(preset_spec("cnn", hidden=(), dropout=0)).num_parameters() == convs + 1568 * 10 + 10


def test_mlp_preset_is_the_benchmark_mlp_with_dropout():
    spec = preset_spec("mlp")
    assert [layer.get("out") or layer.get("p") for layer in spec["layers"]] == [128, None, 0.2, 64, None, 0.2, 10]
    assert summarize(spec).total_params == 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10
    assert [layer["type"] for layer in preset_spec("mlp", dropout=0)["layers"]] == ["linear", "relu", "linear",
                                                                                     "relu", "linear"]


def test_preset_overrides():
    spec = preset_spec("mlp", input_shape=(1, 28, 28), hidden=(32,), activation="tanh", dropout=0.3, classes=3)
    assert [layer["type"] for layer in spec["layers"]] == ["flatten", "linear", "tanh", "dropout", "linear"]
    assert summarize(spec).output_shape == (3,)
    assert summarize(preset_spec("cnn", input_shape=(3, 32, 32)))[6].output_shape == (32 * 8 * 8,)
    assert summarize(preset_spec("logreg", input_shape=(1, 28, 28)))[-1].output_shape == (10,)


@pytest.mark.parametrize("call, message", [
    (lambda: preset_spec("resnet"), r"unknown preset 'resnet'; choose one of: logreg, mlp"),
    (lambda: preset_spec("mpl"), r"did you mean 'mlp'"),
    (lambda: preset_spec("mlp", hiden=(3,)), r"preset 'mlp' has no setting 'hiden' \(did you mean 'hidden'\?\)"),
    (lambda: preset_spec("mlp", activation="swish"), r"activation must be one of relu"),
    (lambda: preset_spec("mlp", hidden="128"), r"hidden must be a list of layer sizes"),
    (lambda: preset_spec("mlp", hidden=(128, -4)), r"layer 3 \(linear\): out must be a whole number >= 1, got -4"),
    (lambda: preset_spec("mlp", dropout=1.5), r"p must be a number >= 0 and < 1, got 1.5"),
    (lambda: preset_spec("autoencoder", input_shape=(1, 28, 28)), r"reconstructs flat inputs"),
])
def test_preset_errors_are_value_errors_with_clear_messages(call, message):
    with pytest.raises(ValueError, match=message):
        call()
