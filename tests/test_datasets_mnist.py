"""MNIST from real files: shapes and counts, the embedded subset against the real files, where files are
looked for, import into the cache, memory of a full load, and the fallback to the embedded subset."""

from __future__ import annotations

import gzip
import hashlib
import re
import tracemalloc
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from nnstudio.datasets import (FASHION_MNIST, IDX_DATASETS, MNIST, DatasetError, EMBEDDED_NAME, cache_dir,
                               cache_root, encode_idx, import_dataset, list_datasets, load_dataset, prepare,
                               read_idx)
from nnstudio.datasets import checksums
from nnstudio.datasets.checksums import Digest, content_sha256, verify
from nnstudio.datasets.embedded import EMBEDDED_PATH, balanced_indices, load_embedded
from nnstudio.datasets.loader import load_idx_dataset
from nnstudio.datasets.locations import locate
from nnstudio.datasets.mnist_family import ROLES, IdxDatasetSpec, IdxFile
from real_mnist import HAVE_MNIST, MNIST_DIR, SKIP_REASON, needs_mnist


TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """A private cache, no data dir from the environment, and never a download."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("NNSTUDIO_DATA_DIR", raising=False)
    monkeypatch.setenv("NNSTUDIO_OFFLINE", "1")
    # a machine with Debian's dataset-fashion-mnist installed must not change what these tests see
    monkeypatch.setitem(IDX_DATASETS, "fashion-mnist", replace(FASHION_MNIST, system_dirs=()))


@pytest.fixture(scope="module")
def mnist():
    """Full MNIST read once for the module (about 0.3 s)."""
    if not HAVE_MNIST:
        pytest.skip(SKIP_REASON)
    return load_dataset("mnist", data_dir=MNIST_DIR, allow_fetch=False, fallback=False)


def _write_tiny(folder: Path, n_train: int = 12, n_test: int = 5, labels_rank: int = 1) -> None:
    """Four small IDX files under the canonical names."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        if labels_rank == 2:
            labels = labels[:, None]
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(
            encode_idx(rng.integers(0, 256, (n_train if prefix == "train" else n_test, 28, 28), dtype=np.uint8),
                       compress=True))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(encode_idx(labels, compress=True))


def _unchecked(name: str = "tiny") -> IdxDatasetSpec:
    """A data set spec with MNIST's file names and no checksums."""
    return IdxDatasetSpec(name=name, title="tiny", class_names=MNIST.class_names,
                          files={role: IdxFile(MNIST.files[role].name) for role in ROLES})


# ------------------------------------------------------------------------------- real files

@needs_mnist
def test_real_mnist_shapes_dtypes_and_counts(mnist):
    assert mnist.x_train.shape == (60000, 784) and mnist.x_train.dtype == np.uint8
    assert mnist.x_test.shape == (10000, 784) and mnist.x_test.dtype == np.uint8
    assert mnist.y_train.shape == (60000,) and mnist.y_test.shape == (10000,)
    assert np.bincount(mnist.y_train).tolist() == TRAIN_COUNTS
    assert np.bincount(mnist.y_test).tolist() == TEST_COUNTS
    assert mnist.input_shape == (784,) and mnist.image_shape == (1, 28, 28)
    assert mnist.source == str(MNIST_DIR) and mnist.notice is None and mnist.num_classes == 10


@needs_mnist
def test_real_labels_match_the_canonical_checksums():
    for role in ("train_labels", "test_labels", "test_images"):
        verify(MNIST_DIR / MNIST.files[role].name, MNIST.files[role].digests)


@needs_mnist
def test_image_layout(tmp_path):
    images = load_dataset("mnist", data_dir=MNIST_DIR, layout="image", fallback=False)
    assert images.x_test.shape == (10000, 1, 28, 28) and images.input_shape == (1, 28, 28)


