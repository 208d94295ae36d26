"""The inside views (tui/run/inside) on hand-set models whose answers are known: each test fails if its view
draws the wrong thing (the boundary in the wrong place, a map of the wrong unit, a histogram that loses
numbers, a verdict on the wrong layer...), and every view's numbers are strict JSON.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from nnstudio.engine import Tensor, nn
from nnstudio.engine.evaluation import predict
from nnstudio.engine.events import EpochEnd
from nnstudio.engine.inside import QUANTILES, layer_distributions
from nnstudio.engine.presets import preset_spec
from nnstudio.engine.spec import build_model
from nnstudio.tui.run import RunConfig, Session
from nnstudio.tui.run.inside import VIEWS, NotApplicable, Subject, look
from nnstudio.tui.run.inside import checking, pictures, plane, records

F32 = np.float32
LINE = 0.32          # the hand-set classifier's class 1 is x > LINE (or y > LINE)
STEEP = 10.0         # its logit difference is STEEP * (x - LINE)


# ====================================================================== helpers
def linear(layer: nn.Linear, weight, bias) -> nn.Linear:
    layer.weight.data = np.asarray(weight, dtype=F32)
    layer.bias.data = np.asarray(bias, dtype=F32)
    return layer


def subject(model, x_train, y_train, x_test=None, y_test=None, *, task="classification", classes=2,
            image_shape=None, loss=None, history=(), dataset="hand-made") -> Subject:
    x_test = x_train if x_test is None else x_test
    y_test = y_train if y_test is None else y_test
    names = tuple(str(c) for c in range(classes)) if task == "classification" else ()
    loss = loss or (nn.CrossEntropyLoss() if task == "classification" else nn.MSELoss())
    return Subject(model=model, spec={}, task=task, dataset=dataset, class_names=names,
                   x_train=np.asarray(x_train, dtype=F32), y_train=np.asarray(y_train),
                   x_test=np.asarray(x_test, dtype=F32), y_test=np.asarray(y_test),
                   image_shape=image_shape, loss_fn=loss, history=list(history))


def centres(low: float, high: float, count: int) -> np.ndarray:
    """The centres of `count` equal cells over [low, high], by hand."""
    return low + (np.arange(count) + 0.5) * (high - low) / count


def record(epoch: int, *, grad_norms=None, update_ratios=None, distributions=None) -> dict:
    """One epoch's history row, as a run writes it (EpochEnd.as_dict; `epoch` counted from 1)."""
    return EpochEnd(epoch=epoch - 1, epochs=9, train_loss=1.0, train_accuracy=0.5, val_loss=1.0, val_accuracy=0.5,
                    lr=0.01, grad_norms=grad_norms or {}, weight_norms={}, update_ratios=update_ratios or {},
                    samples_per_s=1.0, seconds=1.0, elapsed=float(epoch), eta=0.0,
                    distributions=distributions or {}).as_dict()


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert message and "\n" not in message
    return message


def strict_json(view) -> dict:
    """The view's numbers through strict JSON (no NaN, no infinity), read back."""
    return json.loads(json.dumps(view.to_json(), allow_nan=False))


def plane_points(rng, count: int, avoid: float = LINE) -> np.ndarray:
    """`count` points in [-1, 1]^2 with both corners, none within 0.1 of `avoid` on either axis."""
    points = rng.uniform(-1, 1, size=(count * 3, 2))
    points = points[(np.abs(points - avoid) > 0.1).all(axis=1)][:count - 2]
    return np.concatenate([[[-1.0, -1.0], [1.0, 1.0]], points]).astype(F32)


def line_classifier(axis: int) -> nn.Sequential:
    """Class 1 exactly where the point's coordinate `axis` exceeds LINE: logits (0, STEEP * (v - LINE))."""
    weight = np.zeros((2, 2))
    weight[1, axis] = STEEP
    return nn.Sequential(linear(nn.Linear(2, 2), weight, [0.0, -STEEP * LINE]))


# ====================================================================== 1. the decision boundary and the fit
def test_extent_widens_the_points_box_by_the_margin():
    box = plane.extent(np.array([[0.0, 10.0], [2.0, 14.0], [1.0, 12.0]]))
    np.testing.assert_allclose(box, (-0.2, 2.2, 9.6, 14.4))
    assert plane.MARGIN == 0.1
    low_x, high_x, low_y, high_y = plane.extent(np.array([[3.0, 3.0], [3.0, 3.0]]))
    assert low_x < 3.0 < high_x and low_y < 3.0 < high_y   # one point still gets a plane around it


