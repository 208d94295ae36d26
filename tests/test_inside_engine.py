"""The engine's look inside a network (engine/inside), its model gradient check (gradcheck.check_model),
the distributions an epoch records, and a session's copy of its model taken at a batch boundary."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nnstudio.datasets import BatchIterator
from nnstudio.datasets.embedded import load_embedded
from nnstudio.engine import Tensor, build_model, events, manual_seed, nn
from nnstudio.engine import trainer as trainer_module
from nnstudio.engine.gradcheck import MODEL_TOLERANCE, check_model, layer_errors
from nnstudio.engine.inside import (QUANTILES, dead_fraction, histogram, layer_distributions, quantiles,
                                    saturated_fraction, trace)
from nnstudio.engine.optim import SGD
from nnstudio.engine.presets import preset_spec
from nnstudio.engine.trainer import Trainer

KINDS = {"weight", "bias", "activation", "gradient", "dead", "saturated"}


def preset(name: str, seed: int = 0, **overrides):
    manual_seed(seed)
    return build_model(preset_spec(name, **overrides))


def digits(n: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The first `n` real digits of the embedded MNIST subset, scaled to [0, 1] (their background is exactly 0)."""
    arrays = load_embedded()
    return (arrays["x_train"][:n] / 255.0).astype(np.float32), arrays["y_train"][:n].astype(np.int64)


def relu(a):
    return np.maximum(a, 0)


def dense(a, layer):
    return a @ layer.weight.data.T + (0 if layer.bias is None else layer.bias.data)


def set_batch_norm(bn, rng) -> None:
    """Running statistics and an affine map far from the identity, so that the eval-mode batch norm shows."""
    bn.running_mean = rng.normal(0, 0.5, bn.num_features).astype(np.float32)
    bn.running_var = rng.uniform(0.5, 2.0, bn.num_features).astype(np.float32)
    bn.weight.data[...] = rng.uniform(0.5, 1.5, bn.num_features)
    bn.bias.data[...] = rng.normal(0, 0.5, bn.num_features)


# ====================================================================== trace
def test_trace_of_the_mlp_gives_each_linear_layer_its_output_and_relu_in_order(rng):
    model = preset("mlp")
    x = rng.random((5, 784)).astype(np.float32)
    layers = trace(model, x)
    assert [(t.name, t.kind, t.activation) for t in layers] == [
        ("0", "linear", "relu"), ("3", "linear", "relu"), ("6", "linear", None)]
    assert [t.units for t in layers] == [128, 64, 10]
    m = model._modules
    h0 = dense(x, m["0"])
    h3 = dense(relu(h0), m["3"])   # dropout is off: the trace runs in evaluation mode
    h6 = dense(relu(h3), m["6"])
    for layer, output in zip(layers, (h0, h3, h6)):
        np.testing.assert_allclose(layer.output, output, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layers[0].activated, relu(h0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layers[1].activated, relu(h3), rtol=1e-5, atol=1e-5)
    assert layers[2].activated is layers[2].output   # no activation follows the last layer
    assert layers[0].module is m["0"]


def test_trace_of_the_cnn_follows_the_pooling_built_before_the_relu(rng):
    model = preset("cnn")
    x = rng.random((2, 1, 28, 28)).astype(np.float32)
    layers = trace(model, x)
    assert [(t.name, t.kind, t.activation, t.units) for t in layers] == [
        ("0", "conv2d", "relu", 16), ("3", "conv2d", "relu", 32),
        ("7", "linear", "relu", 64), ("10", "linear", None, 10)]
    assert layers[0].output.shape == (2, 16, 28, 28) and layers[1].output.shape == (2, 32, 14, 14)
    for layer in layers[:2]:   # the activation seen after a convolution is relu(maxpool(conv))
        n, c, h, w = layer.output.shape
        pooled = layer.output.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))
        np.testing.assert_array_equal(layer.activated, relu(pooled))
    np.testing.assert_allclose(layers[2].output, dense(layers[1].activated.reshape(2, -1), model._modules["7"]),
                               rtol=1e-5, atol=1e-5)
    model.eval()
    np.testing.assert_allclose(layers[-1].activated, model(Tensor(x)).data, rtol=1e-6)


