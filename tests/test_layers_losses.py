"""Dense layers, activations and losses: gradients, known values, modes and module mechanics."""

from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine import Tensor, manual_seed, nn
from nnstudio.engine.gradcheck import gradcheck
from nnstudio.engine.nn import functional as F

ACTIVATIONS = [nn.ReLU(), nn.LeakyReLU(0.2), nn.GELU(), nn.Tanh(), nn.Sigmoid(), nn.SiLU(),
               nn.Softmax(dim=1), nn.LogSoftmax(dim=1), nn.Flatten(), nn.Identity()]


@pytest.mark.parametrize("layer", ACTIVATIONS, ids=lambda m: type(m).__name__)
def test_activation_gradients(layer, rng):
    assert gradcheck(layer, [rng.standard_normal((3, 5))]) < 1e-6


def test_linear_gradients_wrt_input_and_parameters(rng):
    layer = nn.Linear(4, 3).to(np.float64)
    assert gradcheck(layer, [rng.standard_normal((5, 4))], params=layer.parameters()) < 1e-6
    batched = nn.Linear(4, 2, bias=False).to(np.float64)
    assert gradcheck(batched, [rng.standard_normal((2, 3, 4))], params=batched.parameters()) < 1e-6


def targets(rng, n, c):
    return rng.integers(0, c, n)


LOSSES = [
    ("cross_entropy", lambda z, y, rng: nn.CrossEntropyLoss()(z, y), "class"),
    ("cross_entropy_sum", lambda z, y, rng: nn.CrossEntropyLoss(reduction="sum")(z, y), "class"),
    ("cross_entropy_none", lambda z, y, rng: nn.CrossEntropyLoss(reduction="none")(z, y), "class"),
    ("cross_entropy_smooth", lambda z, y, rng: nn.CrossEntropyLoss(label_smoothing=0.1)(z, y), "class"),
    ("nll", lambda z, y, rng: nn.NLLLoss()(F.log_softmax(z, 1), y), "class"),
    ("mse", lambda z, y, rng: nn.MSELoss()(z, y), "dense"),
    ("mse_none", lambda z, y, rng: nn.MSELoss(reduction="none")(z, y), "dense"),
    ("bce", lambda z, y, rng: nn.BCELoss()(z.sigmoid(), y), "binary"),
    ("bce_logits", lambda z, y, rng: nn.BCEWithLogitsLoss()(z, y), "binary"),
]


@pytest.mark.parametrize("name,fn,kind", LOSSES, ids=[item[0] for item in LOSSES])
def test_loss_gradients(name, fn, kind, rng):
    z = rng.standard_normal((6, 4))
    y = {"class": targets(rng, 6, 4), "dense": rng.standard_normal((6, 4)),
         "binary": rng.integers(0, 2, (6, 4)).astype(np.float64)}[kind]
    assert gradcheck(lambda t: fn(t, y, rng), [z]) < 1e-6


def test_cross_entropy_matches_the_textbook_formula(rng):
    z = rng.standard_normal((5, 3))
    y = np.array([0, 2, 1, 1, 0])
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    expected = -np.log(p[np.arange(5), y]).mean()
    np.testing.assert_allclose(nn.CrossEntropyLoss()(Tensor(z), y).item(), expected, rtol=1e-12)
    smooth = 0.2
    q = np.full((5, 3), smooth / 3)
    q[np.arange(5), y] += 1 - smooth
    expected_smooth = -(q * np.log(p)).sum(1).mean()
    np.testing.assert_allclose(nn.CrossEntropyLoss(label_smoothing=smooth)(Tensor(z), y).item(), expected_smooth, rtol=1e-12)