def test_grid_goes_row_by_row_from_the_top_down():
    cells = plane.grid((0.0, 4.0, 0.0, 2.0), cols=4, rows=2)
    np.testing.assert_allclose(cells, [[0.5, 1.5], [1.5, 1.5], [2.5, 1.5], [3.5, 1.5],
                                       [0.5, 0.5], [1.5, 0.5], [2.5, 0.5], [3.5, 0.5]])
    assert cells.dtype == F32


@pytest.mark.parametrize("axis", [0, 1], ids=["x", "y"])
def test_boundary_of_a_linear_model_splits_the_plane_where_the_maths_says(rng, axis):
    x = plane_points(rng, 60)
    s = subject(line_classifier(axis), x, (x[:, axis] > LINE).astype(int))
    cols, rows = 24, 12
    found = plane.boundary(s, cols, rows)
    assert isinstance(found, plane.Boundary)
    np.testing.assert_allclose(found.box, (-1.2, 1.2, -1.2, 1.2), atol=1e-6)
    assert found.probabilities.shape == (rows, cols, 2)
    xs = centres(-1.2, 1.2, cols)
    ys = centres(-1.2, 1.2, rows)[::-1]             # row 0 is the top of the plane
    gx, gy = np.meshgrid(xs, ys)
    along = gx if axis == 0 else gy
    np.testing.assert_array_equal(found.predicted, (along > LINE).astype(int))
    np.testing.assert_allclose(found.confidence, 1 / (1 + np.exp(-STEEP * np.abs(along - LINE))), rtol=1e-5)
    # the least sure cells are those nearest the line: column 15 (x = 0.35) or row 4 (y = 0.3)
    if axis == 0:
        assert (found.confidence.argmin(axis=1) == 15).all()
        assert (found.predicted[:, :15] == 0).all() and (found.predicted[:, 15:] == 1).all()
    else:
        assert (found.confidence.argmin(axis=0) == 4).all()
        assert (found.predicted[:4] == 1).all() and (found.predicted[4:] == 0).all()
    assert found.train_accuracy == 1.0


def test_boundary_accuracies_count_the_right_and_wrong_points(rng):
    x_train, x_test = plane_points(rng, 40), plane_points(rng, 20)
    y_train, y_test = (x_train[:, 0] > LINE).astype(int), (x_test[:, 0] > LINE).astype(int)
    y_train[:10] = 1 - y_train[:10]
    y_test[5:9] = 1 - y_test[5:9]
    found = plane.boundary(subject(line_classifier(0), x_train, y_train, x_test, y_test), 10, 10)
    assert found.train_accuracy == pytest.approx(30 / 40)
    assert found.test_accuracy == pytest.approx(16 / 20)


def test_boundary_draws_at_most_max_points_the_same_sample_each_time(rng):
    count = plane.MAX_POINTS + 400
    x = np.stack([np.linspace(-1, 1, count), rng.uniform(-1, 1, count)], axis=1).astype(F32)
    y = rng.integers(0, 2, count)
    s = subject(line_classifier(0), x, y, x[:50], y[:50])
    first, again = plane.boundary(s, 8, 8), plane.boundary(s, 8, 8)
    points, labels = first.train
    assert len(points) == len(labels) == plane.MAX_POINTS
    index = np.searchsorted(x[:, 0], points[:, 0])
    np.testing.assert_array_equal(x[index], points)           # real training points...
    np.testing.assert_array_equal(y[index], labels)           # ...with their own labels
    assert (np.diff(index) > 0).all() and index.max() >= plane.MAX_POINTS   # no repeats, not just the first ones
    np.testing.assert_array_equal(again.train[0], points)
    np.testing.assert_array_equal(first.test[0], x[:50])      # fewer than MAX_POINTS: all of them, in order
    np.testing.assert_array_equal(first.test[1], y[:50])