@needs_mnist
def test_full_load_and_prepare_hold_one_float32_copy():
    tracemalloc.start()
    try:
        data = load_dataset("mnist", data_dir=MNIST_DIR, fallback=False)
        prepared = prepare(data, val_fraction=0.1, seed=0, standardize=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    uint8 = data.x_train.nbytes + data.x_test.nbytes
    assert peak < 5 * uint8 + 16_000_000, f"peak {peak / 1e6:.0f} MB: uint8 {uint8 / 1e6:.0f} MB + float32 4x that"
    assert prepared.x_train.base is prepared.x_val.base
    assert abs(float(prepared.x_train.mean())) < 1e-3


# --------------------------------------------------------------------------------- embedded

def test_embedded_subset_is_small_balanced_and_loads_without_pickle():
    assert EMBEDDED_PATH.stat().st_size <= 4 * 1024 * 1024
    data = load_dataset(EMBEDDED_NAME)
    assert data.source == "embedded" and data.x_train.shape == (5000, 784) and data.x_test.shape == (1000, 784)
    assert np.bincount(data.y_train).tolist() == [500] * 10 and np.bincount(data.y_test).tolist() == [100] * 10
    with np.load(EMBEDDED_PATH, allow_pickle=False) as archive:
        assert all(archive[key].dtype != object for key in archive.files)


@needs_mnist
def test_embedded_subset_is_exactly_a_slice_of_the_real_files(mnist):
    arrays = load_embedded()
    for split, x, y, per_class in (("train", mnist.x_train, mnist.y_train, 500),
                                   ("test", mnist.x_test, mnist.y_test, 100)):
        index = arrays[f"{split}_index"]
        np.testing.assert_array_equal(index, balanced_indices(y, per_class))
        np.testing.assert_array_equal(arrays[f"x_{split}"].reshape(len(index), -1), x[index])
        np.testing.assert_array_equal(arrays[f"y_{split}"], y[index])


def test_damaged_embedded_file_is_a_dataset_error(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DatasetError, match="damaged"):
        load_embedded(bad)
    np.savez_compressed(tmp_path / "wrong.npz", x_train=np.zeros((2, 28, 28), np.float32))
    with pytest.raises(DatasetError, match="x_train"):
        load_embedded(tmp_path / "wrong.npz")


# -------------------------------------------------------------------------------- locations

def test_cache_root_follows_xdg(tmp_path, monkeypatch):
    assert cache_root() == tmp_path / "xdg-cache" / "nnstudio"
    assert cache_dir("mnist") == tmp_path / "xdg-cache" / "nnstudio" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")
    assert cache_root() == Path.home() / ".cache" / "nnstudio"


@needs_mnist
@pytest.mark.parametrize("by_name", [False, True])
def test_environment_folder_directly_or_by_name(by_name, tmp_path, monkeypatch):
    """NNSTUDIO_DATA_DIR names the folder of the files, or a folder holding it under the data set's name."""
    folder = MNIST_DIR
    if by_name:  # a data folder with mnist/ in it, whatever the real files' folder is called
        folder = tmp_path / "data" / "mnist"
        folder.parent.mkdir()
        folder.symlink_to(MNIST_DIR, target_is_directory=True)
    monkeypatch.setenv("NNSTUDIO_DATA_DIR", str(folder.parent if by_name else folder))
    found = locate(MNIST).found
    assert found.folder == folder and found.origin == "environment"


@needs_mnist
def test_a_folder_of_mnist_is_not_taken_for_fashion_mnist(monkeypatch):
    monkeypatch.setenv("NNSTUDIO_DATA_DIR", str(MNIST_DIR))
    with pytest.raises(DatasetError, match=r"fashion-mnist is not on this machine \(.* holds mnist's files, not "
                                           r"fashion-mnist's\)"):   # (no digits under Fashion-MNIST's name)
        load_dataset("fashion-mnist")
    with pytest.raises(DatasetError, match="fashion-mnist not found in"):
        load_dataset("fashion-mnist", data_dir=MNIST_DIR)


def test_explicit_folder_is_strict(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset("mnist", data_dir=tmp_path / "absent")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "train-labels-idx1-ubyte.gz").write_bytes(b"x")
    with pytest.raises(DatasetError, match=r"lacks train-images-idx3-ubyte.gz.*nnstudio data import mnist DIR"):
        load_dataset("mnist", data_dir=tmp_path / "half")


def test_offline_without_files_falls_back_to_the_embedded_subset_with_a_notice():
    data = load_dataset("mnist")
    assert data.name == EMBEDDED_NAME and data.source == "embedded"
    assert "downloading is off" in data.notice
    assert "train-images-idx3-ubyte.gz" in data.notice and str(cache_dir("mnist").name) in data.notice
    assert "nnstudio data import mnist" in data.notice and "embedded" in data.notice
    with pytest.raises(DatasetError, match="not on this machine"):
        load_dataset("mnist", fallback=False)


def test_mismatched_counts_and_ranks_name_the_files(tmp_path):
    _write_tiny(tmp_path / "a")
    (tmp_path / "a" / "t10k-labels-idx1-ubyte.gz").write_bytes(encode_idx(np.zeros(6, np.uint8), compress=True))
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte.gz has 5 images but .*t10k-labels"):
        load_idx_dataset(_unchecked(), data_dir=tmp_path / "a", fallback=False)
    _write_tiny(tmp_path / "b", labels_rank=2)
    with pytest.raises(DatasetError, match=r"train-labels-idx1-ubyte.gz: has 2 dimension\(s\), expected 1"):
        load_idx_dataset(_unchecked(), data_dir=tmp_path / "b", fallback=False)
    _write_tiny(tmp_path / "c")
    (tmp_path / "c" / "train-labels-idx1-ubyte.gz").write_bytes(
        encode_idx(np.full(12, 10, np.uint8), compress=True))
    with pytest.raises(DatasetError, match="label 10 is outside 0-9"):
        load_idx_dataset(_unchecked(), data_dir=tmp_path / "c", fallback=False)


def test_unpacked_files_are_read_too(tmp_path):
    _write_tiny(tmp_path / "packed")
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    for path in (tmp_path / "packed").iterdir():
        (unpacked / path.name[:-3]).write_bytes(encode_idx(read_idx(path)))
    data = load_idx_dataset(_unchecked(), data_dir=unpacked, fallback=False)
    assert data.x_train.shape == (12, 784) and data.source == str(unpacked)


# ----------------------------------------------------------------------------------- import

@needs_mnist
def test_import_copies_verifies_and_is_then_found_in_the_cache():
    folder = import_dataset("mnist", MNIST_DIR)
    assert folder == cache_dir("mnist")
    assert sorted(p.name for p in folder.iterdir()) == sorted(MNIST.files[r].name for r in ROLES)
    found = locate(MNIST).found
    assert found.origin == "cache"
    rows = {row.name: row for row in list_datasets()}
    assert rows["mnist"].available and rows["mnist"].size_bytes > 11_000_000


def test_import_rejects_files_that_fail_the_checksum_and_leaves_the_cache_alone(tmp_path):
    _write_tiny(tmp_path / "src")
    with pytest.raises(DatasetError, match="checksum mismatch"):  # the right sizes, the wrong content
        import_dataset(replace(MNIST, train_size=12, test_size=5), tmp_path / "src")
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte.gz: its header declares shape 12x28x28, "
                                           r"but mnist train images have shape 60000x28x28"):
        import_dataset("mnist", tmp_path / "src")  # refused by its header, before any hashing
    assert not cache_dir("mnist").exists() or not any(cache_dir("mnist").iterdir())