def test_trace_of_the_autoencoder_goes_through_encoder_then_decoder(rng):
    model = preset("autoencoder")
    x = rng.random((3, 784)).astype(np.float32)
    layers = trace(model, x)
    assert [(t.name, t.activation, t.units) for t in layers] == [
        ("encoder.0", "relu", 128), ("encoder.2", None, 32), ("decoder.0", "relu", 128), ("decoder.2", "sigmoid", 784)]
    code = model.encoder(Tensor(x)).data
    np.testing.assert_allclose(layers[1].output, code, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layers[2].output, dense(code, model.decoder._modules["0"]), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layers[-1].activated, model(Tensor(x)).data, rtol=1e-6)
    assert ((layers[-1].activated > 0) & (layers[-1].activated < 1)).all()


def test_trace_of_the_deep_mlp_takes_the_relu_after_the_batch_norm(rng):
    model = preset("deep-mlp", hidden=(16, 8))
    m = model._modules
    assert [type(m[k]).__name__ for k in ("0", "1", "2")] == ["Linear", "BatchNorm1d", "ReLU"]
    for key in ("1", "5"):
        set_batch_norm(m[key], rng)
    x = rng.random((6, 784)).astype(np.float32)
    layers = trace(model, x)
    assert [(t.name, t.activation) for t in layers] == [("0", "relu"), ("4", "relu"), ("8", None)]

    def normalised(a, bn):   # evaluation mode: the running statistics
        return (a - bn.running_mean) / np.sqrt(bn.running_var + bn.eps) * bn.weight.data + bn.bias.data

    h0 = dense(x, m["0"])
    np.testing.assert_allclose(layers[0].output, h0, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layers[0].activated, relu(normalised(h0, m["1"])), rtol=1e-4, atol=1e-5)
    h4 = dense(layers[0].activated, m["4"])
    np.testing.assert_allclose(layers[1].output, h4, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layers[1].activated, relu(normalised(h4, m["5"])), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("training", [True, False])
def test_trace_runs_in_evaluation_mode_and_gives_the_mode_back(rng, training):
    model = preset("deep-mlp", hidden=(16,))
    model.train(training)
    before = {name: value.copy() for name, value in model.state_dict().items()}
    x = rng.random((4, 784)).astype(np.float32)
    layers = trace(model, x)
    assert all(module.training is training for module in model.modules())
    for name, value in model.state_dict().items():   # batch norm's running statistics did not move either
        np.testing.assert_array_equal(value, before[name], err_msg=name)
    model.eval()
    np.testing.assert_array_equal(layers[-1].output, model(Tensor(x)).data)   # dropout was off
    assert all(p.grad is None for p in model.parameters())   # nothing was recorded to differentiate


# ====================================================================== dead and saturated units
def one_layer(activation: nn.Module, bias, inputs=8, weight_scale=0.1, seed=0):
    """A Linear(inputs, len(bias)) + activation, its biases set, traced on a batch of 32."""
    manual_seed(seed)
    layer = nn.Linear(inputs, len(bias))
    layer.weight.data[...] *= weight_scale
    layer.bias.data[...] = bias
    x = np.random.default_rng(seed).normal(size=(32, inputs)).astype(np.float32)
    return trace(nn.Sequential(layer, activation), x)[0]


def test_a_relu_layer_with_biases_forced_negative_is_all_dead():
    assert dead_fraction(one_layer(nn.ReLU(), [-100.0] * 6)) == 1.0
    assert dead_fraction(one_layer(nn.ReLU(), [100.0] * 6)) == 0.0
    assert dead_fraction(one_layer(nn.ReLU(), [-100.0] * 3 + [100.0] * 3)) == 0.5
    assert dead_fraction(one_layer(nn.ReLU(), [-100.0] + [100.0] * 3)) == 0.25


def test_a_unit_active_on_a_single_example_is_not_dead():
    traced = one_layer(nn.ReLU(), [0.0, -100.0], inputs=1, weight_scale=0.0)
    traced.module.weight.data[...] = [[1.0], [0.0]]
    x = np.array([[-1.0]] * 31 + [[2.0]], np.float32)   # unit 0 fires on the last example only
    layer = trace(nn.Sequential(traced.module, nn.ReLU()), x)[0]
    assert dead_fraction(layer) == 0.5


def test_dead_units_of_a_convolution_are_its_channels(rng):
    manual_seed(0)
    conv = nn.Conv2d(1, 4, 3, padding=1)
    conv.bias.data[...] = [-100.0, 100.0, -100.0, -100.0]
    layer = trace(nn.Sequential(conv, nn.ReLU()), rng.random((2, 1, 6, 6)).astype(np.float32))[0]
    assert layer.kind == "conv2d" and layer.units == 4
    assert dead_fraction(layer) == 0.75


def test_dead_and_saturated_apply_only_to_their_activations():
    tanh = one_layer(nn.Tanh(), [0.0] * 4)
    relu_layer = one_layer(nn.ReLU(), [0.0] * 4)
    assert dead_fraction(tanh) is None and saturated_fraction(relu_layer) is None
    plain = trace(nn.Sequential(nn.Linear(3, 2)), np.ones((2, 3), np.float32))[0]
    assert plain.activation is None and dead_fraction(plain) is None and saturated_fraction(plain) is None


@pytest.mark.parametrize("activation", [nn.Tanh, nn.Sigmoid])
def test_huge_biases_saturate_tanh_and_sigmoid_units(activation):
    assert saturated_fraction(one_layer(activation(), [50.0, -50.0, 80.0, -80.0])) == 1.0
    assert saturated_fraction(one_layer(activation(), [0.0] * 4)) == 0.0   # small inputs: the steep middle
    assert saturated_fraction(one_layer(activation(), [50.0, -50.0, 0.0, 0.0])) == 0.5


# ====================================================================== quantiles and histograms
finite32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
any32 = st.floats(width=32)
bounded64 = st.floats(min_value=-1e300, max_value=1e300)   # an overflowing max - min is out of scope
arrays = st.one_of(
    hnp.arrays(np.float32, hnp.array_shapes(max_dims=3, max_side=6), elements=any32),
    hnp.arrays(np.float64, hnp.array_shapes(max_dims=2, max_side=8),
               elements=st.one_of(bounded64, st.sampled_from([np.nan, np.inf, -np.inf]))),
    hnp.arrays(np.float32, st.just((1,)), elements=finite32),
)


@settings(max_examples=300, deadline=None)
@given(arrays)
def test_quantiles_are_numpy_s_percentiles_of_the_finite_values(values):
    finite = values[np.isfinite(values)].astype(np.float64)
    got = quantiles(values)
    if not finite.size:
        assert got == []
        return
    expected = np.percentile(finite, QUANTILES)
    scale = float(np.abs(finite).max())
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12 * scale)
    assert all(isinstance(q, float) for q in got) and len(got) == len(QUANTILES)