def test_fit_of_one_feature_is_the_model_at_each_column_centre(rng):
    hidden, out = nn.Linear(1, 3), nn.Linear(3, 1)
    w1, b1, w2, b2 = rng.normal(size=(3, 1)), rng.normal(size=3), rng.normal(size=(1, 3)), rng.normal(size=1)
    model = nn.Sequential(linear(hidden, w1, b1), nn.Tanh(), linear(out, w2, b2))
    x_train = np.linspace(-2, 2, 30).reshape(-1, 1)
    x_test = rng.uniform(-2, 2, size=(12, 1))
    y_train, y_test = np.sin(x_train).astype(F32), np.sin(x_test).astype(F32)
    found = plane.boundary(subject(model, x_train, y_train, x_test, y_test, task="regression"), 16, 5)
    assert isinstance(found, plane.Fit) and not found.surface
    np.testing.assert_allclose(found.box, plane.extent(np.concatenate([x_train, y_train], axis=1)))
    by_hand = lambda v: (np.tanh(v @ w1.T + b1) @ w2.T + b2)[:, 0]   # noqa: E731
    xs = centres(found.box[0], found.box[1], 16).reshape(-1, 1)
    assert found.values.shape == (16,)
    np.testing.assert_allclose(found.values, by_hand(xs), rtol=1e-4, atol=1e-5)
    assert found.test_mse == pytest.approx(np.mean((by_hand(x_test.astype(F32)) - y_test[:, 0]) ** 2), rel=1e-4)


def test_fit_of_two_features_is_a_surface_with_the_top_row_first(rng):
    model = nn.Sequential(linear(nn.Linear(2, 1), [[1.0, -2.0]], [0.5]))
    x = plane_points(rng, 40)
    found = plane.boundary(subject(model, x, x[:, :1] - 2 * x[:, 1:] + 0.5, task="regression"), 6, 4)
    assert isinstance(found, plane.Fit) and found.surface
    assert found.values.shape == (4, 6)
    gx, gy = np.meshgrid(centres(-1.2, 1.2, 6), centres(-1.2, 1.2, 4)[::-1])
    np.testing.assert_allclose(found.values, gx - 2 * gy + 0.5, atol=1e-5)
    assert found.test_mse == pytest.approx(0.0, abs=1e-10)


def test_boundary_refuses_what_has_no_plane_in_one_line(rng):
    auto = build_model(preset_spec("autoencoder", hidden=(8,), bottleneck=2))
    pixels = rng.random((4, 784))
    with pytest.raises(NotApplicable) as refused:
        look("boundary", subject(auto, pixels, pixels, task="reconstruction", image_shape=(1, 28, 28)))
    assert "autoencoder" in one_line(refused)
    mnist_mlp = nn.Sequential(nn.Linear(784, 10))
    with pytest.raises(NotApplicable) as refused:
        look("boundary", subject(mnist_mlp, pixels, [0, 1, 2, 3], classes=10, image_shape=(1, 28, 28),
                                 dataset="mnist"))
    assert "2 input features" in one_line(refused) and "mnist has 784" in str(refused.value)
    with pytest.raises(NotApplicable) as refused:
        look("boundary", subject(nn.Sequential(nn.Linear(3, 1)), rng.random((5, 3)), rng.random((5, 1)),
                                 task="regression"))
    assert "1 or 2 input features" in one_line(refused) and "has 3" in str(refused.value)


# ====================================================================== 2. neurons
FIRST_WEIGHTS = [[1.0, 0.0], [0.0, -1.0], [1.0, 1.0]]
FIRST_BIASES = [0.0, -0.5, 0.2]


def two_layer(activation: nn.Module) -> nn.Sequential:
    return nn.Sequential(linear(nn.Linear(2, 3), FIRST_WEIGHTS, FIRST_BIASES), activation,
                         linear(nn.Linear(3, 2), [[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]], [0.1, -0.1]))


@pytest.mark.parametrize("activation, by_hand", [(nn.ReLU(), lambda v: np.maximum(v, 0)), (nn.Tanh(), np.tanh)],
                         ids=["relu", "tanh"])
def test_neuron_maps_are_each_units_activation_at_the_cell_centres(rng, activation, by_hand):
    x = plane_points(rng, 30)
    found = look("neurons", subject(two_layer(activation), x, (x[:, 0] > 0).astype(int)), layer=1, cols=7, rows=5)
    gx, gy = np.meshgrid(centres(-1.2, 1.2, 7), centres(-1.2, 1.2, 5)[::-1])
    expected = np.stack([by_hand(w[0] * gx + w[1] * gy + b) for w, b in zip(FIRST_WEIGHTS, FIRST_BIASES)])
    assert found.maps.shape == (3, 5, 7)
    np.testing.assert_allclose(found.maps, expected, atol=1e-6)
    assert found.activation == type(activation).__name__.lower()
    assert found.layer.number == 1 and found.layers == 2
    assert found.span == pytest.approx((expected.min(), expected.max()), abs=1e-6)


