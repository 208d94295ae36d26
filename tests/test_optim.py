"""Optimizers and gradient clipping, checked against values worked out by hand.

Each expected value below is computed in the test itself from the update rule as PyTorch's
documentation writes it (plain, out-of-place NumPy), never by calling the optimizer code.
"""

import json
import math

import numpy as np
import pytest

from nnstudio.engine import nn
from nnstudio.engine.nn import Parameter
from nnstudio.engine.optim import SGD, Adam, AdamW, Optimizer, RMSprop, clip_grad_norm_, grad_norms
from nnstudio.engine.optim.optimizers import FLUSH_EVERY

P0 = np.array([1.0, -2.0, 0.5])
GRADS = [np.array([0.5, -1.0, 2.0]), np.array([0.1, 0.2, -0.3]), np.array([-0.4, 0.3, 0.0])]


def run(make_opt, grads=GRADS, p0=P0):
    """Params after each step of an optimizer fed the fixed gradients `grads`."""
    p = Parameter(np.array(p0, dtype=np.float64))
    opt = make_opt([p])
    history = []
    for g in grads:
        p.grad = np.array(g, dtype=np.float64)
        opt.step()
        history.append(p.data.copy())
    return history


def assert_history(actual, expected):
    for step, (a, e) in enumerate(zip(actual, expected), start=1):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-15, err_msg=f"after step {step}")


# ---------------------------------------------------------------------------------- SGD
def test_sgd_plain_constant_gradient_by_hand():
    # p = 1, g = 1, lr = 0.1: 0.9, 0.8, 0.7
    assert_history(run(lambda ps: SGD(ps, lr=0.1), [1.0] * 3, 1.0), [0.9, 0.8, 0.7])


def test_sgd_momentum_constant_gradient_by_hand():
    # b = 1, 1.9, 2.71 -> p = 1 - 0.1 b cumulatively: 0.9, 0.71, 0.439
    assert_history(run(lambda ps: SGD(ps, lr=0.1, momentum=0.9), [1.0] * 3, 1.0), [0.9, 0.71, 0.439])


def test_sgd_nesterov_constant_gradient_by_hand():
    # b = 1, 1.9, 2.71; step uses g + 0.9 b = 1.9, 2.71, 3.439 -> 0.81, 0.539, 0.1951
    assert_history(run(lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True), [1.0] * 3, 1.0),
                   [0.81, 0.539, 0.1951])


def test_sgd_dampening_constant_gradient_by_hand():
    # first buffer is g itself (no dampening), then b = 0.9 b + 0.5 g: 1, 1.4, 1.76
    assert_history(run(lambda ps: SGD(ps, lr=0.1, momentum=0.9, dampening=0.5), [1.0] * 3, 1.0),
                   [0.9, 0.76, 0.584])


def test_sgd_momentum_nesterov_weight_decay_vectors():
    lr, mu, wd = 0.1, 0.9, 0.01
    for nesterov in (False, True):
        p, b, expected = P0.copy(), None, []
        for g in GRADS:
            d = g + wd * p
            b = d if b is None else mu * b + d
            p = p - lr * (d + mu * b if nesterov else b)
            expected.append(p)
        actual = run(lambda ps: SGD(ps, lr=lr, momentum=mu, nesterov=nesterov, weight_decay=wd))
        assert_history(actual, expected)


def test_sgd_momentum_with_numpy_scalar_gradients():
    """0-d parameters can get NumPy scalars (not arrays) as gradients; the buffer must still accumulate."""
    p = Parameter(np.array(1.0))
    opt = SGD([p], lr=0.1, momentum=0.9)
    for expected in (0.9, 0.71, 0.439):
        p.grad = np.float64(1.0)
        opt.step()
        np.testing.assert_allclose(p.data, expected, rtol=1e-12)


# ---------------------------------------------------------------------------------- RMSprop
def test_rmsprop_constant_gradient_by_hand():
    # alpha = 0.5, g = 1, eps = 0: v = 0.5, 0.75, 0.875; p -= 0.1 / sqrt(v)
    steps = [0.1 / math.sqrt(0.5), 0.1 / math.sqrt(0.75), 0.1 / math.sqrt(0.875)]
    expected = 1.0 - np.cumsum(steps)
    assert_history(run(lambda ps: RMSprop(ps, lr=0.1, alpha=0.5, eps=0.0), [1.0] * 3, 1.0), expected)


