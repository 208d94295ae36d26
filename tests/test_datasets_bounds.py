"""A known data set's files are held to what they must be before they are hashed or read: the header
and size first, then no more bytes than the header declares (issue 12, item 5). The memory of the
real commands on such files is measured in test_hostile_files.py; these check the seams in-process."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest

from hostile import idx_header, write_gzip
from nnstudio.datasets import FASHION_MNIST, IDX_DATASETS, MNIST, DatasetError, encode_idx
from nnstudio.datasets import checksums, idx
from nnstudio.datasets.checksums import content_sha256, verify
from nnstudio.datasets.loader import load_idx_dataset
from nnstudio.datasets.mnist_family import ROLES, IdxDatasetSpec, IdxFile


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setitem(IDX_DATASETS, "fashion-mnist", replace(FASHION_MNIST, system_dirs=()))


class CountingHashes:
    """Replaces hashlib.new in `checksums`, counting the bytes hashed."""

    def __init__(self) -> None:
        self.bytes, self.real = 0, hashlib.new

    def new(self, name: str):
        hasher, counter = self.real(name), self

        class Counting:
            def update(self, data) -> None:
                counter.bytes += len(data)
                hasher.update(data)

            def hexdigest(self) -> str:
                return hasher.hexdigest()

        return Counting()


@pytest.fixture
def hashed(monkeypatch) -> CountingHashes:
    counting = CountingHashes()
    monkeypatch.setattr(checksums.hashlib, "new", counting.new)
    return counting


def test_the_mnist_family_s_files_must_hold_their_known_shapes():
    for spec in (MNIST, FASHION_MNIST):
        assert spec.content("train_images").shape == (60000, 28, 28) and spec.content("test_labels").shape == (10000,)
        assert spec.content("train_images").dtype == np.uint8 and spec.content("test_images").known
    assert MNIST.content("train_labels").what == "mnist train labels"
    assert not IdxDatasetSpec("mine", "mine", MNIST.files, MNIST.class_names).content("train_images").known


def test_hashing_stops_one_byte_after_the_length_the_header_declares(tmp_path, hashed):
    """The right header, then 256 MB more: 256 KB of gzip, hashed for 60,009 bytes, not 256 MB."""
    path = write_gzip(tmp_path / "labels.gz", idx_header((60000,)), 60000 + (256 << 20))
    with pytest.raises(DatasetError, match="labels.gz: has trailing bytes after the 60008 bytes its header declares"):
        verify(path, MNIST.files["train_labels"].digests, content=MNIST.content("train_labels"))
    assert hashed.bytes <= path.stat().st_size + 60009  # the file's own bytes (for its file digest), then the content


def test_a_file_whose_header_is_not_the_known_one_is_not_hashed_at_all(tmp_path, hashed):
    path = tmp_path / "labels.gz"
    path.write_bytes(encode_idx(np.zeros(60001, np.uint8), compress=True))
    with pytest.raises(DatasetError, match="labels.gz: its header declares shape 60001, but mnist train labels"):
        verify(path, MNIST.files["train_labels"].digests, content=MNIST.content("train_labels"))
    assert hashed.bytes == 0


def test_a_short_file_is_truncated_not_a_checksum_mismatch(tmp_path):
    raw = encode_idx(np.arange(10, dtype=np.uint8))
    path = tmp_path / "labels"
    path.write_bytes(raw)
    content = idx.IdxContent((10,), what="labels")
    verify(path, (content_sha256(hashlib.sha256(raw).hexdigest()),), content=content)
    path.write_bytes(raw[:-1])
    with pytest.raises(DatasetError, match="truncated"):
        verify(path, (content_sha256(hashlib.sha256(raw).hexdigest()),), content=content)


def _tiny_folder(folder, n_train=12, n_test=5, test_labels=None):
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(
            encode_idx(np.zeros((n, 28, 28), np.uint8), compress=True))
        labels = np.arange(test_labels if prefix == "t10k" and test_labels else n) % 10
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(encode_idx(labels.astype(np.uint8), compress=True))
    return folder


def _spec(**sizes) -> IdxDatasetSpec:
    return IdxDatasetSpec(name="tiny", title="tiny", class_names=MNIST.class_names,
                          files={role: IdxFile(MNIST.files[role].name) for role in ROLES}, **sizes)


@pytest.fixture
def reads(monkeypatch) -> list[int]:
    """The data sizes `idx` reads (each call of its body reader)."""
    calls: list[int] = []
    real = idx._read_data

    def spy(stream, name, nbytes, initial):
        calls.append(nbytes)
        return real(stream, name, nbytes, initial)

    monkeypatch.setattr(idx, "_read_data", spy)
    return calls


def test_images_and_labels_that_disagree_are_refused_before_any_data_is_read(tmp_path, reads):
    folder = _tiny_folder(tmp_path / "a", test_labels=6)
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte.gz has 5 images but .*t10k-labels"):
        load_idx_dataset(_spec(), data_dir=folder, fallback=False)
    assert reads == [12 * 784, 12]  # the train split, which agrees; nothing of the test split


def test_a_known_size_is_checked_in_the_loader_before_any_data_is_read(tmp_path, reads):
    folder = _tiny_folder(tmp_path / "a", n_train=13)
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz: its header declares shape 13x28x28, but "
                                           "tiny train images have shape 12x28x28"):
        load_idx_dataset(_spec(train_size=12, test_size=5), data_dir=folder, fallback=False)
    assert reads == []
    assert load_idx_dataset(_spec(), data_dir=folder, fallback=False).x_train.shape == (13, 784)  # any size