def test_neurons_of_the_last_layer_are_its_raw_outputs(rng):
    x = plane_points(rng, 30)
    s = subject(two_layer(nn.ReLU()), x, (x[:, 0] > 0).astype(int))
    found = look("neurons", s, layer=2, cols=4, rows=3)
    assert found.activation is None and found.layer.name == "2"
    logits = predict(s.model, plane.grid(found.box, 4, 3))
    np.testing.assert_allclose(found.maps, np.moveaxis(logits.reshape(3, 4, 2), -1, 0), atol=1e-6)


@pytest.mark.parametrize("layer", [0, 3, -1])
def test_neurons_of_a_layer_out_of_range_name_the_valid_range(rng, layer):
    x = plane_points(rng, 10)
    with pytest.raises(NotApplicable) as refused:
        look("neurons", subject(two_layer(nn.ReLU()), x, (x[:, 0] > 0).astype(int)), layer=layer)
    assert "1 to 2" in one_line(refused) and f"layer {layer}" in str(refused.value)


def test_neurons_need_a_plane(rng):
    with pytest.raises(NotApplicable) as refused:
        look("neurons", subject(nn.Sequential(nn.Linear(784, 3)), rng.random((3, 784)), [0, 1, 2], classes=3,
                                image_shape=(1, 28, 28)))
    assert "2 input features" in one_line(refused)


# ====================================================================== 3. first-layer weights as images
def test_weights_of_a_linear_layer_over_an_image_are_its_rows_as_pictures(rng):
    first = nn.Linear(784, 5)
    model = nn.Sequential(first, nn.ReLU(), nn.Linear(5, 10))
    found = look("weights", subject(model, rng.random((4, 784)), [0, 1, 2, 3], classes=10, image_shape=(1, 28, 28)))
    assert found.images.shape == (5, 28, 28) and not found.filters
    for unit in range(5):
        np.testing.assert_array_equal(found.images[unit], first.weight.data[unit].reshape(28, 28))
    np.testing.assert_allclose(strict_json(found)["norms"],
                               np.sqrt((first.weight.data.astype(np.float64) ** 2).sum(axis=1)), rtol=1e-4)


def test_weights_of_a_colour_image_average_the_channels(rng):
    first = nn.Linear(3 * 4 * 4, 2)
    found = look("weights", subject(nn.Sequential(first), rng.random((3, 48)), [0, 1, 0], image_shape=(3, 4, 4)))
    np.testing.assert_allclose(found.images, first.weight.data.reshape(2, 3, 4, 4).mean(axis=1), rtol=1e-6)


