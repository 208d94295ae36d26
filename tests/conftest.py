"""Shared fixtures: a seeded generator and the location of the real MNIST files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

#: ../shared/data/mnist from the repository root (present on developer machines and in CI)
SHARED_MNIST = Path(os.environ.get("NNSTUDIO_TEST_MNIST", Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def mnist_dir() -> Path:
    if not (SHARED_MNIST / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST not found at {SHARED_MNIST} (expected ../shared/data/mnist beside the repository)")
    return SHARED_MNIST
