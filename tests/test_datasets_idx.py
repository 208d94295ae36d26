"""The IDX reader: round trips, every kind of damage, and hypothesis fuzzing (only DatasetError escapes)."""

from __future__ import annotations

import gzip
import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnstudio.datasets import DatasetError, encode_idx, parse_idx, read_idx
from nnstudio.datasets.idx import IdxContent, max_gzip_size, read_idx_header
from real_mnist import MNIST_DIR, needs_mnist


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _real_prefix() -> bytes:
    """The raw bytes of t10k-labels (10 KB): a real header followed by real data."""
    return gzip.decompress((MNIST_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes())


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_every_type(dtype, compress, tmp_path):
    array = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    path = tmp_path / "a.idx"
    path.write_bytes(encode_idx(array, compress=compress))
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, array)


def test_uint8_is_read_without_conversion(tmp_path):
    path = tmp_path / "a.idx"
    path.write_bytes(encode_idx(np.ones((5, 28, 28), np.uint8)))
    images = read_idx(path, ndim=3)
    assert images.shape == (5, 28, 28) and images.dtype == np.uint8 and images.flags.writeable


@pytest.mark.parametrize("data, fault", [
    (b"", "too short"),
    (b"\x00\x00\x08", "too short"),
    (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "not an IDX file"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "unknown IDX data type code 0x07"),
    (b"\x00\x00\x08\x00", "declares no dimensions"),
    (b"\x00\x00\x08\x02\x00\x00\x00\x01\x00", "truncated header"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x03\x05\x06", "truncated"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x01\x05\x06", "trailing bytes"),
    (b"\x00\x00\x0c\x01\x00\x00\x00\x01\x05\x06", "truncated"),  # int32 needs 4 bytes
    (b"\x00\x00\x08\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", "more than any real IDX file"),
])
def test_damaged_headers_are_named(data, fault):
    for blob, name in ((data, "raw.idx"), (gzip.compress(data), "packed.idx.gz")):
        with pytest.raises(DatasetError, match=fault) as error:
            parse_idx(blob, name=name)
        assert str(error.value).startswith(name)


def test_wrong_rank_is_named(tmp_path):
    path = tmp_path / "labels.idx"
    path.write_bytes(encode_idx(np.zeros((4, 2), np.uint8)))
    with pytest.raises(DatasetError, match=r"labels.idx: has 2 dimension\(s\), expected 1"):
        read_idx(path, ndim=1)