def test_the_quantiles_of_one_value_are_that_value():
    assert quantiles(np.array([[2.5]], np.float32)) == [2.5] * len(QUANTILES)
    assert quantiles(np.array([np.nan, 3.0, np.inf])) == [3.0] * len(QUANTILES)
    assert quantiles(np.array([np.nan, -np.inf])) == [] == quantiles(np.zeros((0, 3)))


@settings(max_examples=300, deadline=None)
@given(arrays, st.integers(1, 40))
def test_a_histogram_counts_every_finite_value_once(values, bins):
    result = histogram(values, bins)
    assert len(result["counts"]) == bins and len(result["edges"]) == bins + 1
    assert sum(result["counts"]) == int(np.isfinite(values).sum())
    edges = np.array(result["edges"])
    assert np.isfinite(edges).all() and (np.diff(edges) > 0).all()
    json.dumps(result, allow_nan=False)


def test_a_histogram_over_a_given_span_counts_what_falls_in_it():
    values = np.array([-5.0, 0.1, 0.2, 0.9, 1.0, 7.0, np.nan])
    result = histogram(values, 2, span=(0.0, 1.0))
    assert result["edges"] == [0.0, 0.5, 1.0] and result["counts"] == [2, 2]
    equal = histogram(np.full(5, 3.0), 4)
    assert equal["edges"][0] < 3.0 < equal["edges"][-1] and sum(equal["counts"]) == 5


def test_a_histogram_of_values_too_close_to_split_still_counts_them():
    close = np.array([1.0, np.nextafter(1.0, 2.0), 1.0])
    assert sum(histogram(close, 20)["counts"]) == 3


