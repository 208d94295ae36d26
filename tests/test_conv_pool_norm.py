"""Convolution, max pooling and batch normalisation: gradients against finite differences (float64),
forward passes against naive loops and hand-computed values, dtypes, and argument errors."""

from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine import Tensor, manual_seed, nn, no_grad
from nnstudio.engine.gradcheck import gradcheck
from nnstudio.engine.nn import functional as F

RNG = np.random.default_rng(1234)


def check_grad(fn, inputs, params=()) -> None:
    """One line per op: finite differences in float64 must agree to 1e-6 relative error."""
    assert gradcheck(fn, inputs, params=params) < 1e-6


def distinct(*shape) -> np.ndarray:
    """Values 0.1 apart in random order: no ties, and no window maximum moves under a 1e-6 nudge."""
    return RNG.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64) / 10


def pairs(v) -> tuple[int, int]:
    return tuple(v) if isinstance(v, tuple) else (v, v)


def naive_conv2d(x, w, b, stride, padding) -> np.ndarray:
    """The definition, one output value at a time."""
    (sh, sw), (ph, pw) = pairs(stride), pairs(padding)
    n, _, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    out = np.zeros((n, o, oh, ow))
    for s in range(n):
        for f in range(o):
            for i in range(oh):
                for j in range(ow):
                    window = xp[s, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    out[s, f, i, j] = (window * w[f]).sum() + (0.0 if b is None else b[f])
    return out


def naive_max_pool2d(x, kernel, stride, padding) -> np.ndarray:
    (kh, kw), (ph, pw) = pairs(kernel), pairs(padding)
    sh, sw = (kh, kw) if stride is None else pairs(stride)
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    out = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].max(axis=(2, 3))
    return out


# ---------------------------------------------------------------------- conv2d
CONV_CASES = [  # (x shape, weight shape, stride, padding, bias)
    ((2, 2, 5, 5), (3, 2, 3, 3), 1, 0, True),
    ((2, 3, 6, 6), (2, 3, 3, 3), 1, 1, True),
    ((2, 2, 7, 6), (3, 2, 3, 3), 2, 1, True),
    ((2, 3, 5, 7), (2, 3, 2, 3), (2, 1), (1, 0), False),
    ((2, 2, 6, 5), (2, 2, 1, 2), (1, 2), (0, 1), True),
    ((2, 2, 5, 5), (2, 2, 5, 5), 1, 2, False),
    ((2, 2, 7, 6), (2, 2, 2, 2), 3, 2, True),  # stride beyond the kernel: some pixels, some taps, unused
]


@pytest.mark.parametrize("xs, ws, stride, padding, bias", CONV_CASES)
def test_conv2d_gradients(xs, ws, stride, padding, bias):
    w = Tensor(RNG.standard_normal(ws))
    b = Tensor(RNG.standard_normal(ws[0])) if bias else None
    params = [w] + ([b] if bias else [])
    check_grad(lambda x: F.conv2d(x, w, b, stride, padding), [RNG.standard_normal(xs)], params)