def test_gzip_damage_is_a_dataset_error():
    intact = encode_idx(np.arange(5000, dtype=np.uint8).reshape(50, 100) % 7, compress=True)
    packed = bytearray(intact)
    packed[len(packed) // 2] ^= 0xFF
    with pytest.raises(DatasetError, match="f.gz"):
        parse_idx(bytes(packed), name="f.gz")
    with pytest.raises(DatasetError, match="damaged gzip data"):
        parse_idx(intact[:-6], name="f.gz")


def test_gzip_with_trailing_garbage():
    packed = encode_idx(np.zeros(3, np.uint8), compress=True)
    with pytest.raises(DatasetError):
        parse_idx(packed + b"garbage!", name="f.gz")
    with pytest.raises(DatasetError, match="trailing bytes"):
        parse_idx(packed + gzip.compress(b"more"), name="f.gz")


def _peak_bytes(call) -> tuple[int, BaseException | None]:
    """The peak memory traced while `call()` runs, and the exception it raised (if any)."""
    tracemalloc.start()
    try:
        call()
        error = None
    except Exception as raised:  # noqa: BLE001 - returned to the test, which checks its type
        error = raised
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, error


def _lying_gzip(shape: tuple[int, ...], body: bytes, *, forge_trailer: bool = False) -> bytes:
    """A valid gzip of an IDX uint8 header declaring `shape` followed by `body` (far less data).

    With `forge_trailer`, the trailer's ISIZE is rewritten to agree with the header's claim.
    """
    header = bytes([0, 0, 8, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    blob = gzip.compress(header + body, mtime=0)
    if forge_trailer:
        claimed = (len(header) + int(np.prod(shape, dtype=np.int64))) % (1 << 32)
        blob = blob[:-4] + claimed.to_bytes(4, "little")
    return blob


@pytest.mark.parametrize("forge_trailer", [False, True])
def test_a_tiny_gzip_declaring_gigabytes_is_refused_without_allocating(forge_trailer):
    blob = _lying_gzip((1600, 1600, 1600), b"", forge_trailer=forge_trailer)  # 29 bytes claiming 4.1 GB
    assert len(blob) == 29
    peak, error = _peak_bytes(lambda: parse_idx(blob, name="bomb.gz"))
    assert isinstance(error, DatasetError), error
    assert str(error).startswith("bomb.gz: ") and "29-byte gzip file" in str(error)
    assert peak < 1 << 20


def test_a_gzip_header_claiming_more_than_its_data_is_truncated_not_allocated():
    body = np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8).tobytes()  # incompressible
    blob = _lying_gzip((50, 1000, 1000), body)  # claims 50 MB: possible for 200 KB of gzip, but not held
    peak, error = _peak_bytes(lambda: parse_idx(blob, name="liar.gz"))
    assert isinstance(error, DatasetError), error
    assert str(error).startswith("liar.gz: truncated") and "holds 200000" in str(error)
    assert peak < 4 << 20, f"{peak} bytes traced for a 200 KB file"


@FUZZ
@given(st.lists(st.integers(1, 1 << 16), min_size=1, max_size=4).filter(
           lambda dims: (1 << 22) <= np.prod(dims, dtype=np.int64) <= 1 << 32),
       st.binary(max_size=2048), st.booleans())
def test_fuzz_gzip_valid_huge_headers(dims, body, forge_trailer):
    blob = _lying_gzip(tuple(dims), body, forge_trailer=forge_trailer)
    peak, error = _peak_bytes(lambda: parse_idx(blob, name="huge.gz"))
    assert isinstance(error, DatasetError) and str(error).startswith("huge.gz: "), error
    assert peak < 4 << 20


def test_multi_member_gzip_is_read_whole():
    """Its trailer gives only the last member's size: the buffer grows as the data arrives."""
    array = np.random.default_rng(2).integers(0, 256, (3000, 1000), dtype=np.uint8)
    raw = encode_idx(array)
    blob = gzip.compress(raw[:1_000_000]) + gzip.compress(raw[1_000_000:])
    np.testing.assert_array_equal(parse_idx(blob, name="two.gz"), array)


@needs_mnist
def test_real_gzip_is_read_in_one_allocation():
    """A consistent trailer lets the reader allocate the array once: no second full copy."""
    images = []
    peak, error = _peak_bytes(lambda: images.append(read_idx(MNIST_DIR / "train-images-idx3-ubyte.gz", ndim=3)))
    assert error is None and images[0].shape == (60000, 28, 28)
    assert peak < images[0].nbytes + (4 << 20), f"peak {peak} for {images[0].nbytes} bytes of images"


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        read_idx(tmp_path / "absent.gz")
    with pytest.raises(DatasetError, match="is a directory"):
        read_idx(tmp_path)


@FUZZ
@given(st.binary(max_size=600))
def test_fuzz_random_bytes(data):
    for blob in (data, gzip.compress(data)):
        try:
            result = parse_idx(blob)
        except DatasetError:
            continue
        assert isinstance(result, np.ndarray)


@FUZZ
@given(st.binary(min_size=4, max_size=4), st.lists(st.integers(0, 2**32 - 1), max_size=4), st.binary(max_size=64))
def test_fuzz_plausible_headers(magic, dims, body):
    blob = b"\x00\x00" + magic[2:] + b"".join(d.to_bytes(4, "big") for d in dims) + body
    try:
        result = parse_idx(blob)
    except DatasetError:
        return
    assert isinstance(result, np.ndarray)


@needs_mnist
@FUZZ
@given(st.data())
def test_fuzz_truncations_of_real_files(data):
    raw = _real_prefix()
    packed = (MNIST_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes()
    for blob in (raw, packed):
        cut = data.draw(st.integers(0, len(blob) - 1))
        with pytest.raises(DatasetError):
            parse_idx(blob[:cut], name="cut")


@needs_mnist
@FUZZ
@given(st.integers(0, 15), st.integers(1, 255))
def test_fuzz_corrupted_real_headers(position, flip):
    raw = bytearray(_real_prefix()[:16] + bytes(10))  # a real header, short data
    raw[position] ^= flip
    try:
        result = parse_idx(bytes(raw))
    except DatasetError:
        return
    assert isinstance(result, np.ndarray)


@needs_mnist
def test_real_labels_parse():
    labels = parse_idx(_real_prefix(), ndim=1)
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# ------------------------------------------------------------------- a known content bounds everything
MNIST_TRAIN_IMAGES = IdxContent((60000, 28, 28), what="mnist train images")


def test_a_header_disagreeing_with_the_known_content_is_refused_before_any_data_is_read():
    """A 4 KB gzip claiming 5,000,000 images would be read as far as it goes (it could be 3.9 GB of them)."""
    blob = _lying_gzip((5_000_000, 28, 28), bytes(4096))
    peak, error = _peak_bytes(lambda: parse_idx(blob, name="bomb.gz", content=MNIST_TRAIN_IMAGES))
    assert isinstance(error, DatasetError) and peak < 1 << 20
    assert str(error) == ("bomb.gz: its header declares shape 5000000x28x28, but mnist train images have shape "
                          "60000x28x28 (a damaged or different file)")


@pytest.mark.parametrize("header, fault", [
    (bytes([0, 0, 8, 2]) + struct.pack(">2I", 60000, 784), r"has 2 dimension\(s\), expected 3"),
    (bytes([0, 0, 0x0D, 3]) + struct.pack(">3I", 60000, 28, 28), r"expected unsigned bytes \(IDX type 0x08\), "
                                                                  r"the header declares type 0x0d"),
    (bytes([0, 0, 8, 3]) + struct.pack(">3I", 60000, 28, 27), "shape 60000x28x27, but mnist train images"),
])
def test_every_part_of_the_header_is_checked_against_the_content(header, fault):
    for blob in (header, gzip.compress(header)):
        with pytest.raises(DatasetError, match=fault):
            parse_idx(blob, name="f", content=MNIST_TRAIN_IMAGES)


def test_an_open_count_takes_any_number_of_items_of_the_known_shape():
    images = np.zeros((7, 28, 28), np.uint8)
    content = IdxContent((None, 28, 28), what="my images")
    assert parse_idx(encode_idx(images, compress=True), content=content).shape == (7, 28, 28)
    with pytest.raises(DatasetError, match="shape 7x28x29, but my images have shape Nx28x28"):
        parse_idx(encode_idx(np.zeros((7, 28, 29), np.uint8)), content=content)


def test_a_gzip_file_far_longer_than_its_content_can_need_is_refused_by_its_size(tmp_path):
    """A second gzip member of 2 MB of random bytes behind three labels: refused before decompressing anything."""
    noise = np.random.default_rng(0).integers(0, 256, 2 << 20, dtype=np.uint8).tobytes()
    path = tmp_path / "labels.gz"
    path.write_bytes(encode_idx(np.arange(3, dtype=np.uint8), compress=True) + gzip.compress(noise))
    size = path.stat().st_size
    assert size > max_gzip_size(11)
    for read in (lambda: read_idx(path), lambda: read_idx_header(path)):
        with pytest.raises(DatasetError, match=f"a {size}-byte gzip file is longer than any gzip of the 11 bytes"):
            read()


def test_the_header_alone_is_read_and_checked(tmp_path):
    path = tmp_path / "images.gz"
    intact = encode_idx(np.zeros((60000, 28, 28), np.uint8), compress=True)
    path.write_bytes(intact[:-8] + bytes(8))  # a wrong CRC: damaged, as only reading to the end shows
    header = read_idx_header(path, content=MNIST_TRAIN_IMAGES)
    assert header.shape == (60000, 28, 28) and header.content_size == 47_040_016
    with pytest.raises(DatasetError, match="damaged gzip data"):
        read_idx(path, content=MNIST_TRAIN_IMAGES)
    path.write_bytes(intact[:100])  # 100 bytes of gzip cannot hold 47 MB
    with pytest.raises(DatasetError, match="more than a 100-byte gzip file can hold"):
        read_idx_header(path, content=MNIST_TRAIN_IMAGES)


@FUZZ
@given(st.binary(min_size=4, max_size=4), st.lists(st.integers(0, 2**32 - 1), max_size=4), st.binary(max_size=64),
       st.booleans())
def test_fuzz_headers_against_a_known_content(magic, dims, body, compress):
    """Whatever the bytes, reading for a known content gives exactly that content or a DatasetError."""
    blob = b"\x00\x00" + magic[2:] + b"".join(d.to_bytes(4, "big") for d in dims) + body
    blob = gzip.compress(blob) if compress else blob
    peak, result = _peak_bytes(lambda: parse_idx(blob, content=IdxContent((3, 2), what="pairs")))
    assert result is None or isinstance(result, DatasetError), result
    assert peak < 1 << 20
