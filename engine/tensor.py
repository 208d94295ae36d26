"""The autodiff `Tensor`: a NumPy array that remembers how it was made.

Every operation computes its result and, right beside it, a `backward(g)` closure that
maps the gradient of the output to the gradients of its inputs (one op, one place).
The closures capture input *arrays*, never the output `Tensor`, so a graph has no
reference cycles and is freed by reference counting as soon as the loss goes away.

During a backward pass no gradient is modified in place (one array may flow to several
inputs); they accumulate with `+` into `.grad` of leaf tensors, as in PyTorch. What ends up
in a `.grad` is always that tensor's own writeable array, so `p.grad *= 0.5` is safe.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import numpy as np

DEFAULT_DTYPE = np.float32

BackwardFn = Callable[[np.ndarray], Sequence["np.ndarray | None"]]


class _GradMode(threading.local):
    """Whether operations record a graph; per thread, so inference elsewhere cannot disturb training."""

    enabled = True


_grad_mode = _GradMode()


@contextmanager
def no_grad() -> Iterator[None]:
    """Run operations without recording a graph (evaluation, optimizer updates)."""
    previous = _grad_mode.enabled
    _grad_mode.enabled = False
    try:
        yield
    finally:
        _grad_mode.enabled = previous


def is_grad_enabled() -> bool:
    """True when new operations record the graph for `backward()`."""
    return _grad_mode.enabled


def _as_array(data, dtype=None) -> np.ndarray:
    """Float array from `data`: floats keep their precision, everything else becomes float32."""
    arr = data if isinstance(data, np.ndarray) else np.asarray(data)
    if dtype is not None:
        return arr.astype(dtype, copy=False)
    if arr.dtype.kind != "f":
        return arr.astype(DEFAULT_DTYPE)
    return arr


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` over the axes that broadcasting expanded, so it matches `shape` again."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad if grad.shape == shape else grad.reshape(shape)  # no needless view: a fresh sum can be kept as `.grad`


def _own_grad(g, stored: set[int]) -> np.ndarray:
    """`g` as an array a `.grad` may keep: its own, writeable, shared with nothing else.

    A backward closure may hand on a broadcast view (read-only), a view of a bigger array or
    the very array it got (`a + b` gives both the same one). Those are copied; a fresh
    array, the common case on the hot path (a matrix product, a sum), is kept as it is.
    """
    if type(g) is not np.ndarray:  # 0-d maths gives NumPy scalars
        g = np.asarray(g)
    elif g.base is not None or not g.flags.writeable or id(g) in stored:
        g = g.copy()
    stored.add(id(g))
    return g


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Known limitation (PyTorch forbids the same with its in-place rules; we do not check):
    an op's backward reads its input arrays as they are *when backward runs*, not as they
    were in the forward pass. Changing `.data` in place between `forward` and `backward()`
    (an optimizer step, `p.data *= 2`) silently gives gradients of a graph that never ran.
    Step the optimizer only after `backward()`, as the usual training step does.
    """

    __slots__ = ("data", "grad", "requires_grad", "_parents", "_backward", "_retain", "__weakref__")
    __array_priority__ = 1000  # make `ndarray * Tensor` call Tensor.__rmul__

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        self.data: np.ndarray = _as_array(data, dtype)
        self.grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        self._parents: tuple[Tensor, ...] = ()
        self._backward: BackwardFn | None = None
        self._retain = False

    # ------------------------------------------------------------------ graph plumbing
    @staticmethod
    def _make(data: np.ndarray, parents: tuple["Tensor", ...], backward: BackwardFn) -> "Tensor":
        """Wrap an op's result; record the graph only when some input needs a gradient."""
        out = Tensor.__new__(Tensor)
        out.data = data if type(data) is np.ndarray else np.asarray(data)  # 0-d ops yield NumPy scalars
        out.grad = None
        out._retain = False
        if _grad_mode.enabled:
            for parent in parents:
                if parent.requires_grad:
                    out.requires_grad = True
                    out._parents = parents
                    out._backward = backward
                    return out
        out.requires_grad = False
        out._parents = ()
        out._backward = None
        return out

    def _lift(self, other) -> "Tensor":
        """Turn a Python number or array into a constant tensor of this tensor's dtype."""
        if isinstance(other, Tensor):
            return other
        return Tensor(np.asarray(other, dtype=self.data.dtype))

    @property
    def is_leaf(self) -> bool:
        """A tensor made by the user, not by an operation (its `.grad` is kept)."""
        return self._backward is None

    def retain_grad(self) -> "Tensor":
        """Keep `.grad` on this intermediate tensor after `backward()` (leaves always keep it)."""
        self._retain = True
        return self

    def backward(self, grad=None) -> None:
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires a gradient.

        The graph is walked in reverse topological order, found by an iterative depth-first
        search, so arbitrarily deep graphs never meet Python's recursion limit.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad (no graph was recorded)")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward() needs an explicit gradient for a non-scalar tensor of shape {self.shape}")
            seed = np.ones_like(self.data)
        else:
            seed = _as_array(grad.data if isinstance(grad, Tensor) else grad, self.data.dtype)
            if seed.shape != self.data.shape:
                seed = np.broadcast_to(seed, self.data.shape)

        grads: dict[int, np.ndarray] = {id(self): seed}
        stored: set[int] = {id(seed)}  # arrays a `.grad` now holds, or the caller still does: never store twice
        for node in reversed(self._topological_order()):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node._backward is None or node._retain:
                node.grad = _own_grad(g, stored) if node.grad is None else _own_grad(node.grad + g, stored)
            if node._backward is None:
                continue
            for parent, pg in zip(node._parents, node._backward(g)):
                if pg is None or not parent.requires_grad:
                    continue
                key = id(parent)
                previous = grads.get(key)
                grads[key] = pg if previous is None else previous + pg

    def _topological_order(self) -> list["Tensor"]:
        """Nodes that lead to self, each after all of its inputs (iterative post-order DFS)."""
        order: list[Tensor] = []
        visited: set[int] = set()
        stack: list[tuple[Tensor, bool]] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            for parent in node._parents:
                if parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
        return order

    def zero_grad(self) -> None:
        """Forget the accumulated gradient."""
        self.grad = None

    def detach(self) -> "Tensor":
        """The same data, cut off from the graph."""
        return Tensor(self.data)

    # ------------------------------------------------------------------ array-like surface
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self) -> float:
        return self.data.item()

    def astype(self, dtype) -> "Tensor":
        """A differentiable cast (e.g. to float64 for gradient checks)."""
        src = self.data.dtype
        return Tensor._make(self.data.astype(dtype), (self,), lambda g: (g.astype(src),))

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, precision=4, threshold=20)}, dtype={self.data.dtype}{grad})"

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other) -> "Tensor":
        other = self._lift(other)
        a_shape, b_shape = self.shape, other.shape
        return Tensor._make(
            self.data + other.data, (self, other),
            lambda g: (unbroadcast(g, a_shape), unbroadcast(g, b_shape)),
        )

    def __mul__(self, other) -> "Tensor":
        other = self._lift(other)
        a, b = self.data, other.data
        return Tensor._make(
            a * b, (self, other),
            lambda g: (
                unbroadcast(g * b, a.shape) if self.requires_grad else None,
                unbroadcast(g * a, b.shape) if other.requires_grad else None,
            ),
        )

    def __truediv__(self, other) -> "Tensor":
        other = self._lift(other)
        a, b = self.data, other.data
        return Tensor._make(
            a / b, (self, other),
            lambda g: (
                unbroadcast(g / b, a.shape) if self.requires_grad else None,
                unbroadcast(-g * a / (b * b), b.shape) if other.requires_grad else None,
            ),
        )

    def __pow__(self, exponent) -> "Tensor":
        if isinstance(exponent, Tensor):  # a ** b with both differentiable: exp(b * log a)
            return (self.log() * exponent).exp()
        x, p = self.data, float(exponent)
        return Tensor._make(x ** p, (self,), lambda g: (g * (p * x ** (p - 1)),))

    def __neg__(self) -> "Tensor":
        return Tensor._make(-self.data, (self,), lambda g: (-g,))

    def __sub__(self, other) -> "Tensor":
        return self + (-self._lift(other))

    def __radd__(self, other) -> "Tensor":
        return self + other

    def __rsub__(self, other) -> "Tensor":
        return self._lift(other) - self

    def __rmul__(self, other) -> "Tensor":
        return self * other

    def __rtruediv__(self, other) -> "Tensor":
        return self._lift(other) / self

    def __rpow__(self, base) -> "Tensor":
        return self._lift(base) ** self

    def __matmul__(self, other) -> "Tensor":
        other = self._lift(other)
        a, b = self.data, other.data

        def backward(g):
            ga = gb = None
            if a.ndim == 1 and b.ndim == 1:  # dot product
                return g * b, g * a
            a2 = a[None, :] if a.ndim == 1 else a
            b2 = b[:, None] if b.ndim == 1 else b
            g2 = g
            if a.ndim == 1:
                g2 = np.expand_dims(g2, -2)
            if b.ndim == 1:
                g2 = np.expand_dims(g2, -1)
            if self.requires_grad:
                ga = unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
            if other.requires_grad:
                gb = unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(b.shape)
            return ga, gb

        return Tensor._make(a @ b, (self, other), backward)

    def __rmatmul__(self, other) -> "Tensor":
        return self._lift(other) @ self

    # ------------------------------------------------------------------ elementwise functions
    def exp(self) -> "Tensor":
        out = np.exp(self.data)
        return Tensor._make(out, (self,), lambda g: (g * out,))

    def log(self) -> "Tensor":
        x = self.data
        return Tensor._make(np.log(x), (self,), lambda g: (g / x,))

    def sqrt(self) -> "Tensor":
        out = np.sqrt(self.data)
        return Tensor._make(out, (self,), lambda g: (g / (2 * out),))

    def abs(self) -> "Tensor":
        x = self.data
        return Tensor._make(np.abs(x), (self,), lambda g: (g * np.sign(x),))

    def neg(self) -> "Tensor":
        return -self

    def relu(self) -> "Tensor":
        x = self.data
        return Tensor._make(np.maximum(x, 0), (self,), lambda g: (g * (x > 0),))

    def leaky_relu(self, negative_slope: float = 0.01) -> "Tensor":
        x = self.data
        slope = np.where(x > 0, 1, negative_slope).astype(x.dtype)
        return Tensor._make(x * slope, (self,), lambda g: (g * slope,))

    def tanh(self) -> "Tensor":
        out = np.tanh(self.data)
        return Tensor._make(out, (self,), lambda g: (g * (1 - out * out),))

    def sigmoid(self) -> "Tensor":
        out = stable_sigmoid(self.data)
        return Tensor._make(out, (self,), lambda g: (g * out * (1 - out),))

    def silu(self) -> "Tensor":
        x = self.data
        s = stable_sigmoid(x)
        return Tensor._make(x * s, (self,), lambda g: (g * (s * (1 + x * (1 - s))),))

    def gelu(self) -> "Tensor":
        """GELU with the tanh approximation (PyTorch's `approximate='tanh'`)."""
        x = self.data
        c = np.sqrt(2 / np.pi).astype(x.dtype)
        inner = c * (x + 0.044715 * x ** 3)
        t = np.tanh(inner)
        out = 0.5 * x * (1 + t)

        def backward(g):
            d_inner = c * (1 + 3 * 0.044715 * x * x)
            return (g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner),)

        return Tensor._make(out, (self,), backward)

    def clip(self, low=None, high=None) -> "Tensor":
        """Clamp values; the gradient passes only where the value was inside the range."""
        x = self.data
        out = np.clip(x, low, high)
        return Tensor._make(out, (self,), lambda g: (g * (out == x),))

    # ------------------------------------------------------------------ reductions
    def sum(self, axis=None, keepdims: bool = False) -> "Tensor":
        shape = self.shape

        def backward(g):
            if axis is not None and not keepdims:
                g = np.expand_dims(g, axis)
            return (np.broadcast_to(g, shape),)

        return Tensor._make(np.asarray(self.data.sum(axis=axis, keepdims=keepdims)), (self,), backward)

    def mean(self, axis=None, keepdims: bool = False) -> "Tensor":
        if axis is None:
            count = self.data.size
        else:
            axes = axis if isinstance(axis, tuple) else (axis,)
            count = int(np.prod([self.shape[a] for a in axes]))
        return self.sum(axis=axis, keepdims=keepdims) * (1.0 / max(count, 1))

    def max(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Maximum; on ties the gradient is shared equally among the maxima."""
        x = self.data
        out = np.asarray(x.max(axis=axis, keepdims=True))

        def backward(g):
            if axis is not None and not keepdims:
                g = np.expand_dims(g, axis)
            hit = (x == out)
            return (g * hit / hit.sum(axis=axis, keepdims=True),)

        result = out if keepdims else np.asarray(out.squeeze(axis) if axis is not None else out.reshape(()))
        return Tensor._make(result, (self,), backward)

    # ------------------------------------------------------------------ shape
    def reshape(self, *shape) -> "Tensor":
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        src = self.shape
        return Tensor._make(self.data.reshape(shape), (self,), lambda g: (g.reshape(src),))

    def flatten(self, start_dim: int = 0) -> "Tensor":
        return self.reshape(self.shape[:start_dim] + (-1,))

    def transpose(self, *axes) -> "Tensor":
        """Reorder the axes: none reverses them, two swap them (PyTorch's `transpose(dim0, dim1)`,
        whatever the rank), and ndim of them are a full permutation (NumPy's `transpose`)."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        perm = _permutation(axes, self.ndim)
        inverse = tuple(np.argsort(perm))
        return Tensor._make(self.data.transpose(perm), (self,), lambda g: (g.transpose(inverse),))

    @property
    def T(self) -> "Tensor":
        return self.transpose()

    def __getitem__(self, index) -> "Tensor":
        if isinstance(index, Tensor):
            index = index.data
        x = self.data

        basic = _is_basic_index(index)

        def backward(g):
            full = np.zeros_like(x)
            if basic:
                full[index] = g  # a basic index never repeats an element
            else:
                np.add.at(full, index, g)  # fancy indices may repeat: accumulate
            return (full,)

        return Tensor._make(x[index], (self,), backward)


def _permutation(axes: tuple, ndim: int) -> tuple[int, ...]:
    """The full axis order `transpose(*axes)` means, or a ValueError saying what was wrong.

    Two axes always swap, even on a 2-D tensor where they could also read as a permutation:
    `t.transpose(0, 1)` must transpose a matrix, as in PyTorch, not leave it as it is.
    """
    if not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes):
        raise ValueError(f"transpose axes must be ints, got {axes!r}")
    bad = [a for a in axes if not -ndim <= a < ndim] if ndim else list(axes)
    if bad:
        raise ValueError(f"transpose axis {bad[0]} is out of range for a tensor with {ndim} dimensions")
    axes = tuple(int(a) % ndim for a in axes) if ndim else ()
    if not axes:
        return tuple(reversed(range(ndim)))
    if len(axes) == 2:
        perm = list(range(ndim))
        perm[axes[0]], perm[axes[1]] = perm[axes[1]], perm[axes[0]]
        return tuple(perm)
    if len(axes) != ndim:
        raise ValueError(f"transpose takes no axes (reverse them), two (swap them) or a permutation of all "
                         f"{ndim}; got {len(axes)}: {axes!r}")
    if sorted(axes) != list(range(ndim)):
        raise ValueError(f"transpose axes {axes!r} are not a permutation of 0..{ndim - 1}")
    return axes


def _is_basic_index(index) -> bool:
    """True for ints, slices, None and Ellipsis (no arrays or lists): each element is picked once."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis for p in parts)


def stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x) without overflow in either tail: exp(-log(1 + e^-x))."""
    return np.exp(-np.logaddexp(0, -x)).astype(x.dtype, copy=False)


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Shorthand for `Tensor(...)`, as in PyTorch."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def cat(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    arrays = [t.data for t in tensors]
    bounds = np.cumsum([a.shape[axis] for a in arrays])[:-1]
    return Tensor._make(
        np.concatenate(arrays, axis=axis), tuple(tensors),
        lambda g: tuple(np.split(g, bounds, axis=axis)),
    )


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along a new axis."""
    return cat([t.reshape(np.expand_dims(t.data, axis).shape) for t in tensors], axis=axis)