def test_import_with_injected_checksums(tmp_path):
    _write_tiny(tmp_path / "src" / "mnist")  # a folder holding a subfolder named after the data set
    digests = {MNIST.files[role].name: hashlib.sha256(
        gzip.decompress((tmp_path / "src" / "mnist" / MNIST.files[role].name).read_bytes())
    ).hexdigest() for role in ROLES}
    tiny = replace(MNIST, train_size=12, test_size=5)  # digests of your own; the sizes are checked too
    folder = import_dataset(tiny, tmp_path / "src", checksums=digests)
    assert len(list(folder.glob("*.gz"))) == 4 and not list(folder.glob("*.part"))
    with pytest.raises(DatasetError, match="lacks mnist files"):
        import_dataset(tiny, tmp_path)


def test_digest_kinds(tmp_path):
    path = tmp_path / "f.gz"
    path.write_bytes(encode_idx(np.arange(10, dtype=np.uint8), compress=True))
    content = hashlib.sha256(encode_idx(np.arange(10, dtype=np.uint8))).hexdigest()
    verify(path, (content_sha256(content),))
    verify(path, (Digest("md5", hashlib.md5(path.read_bytes()).hexdigest(), "file"),))
    with pytest.raises(DatasetError, match="checksum mismatch"):
        verify(path, (content_sha256("0" * 64), Digest("sha256", "1" * 64, "file")))
    with pytest.raises(ValueError):
        Digest("sha256", "00", "bytes")


