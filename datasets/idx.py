"""Reading and writing IDX files, the format of MNIST and Fashion-MNIST, gzip-compressed or raw.

An IDX file is a magic number (two zero bytes, a type code, the number of dimensions), one
big-endian uint32 per dimension, then the items in C order, big-endian. Everything the header
promises is checked against what the file holds, so a damaged file fails with a `DatasetError`
that names the file and the fault, never with a numpy or gzip traceback.

Bounds, so that a hostile file costs no more than the file it poses as:
- A file of a known data set is read with an `IdxContent` saying what it must hold (MNIST's
  train images: 60000x28x28 bytes). Its header is compared with that before anything else is
  read, and its size on disk too: a raw file must be exactly that long, and a gzip file can be
  neither shorter than deflate allows (it expands at most 1032-fold) nor longer than storing the
  content uncompressed takes (`max_gzip_size`). Then exactly the declared bytes are decompressed,
  and one byte more decides "trailing bytes": a 4 MB gzip claiming 5,000,000 images is refused
  after its first 16 bytes, and one hiding gigabytes behind a right header after 47 MB.
- A file of unknown content (`content=None`) can only be held to its own header: the claim
  is bounded as above (at most MAX_DATA_BYTES, and by the file's size), and the items are read in
  1 MiB chunks, so the memory in use follows what the stream holds, never what a header claims.

The items are read straight into one array, so a 47 MB image file costs 47 MB of memory, not twice
that: a known content, or a gzip trailer (ISIZE, the uncompressed size mod 2**32) that agrees with
the header, lets the array be allocated at once (its pages are touched only as the data arrive);
otherwise the buffer doubles as the data arrive.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import math
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

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

GZIP_SLACK = 1 << 20
"""Room in `max_gzip_size` for what a gzip file may carry besides its deflate data (a file name, an
extra field, a comment, several members): far more than any real file has."""


def max_gzip_size(content_size: int) -> int:
    """The largest gzip file that can hold `content_size` bytes: stored (uncompressed) deflate blocks
    cost 5 bytes per 64 KiB, so even incompressible data gain less than 1/1024, plus `GZIP_SLACK`."""
    return content_size + content_size // 1024 + GZIP_SLACK


@dataclass(frozen=True)
class IdxHeader:
    """What an IDX header declares: the item type (as stored, big-endian) and the shape."""

    dtype: np.dtype
    shape: tuple[int, ...]

    @property
    def header_size(self) -> int:
        return 4 + 4 * len(self.shape)

    @property
    def nbytes(self) -> int:
        """The data bytes the header promises."""
        return math.prod(self.shape) * self.dtype.itemsize

    @property
    def content_size(self) -> int:
        """The length of the whole uncompressed file: header and data."""
        return self.header_size + self.nbytes


@dataclass(frozen=True)
class IdxContent:
    """What a file of a known data set must hold, checked against its header before its data are read.

    `shape` may leave a dimension open (None: a data set of your own, of any length); `what` names
    the file in messages, e.g. "mnist train images".
    """

    shape: tuple[int | None, ...]
    dtype: np.dtype = np.dtype(np.uint8)
    what: str = "this file"

    @property
    def known(self) -> bool:
        """Whether every dimension is known, and so the file's exact length."""
        return None not in self.shape

    @property
    def size(self) -> int | None:
        """The length of the uncompressed file, header and data, when every dimension is known."""
        return IdxHeader(_stored(self.dtype), self.shape).content_size if self.known else None

    def check(self, header: IdxHeader, name: str) -> None:
        """Raise `DatasetError` naming the file unless `header` declares this content."""
        if len(header.shape) != len(self.shape):
            raise DatasetError(f"{name}: has {len(header.shape)} dimension(s), expected {len(self.shape)}")
        if header.dtype != _stored(self.dtype):
            expected = "unsigned bytes (IDX type 0x08)" if self.dtype == np.uint8 else f"IDX type {self.dtype}"
            found = _CODES[_native(header.dtype)]
            raise DatasetError(f"{name}: expected {expected}, the header declares type 0x{found:02x}")
        if any(want is not None and got != want for got, want in zip(header.shape, self.shape)):
            raise DatasetError(f"{name}: its header declares shape {_shape_text(header.shape)}, but {self.what} "
                               f"have shape {_shape_text(self.shape)} (a damaged or different file)")


def _shape_text(shape: tuple[int | None, ...]) -> str:
    return "x".join("N" if dim is None else str(dim) for dim in shape)


def _stored(dtype: np.dtype) -> np.dtype:
    """The dtype as the IDX format stores it (multi-byte items big-endian)."""
    return DTYPES[_CODES[_native(np.dtype(dtype))]]


def _native(dtype: np.dtype) -> np.dtype:
    return dtype.newbyteorder("=") if dtype.itemsize > 1 else dtype


def read_idx(path: str | os.PathLike, *, ndim: int | None = None, content: IdxContent | None = None) -> np.ndarray:
    """The array stored in the IDX file at `path` (gzip detected from its first bytes).

    `ndim`, if given, is the rank the caller needs; any other rank is an error naming the file.
    `content`, if given, is what the file must hold (see the module docstring): a file that
    disagrees is refused as soon as its header or size shows it.
    Multi-byte items come back in native byte order; uint8 data is returned as read, without a copy.
    """
    path = Path(path)
    with _opened(path) as handle:
        return _read(handle, str(path), os.fstat(handle.fileno()).st_size, ndim, content)


