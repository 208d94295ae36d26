"""Optimizers with PyTorch's names and update rules: `SGD`, `RMSprop`, `Adam`, `AdamW`.

Three rules hold for all of them:

- Parameters are updated in place (`p.data -= ...`): models, views and saves keep
  referring to the same arrays.
- Gradients are only read, never written: after a step `.grad` still holds what backward
  computed, for the UI's gradient norms (and for arrays a caller assigned to `.grad` itself).
- Hyperparameters are plain attributes read (and checked) at every `step()`, so a UI can
  change `lr`, `momentum` or `weight_decay` between two steps.

Every `FLUSH_EVERY` steps, state values that have decayed below the smallest normal float are
set to 0 (`Optimizer._flush_subnormals`): arithmetic on subnormal numbers is many times slower.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from ..tensor import Tensor
from . import _checks


def _param_list(params: Iterable[Tensor]) -> list[Tensor]:
    """The parameters as a list, refusing what would make a silent no-op or a double update."""
    if isinstance(params, Tensor):
        raise TypeError("params must be an iterable of Parameters, not a single tensor: wrap it in a list")
    try:
        params = list(params)
    except TypeError:
        raise TypeError(f"params must be an iterable of Parameters (e.g. model.parameters()), "
                        f"got {type(params).__name__}") from None
    if not params:
        raise ValueError("params is empty: the optimizer would have nothing to train")
    seen: dict[int, int] = {}
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"params[{i}] is a {type(p).__name__}, not a Parameter (pass model.parameters())")
        if id(p) in seen:
            raise ValueError(f"params[{i}] is the same tensor as params[{seen[id(p)]}]: it would be updated twice per step")
        seen[id(p)] = i
    return params


#: how often (in steps) the optimizer state is cleared of subnormal numbers
FLUSH_EVERY = 16


def _zeros(state: dict, name: str, like: np.ndarray) -> np.ndarray:
    """The state array `name`, created as zeros shaped like the parameter the first time it is needed."""
    buf = state.get(name)
    if buf is None:
        buf = state[name] = np.zeros_like(like)
    return buf


class Optimizer:
    """Base class: the parameters, their per-parameter state, the hyperparameters and their persistence.

    A subclass passes its hyperparameters as keyword arguments to `__init__`, checks them in
    `_validate` and updates one parameter in `_update`. Per-parameter state lives in
    `self.state[i]`, a dict of arrays named as in PyTorch (`"momentum_buffer"`, `"exp_avg"`...).
    """

    #: names of the per-parameter arrays `load_state_dict` accepts
    state_names: tuple[str, ...] = ()
    #: names that must all be present once a parameter has any state
    required_state: tuple[str, ...] = ()
    #: per-parameter state that is an integer counter, not an array shaped like the parameter
    scalar_state: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Tensor], lr: float, **hyper) -> None:
        self.params: list[Tensor] = _param_list(params)
        self.hyper_names: tuple[str, ...] = ("lr", *hyper)
        self.lr = lr
        for name, value in hyper.items():
            setattr(self, name, value)
        self._validate(self._hyper())
        self.step_count = 0  # how many times step() ran
        self.state: list[dict] = [{} for _ in self.params]

    # ------------------------------------------------------------------ hyperparameters
    def _hyper(self) -> dict:
        """The hyperparameters as they are now (the UI may have changed them)."""
        return {name: getattr(self, name) for name in self.hyper_names}

    def _checked_hyper(self) -> dict:
        """The hyperparameters, validated; checked again only when one of them has changed."""
        raw = self._hyper()
        key = tuple(raw.values())
        if getattr(self, "_checked_key", None) != key:
            self._checked = self._validate(raw)  # raises before anything is stored if a value is bad
            self._checked_key = key
        return self._checked

    def _validate(self, h: dict) -> dict:
        """Check the hyperparameters; return them as Python floats/bools ready for the update."""
        out = dict(h)
        out["lr"] = _checks.number("lr", h["lr"], 0.0)  # 0 freezes the weights: allowed
        if "weight_decay" in h:
            out["weight_decay"] = _checks.number("weight_decay", h["weight_decay"], 0.0)
        return out

    # ------------------------------------------------------------------ the training step
    def zero_grad(self) -> None:
        """Forget every parameter's gradient (`None`, so the next backward assigns instead of adding)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient, with the hyperparameters as they are now."""
        h = self._checked_hyper()
        self.step_count += 1
        for i, p in enumerate(self.params):
            if p.grad is not None:
                self._update(i, p, p.grad, h)
        if self.step_count % FLUSH_EVERY == 0:
            self._flush_subnormals()

    def _flush_subnormals(self) -> None:
        """Set to 0 the state values below the smallest normal float (0 is where they were heading).

        A weight whose gradient stays 0 (one from a pixel that is blank in every image, such as
        MNIST's border) has its moving averages multiplied by a beta < 1 at every step, so they
        sink through the subnormal range, where x86 arithmetic is tens of times slower: Adam
        spent a fifth of each MLP epoch after the first there. Done every `FLUSH_EVERY` steps,
        which costs little and keeps the step count, and so a resumed run, deterministic.
        """
        for state in self.state:
            for value in state.values():
                if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                    value[np.abs(value) < np.finfo(value.dtype).tiny] = 0

    def _update(self, i: int, p: Tensor, g: np.ndarray, h: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not define _update()")

    # ------------------------------------------------------------------ persistence
    def state_dict(self) -> dict:
        """A snapshot: JSON-able hyperparameters and counts, plus copies of the state arrays.

        `{"type", "hyper", "step", "params": [shape, ...], "state": {"0": {"exp_avg": array, ...}}}`;
        parameters without state yet are left out of `"state"`. Every state value is an array
        (Adam's per-parameter update count `"step"` a 0-d int64 one), so a save can store them
        all as named tensors and the rest as JSON.
        """
        hyper = {k: list(v) if isinstance(v, tuple) else v for k, v in self._validate(self._hyper()).items()}
        return {
            "type": type(self).__name__,
            "hyper": hyper,
            "step": self.step_count,
            "params": [list(p.shape) for p in self.params],
            "state": {
                str(i): {name: np.array(value, copy=True) for name, value in s.items()}
                for i, s in enumerate(self.state) if s
            },
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a `state_dict()` snapshot, checking all of it first.

        Nothing changes unless the whole snapshot fits this optimizer (same type, same number
        and shapes of parameters, known hyperparameters and state names), so a bad checkpoint
        never leaves the optimizer half-loaded. Arrays are copied in the parameters' dtypes.
        """
        kind = type(self).__name__
        _checks.same_type(kind, state_dict, kind)
        _checks.require_keys(kind, state_dict, ("hyper", "step", "params", "state"))

        shapes = [tuple(s) for s in state_dict["params"]]
        if len(shapes) != len(self.params):
            raise ValueError(f"state dict holds {len(shapes)} parameters, this optimizer has {len(self.params)}")
        for i, (saved, p) in enumerate(zip(shapes, self.params)):
            if saved != p.shape:
                raise ValueError(f"parameter {i} has shape {saved} in the state dict but {p.shape} here")

        saved_hyper = dict(state_dict["hyper"])
        missing = [k for k in self.hyper_names if k not in saved_hyper]
        unexpected = [k for k in saved_hyper if k not in self.hyper_names]
        if missing or unexpected:
            raise ValueError(f"state dict hyperparameters do not match {kind}: "
                             f"missing {missing or 'none'}, unexpected {unexpected or 'none'}")
        hyper = self._validate({k: tuple(v) if isinstance(v, list) else v for k, v in saved_hyper.items()})
        step_count = _checks.count("step", state_dict["step"])

        state: list[dict] = [{} for _ in self.params]
        for key, entry in dict(state_dict["state"]).items():
            i = self._state_index(key)
            p = self.params[i]
            for name, value in dict(entry).items():
                if name not in self.state_names:
                    raise ValueError(f"state of parameter {i} has unknown entry {name!r}; {kind} keeps {list(self.state_names)}")
                if name in self.scalar_state:
                    state[i][name] = _checks.count(f"state of parameter {i}: {name}", value)
                    continue
                arr = np.asarray(value)
                if arr.shape != p.shape:
                    raise ValueError(f"state of parameter {i}: {name!r} has shape {arr.shape}, the parameter has {p.shape}")
                if arr.dtype.kind not in "fiu":
                    raise ValueError(f"state of parameter {i}: {name!r} has dtype {arr.dtype}, expected numbers")
                state[i][name] = arr.astype(p.dtype, copy=True)
            missing = [n for n in self.required_state if state[i] and n not in state[i]]
            if missing:
                raise ValueError(f"state of parameter {i} is missing {missing}")

        for name, value in hyper.items():
            setattr(self, name, value)
        self.step_count = step_count
        self.state = state

    def _state_index(self, key) -> int:
        """A state-dict key ("3") as a parameter index, refusing keys out of range."""
        try:
            i = int(key)
        except (TypeError, ValueError):
            i = -1
        if not 0 <= i < len(self.params) or str(i) != str(key):
            raise ValueError(f"state dict has state for parameter {key!r}; this optimizer has parameters 0..{len(self.params) - 1}")
        return i

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v!r}" for k, v in self._hyper().items())
        return f"{type(self).__name__}({len(self.params)} parameters, {hyper})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay.

    PyTorch's rule, with g the gradient at step t:

        g <- g + weight_decay * p
        b <- g                                  (first step)
        b <- momentum * b + (1 - dampening) * g (later steps)
        g <- g + momentum * b  if nesterov  else  b
        p <- p - lr * g
    """

    state_names = ("momentum_buffer",)

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0, dampening: float = 0.0) -> None:
        super().__init__(params, lr, momentum=momentum, dampening=dampening,
                         nesterov=nesterov, weight_decay=weight_decay)

    def _validate(self, h: dict) -> dict:
        """Also the combination: live settings (momentum 0 with Nesterov on) are checked at the next step."""
        out = super()._validate(h)
        out["momentum"] = _checks.number("momentum", h["momentum"], 0.0, 1.0, high_open=True)
        out["dampening"] = _checks.number("dampening", h["dampening"], 0.0, 1.0)
        out["nesterov"] = _checks.flag("nesterov", h["nesterov"])
        if out["nesterov"] and (out["momentum"] <= 0 or out["dampening"] != 0):
            raise ValueError(f"nesterov needs momentum > 0 and dampening = 0, "
                             f"got momentum={h['momentum']!r}, dampening={h['dampening']!r}")
        return out

    def _update(self, i, p, g, h):
        x, state = p.data, self.state[i]
        momentum = h["momentum"]
        if h["weight_decay"]:
            g = g + h["weight_decay"] * x
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, dtype=x.dtype)  # a copy (g may be a NumPy scalar)
            else:
                buf *= momentum
                buf += (1.0 - h["dampening"]) * g
            g = g + momentum * buf if h["nesterov"] else buf
        x -= h["lr"] * g