def test_weights_of_a_convolution_are_its_filters_channels_averaged(rng):
    conv = nn.Conv2d(3, 4, 3)
    model = nn.Sequential(conv, nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    found = look("weights", subject(model, rng.random((2, 3, 8, 8)), [0, 1], image_shape=(3, 8, 8)))
    assert found.filters and found.images.shape == (4, 3, 3)
    np.testing.assert_allclose(found.images, conv.weight.data.mean(axis=1), rtol=1e-6)


def test_weights_of_two_features_are_no_images(rng):
    with pytest.raises(NotApplicable) as refused:
        look("weights", subject(line_classifier(0), plane_points(rng, 10), [0] * 10, dataset="moons"))
    assert "image inputs" in one_line(refused) and "moons has 2 features" in str(refused.value)


# ====================================================================== 4. distributions
def small_relu_net(bias) -> nn.Sequential:
    return nn.Sequential(linear(nn.Linear(2, 4), np.full((4, 2), 0.1), bias), nn.ReLU(), nn.Linear(4, 3))


def test_histograms_count_every_weight_bias_activation_and_gradient(rng):
    model = small_relu_net([0.0, 0.1, 0.2, 0.3])
    model[0].weight.data = rng.normal(size=(4, 2)).astype(F32)
    x = rng.uniform(-1, 1, size=(300, 2)).astype(F32)
    s = subject(model, x, rng.integers(0, 3, 300), classes=3)
    found = look("distributions", s, layer=1)
    counts = {kind: sum(h["counts"]) for kind, h in found.now.items()}   # no gradient yet: made on training rows
    assert counts == {"weight": 8, "bias": 4, "activation": records.PROBE_ROWS * 4, "gradient": 8}
    model.zero_grad()
    s.loss_fn(model(Tensor(x[:records.PROBE_ROWS])), s.y_train[:records.PROBE_ROWS]).backward()
    np.testing.assert_allclose(sorted(found.now["gradient"]["edges"])[0], model[0].weight.grad.min(), rtol=1e-5)
    w = model[0].weight.data
    expected, edges = np.histogram(w.astype(np.float64), bins=records.BINS, range=(w.min(), w.max()))
    assert found.now["weight"]["counts"] == expected.tolist()
    np.testing.assert_allclose(found.now["weight"]["edges"], edges, rtol=1e-6)

    s.loss_fn(model(Tensor(x)), s.y_train).backward()
    found = look("distributions", s, layer=2)
    assert sum(found.now["gradient"]["counts"]) == 4 * 3
    assert sum(found.now["activation"]["counts"]) == records.PROBE_ROWS * 3
    assert found.layer.shape_text == "linear 4→3" and found.activation is None and found.dead is None


@pytest.mark.parametrize("bias, dead", [([-100.0] * 4, 1.0), ([-100.0, -100.0, 0.5, 0.5], 0.5), ([0.5] * 4, 0.0)])
def test_dead_fraction_counts_units_a_relu_never_lets_through(rng, bias, dead):
    x = rng.uniform(-1, 1, size=(50, 2))
    found = look("distributions", subject(small_relu_net(bias), x, rng.integers(0, 3, 50), classes=3), layer=1)
    assert found.activation == "relu" and found.dead == dead and found.saturated is None


def test_saturated_fraction_counts_tanh_units_stuck_in_a_tail(rng):
    model = nn.Sequential(linear(nn.Linear(2, 4), np.full((4, 2), 0.1), [100.0, -100.0, 0.0, 0.0]), nn.Tanh(),
                          nn.Linear(4, 2))
    x = rng.uniform(-1, 1, size=(50, 2))
    found = look("distributions", subject(model, x, rng.integers(0, 2, 50)), layer=1)
    assert found.activation == "tanh" and found.saturated == 0.5 and found.dead is None


def test_distributions_over_epochs_read_the_records_and_skip_epochs_without_one(rng):
    model = small_relu_net([0.5] * 4)
    x = rng.uniform(-1, 1, size=(20, 2)).astype(F32)
    early = layer_distributions(model, x)
    model[0].bias.data[:] = -100.0
    late = layer_distributions(model, x)
    history = [record(1, distributions=early), {"event": "note", "text": "resumed"}, record(2),
               record(3, distributions=late), record(4, distributions={"9": early["0"]})]
    found = look("distributions", subject(model, x, [0] * 20, classes=3, history=history), layer=1)
    assert found.epochs == [1, 3]
    assert found.over_epochs["weight"] == [early["0"]["weight"], late["0"]["weight"]]
    assert found.over_epochs["bias"] == [early["0"]["bias"], late["0"]["bias"]]
    assert len(found.over_epochs["activation"][0]) == len(QUANTILES)
    assert "gradient" not in found.over_epochs            # no epoch recorded a gradient
    assert found.dead_over_epochs == [0.0, 1.0]
    assert found.dead == 1.0                              # now: the biases forced negative


# ====================================================================== 5. gradient flow
def normed_net() -> nn.Sequential:
    """Parameter layers "0", "2" (a batch norm), "3" and "5"."""
    return nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.BatchNorm1d(4), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))


def test_gradient_flow_reads_each_layers_figures_per_epoch_in_the_models_order(rng):
    history = [
        record(1, grad_norms={"5": 0.5, "3": 0.3, "2": 0.2, "0": 0.1},
               update_ratios={"5": 5e-3, "3": 3e-3, "2": 2e-3, "0": 1e-3}),
        record(2),                                   # an epoch without figures (none sampled) is left out
        record(3, grad_norms={"0": 1.0, "3": 3.0, "5": 5.0}, update_ratios={"0": 1e-6, "3": 1e-3, "5": 1e-1}),
    ]
    x = rng.uniform(-1, 1, size=(8, 2))
    found = look("gradient-flow", subject(normed_net(), x, [0, 1] * 4, history=history))
    assert found.layers == ["0", "2", "3", "5"]
    assert found.labels == ["1 linear 2→4", "norm after 1", "2 linear 4→4", "3 linear 4→2"]
    assert found.epochs == [1, 3]
    np.testing.assert_array_equal(found.grad_norms, [[0.1, 1.0], [0.2, np.nan], [0.3, 3.0], [0.5, 5.0]])
    np.testing.assert_array_equal(found.update_ratios, [[1e-3, 1e-6], [2e-3, np.nan], [3e-3, 1e-3], [5e-3, 1e-1]])
    assert found.verdicts() == ["too small", "not recorded", "healthy", "too large"]
    data = strict_json(found)
    assert data["grad_norms"][1] == [0.2, None]
    assert data["verdicts"] == found.verdicts()


