"""Shared fixtures: a seeded generator and the location of the real MNIST files.

Tests run two at a time (`-n 2`) on two cores, so each test process, and every command it
starts, uses one BLAS thread: spinning BLAS threads of two processes on two cores slow the
suite several times over (see nnstudio.tui.run.blas).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads BLAS, here and in subprocesses

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

threadpool_limits(limits=1, user_api="blas")  # in case NumPy was loaded before this file (a plugin)

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
