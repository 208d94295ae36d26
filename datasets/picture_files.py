"""Pictures read from files, for a model to read the digit in them: a portable graymap, or lines of characters.

    read_picture("seven.pgm")   -> 2-D float32 in [0, 1] (P2 plain or P5 binary, any size, any maxval)
    read_picture("seven.txt")   -> 28 lines of characters: blank or '.' empty, ramp characters grey, others ink
    parse_pgm(data), parse_text(text)   the same from bytes or a string

The values are read as they are (0 black, 1 white): which of the two is ink is decided later
(`digit_style.ink_on_dark`). Anything wrong raises `PictureError` with one line naming the file
and the problem; the file's size is checked before anything is allocated, so a header that
claims a billion pixels is refused, not obeyed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from .errors import DatasetError

#: a text picture's lines (one per pixel row) and widest line
TEXT_ROWS = TEXT_COLUMNS = 28
#: characters of a text picture from no ink to full ink; any other character is full ink, and '.' is empty too
RAMP = " .:-=+*#%@"
EMPTY = " ."
#: larger files are not pictures of a digit (and are not read into memory)
MAX_BYTES = 64 * 1024 * 1024
#: the most pixels a graymap may claim (a 4000x4000 scan is 16 million)
MAX_PIXELS = 40_000_000
_PGM_MAGIC = (b"P2", b"P5")
_OTHER_NETPBM = {b"P1": "a PBM (black and white)", b"P4": "a PBM (black and white)", b"P3": "a PPM (colour)",
                 b"P6": "a PPM (colour)", b"P7": "a PAM"}
_KNOWN_BINARY = {b"\x89PNG": "a PNG", b"\xff\xd8\xff": "a JPEG", b"GIF8": "a GIF", b"BM": "a BMP"}
_CONVERT = "convert it to a greyscale PGM (e.g. `magick FILE -colorspace gray out.pgm`)"


class PictureError(DatasetError):
    """A picture file that cannot be read; the message is one line naming the file and what is wrong."""


def read_picture(path: str | os.PathLike) -> np.ndarray:
    """The picture in `path` (a PGM, else a text picture) as 2-D float32 values in [0, 1]."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise PictureError(f"{path}: is a folder, not a picture file")
        if size > MAX_BYTES:
            raise PictureError(f"{path}: {size:,} bytes is too large for a picture of a digit "
                               f"(at most {MAX_BYTES // 2 ** 20} MB)")
        data = path.read_bytes()
    except FileNotFoundError:
        raise PictureError(f"{path}: no such file") from None
    except OSError as error:
        raise PictureError(f"{path}: cannot be read ({error.strerror or error})") from None
    try:
        return parse_picture(data, pgm=path.suffix.lower() in (".pgm", ".pnm"))
    except PictureError as error:
        raise PictureError(f"{path}: {error}") from None