# ====================================================================== one epoch's record
def test_layer_distributions_record_every_kind_for_every_weight_layer(rng):
    model = preset("mlp", hidden=(12, 8), dropout=0)
    x = rng.random((16, 784)).astype(np.float32)
    fresh = layer_distributions(model, x)
    assert list(fresh) == ["0", "2", "4"]
    assert all("gradient" not in entry for entry in fresh.values())   # no backward pass yet
    nn.CrossEntropyLoss()(model(Tensor(x)), rng.integers(0, 10, 16)).backward()
    record = layer_distributions(model, x)
    assert list(record) == ["0", "2", "4"]
    for name, entry in record.items():
        assert set(entry) == KINDS, name
        for kind in ("weight", "bias", "activation", "gradient"):
            assert len(entry[kind]) == len(QUANTILES) and entry[kind] == sorted(entry[kind])
    traced = {t.name: t for t in trace(model, x)}
    module = model._modules["2"]
    assert record["2"]["weight"] == pytest.approx(quantiles(module.weight.data), rel=1e-3)
    assert record["2"]["gradient"] == pytest.approx(quantiles(module.weight.grad), rel=1e-3)
    assert record["2"]["activation"] == pytest.approx(quantiles(traced["2"].activated), rel=1e-3)
    assert record["0"]["dead"] == dead_fraction(traced["0"]) and record["4"]["dead"] is None
    assert record["0"]["saturated"] is None
    json.dumps(record, allow_nan=False)


def test_a_layer_without_bias_records_no_bias(rng):
    record = layer_distributions(preset("deep-mlp", hidden=(8,)), rng.random((4, 784)).astype(np.float32))
    assert "bias" not in record["0"] and "bias" in record["4"]


# ====================================================================== gradient check of a model
def gradcheck_case(name: str):
    """(model, loss, x, y) for a preset, on a couple of examples."""
    rng = np.random.default_rng(5)
    if name == "cnn":   # real digits: a blank background makes exact zeros before the ReLUs of a fresh model
        x, y = digits(2)
        return preset("cnn"), nn.CrossEntropyLoss(), x[:, None], y
    if name == "cnn-random":
        return preset("cnn"), nn.CrossEntropyLoss(), rng.random((2, 1, 28, 28)), np.array([3, 7])
    if name == "mlp":
        x, y = digits(3)
        return preset("mlp"), nn.CrossEntropyLoss(), x.reshape(3, -1), y
    if name == "deep-mlp":
        model = preset("deep-mlp", hidden=(32, 16))
        for module in model.modules():
            if isinstance(module, nn.BatchNorm1d):
                set_batch_norm(module, rng)
        return model, nn.CrossEntropyLoss(), rng.random((3, 784)), np.array([0, 4, 9])
    if name == "autoencoder":
        x = digits(2)[0].reshape(2, -1)
        return preset("autoencoder"), nn.MSELoss(), x, x
    raise AssertionError(name)


@pytest.mark.parametrize("name", ["mlp", "cnn", "cnn-random", "deep-mlp", "autoencoder"])
def test_a_sound_model_passes_the_gradient_check(name):
    model, loss, x, y = gradcheck_case(name)
    errors = check_model(model, loss, x, y)
    assert set(errors) == {name for name, _ in model.named_parameters()}
    by_layer = layer_errors(errors)
    assert all(error < MODEL_TOLERANCE for error in by_layer.values()), by_layer


def test_layer_errors_keep_each_layer_s_worst():
    assert layer_errors({"0.weight": 1e-7, "0.bias": 3e-5, "encoder.2.weight": 2.0, "encoder.2.bias": 0.0}) == {
        "0": 3e-5, "encoder.2": 2.0}


def broken_relu(self):
    """ReLU whose backward doubles the gradient: the forward pass is right, the backward wrong."""
    x = self.data
    return Tensor._make(np.maximum(x, 0), (self,), lambda g: (2 * g * (x > 0),))


def broken_tanh(self):
    """tanh whose backward forgets the square: 1 - out instead of 1 - out^2."""
    out = np.tanh(self.data)
    return Tensor._make(out, (self,), lambda g: (g * (1 - out),))


@pytest.mark.parametrize("activation, broken", [("relu", broken_relu), ("tanh", broken_tanh)])
def test_a_broken_backward_fails_the_layers_before_it(monkeypatch, activation, broken):
    model = preset("mlp", hidden=(16, 8), activation=activation)
    x, y = digits(4)
    sound = layer_errors(check_model(model, nn.CrossEntropyLoss(), x.reshape(4, -1), y))
    assert max(sound.values()) < MODEL_TOLERANCE
    monkeypatch.setattr(Tensor, activation, broken)
    errors = layer_errors(check_model(model, nn.CrossEntropyLoss(), x.reshape(4, -1), y))
    # layers 0 and 3 feed an activation: their gradients pass through the broken backward; the last does not
    assert errors["0"] > 100 * MODEL_TOLERANCE and errors["3"] > 100 * MODEL_TOLERANCE
    assert errors["6"] < MODEL_TOLERANCE


