"""Reading and writing IDX files, the format of MNIST and Fashion-MNIST, gzip-compressed or raw.

An IDX file is a magic number (two zero bytes, a type code, the number of dimensions), one
big-endian uint32 per dimension, then the items in C order, big-endian. Everything the header
promises is checked against what the file holds, so a damaged file fails with a `DatasetError`
that names the file and the fault, never with a numpy or gzip traceback.

The items are read straight into one preallocated array (in 1 MiB chunks), so a 47 MB image
file costs 47 MB of memory, not twice that.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import DatasetError

GZIP_MAGIC = b"\x1f\x8b"

# Type codes of the IDX format; multi-byte items are big-endian on disk.
DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("=") if dtype.itemsize > 1 else dtype: code for code, dtype in DTYPES.items()}

MAX_DATA_BYTES = 1 << 32
"""Refuse headers that declare more than 4 GiB: far above any real IDX file, and it keeps a
corrupted header from asking for an absurd allocation."""

_CHUNK = 1 << 20


def read_idx(path: str | os.PathLike, *, ndim: int | None = None) -> np.ndarray:
    """The array stored in the IDX file at `path` (gzip detected from its first bytes).

    `ndim`, if given, is the rank the caller needs; any other rank is an error naming the file.
    Multi-byte items come back in native byte order; uint8 data is returned as read, without a copy.
    """
    path = Path(path)
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DatasetError(f"{path}: is a directory, not an IDX file") from None
    except OSError as error:
        raise DatasetError(f"{path}: cannot open ({error.strerror or error})") from None
    with handle:
        return _read(handle, str(path), os.fstat(handle.fileno()).st_size, ndim)


def parse_idx(data: bytes, *, name: str = "<bytes>", ndim: int | None = None) -> np.ndarray:
    """The array stored in IDX `data` (raw or gzip bytes); `name` is used in error messages."""
    return _read(io.BytesIO(data), name, len(data), ndim)


def encode_idx(array: np.ndarray, *, compress: bool = False) -> bytes:
    """The IDX bytes of `array` (optionally gzip-compressed): for tests and for tools that make files."""
    array = np.asarray(array)
    key = array.dtype.newbyteorder("=") if array.dtype.itemsize > 1 else array.dtype
    code = _CODES.get(key)
    if code is None:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX stores arrays of rank 1 to 255, not {array.ndim}")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=DTYPES[code]).tobytes()
    return gzip.compress(data, mtime=0) if compress else data


def _read(handle: BinaryIO, name: str, file_size: int, ndim: int | None) -> np.ndarray:
    compressed = handle.read(2) == GZIP_MAGIC
    handle.seek(0)
    if not compressed:
        try:
            return _read_items(handle, name, file_size, ndim)
        except OSError as error:
            raise DatasetError(f"{name}: read error ({error})") from None
    try:
        with gzip.GzipFile(fileobj=handle, mode="rb") as stream:
            return _read_items(stream, name, None, ndim)
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetError(f"{name}: damaged gzip data ({error})") from None


def _read_items(stream: BinaryIO, name: str, file_size: int | None, ndim: int | None) -> np.ndarray:
    """Parse the header, check it against the data and read the items into one array.

    `file_size` is known for raw files (so truncation is caught before allocating) and None for
    gzip streams, whose length shows only while reading.
    """
    magic = _read_exact(stream, 4)
    if len(magic) < 4:
        raise DatasetError(f"{name}: too short for an IDX header ({len(magic)} bytes)")
    if magic[0] or magic[1]:
        raise DatasetError(f"{name}: not an IDX file (magic number 0x{magic.hex()} does not start with 0x0000)")
    code, rank = magic[2], magic[3]
    dtype = DTYPES.get(code)
    if dtype is None:
        raise DatasetError(f"{name}: unknown IDX data type code 0x{code:02x}")
    if rank == 0:
        raise DatasetError(f"{name}: the IDX header declares no dimensions")
    if ndim is not None and rank != ndim:
        raise DatasetError(f"{name}: has {rank} dimension(s), expected {ndim}")
    dims_bytes = _read_exact(stream, 4 * rank)
    if len(dims_bytes) < 4 * rank:
        raise DatasetError(f"{name}: truncated header ({rank} dimensions declared, file ends inside them)")
    shape = struct.unpack(f">{rank}I", dims_bytes)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > MAX_DATA_BYTES:
        raise DatasetError(f"{name}: header declares shape {shape} ({nbytes} bytes), more than any real IDX file")
    header_size = 4 + 4 * rank
    if file_size is not None and file_size != header_size + nbytes:
        held = file_size - header_size
        fault = "truncated" if held < nbytes else "has trailing bytes"
        raise DatasetError(f"{name}: {fault}: shape {shape} needs {nbytes} data bytes, the file holds {held}")

    buffer = np.empty(nbytes, dtype=np.uint8)
    view = memoryview(buffer)
    filled = 0
    while filled < nbytes:
        got = stream.readinto(view[filled:filled + _CHUNK])
        if not got:
            break
        filled += got
    if filled < nbytes:
        raise DatasetError(f"{name}: truncated: shape {shape} needs {nbytes} data bytes, the file holds {filled}")
    if stream.read(1):  # for gzip this also reaches the end of the stream, where the CRC is checked
        raise DatasetError(f"{name}: has trailing bytes after the {nbytes} data bytes its header declares")

    array = buffer.view(dtype).reshape(shape)
    if dtype.itemsize > 1:
        array = array.astype(dtype.newbyteorder("="))
    return array


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    """Up to `size` bytes; fewer only at the end of the stream."""
    parts, remaining = [], size
    while remaining:
        part = stream.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)
