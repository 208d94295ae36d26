"""Argument checks shared by optimizers, schedulers and early stopping: one clear message per mistake."""

from __future__ import annotations

import math

import numpy as np


def number(name: str, value, low: float = -math.inf, high: float = math.inf, *,
           low_open: bool = False, high_open: bool = False) -> float:
    """`value` as a finite Python float in the given range, or a ValueError naming `name`.

    Python floats matter: NumPy 2 treats them as "weak" scalars, so multiplying a float32
    array by one stays float32, while a `np.float64` scalar would upcast it.
    """
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    above = low < x if low_open else low <= x
    below = x < high if high_open else x <= high
    if not (above and below and math.isfinite(x)):  # NaN fails every comparison
        bounds = []
        if low > -math.inf:
            bounds.append(f"{'>' if low_open else '>='} {low:g}")
        if high < math.inf:
            bounds.append(f"{'<' if high_open else '<='} {high:g}")
        rule = " and ".join(bounds) if bounds else "finite"
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return x


def count(name: str, value, low: int = 0) -> int:
    """`value` as a Python int >= `low` (bools and floats are refused: 2.5 epochs is a mistake)."""
    arr = np.asarray(value)
    if arr.shape != () or arr.dtype.kind not in "iu" or int(arr) < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(arr)


def flag(name: str, value) -> bool:
    """`value` as a bool; numbers other than 0/1 and strings are refused."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer)) and value in (0, 1)):
        return bool(value)
    raise ValueError(f"{name} must be True or False, got {value!r}")


def same_type(what: str, state: dict, expected: str) -> None:
    """Refuse a state dict written by a different class (e.g. an Adam state loaded into SGD)."""
    if not isinstance(state, dict):
        raise ValueError(f"{what} state dict must be a dict, got {type(state).__name__}")
    found = state.get("type")
    if found != expected:
        raise ValueError(f"state dict is for {found!r}, not {expected!r}")


def require_keys(what: str, state: dict, keys) -> None:
    """Refuse a state dict that lacks any of `keys`, naming them all."""
    missing = [k for k in keys if k not in state]
    if missing:
        raise ValueError(f"{what} state dict is missing {', '.join(map(repr, missing))}")
