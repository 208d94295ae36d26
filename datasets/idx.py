"""Reading and writing IDX files, the format of MNIST and Fashion-MNIST, gzip-compressed or raw.

An IDX file is a magic number (two zero bytes, a type code, the number of dimensions), one
big-endian uint32 per dimension, then the items in C order, big-endian. Everything the header
promises is checked against what the file holds, so a damaged file fails with a `DatasetError`
that names the file and the fault, never with a numpy or gzip traceback.

The items are read straight into one array (in 1 MiB chunks), so a 47 MB image file costs 47 MB
of memory, not twice that. The header's size claim is never trusted on its own: a raw file must be
exactly that long, and a gzip file must be able to hold it (deflate expands at most 1032-fold) and
its trailer must agree (ISIZE, the uncompressed size mod 2**32). Only then is the whole array
allocated at once; otherwise the buffer grows as the data arrives, so a small file that lies about
its size is caught as truncated instead of asking for gigabytes.
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

MAX_DEFLATE_RATIO = 1032
"""Deflate never expands more than this: a gzip file of n bytes decompresses to at most 1032 * n."""

_GZIP_MIN_SIZE = 18  # a 10-byte header and an 8-byte trailer, around the deflate data


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
            return _read_items(handle, name, ndim, raw_size=file_size)
        except OSError as error:
            raise DatasetError(f"{name}: read error ({error})") from None
    isize = _gzip_isize(handle, file_size)
    try:
        with gzip.GzipFile(fileobj=handle, mode="rb") as stream:
            return _read_items(stream, name, ndim, gzip_size=file_size, isize=isize)
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetError(f"{name}: damaged gzip data ({error})") from None


def _gzip_isize(handle: BinaryIO, file_size: int) -> int | None:
    """The ISIZE field of the gzip trailer (uncompressed size mod 2**32), or None if it cannot be read.

    It is the size of the last gzip member only, so it is a hint that lets a consistent file be
    read in one allocation, never a reason to reject one.
    """
    if file_size < _GZIP_MIN_SIZE:
        return None
    try:
        handle.seek(file_size - 4)
        trailer = handle.read(4)
        handle.seek(0)
    except OSError:
        return None
    return int.from_bytes(trailer, "little") if len(trailer) == 4 else None


def _read_items(stream: BinaryIO, name: str, ndim: int | None, *, raw_size: int | None = None,
                gzip_size: int | None = None, isize: int | None = None) -> np.ndarray:
    """Parse the header, check it against the data and read the items into one array.

    `raw_size` is the length of a raw file (so truncation is caught before allocating);
    `gzip_size` and `isize` are the length and trailer of a gzip file, whose true content length
    shows only while reading: they bound and confirm what the header claims.
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
    if raw_size is not None and raw_size != header_size + nbytes:
        held = raw_size - header_size
        fault = "truncated" if held < nbytes else "has trailing bytes"
        raise DatasetError(f"{name}: {fault}: shape {shape} needs {nbytes} data bytes, the file holds {held}")
    if gzip_size is not None and header_size + nbytes > MAX_DEFLATE_RATIO * gzip_size:
        raise DatasetError(f"{name}: truncated or damaged: header declares shape {shape} ({nbytes} bytes), "
                           f"more than a {gzip_size}-byte gzip file can hold")
    trusted = raw_size is not None or (isize is not None and isize == (header_size + nbytes) % (1 << 32))

    buffer, filled = _read_data(stream, name, nbytes, nbytes if trusted else min(nbytes, _CHUNK))
    if filled < nbytes:
        raise DatasetError(f"{name}: truncated: shape {shape} needs {nbytes} data bytes, the file holds {filled}")
    if stream.read(1):  # for gzip this also reaches the end of the stream, where the CRC is checked
        raise DatasetError(f"{name}: has trailing bytes after the {nbytes} data bytes its header declares")

    array = buffer.view(dtype).reshape(shape)
    if dtype.itemsize > 1:
        array = array.astype(dtype.newbyteorder("="))
    return array


def _read_data(stream: BinaryIO, name: str, nbytes: int, initial: int) -> tuple[np.ndarray, int]:
    """Up to `nbytes` bytes into a buffer of `initial` bytes that doubles (up to `nbytes`) only
    as the data arrives, so memory follows what the stream holds, not what its header claims.

    Returns the buffer and how many bytes were read; when all arrived the buffer is exactly
    `nbytes` long (with `initial == nbytes`, the one allocation and no copy).
    """
    buffer = _allocate(name, initial)
    filled = 0
    while filled < nbytes:
        if filled == len(buffer):
            bigger = _allocate(name, min(nbytes, 2 * len(buffer)))
            bigger[:filled] = buffer
            buffer = bigger
        got = stream.readinto(memoryview(buffer)[filled:filled + _CHUNK])
        if not got:
            break
        filled += got
    return buffer, filled


def _allocate(name: str, nbytes: int) -> np.ndarray:
    """An uninitialised byte buffer; running out of memory is reported against the file."""
    try:
        return np.empty(nbytes, dtype=np.uint8)
    except MemoryError:
        raise DatasetError(f"{name}: not enough memory to read its {nbytes} data bytes") from None


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