@pytest.mark.parametrize("xs, ws, stride, padding, bias", CONV_CASES)
def test_conv2d_matches_the_definition(xs, ws, stride, padding, bias):
    x, w = RNG.standard_normal(xs), RNG.standard_normal(ws)
    b = RNG.standard_normal(ws[0]) if bias else None
    out = F.conv2d(Tensor(x), Tensor(w), None if b is None else Tensor(b), stride, padding)
    np.testing.assert_allclose(out.data, naive_conv2d(x, w, b, stride, padding), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("op", [
    lambda x: F.conv2d(x, Tensor(np.linspace(-1, 1, 72).reshape(4, 2, 3, 3)), Tensor(np.arange(4.0)), 1, 1),
    lambda x: F.max_pool2d(x, 3, 2, 1),
])
def test_input_memory_layout_does_not_matter(op):
    """Non-contiguous inputs (another conv's channel-major output, Fortran order) give the same results."""
    x = RNG.standard_normal((3, 2, 6, 6))
    channel_major = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    upstream = RNG.standard_normal(op(Tensor(x)).shape)
    results = []
    for variant in (x, channel_major, np.asfortranarray(x)):
        t = Tensor(variant, requires_grad=True)
        out = op(t)
        out.backward(upstream)
        results.append((out.data, t.grad))
    for out, grad in results[1:]:
        np.testing.assert_allclose(out, results[0][0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(grad, results[0][1], rtol=1e-12, atol=1e-12)


def test_conv_layer_has_pytorch_parameters():
    manual_seed(0)
    conv = nn.Conv2d(3, 8, (3, 5), stride=2, padding=(1, 2))
    assert [name for name, _ in conv.named_parameters()] == ["weight", "bias"]
    assert conv.weight.shape == (8, 3, 3, 5) and conv.weight.dtype == np.float32
    np.testing.assert_allclose(conv.bias.data, np.zeros(8))
    # He initialisation: std = sqrt(2 / fan_in), fan_in = 3 * 3 * 5
    assert abs(conv.weight.data.std() / np.sqrt(2 / 45) - 1) < 0.2
    out = conv(Tensor(RNG.standard_normal((2, 3, 9, 10)).astype(np.float32)))
    assert out.shape == (2, 8, 5, 5)
    assert nn.Conv2d(3, 8, 3, bias=False).bias is None
    assert [name for name, _ in nn.Conv2d(3, 8, 3, bias=False).named_parameters()] == ["weight"]
    np.testing.assert_allclose(nn.Conv2d(2, 2, 3, init="zeros").weight.data, 0.0)


def test_conv_layer_gradients():
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1).to(np.float64)
    check_grad(conv, [RNG.standard_normal((2, 2, 5, 6))], conv.parameters())


# ---------------------------------------------------------------------- max_pool2d
POOL_CASES = [  # (x shape, kernel, stride, padding)
    ((2, 3, 6, 6), 2, None, 0),  # non-overlapping
    ((2, 2, 7, 7), 2, None, 0),  # non-overlapping, last row and column dropped
    ((2, 2, 6, 6), 3, 3, 0),
    ((2, 2, 7, 7), 3, 2, 1),  # overlapping and padded
    ((2, 2, 5, 5), 3, 1, 1),
    ((2, 2, 6, 7), (2, 3), (1, 2), (1, 0)),
    ((2, 2, 5, 6), (1, 2), None, 0),  # a one-row kernel
]


@pytest.mark.parametrize("xs, kernel, stride, padding", POOL_CASES)
def test_max_pool2d_gradients(xs, kernel, stride, padding):
    check_grad(lambda x: F.max_pool2d(x, kernel, stride, padding), [distinct(*xs)])


@pytest.mark.parametrize("xs, kernel, stride, padding", POOL_CASES)
def test_max_pool2d_matches_the_definition(xs, kernel, stride, padding):
    x = RNG.standard_normal(xs)
    out = nn.MaxPool2d(kernel, stride, padding)(Tensor(x))
    np.testing.assert_allclose(out.data, naive_max_pool2d(x, kernel, stride, padding), rtol=0, atol=0)


def test_max_pool_tie_sends_the_gradient_to_exactly_one_input():
    x = Tensor(np.ones((2, 3, 4, 4)), requires_grad=True)
    upstream = RNG.standard_normal((2, 3, 2, 2))
    F.max_pool2d(x, 2).backward(upstream)
    windows = x.grad.reshape(2, 3, 2, 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 2, 2, 4)
    np.testing.assert_allclose(windows.sum(axis=-1), upstream)
    assert ((windows != 0).sum(axis=-1) == 1).all()
    np.testing.assert_allclose(windows[..., 0], upstream)  # the first maximum in row-major order, as PyTorch


def test_max_pool_ties_in_overlapping_windows():
    """Each 3x3 window of a constant image picks its own top-left corner: four inputs, one per window."""
    x = Tensor(np.full((1, 1, 4, 4), 2.0), requires_grad=True)
    upstream = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    F.max_pool2d(x, 3, stride=1).backward(upstream)
    expected = np.zeros((1, 1, 4, 4))
    expected[0, 0, :2, :2] = upstream[0, 0]
    np.testing.assert_allclose(x.grad, expected)


def test_max_pool_ties_break_row_major_within_a_window():
    x = Tensor(np.array([[[[0.0, 1.0], [1.0, 1.0]]]]), requires_grad=True)
    F.max_pool2d(x, 2).backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_allclose(x.grad, [[[[0.0, 1.0], [0.0, 0.0]]]])


@pytest.mark.parametrize("kernel", [(17, 16), (16, 17), (1, 300)])
def test_max_pool_with_more_than_256_offsets_per_window(kernel):
    """Window offsets past 255 need a wider integer than uint8 (NumPy 1.x kept uint8 and wrapped)."""
    kh, kw = kernel
    x = RNG.standard_normal((2, 2, kh, kw))
    x[0, 0, -1, -1] = 10.0  # the last offset of the only window wins
    t = Tensor(x, requires_grad=True)
    out = F.max_pool2d(t, kernel)
    np.testing.assert_allclose(out.data, naive_max_pool2d(x, kernel, None, 0))
    out.backward(np.ones(out.shape))
    winners = np.zeros_like(x)
    for s in range(2):
        for c in range(2):
            i, j = np.unravel_index(np.argmax(x[s, c]), (kh, kw))
            winners[s, c, i, j] = 1.0
    np.testing.assert_array_equal(t.grad, winners)


def test_max_pool_padding_is_never_the_maximum():
    x = -np.abs(RNG.standard_normal((1, 1, 4, 4))) - 1.0  # all negative: zero padding would win
    out = F.max_pool2d(Tensor(x), 2, stride=2, padding=1)
    np.testing.assert_allclose(out.data, naive_max_pool2d(x, 2, 2, 1))
    assert (out.data < 0).all()


# ---------------------------------------------------------------------- batch norm
def bn_layer(cls, c, **kwargs):
    layer = cls(c, **kwargs).to(np.float64)
    if layer.affine:
        layer.weight.data[:] = RNG.uniform(0.5, 1.5, c)
        layer.bias.data[:] = RNG.standard_normal(c)
    return layer


@pytest.mark.parametrize("cls, shape", [
    (nn.BatchNorm1d, (6, 3)),
    (nn.BatchNorm1d, (3, 2, 4)),
    (nn.BatchNorm2d, (3, 2, 3, 4)),
])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradients(cls, shape, training):
    bn = bn_layer(cls, shape[1])
    bn.running_mean[:] = RNG.standard_normal(shape[1])
    bn.running_var[:] = RNG.uniform(0.5, 2.0, shape[1])
    bn.train(training)
    check_grad(bn, [RNG.standard_normal(shape) * 2 + 1], bn.parameters())


def test_batch_norm_gradients_without_affine_parameters():
    bn = bn_layer(nn.BatchNorm2d, 2, affine=False)
    assert bn.parameters() == []
    check_grad(bn, [RNG.standard_normal((2, 2, 3, 3))])


def test_functional_batch_norm_with_bias_only():
    x, b = RNG.standard_normal((4, 3)), Tensor(RNG.standard_normal(3))
    rm, rv = np.zeros(3), np.ones(3)
    check_grad(lambda t: F.batch_norm(t, rm, rv, None, b, training=True), [x], [b])


def test_batch_norm_training_output_is_standardised():
    x = RNG.standard_normal((16, 4, 5, 5)) * 3 + 2
    out = nn.BatchNorm2d(4).to(np.float64)(Tensor(x)).data
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1.0, rtol=1e-4)  # eps = 1e-5 shrinks it a little


def test_batch_norm_running_statistics_after_two_steps():
    bn = nn.BatchNorm1d(3, momentum=0.1)
    x1 = RNG.standard_normal((5, 3, 4)).astype(np.float32)
    x2 = (RNG.standard_normal((7, 3, 4)) * 2 + 1).astype(np.float32)
    bn(Tensor(x1))
    bn(Tensor(x2))
    mean1, mean2 = x1.astype(np.float64).mean(axis=(0, 2)), x2.astype(np.float64).mean(axis=(0, 2))
    var1 = x1.astype(np.float64).var(axis=(0, 2), ddof=1)  # unbiased, as PyTorch keeps
    var2 = x2.astype(np.float64).var(axis=(0, 2), ddof=1)
    expected_mean = 0.9 * (0.9 * 0.0 + 0.1 * mean1) + 0.1 * mean2
    expected_var = 0.9 * (0.9 * 1.0 + 0.1 * var1) + 0.1 * var2
    np.testing.assert_allclose(bn.running_mean, expected_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.running_var, expected_var, rtol=1e-5, atol=1e-6)
    assert bn.running_mean.dtype == np.float32 and bn.running_var.dtype == np.float32
    assert bn.num_batches_tracked.dtype == np.int64 and int(bn.num_batches_tracked) == 2
    assert set(dict(bn.named_buffers())) == {"running_mean", "running_var", "num_batches_tracked"}

    bn.eval()
    x3 = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    out = bn(Tensor(x3)).data
    expected = (x3 - expected_mean[:, None]) / np.sqrt(expected_var[:, None] + 1e-5)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    assert int(bn.num_batches_tracked) == 2  # evaluation leaves the statistics alone
    np.testing.assert_allclose(bn.running_mean, expected_mean, rtol=1e-5, atol=1e-6)


def test_batch_norm_eval_uses_running_statistics_and_affine_parameters():
    bn = nn.BatchNorm2d(2).eval()
    bn.running_mean[:] = [1.0, -2.0]
    bn.running_var[:] = [4.0, 0.25]
    bn.weight.data[:] = [2.0, 3.0]
    bn.bias.data[:] = [0.5, -0.5]
    x = RNG.standard_normal((1, 2, 3, 3)).astype(np.float32)  # a single sample is fine in eval mode
    mean, var, weight, bias = (np.array(v)[:, None, None] for v in ([1.0, -2.0], [4.0, 0.25], [2.0, 3.0], [0.5, -0.5]))
    expected = (x - mean) / np.sqrt(var + 1e-5) * weight + bias
    np.testing.assert_allclose(bn(Tensor(x)).data, expected, rtol=1e-5, atol=1e-6)


def test_batch_norm_cumulative_average_without_momentum():
    bn = nn.BatchNorm1d(2, momentum=None)
    batches = [RNG.standard_normal((4, 2)).astype(np.float32) + k for k in range(3)]
    for x in batches:
        bn(Tensor(x))
    expected = np.mean([x.mean(axis=0) for x in batches], axis=0)  # the plain average of the batch means
    np.testing.assert_allclose(bn.running_mean, expected, rtol=1e-5, atol=1e-6)


def test_batch_norm_state_dict_round_trip_keeps_updating():
    bn = nn.BatchNorm1d(3)
    bn(Tensor(RNG.standard_normal((4, 3)).astype(np.float32)))
    copy = nn.BatchNorm1d(3)
    copy.load_state_dict(bn.state_dict())
    np.testing.assert_allclose(copy.running_mean, bn.running_mean)
    copy(Tensor(RNG.standard_normal((4, 3)).astype(np.float32)))
    assert int(copy.num_batches_tracked) == 2
    assert set(copy.state_dict()) == {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}


def test_reassigned_buffers_stay_registered_and_saved(tmp_path):
    from nnstudio import saves
    from nnstudio.engine import build_model
    from nnstudio.engine.presets import preset_spec

    model = build_model(preset_spec("deep-mlp", hidden=(4,), dropout=0.0))
    bn = next(m for m in model.modules() if isinstance(m, nn.BatchNorm1d))
    bn.running_mean = np.arange(4, dtype=np.float32)  # assigned, not written in place
    bn.num_batches_tracked = np.array(7, dtype=np.int64)
    names = [name for name, _ in model.named_buffers()]
    assert sum(n.endswith(("running_mean", "running_var", "num_batches_tracked")) for n in names) == 3
    key = next(n for n in model.state_dict() if n.endswith("running_mean"))
    np.testing.assert_array_equal(model.state_dict()[key], np.arange(4))
    loaded = saves.load(saves.save_model(tmp_path / "m.safetensors", model))
    np.testing.assert_array_equal(loaded.model.state_dict()[key], np.arange(4))
    with pytest.raises(TypeError, match="buffer 'running_var'"):
        bn.running_var = [1.0, 1.0, 1.0, 1.0]
    bn.running_mean = nn.Identity()  # a module under a buffer's name replaces it, as in PyTorch
    assert "running_mean" not in bn._buffers


def test_batch_norm_batch_of_one_is_refused_in_training():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(Tensor(np.ones((1, 3), dtype=np.float32)))
    assert int(bn.num_batches_tracked) == 0  # the refused batch left no trace
    bn(Tensor(RNG.standard_normal((1, 3, 4)).astype(np.float32)))  # one sample, four values per channel: fine
    bn.eval()
    bn(Tensor(np.ones((1, 3), dtype=np.float32)))


# ---------------------------------------------------------------------- the layers together
def test_small_cnn_gradients_through_every_layer():
    manual_seed(3)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(2, 2, 2), nn.Flatten(), nn.Linear(8, 3)).to(np.float64)
    check_grad(model, [distinct(2, 1, 6, 6)], model.parameters())