def test_rmsprop_centered_constant_gradient_by_hand():
    # g_avg = 0.5, 0.75, 0.875 and v the same, so v - g_avg^2 = 0.25, 0.1875, 0.109375
    steps = [0.1 / math.sqrt(0.25), 0.1 / math.sqrt(0.1875), 0.1 / math.sqrt(0.109375)]
    expected = 1.0 - np.cumsum(steps)
    assert_history(run(lambda ps: RMSprop(ps, lr=0.1, alpha=0.5, eps=0.0, centered=True), [1.0] * 3, 1.0),
                   expected)


@pytest.mark.parametrize("centered", [False, True])
def test_rmsprop_momentum_weight_decay_vectors(centered):
    lr, alpha, eps, mu, wd = 0.01, 0.9, 1e-6, 0.8, 0.1
    p, v, g_avg, b, expected = P0.copy(), np.zeros(3), np.zeros(3), np.zeros(3), []
    for g in GRADS:
        g = g + wd * p
        v = alpha * v + (1 - alpha) * g ** 2
        if centered:
            g_avg = alpha * g_avg + (1 - alpha) * g
            denom = np.sqrt(v - g_avg ** 2) + eps
        else:
            denom = np.sqrt(v) + eps
        b = mu * b + g / denom
        p = p - lr * b
        expected.append(p)
    actual = run(lambda ps: RMSprop(ps, lr=lr, alpha=alpha, eps=eps, momentum=mu, weight_decay=wd, centered=centered))
    assert_history(actual, expected)


# ---------------------------------------------------------------------------------- Adam / AdamW
def adam_by_hand(lr, b1, b2, eps, wd=0.0, decoupled=False, amsgrad=False):
    """PyTorch's documented Adam/AdamW, written out plainly (bias corrections applied to m and v)."""
    p, m, v, v_max, expected = P0.copy(), np.zeros(3), np.zeros(3), np.zeros(3), []
    for t, g in enumerate(GRADS, start=1):
        if decoupled:
            p = p - lr * wd * p
        else:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        v_max = np.maximum(v_max, v)
        m_hat = m / (1 - b1 ** t)
        v_hat = (v_max if amsgrad else v) / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        expected.append(p)
    return expected


def test_adam_constant_gradient_moves_lr_per_step():
    # with a constant g, m_hat = g and v_hat = g^2, so each step is lr * g / |g| = lr
    assert_history(run(lambda ps: Adam(ps, lr=0.1, eps=0.0), [2.0] * 3, 1.0), [0.9, 0.8, 0.7])


def test_adam_vectors():
    assert_history(run(lambda ps: Adam(ps, lr=0.01, betas=(0.8, 0.9), eps=1e-3)),
                   adam_by_hand(0.01, 0.8, 0.9, 1e-3))


def test_adam_l2_weight_decay_vectors():
    assert_history(run(lambda ps: Adam(ps, lr=0.01, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.5)),
                   adam_by_hand(0.01, 0.8, 0.9, 1e-3, wd=0.5))


def test_adam_amsgrad_vectors():
    # GRADS shrink after step 1, so v falls and v_max differs from v
    expected = adam_by_hand(0.01, 0.8, 0.5, 1e-3, amsgrad=True)
    assert_history(run(lambda ps: Adam(ps, lr=0.01, betas=(0.8, 0.5), eps=1e-3, amsgrad=True)), expected)
    assert not np.allclose(expected[-1], adam_by_hand(0.01, 0.8, 0.5, 1e-3)[-1])


def test_adamw_decoupled_decay_alone_by_hand():
    # zero gradient: Adam's step is 0 / (0 + eps) = 0, only the decay acts: p *= 1 - 0.1 * 0.5
    assert_history(run(lambda ps: AdamW(ps, lr=0.1, weight_decay=0.5), [0.0] * 3, 1.0),
                   [0.95, 0.9025, 0.857375])


def test_adamw_vectors_differ_from_adam_l2():
    expected = adam_by_hand(0.01, 0.8, 0.9, 1e-3, wd=0.5, decoupled=True)
    assert_history(run(lambda ps: AdamW(ps, lr=0.01, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.5)), expected)
    assert not np.allclose(expected[-1], adam_by_hand(0.01, 0.8, 0.9, 1e-3, wd=0.5)[-1])