@pytest.mark.parametrize("kinds", [("content",), ("file",), ("file", "content")])
def test_a_wrong_file_is_decompressed_once_for_the_match_and_the_message(tmp_path, monkeypatch, kinds):
    path = tmp_path / "f.gz"
    path.write_bytes(encode_idx(np.arange(10, dtype=np.uint8), compress=True))
    content = hashlib.sha256(encode_idx(np.arange(10, dtype=np.uint8))).hexdigest()
    passes = []
    real = checksums.content_digests

    def spy(*args, **kwargs):
        passes.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(checksums, "content_digests", spy)
    wrong = tuple(Digest("sha256", "0" * 64, of) for of in kinds)
    with pytest.raises(DatasetError, match=f"f.gz: checksum mismatch \\(content sha256 {content};"):
        verify(path, wrong)
    assert len(passes) == 1 and "sha256" in passes[0]
    passes.clear()
    verify(path, (content_sha256(content),))  # a right file: one pass too
    assert len(passes) == 1
    passes.clear()
    verify(path, (Digest("md5", hashlib.md5(path.read_bytes()).hexdigest(), "file"),))
    assert passes == [], "a matching file digest needs no decompression"


def test_a_renamed_display_name_is_used_in_every_message(tmp_path):
    path = tmp_path / "x.gz.part"
    path.write_bytes(b"\x1f\x8b\x08\x00 not gzip")
    with pytest.raises(DatasetError, match=r"^x\.gz: damaged gzip data"):
        verify(path, (content_sha256("0" * 64),), name="x.gz")
    path.write_bytes(encode_idx(np.arange(3, dtype=np.uint8)))
    with pytest.raises(DatasetError, match=r"^x\.gz: checksum mismatch"):
        verify(path, (content_sha256("0" * 64),), name="x.gz")


def test_a_damaged_folder_in_the_environment_is_passed_over_with_a_note(tmp_path, monkeypatch):
    _write_tiny(tmp_path / "env")
    (tmp_path / "env" / "train-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b\x08\x00 broken")
    monkeypatch.setenv("NNSTUDIO_DATA_DIR", str(tmp_path / "env"))
    data = load_dataset("mnist")
    assert data.name == EMBEDDED_NAME and "damaged gzip data" in data.notice


