"""The MNIST subset shipped inside the package, so a fresh install trains on real digits offline.

`mnist_embedded.npz` holds, as uint8, the first 500 images of each digit in the official train
set and the first 100 of each digit in the official test set (in their original order), with
the index of each image in its official file: the test suite checks it against the real files.
It is made by `scripts/build_embedded_mnist.py` and read here without pickle.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .errors import DatasetError

#: the subset's data set name
EMBEDDED_NAME = "mnist-embedded"
EMBEDDED_PATH = Path(__file__).with_name("mnist_embedded.npz")

# key -> (dtype, rank); shapes are checked against each other below.
_LAYOUT = {
    "x_train": (np.uint8, 3), "y_train": (np.uint8, 1), "train_index": (np.int32, 1),
    "x_test": (np.uint8, 3), "y_test": (np.uint8, 1), "test_index": (np.int32, 1),
}


def load_embedded(path: str | Path = EMBEDDED_PATH) -> dict[str, np.ndarray]:
    """The arrays of the embedded subset (see `_LAYOUT`), checked for dtype and shape."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise DatasetError(f"the embedded MNIST subset is missing ({path}); reinstall nnstudio") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise DatasetError(f"the embedded MNIST subset {path} is damaged ({error}); reinstall nnstudio") from None
    for key, (dtype, rank) in _LAYOUT.items():
        array = arrays.get(key)
        if array is None or array.dtype != dtype or array.ndim != rank:
            raise DatasetError(f"the embedded MNIST subset {path} has no valid {key!r}; reinstall nnstudio")
    for split in ("train", "test"):
        x, y, index = arrays[f"x_{split}"], arrays[f"y_{split}"], arrays[f"{split}_index"]
        n = len(x)
        if x.shape[1:] != (28, 28) or len(y) != n or len(index) != n:
            raise DatasetError(f"the embedded MNIST subset {path} has inconsistent {split} arrays; reinstall nnstudio")
        if n and y.max() > 9:
            raise DatasetError(f"the embedded MNIST subset {path} has labels outside 0-9; reinstall nnstudio")
    return arrays


def embedded_size_bytes(path: str | Path = EMBEDDED_PATH) -> int:
    """Size of the embedded file on disk (0 when missing)."""
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


def balanced_indices(labels: np.ndarray, per_class: int, num_classes: int = 10) -> np.ndarray:
    """The indices of the first `per_class` samples of each class, in their original order.

    Used by the build script; kept here so the test can recompute the selection from the real files.
    """
    chosen = [np.flatnonzero(labels == c)[:per_class] for c in range(num_classes)]
    short = [c for c, idx in enumerate(chosen) if len(idx) < per_class]
    if short:
        raise DatasetError(f"classes {short} have fewer than {per_class} samples")
    return np.sort(np.concatenate(chosen)).astype(np.int32)
