"""`Module`: the base of every layer, registering parameters and sub-modules as they are assigned."""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

import numpy as np

from ..tensor import Tensor


def _positive_int(value, name: str, layer: str) -> int:
    """`value` as a Python int if it is a positive integer (not a bool), else a ValueError naming it."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{layer}: {name} must be a positive int, got {value!r}")
    return int(value)


class Parameter(Tensor):
    """A tensor that a module learns: it always requires a gradient."""

    __slots__ = ()

    def __init__(self, data, dtype=None):
        super().__init__(data, requires_grad=True, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter" + super().__repr__()[len("Tensor"):]


class Module:
    """Base class of layers and models, with PyTorch's names.

    Assigning a `Parameter` or a `Module` to an attribute registers it, so `parameters()`,
    `state_dict()` and `train()/eval()` find it without the layer listing anything by hand.
    Buffers (running statistics, not learned) are registered with `register_buffer`; assigning
    a new array to a buffer's name later (`bn.running_mean = arr`) keeps it a buffer, as in PyTorch.
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() before assigning {name!r}")
        if name in self._buffers and not isinstance(value, (Parameter, Module)):
            self.register_buffer(name, value)  # still state: saves must keep it
            return
        for registry in (self._parameters, self._modules, self._buffers):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, array: np.ndarray) -> None:
        """Keep `array` with the module's state (saved and loaded) without learning it."""
        if not isinstance(array, np.ndarray):  # a list or a float here would break saving much later
            raise TypeError(f"cannot assign {type(array).__name__} as buffer {name!r} of {type(self).__name__} "
                            f"(a NumPy array expected)")
        object.__setattr__(self, name, array)
        self._buffers[name] = None  # the attribute holds the value; this records the name

    # ------------------------------------------------------------------ calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ traversal
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator["Module"]:
        for _, module in self.named_modules():
            yield module

    def children(self) -> Iterator["Module"]:
        yield from self._modules.values()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for module_name, module in self.named_modules(prefix):
            for name, param in module._parameters.items():
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        for module_name, module in self.named_modules():
            for name in module._buffers:
                yield (f"{module_name}.{name}" if module_name else name), getattr(module, name)

    def num_parameters(self) -> int:
        """How many numbers the model learns."""
        return sum(p.data.size for p in self.parameters())

    def to(self, dtype) -> "Module":
        """Convert every parameter and floating-point buffer to `dtype` in place (e.g. float64 for gradient checks)."""
        for module in self.modules():
            for p in module._parameters.values():
                if p is not None:
                    p.data = p.data.astype(dtype)
            for name in module._buffers:
                buf = getattr(module, name)
                if isinstance(buf, np.ndarray) and buf.dtype.kind == "f":
                    object.__setattr__(module, name, buf.astype(dtype))
        return self

    # ------------------------------------------------------------------ modes and gradients
    def train(self, mode: bool = True) -> "Module":
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    # ------------------------------------------------------------------ state
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Copies of every parameter and buffer, by dotted name."""
        state: OrderedDict[str, np.ndarray] = OrderedDict()
        for name, p in self.named_parameters():
            state[name] = p.data.copy()
        for name, buf in self.named_buffers():
            state[name] = np.array(buf, copy=True)
        return state

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy arrays into the parameters and buffers, checking names, shapes and kinds first.

        Nothing is changed unless everything matches, so a bad file never leaves a half-loaded model.
        """
        targets: dict[str, tuple[Module, str, np.ndarray]] = {}
        for module_name, module in self.named_modules():
            for name, p in module._parameters.items():
                targets[f"{module_name}.{name}" if module_name else name] = (module, name, p.data)
            for name in module._buffers:
                targets[f"{module_name}.{name}" if module_name else name] = (module, name, getattr(module, name))
        missing = [k for k in targets if k not in state]
        unexpected = [k for k in state if k not in targets]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing {', '.join(missing)}")
            if unexpected:
                parts.append(f"unexpected {', '.join(unexpected)}")
            raise ValueError(f"state dict does not match the model: {'; '.join(parts)}")
        for key, (_, _, current) in targets.items():
            if key in state:
                value = np.asarray(state[key])
                if value.shape != np.shape(current):
                    raise ValueError(f"state dict entry {key!r} has shape {value.shape}, the model expects {np.shape(current)}")
                if np.asarray(current).dtype.kind != value.dtype.kind and value.dtype.kind not in "fiu":
                    raise ValueError(f"state dict entry {key!r} has dtype {value.dtype}, expected a number")
        for key, (module, name, current) in targets.items():
            if key not in state:
                continue
            value = np.asarray(state[key])
            if name in module._parameters:
                module._parameters[name].data[...] = value
            else:
                object.__setattr__(module, name, value.astype(np.asarray(current).dtype, copy=True))

    # ------------------------------------------------------------------ display
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        if not self._modules:
            return lines[0] + ")"
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        return "\n".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied one after another, in order; indexable like a list."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, module in enumerate(modules):
            setattr(self, str(i), module)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def append(self, module: Module) -> "Sequential":
        setattr(self, str(len(self._modules)), module)
        return self

    def __getitem__(self, index):
        layers = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*layers[index])
        return layers[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())