@pytest.mark.parametrize("role", ["train_images", "test_images", "train_labels"])
def test_a_damaged_file_in_the_environment_or_cache_is_passed_over_the_same_way(tmp_path, monkeypatch, role):
    """Images or labels, in NNSTUDIO_DATA_DIR or the cache: skipped with a note naming the file and the fault."""
    spec = _unchecked()
    _write_tiny(tmp_path / "env", n_train=11)
    damaged = tmp_path / "env" / MNIST.files[role].name
    damaged.write_bytes(damaged.read_bytes()[:-10])  # cut inside the gzip stream
    monkeypatch.setenv("NNSTUDIO_DATA_DIR", str(tmp_path / "env"))

    fallback = load_idx_dataset(spec)
    assert fallback.name == EMBEDDED_NAME
    assert f"{damaged}: damaged gzip data" in fallback.notice.replace("~", str(Path.home()))

    _write_tiny(cache_dir("tiny"), n_train=12)
    data = load_idx_dataset(spec)
    assert data.name == "tiny" and len(data.x_train) == 12 and data.source == str(cache_dir("tiny"))
    assert f"{damaged}: damaged gzip data" in data.notice.replace("~", str(Path.home()))

    monkeypatch.delenv("NNSTUDIO_DATA_DIR")
    cached = cache_dir("tiny") / MNIST.files[role].name
    cached.write_bytes(cached.read_bytes()[:-10])
    from_cache = load_idx_dataset(spec)
    assert from_cache.name == EMBEDDED_NAME and f"{cached}: damaged gzip data" in from_cache.notice


@pytest.mark.parametrize("role", ["train_images", "test_labels"])
def test_a_damaged_file_in_an_explicit_folder_is_an_error(tmp_path, role):
    _write_tiny(tmp_path / "mine")
    _write_tiny(cache_dir("tiny"))  # a good copy elsewhere must not be used instead
    damaged = tmp_path / "mine" / MNIST.files[role].name
    damaged.write_bytes(damaged.read_bytes()[:-10])
    with pytest.raises(DatasetError, match=re.escape(f"{damaged}: damaged gzip data")):
        load_idx_dataset(_unchecked(), data_dir=tmp_path / "mine")


def test_a_data_dir_variable_naming_no_folder_is_said_so(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDIO_DATA_DIR", str(tmp_path / "absent"))
    data = load_dataset("mnist")
    assert data.name == EMBEDDED_NAME
    assert f"NNSTUDIO_DATA_DIR is set to {tmp_path / 'absent'}, which is a folder that does not exist" in data.notice
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("NNSTUDIO_DATA_DIR", str(tmp_path / "a-file"))
    _write_tiny(cache_dir("tiny"))
    data = load_idx_dataset(_unchecked())
    assert data.name == "tiny" and "which is not a folder" in data.notice


def test_precedence_argument_then_environment_then_cache(tmp_path, monkeypatch):
    """All three hold a copy (told apart by their sizes): the first in the order wins, and no notice."""
    spec = _unchecked()
    _write_tiny(tmp_path / "arg", n_train=11)
    _write_tiny(tmp_path / "env" / "tiny", n_train=12)  # by name inside the folder
    _write_tiny(cache_dir("tiny"), n_train=13)
    monkeypatch.setenv("NNSTUDIO_DATA_DIR", str(tmp_path / "env"))

    def train_size(**kwargs) -> tuple[int, str, str | None]:
        data = load_idx_dataset(spec, fallback=False, **kwargs)
        return len(data.x_train), data.source, data.notice

    assert train_size(data_dir=tmp_path / "arg") == (11, str(tmp_path / "arg"), None)
    assert train_size() == (12, str(tmp_path / "env" / "tiny"), None)
    assert locate(spec).found.origin == "environment"
    monkeypatch.delenv("NNSTUDIO_DATA_DIR")
    assert train_size() == (13, str(cache_dir("tiny")), None)
    assert locate(spec).found.origin == "cache"


def test_a_folder_the_user_named_gets_advice_about_that_folder(tmp_path):
    """Files missing from an explicit folder: copy them there (not into the cache), for every command."""
    from nnstudio.datasets import DatasetError, load_dataset

    with pytest.raises(DatasetError) as error:
        load_dataset("mnist", data_dir=tmp_path, fallback=False)
    message = str(error.value)
    assert f"To use mnist from {tmp_path}, copy train-images-idx3-ubyte.gz" in message
    assert "into it" in message and ".cache" not in message
