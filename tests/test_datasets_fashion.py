"""Fashion-MNIST's entry in datasets.mnist_family against the real files of Debian's `dataset-fashion-mnist` package.

The package's files are the canonical downloads with the gzip header's file name dropped and its
time stamp changed; the deflate data is untouched. So the canonical `.gz` can be rebuilt byte for
byte from them (header flags FNAME, the original mtime, the name), and both kinds of digest in
the entry are checked: the md5 published for each canonical `.gz`, and the sha256 of the content.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from nnstudio.datasets import FASHION_MNIST, load_dataset
from nnstudio.datasets.checksums import matching_digest
from nnstudio.datasets.mnist_family import ROLES

SYSTEM_DIR = Path(FASHION_MNIST.system_dirs[0])
pytestmark = pytest.mark.skipif(
    not all((SYSTEM_DIR / FASHION_MNIST.files[role].name).is_file() for role in ROLES),
    reason=f"Fashion-MNIST is not installed in {SYSTEM_DIR} (apt-get install dataset-fashion-mnist)",
)

#: the mtime in each canonical .gz header (2017-08-31), which the Debian files replace
CANONICAL_MTIME = {"train_images": 1504176606, "train_labels": 1504176606,
                   "test_images": 1504176627, "test_labels": 1504176627}


def _canonical_gz(role: str) -> bytes:
    """The canonical download of `role`, rebuilt from the Debian file (same deflate data)."""
    name = FASHION_MNIST.files[role].name
    data = (SYSTEM_DIR / name).read_bytes()
    assert data[:4] == b"\x1f\x8b\x08\x00", "expected a gzip header without a file name"
    header = b"\x1f\x8b\x08\x08" + struct.pack("<I", CANONICAL_MTIME[role]) + data[8:10]
    return header + name[:-3].encode() + b"\x00" + data[10:]


@pytest.mark.parametrize("role", ROLES)
def test_the_recorded_digests_match_the_real_files(role):
    file = FASHION_MNIST.files[role]
    path = SYSTEM_DIR / file.name
    content = hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()
    canonical_md5 = hashlib.md5(_canonical_gz(role)).hexdigest()
    by_kind = {(digest.algorithm, digest.of): digest.hexdigest for digest in file.digests}
    assert by_kind == {("sha256", "content"): content, ("md5", "file"): canonical_md5}
    assert matching_digest(path, file.digests) == next(d for d in file.digests if d.of == "content")


def test_the_installed_files_load_with_the_right_shapes_and_counts(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    data = load_dataset("fashion-mnist", allow_fetch=False, fallback=False)
    assert data.source == str(SYSTEM_DIR) and data.notice is None
    assert data.x_train.shape == (60000, 784) and data.x_test.shape == (10000, 784)
    assert data.x_train.dtype == np.uint8 and data.y_train.shape == (60000,) and data.y_test.shape == (10000,)
    assert np.bincount(data.y_train).tolist() == [6000] * 10
    assert np.bincount(data.y_test).tolist() == [1000] * 10
    assert data.class_names[0] == "T-shirt/top" and data.class_names[9] == "Ankle boot"