def test_gradient_flow_needs_a_trained_epoch(rng):
    x = rng.uniform(-1, 1, size=(8, 2))
    for history in ([], [record(1)], [{"event": "note"}]):
        with pytest.raises(NotApplicable) as refused:
            look("gradient-flow", subject(normed_net(), x, [0, 1] * 4, history=history))
        assert "at least one finished epoch" in one_line(refused)


# ====================================================================== 6. an autoencoder's latent space
def small_autoencoder(bottleneck: int):
    return build_model(preset_spec("autoencoder", hidden=(16,), bottleneck=bottleneck))


def test_latent_codes_are_the_encoders_output_and_the_walk_decodes_a_grid_of_codes(rng):
    model = small_autoencoder(2)
    x_test, labels = rng.random((60, 784)).astype(F32), rng.integers(0, 7, 60)
    labels[0] = 6
    s = subject(model, x_test[:10], labels[:10], x_test, labels, task="reconstruction", image_shape=(1, 28, 28))
    found = look("latent", s, steps=5)
    first, last = model.encoder[0], model.encoder[2]
    codes = np.maximum(x_test @ first.weight.data.T + first.bias.data, 0) @ last.weight.data.T + last.bias.data
    assert found.codes.shape == (60, 2)
    np.testing.assert_allclose(found.codes, codes, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(found.labels, labels)
    assert found.class_names == tuple("0123456")
    low, high = np.percentile(codes, pictures.WALK_PERCENTILES, axis=0)
    np.testing.assert_allclose(found.walk_box, (low[0], high[0], low[1], high[1]), rtol=1e-4, atol=1e-5)
    assert found.walk.shape == (5, 5, 28, 28)
    corners = np.array([[low[0], high[1]], [high[0], high[1]], [low[0], low[1]], [high[0], low[1]]], dtype=F32)
    decoded = predict(model.decoder, corners).reshape(4, 28, 28)
    for picture, (row, col) in zip(decoded, [(0, 0), (0, -1), (-1, 0), (-1, -1)]):   # top row = highest y
        np.testing.assert_allclose(found.walk[row, col], picture, rtol=1e-4, atol=1e-5)


def test_latent_of_a_wide_bottleneck_names_its_size(rng):
    pixels = rng.random((6, 784))
    with pytest.raises(NotApplicable) as refused:
        look("latent", subject(small_autoencoder(32), pixels, [0] * 6, task="reconstruction", image_shape=(1, 28, 28)))
    assert "2-D bottleneck" in one_line(refused) and "32 dimensions" in str(refused.value)


def test_latent_of_a_classifier_asks_for_an_autoencoder(rng):
    with pytest.raises(NotApplicable) as refused:
        look("latent", subject(line_classifier(0), plane_points(rng, 10), [0] * 10))
    assert "autoencoder" in one_line(refused)


# ====================================================================== 7. confusion drill-down
#: (truth, prediction) of each test example, in order
PAIRS = [(0, 0)] * 3 + [(1, 2)] * 2 + [(1, 1)] * 2 + [(2, 0)] + [(2, 2)] * 4 + [(1, 2)] + [(0, 1)] * 2


def argmax_classifier(classes: int = 3) -> nn.Sequential:
    """Predicts the class of the largest input feature."""
    return nn.Sequential(linear(nn.Linear(classes, classes), np.eye(classes), np.zeros(classes)))


def test_confusion_counts_and_the_examples_of_a_cell():
    truth = np.array([t for t, _ in PAIRS])
    x = 5.0 * np.eye(3)[[p for _, p in PAIRS]]
    found = look("confusion", subject(argmax_classifier(), x, truth, classes=3))
    expected = np.zeros((3, 3), int)
    for t, p in PAIRS:
        expected[t, p] += 1
    np.testing.assert_array_equal(found.matrix, expected)
    assert found.cell == (1, 2)                                   # the most frequent mistake
    np.testing.assert_array_equal(found.examples, [3, 4, 12])
    np.testing.assert_allclose(found.confidence, np.exp(5) / (np.exp(5) + 2), rtol=1e-5)
    np.testing.assert_array_equal(found.rows, x[[3, 4, 12]])
    assert found.pictures is None and found.accuracy == pytest.approx(9 / 15)
    chosen = look("confusion", subject(argmax_classifier(), x, truth, classes=3), cell=(0, 1))
    np.testing.assert_array_equal(chosen.examples, [13, 14])
    assert strict_json(chosen)["count"] == 2


def test_confusion_without_mistakes_opens_on_the_first_cell():
    x = np.eye(3)[[0, 1, 2, 2]]
    assert look("confusion", subject(argmax_classifier(), x, [0, 1, 2, 2], classes=3)).cell == (0, 0)


def test_confusion_keeps_the_first_examples_of_a_crowded_cell_as_pictures():
    count = pictures.CELL_EXAMPLES + 10
    x = np.zeros((count, 4), F32)
    x[:, 1] = 1.0                                  # all predicted 1, all truly 0
    s = subject(argmax_classifier(4), x, np.zeros(count, int), classes=4, image_shape=(1, 2, 2))
    found = look("confusion", s)
    assert found.cell == (0, 1) and found.matrix[0, 1] == count
    np.testing.assert_array_equal(found.examples, np.arange(pictures.CELL_EXAMPLES))
    assert found.pictures.shape == (pictures.CELL_EXAMPLES, 2, 2) and found.rows is None


@pytest.mark.parametrize("cell", [(3, 0), (0, 3), (-1, 0)])
def test_confusion_cell_out_of_range_names_the_classes(cell):
    with pytest.raises(NotApplicable) as refused:
        look("confusion", subject(argmax_classifier(), np.eye(3), [0, 1, 2], classes=3), cell=cell)
    assert "0 to 2" in one_line(refused)


def test_confusion_needs_a_classifier(rng):
    with pytest.raises(NotApplicable) as refused:
        look("confusion", subject(nn.Sequential(nn.Linear(1, 1)), rng.random((4, 1)), rng.random((4, 1)),
                                  task="regression"))
    assert "classifier" in one_line(refused)


# ====================================================================== 8. gradient check
def tanh_mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, 5), nn.Tanh(), nn.Linear(5, 3))