def test_adamw_default_weight_decay():
    assert AdamW([Parameter(np.zeros(2))]).weight_decay == pytest.approx(0.01)
    assert Adam([Parameter(np.zeros(2))]).weight_decay == 0.0


def test_adam_bias_correction_counts_each_parameters_own_updates():
    """A parameter first updated at step 3 gets a first-step update (as in PyTorch), not a step-3 one."""
    a, b = Parameter(np.array([1.0])), Parameter(np.array([1.0]))
    opt = Adam([a, b], lr=0.1, eps=0.0)
    for _ in range(2):
        a.grad = np.array([1.0])
        opt.step()
    a.grad, b.grad = np.array([1.0]), np.array([3.0])
    opt.step()
    np.testing.assert_allclose(b.data, [0.9])  # m_hat = g, v_hat = g^2 on a first update
    assert opt.state[1]["step"] == 1 and opt.state[0]["step"] == 3


# ---------------------------------------------------------------------------------- behaviour shared by all
ALL = [
    lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda ps: RMSprop(ps, lr=0.01, momentum=0.5, centered=True, weight_decay=0.01),
    lambda ps: Adam(ps, lr=0.01, amsgrad=True, weight_decay=0.01),
    lambda ps: AdamW(ps, lr=0.01),
]
NAMES = ["SGD", "RMSprop", "Adam", "AdamW"]