@pytest.mark.parametrize("pool", [nn.MaxPool2d(2), nn.MaxPool2d(3, 2, 1), nn.MaxPool2d((2, 3), (1, 2))])
def test_max_pooling_then_relu_equals_relu_then_max_pooling_exactly(pool):
    """What `build_model`'s pool-first order rests on: the same numbers exactly, values and gradients,
    ties and all-negative windows included."""
    manual_seed(5)
    conv = nn.Conv2d(2, 3, 3, padding=1).to(np.float64)
    relu_first = nn.Sequential(conv, nn.ReLU(), pool, nn.Flatten())
    pool_first = nn.Sequential(conv, pool, nn.ReLU(), nn.Flatten())  # the same conv: the same parameters
    x = RNG.standard_normal((2, 2, 6, 6))
    x[0, :, :4, :4] = 0.0  # zero bias: conv outputs exactly 0 there, ties for the maximum
    upstream = RNG.standard_normal(relu_first(Tensor(x)).shape)

    def run(model):
        model.zero_grad()
        t = Tensor(x, requires_grad=True)
        out = model(t)
        out.backward(upstream)
        return [out.data, t.grad] + [p.grad for p in conv.parameters()]

    for pooled_first, plain in zip(run(pool_first), run(relu_first)):
        np.testing.assert_array_equal(pooled_first, plain)
    check_grad(pool_first, [distinct(2, 2, 6, 6)], pool_first.parameters())


