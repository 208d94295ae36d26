"""Hostile saves made from real ones: a save's metadata document edited in place, as a user with a text editor
(or a damaged disk) might, its tensors left as they are; and its tensor data overwritten with NaN or infinity."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path
from typing import Callable

import numpy as np

from nnstudio.saves import format as fmt


def _split(raw: bytes) -> tuple[dict, int]:
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), n


def edit_document(path: Path, change: Callable[[dict], object], to: Path | None = None) -> Path:
    """Apply `change` to the nnstudio document in `path`'s header; write the result to `to` (default: in place)."""
    raw = path.read_bytes()
    header, n = _split(raw)
    document = json.loads(header["__metadata__"]["nnstudio"])
    change(document)
    header["__metadata__"]["nnstudio"] = json.dumps(document)
    text = json.dumps(header).encode()
    target = to or path
    target.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n:])
    return target


def fill_tensors(path: Path, value: float, names: list[str] | None = None, to: Path | None = None) -> Path:
    """Overwrite the data of the float tensors `names` (default: every model tensor) with `value` (NaN, inf...)."""
    target = to or path
    if target != path:
        shutil.copyfile(path, target)
    raw = bytearray(target.read_bytes())
    header, n = _split(bytes(raw))
    start = 8 + n
    for name, info in header.items():
        if name == "__metadata__" or (names is None and name.startswith("optimizer.")):
            continue
        if names is not None and name not in names:
            continue
        dtype = fmt.DTYPES[info["dtype"]]
        if dtype.kind != "f":
            continue
        begin, end = info["data_offsets"]
        raw[start + begin:start + end] = np.full((end - begin) // dtype.itemsize, value, dtype).tobytes()
    target.write_bytes(bytes(raw))
    return target
