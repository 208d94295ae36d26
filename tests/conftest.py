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


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory, monkeypatch):
    """No test reads or writes the real user cache or tries the network on its own.

    Tests that exercise fetching pass mirrors on 127.0.0.1 explicitly.
    """
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    monkeypatch.setenv("NNSTUDIO_OFFLINE", "1")
    monkeypatch.delenv("NNSTUDIO_DATA_DIR", raising=False)