def test_sequential_runs_its_modules_in_order():
    seen = []

    class Spy(nn.Module):
        def __init__(self, name):
            super().__init__()
            self.name = name

        def forward(self, x):
            seen.append((self.name, x.shape))
            return x

    class SpyReLU(nn.ReLU):
        def forward(self, x):
            seen.append(("relu", x.shape))
            return super().forward(x)

    nn.Sequential(Spy("first"), SpyReLU(), nn.MaxPool2d(2), Spy("last"))(Tensor(np.ones((1, 1, 4, 4))))
    assert seen == [("first", (1, 1, 4, 4)), ("relu", (1, 1, 4, 4)), ("last", (1, 1, 2, 2))]  # no reordering


def test_float32_stays_float32():
    manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2, padding=1),
                          nn.Flatten(), nn.BatchNorm1d(36))
    x = Tensor(RNG.standard_normal((3, 2, 5, 5)).astype(np.float32), requires_grad=True)
    out = model(x)
    assert out.dtype == np.float32
    out.backward(np.ones(out.shape, dtype=np.float32))
    assert x.grad.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.parameters())
    with no_grad():
        assert model.eval()(x).dtype == np.float32


def test_functional_names_are_exported():
    from nnstudio.engine.nn import conv, norm
    assert (F.conv2d, F.max_pool2d, F.batch_norm) == (conv.conv2d, conv.max_pool2d, norm.batch_norm)


