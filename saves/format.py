"""The safetensors container, read and written by hand so every byte of an untrusted file is checked.

    [8 bytes: N, little-endian]  [N bytes: JSON header]  [tensor data]

    header = {"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}}

The official `safetensors` library reads what `write` produces (the tests check), so the
weights open in other frameworks too. Reading is our own so that it can (1) read the header
alone, without touching the tensor data, for a fast listing, and (2) turn every kind of
damage into a `SaveError` that says what is wrong. Nothing here can execute code: the header
is JSON and the data go through `np.frombuffer` with a fixed table of plain dtypes.

The header is bounded before it is parsed, so that a hostile one costs little memory: its length
(MAX_HEADER_BYTES, checked against the file's size before a byte of it is read) and the number of
JSON objects and lists in it (MAX_HEADER_CONTAINERS). `write` keeps to the same limits.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import BinaryIO, Callable, Mapping

import numpy as np

from nnstudio.engine.fields import is_whole_number, short_repr

from .errors import SaveError

#: The largest header nnstudio writes or reads: 8 MiB. A save's header is its tensor table (about 100
#: bytes a tensor) and its metadata: about 3 KB plus one history entry per epoch, 550 bytes for the
#: MLP and the CNN, 1 KB for deep-mlp (measured; 30 epochs of the MLP make a 19 KB header), so the
#: longest history a save holds (`schema.MAX_HISTORY_ENTRIES`, 5,000 epochs) fits with room. It also
#: bounds what a hostile header costs: parsed, JSON takes up to about 19 times its size in Python
#: objects (the official library's 100 MB limit let 87 MB of empty objects take 2.2 GB).
MAX_HEADER_BYTES = 8 * 1024 * 1024
#: The most JSON objects and lists a header may hold, counted before it is parsed: an empty object is
#: 3 bytes of text but 72 bytes parsed, so this, not the byte limit, bounds a header made of them. A
#: save needs about 4 a history entry and 3 a tensor: 5,000 epochs of history take 20,000.
MAX_HEADER_CONTAINERS = 50_000
#: data are copied to the file in slices of this size, so a big model is never duplicated in memory
CHUNK_BYTES = 8 * 1024 * 1024

#: safetensors dtype names and the NumPy dtypes (always little-endian) they map to
DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype("?"), "U8": np.dtype("u1"), "I8": np.dtype("i1"),
    "U16": np.dtype("<u2"), "I16": np.dtype("<i2"), "F16": np.dtype("<f2"),
    "U32": np.dtype("<u4"), "I32": np.dtype("<i4"), "F32": np.dtype("<f4"),
    "U64": np.dtype("<u8"), "I64": np.dtype("<i8"), "F64": np.dtype("<f8"),
}
_NAMES_BY_DTYPE = {dtype.newbyteorder("="): name for name, dtype in DTYPES.items()}

METADATA_KEY = "__metadata__"


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor sits in the data section, as the header says."""

    name: str
    dtype: str          # safetensors name, e.g. "F32"
    shape: tuple[int, ...]
    begin: int          # byte offsets into the data section
    end: int

    @property
    def numpy_dtype(self) -> np.dtype:
        return DTYPES[self.dtype]


@dataclass(frozen=True)
class Header:
    """A checked header: the metadata strings and the tensors' places, consistent with the file's size."""

    metadata: dict[str, str]
    tensors: dict[str, TensorInfo]
    data_start: int     # byte position of the data section in the file
    data_length: int


def dtype_name(dtype: np.dtype) -> str:
    """The safetensors name of a NumPy dtype, or SaveError for one the format cannot hold."""
    name = _NAMES_BY_DTYPE.get(np.dtype(dtype).newbyteorder("="))
    if name is None:
        raise SaveError(f"cannot store a tensor of dtype {np.dtype(dtype)}; supported: {', '.join(DTYPES)}")
    return name