def parse_picture(data: bytes, pgm: bool = False) -> np.ndarray:
    """`data` as a PGM if it starts like one (or `pgm` says it must be one), else as a text picture."""
    if data[:2] in _PGM_MAGIC or pgm:
        return parse_pgm(data)
    if data[:2] in _OTHER_NETPBM and data[2:3].isspace():
        raise PictureError(f"{_OTHER_NETPBM[data[:2]]} picture, not a greyscale one: {_CONVERT}")
    for magic, kind in _KNOWN_BINARY.items():
        if data.startswith(magic):
            raise PictureError(f"{kind} picture: nnstudio reads PGM and text pictures; {_CONVERT}")
    if b"\0" in data:
        raise PictureError("not a PGM (it does not start with P2 or P5) nor a text picture (it holds binary data)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PictureError("not a PGM (it does not start with P2 or P5) nor a text picture (not UTF-8 text)") from None
    return parse_text(text)


# ---------------------------------------------------------------------------------------------- PGM
_TOKEN = re.compile(rb"\s*(?:#[^\n\r]*[\n\r]\s*)*")   # whitespace and whole comment lines between tokens


def _tokens(data: bytes, count: int, at: int) -> tuple[list[bytes], int]:
    """`count` header fields from offset `at` (comments skipped), and the offset just after the last."""
    fields = []
    for _ in range(count):
        at = _TOKEN.match(data, at).end()
        end = at
        while end < len(data) and not data[end:end + 1].isspace() and data[end:end + 1] != b"#":
            end += 1
        if end == at:
            break
        fields.append(data[at:end])
        at = end
    return fields, at


def parse_pgm(data: bytes) -> np.ndarray:
    """A P2 (plain) or P5 (binary) portable graymap as float32 in [0, 1] (0 black, maxval white)."""
    magic = data[:2]
    if magic not in _PGM_MAGIC:
        raise PictureError("not a PGM: it does not start with P2 (plain) or P5 (binary)")
    fields, at = _tokens(data, 3, 2)
    names = ("width", "height", "maximum value")
    if len(fields) < 3:
        raise PictureError(f"truncated PGM header: no {names[len(fields)]}")
    numbers = []
    for name, field in zip(names, fields):
        if not field.isdigit():
            raise PictureError(f"bad PGM header: the {name} is {field[:20].decode('latin-1')!r}, not a whole number")
        numbers.append(int(field))
    width, height, maxval = numbers
    if width < 1 or height < 1:
        raise PictureError(f"bad PGM header: a {width}x{height} picture has no pixels")
    if not 1 <= maxval <= 65535:
        raise PictureError(f"bad PGM header: the maximum value {maxval} is not within 1..65535")
    if width * height > MAX_PIXELS:
        raise PictureError(f"{width}x{height} pixels is too large for a picture of a digit "
                           f"(at most {MAX_PIXELS:,} pixels)")
    pixels = width * height
    if magic == b"P5":
        if data[at:at + 1] == b"#":   # a comment right after the maximum value: its line end is the separator
            at = min((i for i in (data.find(b"\n", at), data.find(b"\r", at)) if i >= 0), default=len(data))
        if at >= len(data) or not data[at:at + 1].isspace():
            raise PictureError("truncated PGM: nothing after the header")
        depth = 1 if maxval < 256 else 2
        raster = data[at + 1:at + 1 + pixels * depth]
        if len(raster) < pixels * depth:
            raise PictureError(f"truncated PGM: {len(raster):,} of {pixels * depth:,} bytes of pixels")
        values = np.frombuffer(raster, dtype=np.uint8 if depth == 1 else ">u2")
    else:
        body = re.sub(rb"#[^\n\r]*", b" ", data[at:])
        words = body.split(None, pixels)[:pixels]
        if len(words) < pixels:
            raise PictureError(f"truncated PGM: {len(words):,} of {pixels:,} pixel values")
        bad = next((word for word in words if not word.isdigit()), None)
        if bad is not None:
            raise PictureError(f"bad PGM pixel value {bad[:20].decode('latin-1')!r}: not a whole number")
        numbers = [int(word) for word in words]
        largest = max(numbers)   # (checked before NumPy, which cannot hold a value of twenty digits)
        if largest > maxval:
            raise PictureError(f"bad PGM: a pixel value {str(largest)[:20]} is above the maximum value {maxval}")
        values = np.array(numbers, dtype=np.int64)
    if values.max() > maxval:
        raise PictureError(f"bad PGM: a pixel value {int(values.max())} is above the maximum value {maxval}")
    return (values.astype(np.float32) / np.float32(maxval)).reshape(height, width)


# ---------------------------------------------------------------------------------------------- text
_LEVELS = {character: n / (len(RAMP) - 1) for n, character in enumerate(RAMP)}


def parse_text(text: str) -> np.ndarray:
    """28 lines of at most 28 characters as float32 in [0, 1]: ' ' and '.' are empty, a character of RAMP
    its grey level, any other full ink; shorter lines are blank to the right."""
    lines = text.split("\n")
    if lines and lines[-1] == "":   # the newline ending the last line
        lines.pop()
    lines = [line.rstrip("\r") for line in lines]
    while len(lines) > TEXT_ROWS and not lines[-1].strip():   # blank lines an editor left after the picture
        lines.pop()
    if len(lines) != TEXT_ROWS:
        raise PictureError(f"a text picture has {TEXT_ROWS} lines (one per pixel row), this one {len(lines)}")
    picture = np.zeros((TEXT_ROWS, TEXT_COLUMNS), np.float32)
    for row, line in enumerate(lines):
        if len(line) > TEXT_COLUMNS:
            raise PictureError(f"line {row + 1} has {len(line)} characters: a text picture's lines have at most "
                               f"{TEXT_COLUMNS}")
        picture[row, :len(line)] = [0.0 if c in EMPTY else _LEVELS.get(c, 1.0) for c in line]
    return picture