def test_cross_entropy_is_stable_for_huge_logits():
    z = Tensor(np.array([[1000.0, 0.0, -1000.0], [0.0, 5000.0, 0.0]], np.float32), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = nn.CrossEntropyLoss()(z, np.array([0, 0]))
        loss.backward()
    np.testing.assert_allclose(loss.item(), 2500.0, rtol=1e-6)
    assert np.all(np.isfinite(z.grad))


def test_cross_entropy_rejects_bad_targets():
    z = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        nn.CrossEntropyLoss()(z, np.array([0, 3]))
    with pytest.raises(ValueError, match="shape"):
        nn.CrossEntropyLoss()(z, np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="integers"):
        nn.CrossEntropyLoss()(z, np.array([0.5, 1.0]))


@pytest.mark.parametrize("bad", [np.array([0, 3]), np.array([-1, 0]), np.array([5, 1])])
def test_nll_loss_rejects_targets_outside_the_classes(bad):
    lp = F.log_softmax(Tensor(np.zeros((2, 3))), 1)
    with pytest.raises(ValueError, match=r"class targets must lie in \[0, 3\)"):
        nn.NLLLoss()(lp, bad)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        F.nll_loss(lp, bad, reduction="none")
    np.testing.assert_allclose(nn.NLLLoss()(lp, np.array([0, 2])).item(), np.log(3))


@pytest.mark.parametrize("p", [[0.5, 1.5], [-0.1, 0.5], [-3.0, 4.0]])
def test_bce_refuses_values_that_are_not_probabilities(p):
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*BCEWithLogitsLoss"):
        nn.BCELoss()(Tensor(np.array(p)), np.array([1.0, 0.0]))


def test_bce_lets_nan_through_for_the_divergence_guard():
    with np.errstate(invalid="ignore"):
        loss = nn.BCELoss()(Tensor(np.array([np.nan, 0.5])), np.array([1.0, 0.0]))
    assert np.isnan(loss.item())


def test_bce_losses_are_finite_at_the_extremes():
    p = Tensor(np.array([0.0, 1.0, 0.5]), requires_grad=True)
    loss = nn.BCELoss()(p, np.array([1.0, 0.0, 1.0]))
    np.testing.assert_allclose(loss.item(), (100 + 100 + np.log(2)) / 3)
    z = Tensor(np.array([-800.0, 800.0]), requires_grad=True)
    with np.errstate(over="raise", invalid="raise"):
        logits_loss = nn.BCEWithLogitsLoss()(z, np.array([1.0, 0.0]))
    np.testing.assert_allclose(logits_loss.item(), 800.0)


@pytest.mark.parametrize("p", [0.3, 0.6])
def test_dropout_gradients_with_a_fixed_mask(p, rng):
    """Reseeding the engine rng before every evaluation gives the finite differences the same mask."""
    layer = nn.Dropout(p)

    def seeded(t):
        manual_seed(42)
        return layer(t)

    x = rng.standard_normal((4, 6))
    with_mask = seeded(Tensor(x)).data
    assert 0 < np.count_nonzero(with_mask == 0) < x.size  # a real mask: some units dropped, some kept
    assert gradcheck(seeded, [x]) < 1e-6
    assert gradcheck(lambda t: seeded(t.tanh()) * t, [x]) < 1e-6  # in a graph, the input used twice


def test_dropout_trains_and_evaluates():
    manual_seed(0)
    layer = nn.Dropout(0.25)
    x = Tensor(np.ones((200, 50), np.float32), requires_grad=True)
    y = layer(x)
    kept = y.data != 0
    assert 0.7 < kept.mean() < 0.8
    np.testing.assert_allclose(y.data[kept], 1 / 0.75, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, kept / 0.75, rtol=1e-6)
    layer.eval()
    assert layer(x) is x
    with pytest.raises(ValueError):
        nn.Dropout(1.0)


def test_modules_register_parameters_as_assigned():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
            self.head = nn.Linear(4, 2)
            self.scale = 2.0  # plain attributes are not parameters

        def forward(self, x):
            return self.head(self.body(x)) * self.scale

    net = Net()
    assert [name for name, _ in net.named_parameters()] == ["body.0.weight", "body.0.bias", "head.weight", "head.bias"]
    assert net.num_parameters() == 3 * 4 + 4 + 4 * 2 + 2
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    out = net(Tensor(np.ones((1, 3))))
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_state_dict_round_trip_and_validation():
    manual_seed(1)
    a = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    manual_seed(2)
    b = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = Tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32))
    assert not np.array_equal(a(x).data, b(x).data)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a(x).data, b(x).data)

    state = a.state_dict()
    state["0.weight"] = np.zeros((9, 9), np.float32)
    before = b.state_dict()
    with pytest.raises(ValueError, match=r"0\.weight.*shape"):
        b.load_state_dict(state)
    with pytest.raises(ValueError, match="missing 2.bias"):
        b.load_state_dict({k: v for k, v in a.state_dict().items() if k != "2.bias"})
    with pytest.raises(ValueError, match="unexpected extra"):
        b.load_state_dict({**a.state_dict(), "extra": np.zeros(1)})
    for key, value in b.state_dict().items():  # a rejected load changes nothing
        np.testing.assert_array_equal(value, before[key])


@pytest.mark.parametrize("scheme,activation,expected_std", [
    ("kaiming", "relu", np.sqrt(2 / 400)),
    ("lecun", None, np.sqrt(1 / 400)),
    ("xavier", "sigmoid", np.sqrt(2 / 800)),
    ("xavier", "tanh", 5 / 3 * np.sqrt(2 / 800)),
    ("auto", "relu", np.sqrt(2 / 400)),
    ("auto", "tanh", 5 / 3 * np.sqrt(2 / 800)),
    ("he", "relu", np.sqrt(2 / 400)),
])
def test_initialisers_have_the_textbook_variance(scheme, activation, expected_std):
    manual_seed(0)
    layer = nn.Linear(400, 400, init=scheme, activation=activation)
    np.testing.assert_allclose(layer.weight.data.std(), expected_std, rtol=0.02)
    assert layer.weight.dtype == np.float32
    np.testing.assert_array_equal(layer.bias.data, 0)


def test_manual_seed_makes_initialisation_repeatable():
    manual_seed(7)
    w1 = nn.Linear(5, 5).weight.data.copy()
    manual_seed(7)
    np.testing.assert_array_equal(nn.Linear(5, 5).weight.data, w1)


@pytest.mark.parametrize("sizes,message", [
    ((3, 0), "out_features must be a positive int, got 0"),
    ((2.5, 3), "in_features must be a positive int, got 2.5"),
    (("3", 3), "in_features must be a positive int, got '3'"),
    ((3, True), "out_features must be a positive int, got True"),
    ((-1, 3), "in_features must be a positive int, got -1"),
])
def test_linear_sizes_are_checked_like_conv2d(sizes, message):
    with pytest.raises(ValueError, match="^Linear: " + message):
        nn.Linear(*sizes)
    assert nn.Linear(np.int64(3), 2).weight.shape == (2, 3)  # NumPy ints (from shape arithmetic) are fine


def test_bad_layer_arguments_are_named():
    with pytest.raises(ValueError, match="unknown initialisation 'bogus'"):
        nn.Linear(3, 3, init="bogus")


def test_rng_state_round_trip_and_refusal():
    from nnstudio.engine import get_rng_state, set_rng_state

    manual_seed(3)
    state = get_rng_state()
    first = nn.Linear(4, 4).weight.data.copy()
    set_rng_state(state)
    np.testing.assert_array_equal(nn.Linear(4, 4).weight.data, first)
    with pytest.raises(ValueError, match="bit_generator must be one of"):
        set_rng_state({"bit_generator": "__class__"})