def test_gradcheck_passes_on_a_correct_mlp(rng):
    s = subject(tanh_mlp(), rng.normal(size=(8, 2)), rng.integers(0, 3, 8), classes=3)
    found = look("gradcheck", s)
    assert found.passed and found.failing() == []
    assert list(found.errors) == ["0", "2"] and found.samples == checking.SAMPLES
    assert all(error < found.tolerance for error in found.errors.values())


def test_gradcheck_flags_a_broken_backward_and_names_its_layer(rng, monkeypatch):
    def wrong_tanh(self):
        out = np.tanh(self.data)
        return Tensor._make(out, (self,), lambda g: (g * (1 - out),))   # the true slope is 1 - out**2
    monkeypatch.setattr(Tensor, "tanh", wrong_tanh)
    s = subject(tanh_mlp(), rng.normal(size=(8, 2)), rng.integers(0, 3, 8), classes=3)
    found = look("gradcheck", s)
    assert not found.passed
    assert found.failing() == ["0"]                # behind the tanh; the last layer's gradient does not pass it
    assert found.labels["0"] == "1 linear 2→5"
    data = strict_json(found)
    assert [(layer["layer"], layer["passed"]) for layer in data["layers"]] == [("0", False), ("2", True)]


def test_gradcheck_of_a_backward_giving_nan_fails_in_strict_json(rng, monkeypatch):
    def nan_tanh(self):
        out = np.tanh(self.data)
        return Tensor._make(out, (self,), lambda g: (g * np.nan,))
    monkeypatch.setattr(Tensor, "tanh", nan_tanh)
    found = look("gradcheck", subject(tanh_mlp(), rng.normal(size=(8, 2)), rng.integers(0, 3, 8), classes=3))
    assert not found.passed and found.failing() == ["0"]
    assert strict_json(found)["layers"][0]["passed"] is False