class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root-mean-square of recent gradients.

    PyTorch's rule:

        g <- g + weight_decay * p
        v <- alpha * v + (1 - alpha) * g^2
        centered:  g_avg <- alpha * g_avg + (1 - alpha) * g;  v~ = v - g_avg^2   else  v~ = v
        d = g / (sqrt(v~) + eps)
        momentum > 0:  b <- momentum * b + d;  p <- p - lr * b      else  p <- p - lr * d
    """

    state_names = ("square_avg", "grad_avg", "momentum_buffer")
    required_state = ("square_avg",)

    def __init__(self, params, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8,
                 momentum: float = 0.0, weight_decay: float = 0.0, centered: bool = False) -> None:
        super().__init__(params, lr, alpha=alpha, eps=eps, momentum=momentum,
                         weight_decay=weight_decay, centered=centered)

    def _validate(self, h: dict) -> dict:
        out = super()._validate(h)
        out["alpha"] = _checks.number("alpha", h["alpha"], 0.0, 1.0, high_open=True)
        out["eps"] = _checks.number("eps", h["eps"], 0.0)
        out["momentum"] = _checks.number("momentum", h["momentum"], 0.0, 1.0, high_open=True)
        out["centered"] = _checks.flag("centered", h["centered"])
        return out

    def _update(self, i, p, g, h):
        x, state = p.data, self.state[i]
        alpha = h["alpha"]
        if h["weight_decay"]:
            g = g + h["weight_decay"] * x
        v = _zeros(state, "square_avg", x)
        v *= alpha
        v += (1.0 - alpha) * (g * g)
        if h["centered"]:
            g_avg = _zeros(state, "grad_avg", x)
            g_avg *= alpha
            g_avg += (1.0 - alpha) * g
            # v - g_avg^2 >= 0 in exact arithmetic; rounding must not turn it into sqrt(-tiny) = NaN
            denom = np.sqrt(np.maximum(v - g_avg * g_avg, 0.0))
        else:
            denom = np.sqrt(v)
        denom += h["eps"]
        if h["momentum"]:
            buf = _zeros(state, "momentum_buffer", x)
            buf *= h["momentum"]
            buf += g / denom
            x -= h["lr"] * buf
        else:
            x -= h["lr"] * (g / denom)


class Adam(Optimizer):
    """Adam with L2 weight decay added to the gradient (`AdamW` decouples it instead).

    PyTorch's rule, with t the number of updates this parameter has had:

        g <- g + weight_decay * p
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2          (amsgrad: use v_max <- max(v_max, v) below)
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    The last line is computed with sqrt(1 - beta2^t) multiplied through (algebraically the
    same, as in the Adam paper's "efficient version"), in place in one scratch array per
    parameter, because this loop runs on every batch:

        p <- p - (lr * sqrt(1 - beta2^t) / (1 - beta1^t)) * m / (sqrt(v) + eps * sqrt(1 - beta2^t))
    """

    state_names = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    required_state = ("step", "exp_avg", "exp_avg_sq")
    scalar_state = ("step",)
    decoupled = False  # AdamW: weight decay shrinks p directly instead of joining the gradient

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(params, lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        self._scratch: list[np.ndarray | None] = [None] * len(self.params)

    def _validate(self, h: dict) -> dict:
        out = super()._validate(h)
        betas = h["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        out["betas"] = tuple(_checks.number(f"betas[{k}]", b, 0.0, 1.0, high_open=True) for k, b in enumerate(betas))
        out["eps"] = _checks.number("eps", h["eps"], 0.0)
        out["amsgrad"] = _checks.flag("amsgrad", h["amsgrad"])
        return out

    def _update(self, i, p, g, h):
        x, state = p.data, self.state[i]
        lr, (beta1, beta2), wd = h["lr"], h["betas"], h["weight_decay"]
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(x), exp_avg_sq=np.zeros_like(x))
        buf = self._scratch[i]
        if buf is None or buf.shape != x.shape or buf.dtype != x.dtype:
            buf = self._scratch[i] = np.empty_like(x)
        t = state["step"] = state["step"] + 1
        m, v = state["exp_avg"], state["exp_avg_sq"]

        if wd:
            if self.decoupled:
                x *= 1.0 - lr * wd        # p <- p - lr * wd * p
            else:
                g = g + wd * x            # a new array: the shared gradient stays untouched
        m *= beta1                        # m <- beta1 * m + (1 - beta1) * g
        np.multiply(g, 1.0 - beta1, out=buf)
        m += buf
        v *= beta2                        # v <- beta2 * v + (1 - beta2) * g^2
        np.multiply(g, g, out=buf)
        buf *= 1.0 - beta2
        v += buf
        if h["amsgrad"]:
            v_max = _zeros(state, "max_exp_avg_sq", x)
            np.maximum(v_max, v, out=v_max)
            v = v_max

        root_bc2 = math.sqrt(1.0 - beta2 ** t)
        step_size = lr * root_bc2 / (1.0 - beta1 ** t)
        np.sqrt(v, out=buf)               # buf <- step_size * m / (sqrt(v) + eps * sqrt(1 - beta2^t))
        buf += h["eps"] * root_bc2
        np.divide(m, buf, out=buf)
        buf *= step_size
        x -= buf


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p <- p - lr * weight_decay * p, then Adam.

    Decay applied to the weights directly is not rescaled by Adam's per-coordinate step sizes,
    which is why it regularises better than L2 in the gradient.
    """

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01, amsgrad: bool = False) -> None:
        super().__init__(params, lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