def test_the_gradient_check_leaves_the_caller_s_model_as_it_was(rng):
    model = preset("deep-mlp", hidden=(8,))
    x = rng.random((4, 784)).astype(np.float32)
    y = np.array([1, 2, 3, 4])
    model.train()
    nn.CrossEntropyLoss()(model(Tensor(x)), y).backward()
    state = {name: value.copy() for name, value in model.state_dict().items()}
    grads = {name: p.grad.copy() for name, p in model.named_parameters()}
    errors = check_model(model, nn.CrossEntropyLoss(), x, y)
    assert errors and max(errors.values()) < MODEL_TOLERANCE
    assert all(module.training for module in model.modules())
    after = model.state_dict()
    for name, value in state.items():
        assert after[name].dtype == value.dtype, name
        np.testing.assert_array_equal(after[name], value, err_msg=name)
    for name, p in model.named_parameters():
        assert p.data.dtype == np.float32
        np.testing.assert_array_equal(p.grad, grads[name], err_msg=name)


# ====================================================================== the trainer's record of an epoch
def tiny_run(probe: bool, epochs: int = 1):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2)).astype(np.float32)
    y = (x[:, 0] > x[:, 1]).astype(np.int64)
    manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 2))
    seen: list = []
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), BatchIterator(x, y, 16, seed=0),
                      epochs=epochs, classes=2, probe=x[:9] if probe else None, on_event=seen.append)
    assert trainer.run() == "finished"
    return trainer, [e for e in seen if isinstance(e, events.EpochEnd)], x[:9]


def test_an_epoch_records_the_distributions_of_its_layers_on_the_probe(monkeypatch):
    monkeypatch.setattr(trainer_module, "DISTRIBUTION_PROBE", 5)   # only the first probe rows are traced
    trainer, ends, probe = tiny_run(probe=True)
    (end,) = ends
    assert list(end.distributions) == ["0", "2", "4"]
    # the model has not changed since the epoch's end: its figures then are its figures now, on 5 probe rows
    assert end.distributions == layer_distributions(trainer.model, probe[:5])
    assert end.distributions != layer_distributions(trainer.model, probe)
    assert set(end.distributions["2"]) == KINDS and end.distributions["2"]["saturated"] is not None
    assert end.distributions["0"]["dead"] is not None and end.distributions["4"]["dead"] is None
    record = json.loads(json.dumps(end.as_dict(), allow_nan=False))
    assert record["distributions"] == end.distributions


def test_a_run_without_a_probe_records_no_distributions():
    _, ends, _ = tiny_run(probe=False, epochs=2)
    assert [end.distributions for end in ends] == [{}, {}]
    assert all("distributions" not in end.as_dict() for end in ends)


# ====================================================================== a session's copy of its model
def test_a_session_s_model_copy_is_equal_and_independent(tmp_path, monkeypatch):
    from nnstudio.tui.run import Session
    from nnstudio.tui.run.config import RunConfig

    monkeypatch.chdir(tmp_path)
    config = RunConfig.from_dict({"data": {"name": "blobs", "size": 120, "classes": 3},
                                  "model": {"spec": {"input_shape": [2], "layers": [
                                      {"type": "linear", "out": 8}, {"type": "relu"}, {"type": "linear", "out": 3}]}},
                                  "training": {"epochs": 1, "batch_size": 32, "seed": 3}})
    session = Session(config, checkpoints=False)
    assert session.run() == "finished"
    copied = session.model_copy()
    assert copied is not session.model
    original = session.model.state_dict()
    for name, value in copied.state_dict().items():
        np.testing.assert_array_equal(value, original[name], err_msg=name)
    for (name, p), (_, q) in zip(session.model.named_parameters(), copied.named_parameters()):
        assert q is not p and q.data is not p.data and p.grad is not None
        np.testing.assert_array_equal(q.grad, p.grad, err_msg=name)   # the last gradients come along
    next(iter(copied.parameters())).data[...] = 123.0
    for name, value in session.model.state_dict().items():
        np.testing.assert_array_equal(value, original[name], err_msg=name)