def make_params(seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [Parameter(rng.standard_normal(shape).astype(dtype)) for shape in [(4, 3), (3,), ()]]


def feed(opt, params, rng, steps):
    for _ in range(steps):
        for p in params:
            p.grad = rng.standard_normal(p.shape).astype(p.dtype)
        opt.step()


@pytest.mark.parametrize("make_opt", ALL, ids=NAMES)
def test_updates_in_place_keep_dtype_and_leave_gradients_alone(make_opt):
    params = make_params()
    arrays = [p.data for p in params]
    opt = make_opt(params)
    grads = [np.full(p.shape, 0.5, np.float32) for p in params]
    for _ in range(3):
        for p, g in zip(params, grads):
            p.grad = g
        opt.step()
    for p, arr, g in zip(params, arrays, grads):
        assert p.data is arr and p.data.dtype == np.float32
        assert p.grad is g
        np.testing.assert_array_equal(g, np.full(p.shape, 0.5, np.float32))
    for state in opt.state:
        assert all(np.asarray(v).dtype == np.float32 for k, v in state.items() if k != "step")


@pytest.mark.parametrize("make_opt", [lambda ps: SGD(ps, lr=0.01, momentum=0.9),
                                      lambda ps: RMSprop(ps, lr=0.01, alpha=0.9), lambda ps: Adam(ps, lr=0.01)],
                         ids=["SGD", "RMSprop", "Adam"])
def test_state_that_decays_below_the_normal_floats_is_flushed_to_zero(make_opt):
    """A weight whose gradient stays 0 (a pixel blank in every image) has its moving averages multiplied by a
    beta < 1 at every step; they must not linger as subnormal numbers, which slow the arithmetic many times."""
    param = Parameter(np.ones(2, np.float32))
    opt = make_opt([param])
    param.grad = np.ones(2, np.float32)
    opt.step()
    tiny = np.finfo(np.float32).tiny
    param.grad = np.array([0.0, 1.0], np.float32)   # from now on, the first weight gets no gradient
    decaying = []
    for _ in range(4000):   # 0.9 ** 4000 would be far below the smallest subnormal
        opt.step()
        arrays = [v for v in opt.state[0].values() if isinstance(v, np.ndarray)]
        if opt.step_count % FLUSH_EVERY == 0:
            assert all(not np.any((v != 0) & (np.abs(v) < tiny)) for v in arrays)
        decaying.append(min(abs(float(v[0])) for v in arrays))
    assert decaying[-1] == 0.0 and min(d for d in decaying if d > 0) > tiny / 2 ** 4   # flushed on its way down
    assert all(np.all(v[1:] != 0) for v in arrays)   # the weight that still learns keeps its state


@pytest.mark.parametrize("make_opt", ALL, ids=NAMES)
def test_parameters_without_gradient_are_skipped(make_opt):
    params = make_params()
    before = params[1].data.copy()
    opt = make_opt(params)
    params[0].grad = np.ones((4, 3), np.float32)
    opt.step()
    np.testing.assert_array_equal(params[1].data, before)
    assert opt.state[1] == {} and opt.state[0] != {}


def test_zero_grad_sets_none():
    params = make_params()
    for p in params:
        p.grad = np.ones(p.shape, np.float32)
    SGD(params).zero_grad()
    assert all(p.grad is None for p in params)


def test_accepts_generator_of_module_parameters():
    model = nn.Linear(3, 2)
    opt = SGD(p for p in model.parameters())
    assert len(opt.params) == 2


def test_lr_change_takes_effect_at_next_step():
    # SGD: p = 1, g = 1: lr 0.1 -> 0.9, then lr 0.5 -> 0.4
    p = Parameter(np.array([1.0]))
    opt = SGD([p], lr=0.1)
    p.grad = np.array([1.0])
    opt.step()
    opt.lr = 0.5
    opt.step()
    np.testing.assert_allclose(p.data, [0.4])
    # Adam with a constant gradient moves lr per step: 0.9, then 0.89
    q = Parameter(np.array([1.0]))
    adam = Adam([q], lr=0.1, eps=0.0)
    q.grad = np.array([2.0])
    adam.step()
    adam.lr = 0.01
    adam.step()
    np.testing.assert_allclose(q.data, [0.89])


def test_momentum_and_weight_decay_can_change_live():
    # momentum switched on at step 2: the buffer starts there (b = g), then b = 0.9 b + g
    p = Parameter(np.array([1.0]))
    opt = SGD([p], lr=0.1)
    p.grad = np.array([1.0])
    opt.step()                         # 0.9
    opt.momentum = 0.9
    opt.step()                         # b = 1   -> 0.8
    opt.step()                         # b = 1.9 -> 0.61
    opt.weight_decay = 1.0
    opt.step()                         # g = 1 + 0.61, b = 0.9 * 1.9 + 1.61 = 3.32 -> 0.278
    np.testing.assert_allclose(p.data, [0.278])


@pytest.mark.parametrize("make_opt", ALL, ids=NAMES)
def test_state_dict_round_trip_gives_bit_identical_updates(make_opt):
    rng = np.random.default_rng(1)
    params_a = make_params()
    opt_a = make_opt(params_a)
    feed(opt_a, params_a, rng, 3)
    state = opt_a.state_dict()
    # what a save would do: the non-array part through JSON, the arrays as they are
    arrays = state.pop("state")
    state = json.loads(json.dumps(state))
    state["state"] = arrays

    params_b = [Parameter(p.data.copy()) for p in params_a]
    opt_b = type(opt_a)(params_b, lr=0.5)  # different lr and defaults: all restored from the state
    opt_b.load_state_dict(state)
    assert opt_b.step_count == opt_a.step_count == 3
    assert opt_b._hyper() == opt_a._hyper()

    seed = rng.integers(1 << 30)
    feed(opt_a, params_a, np.random.default_rng(seed), 4)
    feed(opt_b, params_b, np.random.default_rng(seed), 4)
    for a, b in zip(params_a, params_b):
        np.testing.assert_array_equal(a.data, b.data)


def test_state_dict_is_a_snapshot():
    params = make_params()
    opt = Adam(params)
    feed(opt, params, np.random.default_rng(0), 1)
    state = opt.state_dict()
    saved = state["state"]["0"]["exp_avg"].copy()
    feed(opt, params, np.random.default_rng(1), 1)
    np.testing.assert_array_equal(state["state"]["0"]["exp_avg"], saved)
    assert state["hyper"]["betas"] == [0.9, 0.999]


def trained_adam_state():
    params = make_params()
    opt = Adam(params)
    feed(opt, params, np.random.default_rng(0), 2)
    return opt.state_dict()


@pytest.mark.parametrize("mutate, message", [
    (lambda s: s.update(type="SGD"), "for 'SGD'"),
    (lambda s: s["params"].pop(), "holds 2 parameters, this optimizer has 3"),
    (lambda s: s["params"].__setitem__(1, [4]), r"parameter 1 has shape \(4,\)"),
    (lambda s: s["state"]["0"].__setitem__("exp_avg", np.zeros((3, 4))), r"'exp_avg' has shape \(3, 4\)"),
    (lambda s: s["state"]["0"].__setitem__("momentum_buffer", np.zeros((4, 3))), "unknown entry 'momentum_buffer'"),
    (lambda s: s["state"]["1"].pop("exp_avg_sq"), "missing"),
    (lambda s: s["state"].__setitem__("7", {}), "parameter '7'"),
    (lambda s: s["hyper"].__setitem__("lr", -1.0), "lr must be >= 0"),
    (lambda s: s["hyper"].pop("eps"), "missing"),
    (lambda s: s.pop("step"), "missing 'step'"),
])
def test_load_state_dict_rejects_mismatches_and_changes_nothing(mutate, message):
    state = trained_adam_state()
    mutate(state)
    params = make_params()
    opt = Adam(params, lr=0.123)
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(state)
    assert opt.lr == 0.123 and opt.step_count == 0 and all(s == {} for s in opt.state)


@pytest.mark.parametrize("make, message", [
    (lambda: SGD([]), "params is empty"),
    (lambda: SGD(iter([])), "params is empty"),
    (lambda: SGD(make_params(), lr=-0.1), "lr must be >= 0"),
    (lambda: Adam(make_params(), lr=float("nan")), "lr must be >= 0"),
    (lambda: Adam(make_params(), lr=float("inf")), "lr must be >= 0"),
    (lambda: SGD(make_params(), momentum=-0.5), "momentum"),
    (lambda: SGD(make_params(), weight_decay=-1), "weight_decay"),
    (lambda: SGD(make_params(), nesterov=True), "nesterov needs momentum > 0"),
    (lambda: SGD(make_params(), momentum=0.9, dampening=0.1, nesterov=True), "dampening = 0"),
    (lambda: Adam(make_params(), betas=(0.9, 1.0)), r"betas\[1\]"),
    (lambda: Adam(make_params(), betas=0.9), "pair"),
    (lambda: Adam(make_params(), eps=-1e-8), "eps"),
    (lambda: RMSprop(make_params(), alpha=1.5), "alpha"),
    (lambda: Optimizer([Parameter(np.zeros(1))] * 2, lr=0.1), "updated twice"),
])
def test_constructor_rejects_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_constructor_rejects_non_parameters():
    with pytest.raises(TypeError, match="single tensor"):
        SGD(Parameter(np.zeros(2)))
    with pytest.raises(TypeError, match=r"params\[0\] is a ndarray"):
        SGD([np.zeros(2)])


def test_bad_lr_set_live_is_refused_before_any_update():
    params = make_params()
    before = [p.data.copy() for p in params]
    opt = Adam(params)
    for p in params:
        p.grad = np.ones(p.shape, np.float32)
    opt.lr = float("nan")
    with pytest.raises(ValueError, match="lr"):
        opt.step()
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p.data, b)


