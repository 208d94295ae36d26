"""Shared fixtures: a seeded generator and the location of the real MNIST files (see real_mnist.py).

Tests run two at a time (`-n 2`) on two cores, so each test process, and every command it
starts, uses one BLAS thread: spinning BLAS threads of two processes on two cores slow the
suite several times over (see nnstudio.tui.run.blas).
"""

from __future__ import annotations

import inspect
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads BLAS, here and in subprocesses

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from textual.widgets import Input  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

threadpool_limits(limits=1, user_api="blas")  # in case NumPy was loaded before this file (a plugin)

import real_mnist  # noqa: E402  (reads NNSTUDIO_DATA_DIR now, before any test clears or sets it)


def pytest_report_header(config) -> str:
    """Which data the run uses: the MNIST folder, or that the real-data tests are skipped and how to run them."""
    return real_mnist.header()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def mnist_dir() -> Path:
    """The folder holding the real MNIST's four files (NNSTUDIO_DATA_DIR as the session started, or
    ../shared/data/mnist); the test is skipped without it."""
    if not real_mnist.HAVE_MNIST:
        pytest.skip(real_mnist.SKIP_REASON)
    return real_mnist.MNIST_DIR


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory, monkeypatch):
    """No test reads or writes the real user cache or saves folder, or tries the network on its own.

    Tests that exercise fetching pass mirrors on 127.0.0.1 explicitly. The default saves folder is
    `$XDG_DATA_HOME/nnstudio/saves`, here a fresh folder of the test's own.
    """
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))
    monkeypatch.delenv("NNSTUDIO_SAVES_DIR", raising=False)
    monkeypatch.setenv("NNSTUDIO_OFFLINE", "1")
    monkeypatch.delenv("NNSTUDIO_DATA_DIR", raising=False)


@pytest.fixture
def snap_compare(snap_compare):
    """pytest-textual-snapshot's snap_compare, with a text cursor that does not blink.

    A focused Input's cursor blinks every half second; a screenshot taken a little late (a busy
    machine) caught it off and failed. With blinking off (Textual's own `cursor_blink` reactive)
    the cursor of the focused field is always drawn, as the snapshots show it.
    """

    def compare(app, *args, run_before=None, **kwargs):
        async def before_the_screenshot(pilot) -> None:
            if run_before is not None:
                result = run_before(pilot)
                if inspect.isawaitable(result):
                    await result
            for field in pilot.app.screen.query(Input):
                field.cursor_blink = False

        return snap_compare(app, *args, run_before=before_the_screenshot, **kwargs)

    return compare
