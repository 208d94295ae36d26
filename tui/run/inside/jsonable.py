"""The views' numbers as strict JSON: a diverged model's outputs (NaN), an accuracy without test examples
(NaN) or a gradient check gone infinite must still give a document `json.dumps(..., allow_nan=False)` takes,
as `nnstudio inspect --json` writes it; such numbers read as null.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def numbers(values: Any, digits: int | None = None) -> Any:
    """A number, or nested lists of numbers, as JSON: rounded to `digits` (in float64, so a float32's 0.1235
    is not written 0.12349999696), NaN and infinities None."""
    array = np.asarray(values, dtype=np.float64)
    if digits is not None:
        array = np.round(array, digits)
    finite = np.isfinite(array)
    if finite.all():
        return array.tolist()
    shown = array.astype(object)
    shown[~finite] = None
    return shown.tolist()