# ====================================================================== 9. strict JSON, even for a broken model
def diverged(model):
    for p in model.parameters():
        p.data[...] = np.nan
    return model


def plane_subjects(rng, broken: bool, empty_test: bool):
    x = plane_points(rng, 30)
    test = slice(0, 0) if empty_test else slice(None)
    history = [record(1, grad_norms={"0": float("inf"), "2": 1.0}, update_ratios={"0": float("nan")},
                      distributions=layer_distributions(two_layer(nn.ReLU()), x))]
    classifier = two_layer(nn.ReLU())
    regression = nn.Sequential(nn.Linear(1, 4), nn.Tanh(), nn.Linear(4, 1))
    yield subject(diverged(classifier) if broken else classifier, x, (x[:, 0] > 0).astype(int), x[test],
                  (x[:, 0] > 0).astype(int)[test], history=history)
    yield subject(diverged(regression) if broken else regression, x[:, :1], x[:, 1:], x[test, :1], x[test, 1:],
                  task="regression")
    auto = small_autoencoder(2)
    pixels, labels = rng.random((12, 784)), np.arange(12) % 3
    yield subject(diverged(auto) if broken else auto, pixels, labels, pixels[test], labels[test],
                  task="reconstruction", image_shape=(1, 28, 28))


@pytest.mark.parametrize("broken, empty_test", [(False, False), (True, False), (False, True)],
                         ids=["healthy", "diverged", "no-test-split"])
def test_every_view_is_strict_json(rng, broken, empty_test):
    shown, refused = set(), {}
    for s in plane_subjects(rng, broken, empty_test):
        for view in VIEWS:
            try:
                found = look(view, s, cols=6, rows=4, steps=3)
            except NotApplicable as error:
                refused.setdefault(view, []).append(str(error))
                continue
            strict_json(found)
            shown.add(view)
    if empty_test:   # a confusion matrix or a latent scatter of no test examples is nothing to draw: said so
        assert shown == set(VIEWS) - {"confusion", "latent"}
        assert "the confusion matrix needs test examples; hand-made has none" in refused["confusion"]
        assert "the latent view needs test examples; hand-made has none" in refused["latent"]
    else:
        assert shown == set(VIEWS)


def test_nan_becomes_null_in_the_json():
    x = np.array([[-1.0, -1.0], [1.0, 1.0]], F32)
    found = look("boundary", subject(diverged(two_layer(nn.ReLU())), x, [0, 1], x[:0], np.zeros(0, int)))
    data = strict_json(found)
    assert data["test_accuracy"] is None
    assert data["confidence"][0][0] is None


def test_an_unknown_view_names_the_views(rng):
    with pytest.raises(NotApplicable) as refused:
        look("saliency", subject(line_classifier(0), plane_points(rng, 5), [0] * 5))
    assert "gradient-flow" in one_line(refused) and "boundary" in str(refused.value)


# ====================================================================== through a real session
def test_a_real_spirals_run_shows_every_view_that_applies(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = RunConfig().with_overrides({"model.preset": "mlp", "data.name": "spirals", "training.epochs": 2,
                                         "checkpoints.folder": str(tmp_path / "saves")})
    session = Session(config)
    session.prepare()
    session.run()
    s = Subject.of_session(session, session.model_copy())
    assert s.model is not session.model and s.task == "classification" and s.input_size == 2
    shown = {}
    for view in VIEWS:
        try:
            shown[view] = look(view, s, cols=20, rows=8)
        except NotApplicable as refused:
            assert view in ("weights", "latent"), f"{view}: {refused}"
            continue
        strict_json(shown[view])
    assert set(shown) == set(VIEWS) - {"weights", "latent"}
    assert shown["boundary"].probabilities.shape == (8, 20, len(s.class_names))
    assert shown["distributions"].epochs == [1, 2] and shown["gradient-flow"].epochs == [1, 2]
    assert shown["gradient-flow"].layers == [layer.name for layer in s.layers()]   # the mlp has no batch norm
    assert shown["gradcheck"].passed
    assert shown["confusion"].matrix.sum() == len(s.y_test)
    first = s.layers()[0]
    assert look("distributions", s, layer=1).dead < 1.0
    first.module.bias.data[:] = -1e3                 # the copy's, not the session's
    assert look("distributions", s, layer=1).dead == 1.0
    assert session.model_copy().state_dict()[f"{first.name}.bias"].max() > -1e3
