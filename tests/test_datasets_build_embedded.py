"""scripts/build_embedded_mnist.py: the 4 MiB budget is checked before --out is replaced."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from nnstudio.datasets.embedded import load_embedded
from real_mnist import MNIST_DIR, needs_mnist

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "build_embedded_mnist.py"


@pytest.fixture
def build():
    """The build script loaded as a module (it is not part of the package)."""
    spec = importlib.util.spec_from_file_location("build_embedded_mnist", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _arrays(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"x_train": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), "y_train": np.zeros(n, np.uint8)}


def test_an_archive_over_the_budget_leaves_out_untouched(build, tmp_path, monkeypatch):
    out = tmp_path / "embedded.npz"
    out.write_bytes(b"the shipped file")
    monkeypatch.setattr(build, "MAX_BYTES", 10_000)
    with pytest.raises(build.DatasetError, match=r"embedded.npz: the archive would be \d+ bytes, over the 10000"):
        build.write_within_budget(out, _arrays(50))  # ~40 KB of incompressible pixels
    assert out.read_bytes() == b"the shipped file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["embedded.npz"], "no temporary file is left"


def test_an_archive_within_the_budget_replaces_out(build, tmp_path):
    out = tmp_path / "embedded"  # no .npz suffix: written under exactly this name
    size = build.write_within_budget(out, _arrays(5))
    assert out.stat().st_size == size and sorted(p.name for p in tmp_path.iterdir()) == ["embedded"]
    with np.load(out, allow_pickle=False) as archive:
        np.testing.assert_array_equal(archive["x_train"], _arrays(5)["x_train"])


@needs_mnist
def test_the_script_builds_a_subset_or_refuses_without_writing(build, tmp_path, monkeypatch, capsys):
    out = tmp_path / "subset.npz"
    argv = ["--source", str(MNIST_DIR), "--train-per-class", "3", "--test-per-class", "1", "--out", str(out)]
    assert build.main(argv) == 0
    arrays = load_embedded(out)
    assert np.bincount(arrays["y_train"]).tolist() == [3] * 10 and len(arrays["x_test"]) == 10
    before = out.read_bytes()
    monkeypatch.setattr(build, "MAX_BYTES", 1000)
    assert build.main(argv) == 1
    assert "over the 1000-byte budget" in capsys.readouterr().err
    assert out.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["subset.npz"]