# ---------------------------------------------------------------------- argument errors
@pytest.mark.parametrize("make, message", [
    (lambda: nn.Conv2d(0, 4, 3), "Conv2d: in_channels must be a positive int"),
    (lambda: nn.Conv2d(3, -1, 3), "Conv2d: out_channels must be a positive int"),
    (lambda: nn.Conv2d(3, 4, 0), "Conv2d: kernel_size must be positive"),
    (lambda: nn.Conv2d(3, 4, (3, 3, 3)), "Conv2d: kernel_size must be an int or a pair"),
    (lambda: nn.Conv2d(3, 4, 3, stride=0), "Conv2d: stride must be positive"),
    (lambda: nn.Conv2d(3, 4, 3, padding=-1), "Conv2d: padding must be non-negative"),
    (lambda: nn.MaxPool2d(0), "MaxPool2d: kernel_size must be positive"),
    (lambda: nn.MaxPool2d(2, stride=(1, 0)), "MaxPool2d: stride must be positive"),
    (lambda: nn.MaxPool2d(2, padding=2), "MaxPool2d: padding .* at most half the kernel"),
    (lambda: nn.BatchNorm1d(0), "BatchNorm1d: num_features must be a positive int"),
    (lambda: nn.BatchNorm2d(3, momentum=1.5), "BatchNorm2d: momentum must be in"),
    (lambda: nn.BatchNorm2d(3, eps=0), "BatchNorm2d: eps must be positive"),
])
def test_bad_layer_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def images(*shape) -> Tensor:
    return Tensor(np.zeros(shape, dtype=np.float32))