def read_idx_header(path: str | os.PathLike, *, content: IdxContent | None = None,
                    name: str | None = None) -> IdxHeader:
    """The header of the IDX file at `path`, checked against `content` and against the file's size,
    reading (and decompressing) nothing past it. `name` is what messages call the file (default `path`)."""
    path = Path(path)
    name = name or str(path)
    with _opened(path, name) as handle:
        file_size = os.fstat(handle.fileno()).st_size
        compressed = handle.read(2) == GZIP_MAGIC
        handle.seek(0)
        try:
            if not compressed:
                return _checked_header(handle, name, None, content, raw_size=file_size)
            with gzip.GzipFile(fileobj=handle, mode="rb") as stream:
                return _checked_header(stream, name, None, content, gzip_size=file_size)
        except (OSError, EOFError, zlib.error) as error:
            raise DatasetError(f"{name}: {'damaged gzip data' if compressed else 'read error'} ({error})") from None


def parse_idx(data: bytes, *, name: str = "<bytes>", ndim: int | None = None,
              content: IdxContent | None = None) -> np.ndarray:
    """The array stored in IDX `data` (raw or gzip bytes); `name` is used in error messages."""
    return _read(io.BytesIO(data), name, len(data), ndim, content)


@contextlib.contextmanager
def _opened(path: Path, name: str | None = None) -> Iterator[BinaryIO]:
    """`open(path, "rb")`, its failures DatasetErrors naming the file."""
    name = name or str(path)
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise DatasetError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise DatasetError(f"{name}: is a directory, not an IDX file") from None
    except OSError as error:
        raise DatasetError(f"{name}: cannot open ({error.strerror or error})") from None
    with handle:
        yield handle


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


def _read(handle: BinaryIO, name: str, file_size: int, ndim: int | None, content: IdxContent | None) -> np.ndarray:
    compressed = handle.read(2) == GZIP_MAGIC
    handle.seek(0)
    if not compressed:
        try:
            return _read_items(handle, name, ndim, content, raw_size=file_size)
        except OSError as error:
            raise DatasetError(f"{name}: read error ({error})") from None
    isize = _gzip_isize(handle, file_size)
    try:
        with gzip.GzipFile(fileobj=handle, mode="rb") as stream:
            return _read_items(stream, name, ndim, content, gzip_size=file_size, isize=isize)
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


def _checked_header(stream: BinaryIO, name: str, ndim: int | None, content: IdxContent | None, *,
                    raw_size: int | None = None, gzip_size: int | None = None) -> IdxHeader:
    """Parse the header at the start of `stream` and check it: against `ndim` and `content`, and what
    it promises against the size of the file (`raw_size` of a raw file, `gzip_size` of a gzip file)."""
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
    header = IdxHeader(dtype, struct.unpack(f">{rank}I", dims_bytes))
    if content is not None:
        content.check(header, name)
    shape, nbytes = header.shape, header.nbytes
    if nbytes > MAX_DATA_BYTES:
        raise DatasetError(f"{name}: header declares shape {shape} ({nbytes} bytes), more than any real IDX file")
    if raw_size is not None and raw_size != header.content_size:
        held = raw_size - header.header_size
        fault = "truncated" if held < nbytes else "has trailing bytes"
        raise DatasetError(f"{name}: {fault}: shape {shape} needs {nbytes} data bytes, the file holds {held}")
    if gzip_size is not None and header.content_size > MAX_DEFLATE_RATIO * gzip_size:
        raise DatasetError(f"{name}: truncated or damaged: header declares shape {shape} ({nbytes} bytes), "
                           f"more than a {gzip_size}-byte gzip file can hold")
    if gzip_size is not None and gzip_size > max_gzip_size(header.content_size):
        raise DatasetError(f"{name}: a {gzip_size}-byte gzip file is longer than any gzip of the "
                           f"{header.content_size} bytes its header declares: it holds something else too")
    return header


def _read_items(stream: BinaryIO, name: str, ndim: int | None, content: IdxContent | None, *,
                raw_size: int | None = None, gzip_size: int | None = None, isize: int | None = None) -> np.ndarray:
    """Parse and check the header (`_checked_header`), then read exactly the items it declares into one array.

    `isize` is the trailer of a gzip file: when it agrees with the header (or the content is
    known), the array is allocated at once; otherwise it grows as the data arrive.
    """
    header = _checked_header(stream, name, ndim, content, raw_size=raw_size, gzip_size=gzip_size)
    shape, nbytes = header.shape, header.nbytes
    trusted = (raw_size is not None or (content is not None and content.known)
               or (isize is not None and isize == header.content_size % (1 << 32)))

    buffer, filled = _read_data(stream, name, nbytes, nbytes if trusted else min(nbytes, _CHUNK))
    if filled < nbytes:
        raise DatasetError(f"{name}: truncated: shape {shape} needs {nbytes} data bytes, the file holds {filled}")
    if stream.read(1):  # for gzip this also reaches the end of the stream, where the CRC is checked
        raise DatasetError(f"{name}: has trailing bytes after the {nbytes} data bytes its header declares")

    array = buffer.view(header.dtype).reshape(shape)
    if header.dtype.itemsize > 1:
        array = array.astype(_native(header.dtype))
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