# ====================================================================== writing
def _little_endian(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    dtype_name(array.dtype)  # refuse object, complex, strings... before anything is written
    return np.asarray(array, dtype=array.dtype.newbyteorder("<"), order="C")  # keeps 0-d arrays 0-d


def encode_header(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> bytes:
    """The length prefix and JSON header for `tensors` stored one after another in the given order.

    The header is padded with spaces to a multiple of 8 bytes, as the official writer does, so
    the data section starts aligned.
    """
    header: dict[str, object] = {METADATA_KEY: dict(metadata)}
    offset = 0
    for name, array in tensors.items():
        if not isinstance(name, str) or not name or name == METADATA_KEY:
            raise SaveError(f"invalid tensor name {name!r}")
        size = array.size * array.dtype.itemsize
        header[name] = {"dtype": dtype_name(array.dtype), "shape": list(array.shape),
                        "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)
    if len(text) > MAX_HEADER_BYTES:
        raise SaveError(f"header would be {len(text):,} bytes, over the limit of {MAX_HEADER_BYTES:,} bytes "
                        f"({MAX_HEADER_BYTES >> 20} MiB) of a save's header")
    if (containers := _containers(text)) > MAX_HEADER_CONTAINERS:
        raise SaveError(f"header would hold {containers:,} JSON objects and lists, over the limit of "
                        f"{MAX_HEADER_CONTAINERS:,} of a save's header")
    return len(text).to_bytes(8, "little") + text


def _containers(text: bytes) -> int:
    """The JSON objects and lists in `text`, at most: every one opens with a brace or bracket (text inside
    strings is counted too, so this errs on the safe side)."""
    return text.count(b"{") + text.count(b"[")


def write(file: BinaryIO, tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> int:
    """Write a safetensors file to an open binary file; return the number of bytes written."""
    arrays = {name: _little_endian(array) for name, array in tensors.items()}
    prefix = encode_header(arrays, metadata)
    file.write(prefix)
    written = len(prefix)
    for array in arrays.values():
        data = memoryview(array.reshape(-1).view(np.uint8))
        for start in range(0, len(data), CHUNK_BYTES):
            file.write(data[start:start + CHUNK_BYTES])
        written += len(data)
    return written


# ====================================================================== reading
def _read_exact(file: BinaryIO, n: int, what: str) -> bytes:
    data = file.read(n)
    if len(data) != n:
        raise SaveError(f"truncated file: expected {n:,} bytes of {what}, found {len(data):,}")
    return data


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise SaveError(f"header is malformed: key {short_repr(key)} appears twice")
        result[key] = value
    return result


def _no_constants(name: str):
    raise SaveError(f"header is malformed: {name} is not valid JSON")


def parse_json(text: str, what: str):
    """Strict JSON (no NaN/Infinity, no duplicate keys); any failure is a SaveError naming `what`."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except SaveError as error:
        raise SaveError(error.problem.replace("header", what, 1)) from None
    except RecursionError:
        raise SaveError(f"{what} is malformed: nested too deeply") from None
    except ValueError as error:  # JSONDecodeError, and ints over Python's digit limit
        raise SaveError(f"{what} is not valid JSON ({error})") from None


def _tensor_info(name: str, info: object) -> TensorInfo:
    where = f"header entry {short_repr(name)}"
    if not isinstance(info, dict):
        raise SaveError(f"{where} must be an object with dtype, shape and data_offsets")
    if set(info) != {"dtype", "shape", "data_offsets"}:
        raise SaveError(f"{where} must have exactly dtype, shape and data_offsets, has {', '.join(map(str, info)) or 'nothing'}")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise SaveError(f"{where} has unsupported dtype {short_repr(dtype)}; supported: {', '.join(DTYPES)}")
    if not isinstance(shape, list) or not all(is_whole_number(d) and d >= 0 for d in shape):
        raise SaveError(f"{where} has shape {short_repr(shape)}; expected a list of whole numbers >= 0")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(is_whole_number(o) for o in offsets)
            and 0 <= offsets[0] <= offsets[1]):
        raise SaveError(f"{where} has data_offsets {short_repr(offsets)}; expected [begin, end] with 0 <= begin <= end")
    size = math.prod(shape) * DTYPES[dtype].itemsize
    if offsets[1] - offsets[0] != size:
        raise SaveError(f"{where}: shape {shape} of {dtype} needs {size:,} bytes, but data_offsets span "
                        f"{offsets[1] - offsets[0]:,}")
    return TensorInfo(name, dtype, tuple(shape), offsets[0], offsets[1])


def _read_document(file: BinaryIO, file_size: int | None) -> tuple[dict, dict[str, str], int, int]:
    """The header JSON's tensor entries (unchecked), its metadata strings, the header's length and the file's size."""
    if file_size is None:
        file_size = os.fstat(file.fileno()).st_size
    if file_size < 8:
        raise SaveError(f"not a safetensors file: only {file_size} bytes long")
    prefix = _read_exact(file, 8, "header length")
    n = int.from_bytes(prefix, "little")
    if n > MAX_HEADER_BYTES and n > file_size - 8:  # text, or another format: the length is any 8 bytes
        raise SaveError(f"not a safetensors file: its header length {n:,} is over the limit of {MAX_HEADER_BYTES:,} bytes")
    if n > MAX_HEADER_BYTES:
        raise SaveError(f"its header is {n:,} bytes, over the limit of {MAX_HEADER_BYTES:,} bytes "
                        f"({MAX_HEADER_BYTES >> 20} MiB) of a save's header: damaged, or not an nnstudio save")
    if n > file_size - 8:
        raise SaveError(f"truncated or not a safetensors file: the header should be {n:,} bytes but only "
                        f"{file_size - 8:,} follow")
    if n < 2:
        raise SaveError(f"not a safetensors file: a header of {n} bytes cannot hold a JSON object")
    raw = _read_exact(file, n, "header")
    if (containers := _containers(raw)) > MAX_HEADER_CONTAINERS:
        raise SaveError(f"its header holds {containers:,} JSON objects and lists, over the limit of "
                        f"{MAX_HEADER_CONTAINERS:,} of a save's header: damaged, or not an nnstudio save")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SaveError("not a safetensors file: the header is not UTF-8 text") from None
    del raw  # the header is held once, as text, while it is parsed
    if not text.lstrip().startswith("{"):
        raise SaveError("not a safetensors file: the header is not a JSON object")
    document = parse_json(text, "header")
    if not isinstance(document, dict):
        raise SaveError("not a safetensors file: the header is not a JSON object")

    metadata = document.pop(METADATA_KEY, None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise SaveError("header is malformed: __metadata__ must map names to text")
    return document, metadata, n, file_size


def read_metadata_strings(file: BinaryIO, file_size: int | None = None) -> dict[str, str]:
    """The header's `__metadata__` alone, its tensor table not checked: enough to tell whose file it is."""
    return _read_document(file, file_size)[1]


def read_header(file: BinaryIO, file_size: int | None = None,
                check_metadata: Callable[[dict[str, str]], None] | None = None) -> Header:
    """Read and check the header of an open file, without reading any tensor data.

    Checks: the length prefix is sane, the header is UTF-8 JSON with no duplicate keys, the
    metadata are strings, every tensor entry is well formed, and the tensors tile the data
    section exactly (no gaps, no overlaps, nothing missing or left over).

    `check_metadata` sees the metadata before any tensor entry is checked: a file of a newer
    format may hold dtypes this code does not know, and its reader should say "upgrade", not
    "unsupported dtype".
    """
    document, metadata, n, file_size = _read_document(file, file_size)
    if check_metadata is not None:
        check_metadata(metadata)

    tensors = {name: _tensor_info(name, info) for name, info in document.items()}
    data_length = file_size - 8 - n
    position = 0
    for info in sorted(tensors.values(), key=lambda t: (t.begin, t.end)):
        if info.begin != position:
            problem = "overlaps the tensor before it" if info.begin < position else "leaves a gap before it"
            raise SaveError(f"header is malformed: tensor {short_repr(info.name)} at bytes {info.begin:,}-{info.end:,} {problem}")
        position = info.end
    if position > data_length:
        raise SaveError(f"truncated file: the tensors need {position:,} bytes of data but only {data_length:,} are present")
    if position < data_length:
        raise SaveError(f"file is malformed: {data_length - position:,} unexpected bytes after the tensor data")
    return Header(metadata, tensors, 8 + n, data_length)


def read_tensors(file: BinaryIO, header: Header) -> dict[str, np.ndarray]:
    """Read the data section of a file whose header was checked by `read_header`: name -> writable array."""
    file.seek(header.data_start)
    buffer = bytearray(header.data_length)
    view = memoryview(buffer)
    got = 0
    while got < header.data_length:  # readinto may return short counts
        n = file.readinto(view[got:])
        if not n:
            raise SaveError(f"truncated file: expected {header.data_length:,} bytes of tensor data, found {got:,}")
        got += n
    return {name: np.frombuffer(buffer, dtype=info.numpy_dtype, count=math.prod(info.shape),
                                offset=info.begin).reshape(info.shape)
            for name, info in header.tensors.items()}