@pytest.mark.parametrize("call, message", [
    (lambda: nn.Conv2d(3, 4, 3)(images(3, 8, 8)), r"Conv2d expects input of shape \(N, 3, H, W\), got shape \(3, 8,"),
    (lambda: nn.Conv2d(3, 4, 3)(images(2, 1, 8, 8)), r"Conv2d expects input of shape \(N, 3, H, W\)"),
    (lambda: nn.Conv2d(3, 4, 5)(images(2, 3, 4, 8)), "conv2d: input height 4 .* smaller than the kernel"),
    (lambda: F.conv2d(images(2, 3, 8, 8), images(4, 2, 3, 3)), "conv2d: input has 3 channels but the weight"),
    (lambda: F.conv2d(images(2, 3, 8), images(4, 3, 3, 3)), r"conv2d expects input of shape \(N, C, H, W\)"),
    (lambda: F.conv2d(images(2, 3, 8, 8), images(4, 3, 3)), "conv2d expects a weight of shape"),
    (lambda: F.conv2d(images(2, 3, 8, 8), images(4, 3, 3, 3), images(3)), r"conv2d: bias must have shape \(4,\)"),
    (lambda: nn.MaxPool2d(2)(images(2, 8, 8)), r"MaxPool2d expects input of shape \(N, C, H, W\)"),
    (lambda: nn.MaxPool2d(3)(images(1, 1, 2, 8)), "max_pool2d: input height 2 .* smaller than the kernel"),
    (lambda: F.max_pool2d(images(1, 1, 4, 4), 2, padding=3), "max_pool2d: padding"),
    (lambda: nn.BatchNorm1d(3)(images(4, 3, 2, 2)), r"BatchNorm1d\(3\) expects input of shape \(N, 3\) or \(N, 3, L\)"),
    (lambda: nn.BatchNorm1d(3)(images(4, 2)), r"BatchNorm1d\(3\) expects input"),
    (lambda: nn.BatchNorm2d(3)(images(4, 3, 2)), r"BatchNorm2d\(3\) expects input of shape \(N, 3, H, W\)"),
    (lambda: F.batch_norm(images(4, 3), None, None), "batch_norm: evaluation needs running_mean"),
])
def test_bad_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call()