@pytest.mark.parametrize("change, message", [
    (lambda opt: setattr(opt, "momentum", 0.0), "nesterov needs momentum > 0"),
    (lambda opt: setattr(opt, "dampening", 0.5), "dampening = 0"),
])
def test_sgd_nesterov_rule_is_checked_when_settings_change_live(change, message):
    params = make_params()
    opt = SGD(params, lr=0.1, momentum=0.9, nesterov=True)
    for p in params:
        p.grad = np.ones(p.shape, np.float32)
    opt.step()
    after_first = [p.data.copy() for p in params]
    change(opt)
    with pytest.raises(ValueError, match=message):
        opt.step()
    for p, b in zip(params, after_first):  # refused before any update
        np.testing.assert_array_equal(p.data, b)
    opt.nesterov = False  # a consistent combination trains again
    opt.step()
    assert not np.array_equal(params[0].data, after_first[0])


def test_sgd_nesterov_rule_is_checked_on_load():
    state = SGD(make_params(), lr=0.1, momentum=0.9, nesterov=True).state_dict()
    state["hyper"]["momentum"] = 0.0
    opt = SGD(make_params(), lr=0.5)
    with pytest.raises(ValueError, match="nesterov needs momentum > 0"):
        opt.load_state_dict(state)
    assert opt.lr == 0.5 and not opt.nesterov


# ---------------------------------------------------------------------------------- Rosenbrock
def rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def minimise(make_opt, steps=2000):
    x, y = Parameter(np.array(-1.5)), Parameter(np.array(0.5))
    opt = make_opt([x, y])
    for _ in range(steps):
        opt.zero_grad()
        rosenbrock(x, y).backward()
        opt.step()
    return float(rosenbrock(x, y).data), float(x.data), float(y.data)


