"""Where the tests find the real MNIST: decided once, as the test session starts.

The suite reads the variable users point nnstudio at data with, NNSTUDIO_DATA_DIR: a folder
holding MNIST's four IDX files, directly or in a subfolder named `mnist`, exactly as the product
reads it. Unset, it is ../shared/data/mnist beside the checkout. The folder counts only if the
product itself takes it for MNIST (all four files there, label checksums right).

It is read here, at import (collection), before any test runs, and kept: tests clear or set
NNSTUDIO_DATA_DIR themselves to exercise the product (conftest.py clears it for every test),
which must not change which data the suite uses. Without the data, the tests that need it are
skipped, and the pytest header says so and how to point them at data.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nnstudio.datasets import MNIST, DatasetError
from nnstudio.datasets.locations import DATA_DIR_ENV, copies

#: ../shared/data/mnist beside the checkout (developer machines and CI have it)
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
#: how to point the tests at data, for the messages
HOW = f"set {DATA_DIR_ENV} to a folder holding the four MNIST .gz files (or put them in {DEFAULT_DIR})"


def _find(folder: Path) -> tuple[Path | None, str]:
    """The folder holding MNIST in or under `folder`, or None and why not."""
    if not folder.is_dir():
        return None, "no such folder"
    notes: list[str] = []  # why the product passed a folder over: files missing, wrong checksums
    try:
        located = next(copies(MNIST, folder, notes), None)
    except DatasetError:  # none there: the product's way of saying so for a folder it was given
        located = None
    if located is None:
        return None, "; ".join(notes) or "no MNIST files there"
    return located.folder, ""


_VALUE = os.environ.get(DATA_DIR_ENV, "")
#: the folder asked for: NNSTUDIO_DATA_DIR (made absolute: tests change the working folder), else the default
ASKED = Path(_VALUE).resolve() if _VALUE else DEFAULT_DIR
_FOUND, _WHY_NOT = _find(ASKED)
#: whether the real MNIST is here (the tests marked `needs_mnist` and those using `mnist_dir` run only then)
HAVE_MNIST = _FOUND is not None
#: the folder holding the four files (ASKED or its `mnist` subfolder); the folder asked for when there is none
MNIST_DIR = _FOUND if _FOUND is not None else ASKED
#: why the real-data tests are skipped (when they are)
SKIP_REASON = f"no real MNIST at {ASKED} ({_WHY_NOT}): {HOW}"

needs_mnist = pytest.mark.skipif(not HAVE_MNIST, reason=SKIP_REASON)


def header() -> str:
    """One line for the pytest header: which data the run uses."""
    source = f"from {DATA_DIR_ENV}" if _VALUE else f"{DATA_DIR_ENV} unset: the default ../shared/data/mnist"
    if HAVE_MNIST:
        return f"real data: full MNIST at {MNIST_DIR} ({source})"
    return f"real data: none, real-data tests will be skipped: no MNIST at {ASKED} ({source}; {_WHY_NOT}); {HOW}"