def test_adam_minimises_rosenbrock():
    start = float(rosenbrock(Parameter(np.array(-1.5)), Parameter(np.array(0.5))).data)
    np.testing.assert_allclose(start, 312.5)
    f, x, y = minimise(lambda ps: Adam(ps, lr=0.1))
    assert f < 1e-2
    np.testing.assert_allclose([x, y], [1.0, 1.0], atol=0.05)


def test_sgd_momentum_minimises_rosenbrock():
    f, x, y = minimise(lambda ps: SGD(ps, lr=2e-4, momentum=0.9))
    assert f < 0.1  # from 312.5
    np.testing.assert_allclose([x, y], [1.0, 1.0], atol=0.2)


# ---------------------------------------------------------------------------------- clipping
def grads_3_4_12():
    """Two parameters with gradients [3, 4] and [[12]] (global L2 norm 13), and one without."""
    a, b, c = Parameter(np.zeros(2)), Parameter(np.zeros((1, 1))), Parameter(np.zeros(3))
    a.grad, b.grad = np.array([3.0, 4.0]), np.array([[12.0]])
    return [a, b, c]


def global_norm(params, ord=2):
    return np.linalg.norm(np.concatenate([p.grad.ravel() for p in params if p.grad is not None]), ord)


def test_clip_returns_pre_clip_norm_and_scales_to_max_norm():
    params = grads_3_4_12()
    old = [params[0].grad, params[1].grad]
    total = clip_grad_norm_(params, max_norm=1.3)
    assert isinstance(total, float)
    np.testing.assert_allclose(total, 13.0)
    np.testing.assert_allclose(global_norm(params), 1.3, rtol=1e-6)
    np.testing.assert_allclose(params[0].grad, [0.3, 0.4], rtol=1e-6)  # direction kept
    assert params[2].grad is None
    # the old gradient arrays are replaced, not written into (they may be shared)
    assert params[0].grad is not old[0]
    np.testing.assert_array_equal(old[0], [3.0, 4.0])
    np.testing.assert_array_equal(old[1], [[12.0]])


def test_clip_below_max_norm_leaves_gradients_as_they_are():
    params = grads_3_4_12()
    old = params[0].grad
    np.testing.assert_allclose(clip_grad_norm_(params, max_norm=20.0), 13.0)
    assert params[0].grad is old
    np.testing.assert_array_equal(old, [3.0, 4.0])


def test_clip_inf_and_l1_norms():
    params = grads_3_4_12()
    np.testing.assert_allclose(clip_grad_norm_(params, max_norm=100.0, norm_type=1), 19.0)
    np.testing.assert_allclose(clip_grad_norm_(params, max_norm=6.0, norm_type=math.inf), 12.0)
    np.testing.assert_allclose(global_norm(params, np.inf), 6.0, rtol=1e-6)
    np.testing.assert_allclose(params[0].grad, [1.5, 2.0], rtol=1e-6)


def test_clip_keeps_float32_and_accepts_a_single_tensor():
    p = Parameter(np.zeros(2, np.float32))
    p.grad = np.array([30.0, 40.0], np.float32)
    np.testing.assert_allclose(clip_grad_norm_(p, 5.0), 50.0)
    assert p.grad.dtype == np.float32
    np.testing.assert_allclose(p.grad, [3.0, 4.0], rtol=1e-5)


def test_clip_without_gradients_and_with_nan():
    assert clip_grad_norm_([Parameter(np.zeros(2))], 1.0) == 0.0
    p = Parameter(np.zeros(2))
    p.grad = np.array([np.nan, 1.0])
    assert math.isnan(clip_grad_norm_([p], 1.0))
    np.testing.assert_array_equal(p.grad, [np.nan, 1.0])  # left visible, not hidden


def test_grad_norms_per_parameter():
    model = nn.Linear(2, 1)
    model.weight.grad = np.array([[3.0, 4.0]], dtype=model.weight.dtype)
    norms = grad_norms(model.named_parameters())
    assert list(norms) == ["weight"]  # the bias has no gradient: left out, not reported as 0
    np.testing.assert_allclose(norms["weight"], 5.0)
    params = grads_3_4_12()
    norms = grad_norms({"a": params[0], "b": params[1], "c": params[2]})
    np.testing.assert_allclose([norms["a"], norms["b"]], [5.0, 12.0])
    assert "c" not in norms
