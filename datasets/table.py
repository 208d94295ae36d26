"""Reading a CSV table of examples in chunks: numeric feature columns and one target column.

A file of any size is read a few megabytes at a time, so memory stays bounded whatever its
size. Each chunk goes first through NumPy's C reader (`np.loadtxt`, about ten times faster than
the `csv` module); only a chunk it refuses (a missing value, a stray word, a ragged line, quoted
fields) is read again, row by row, with the `csv` module, which either reads it after all or
finds the first problem and says where it is: the file, the line, the column by name.

    table = open_table("iris.csv", target="species")
    for chunk in table.chunks(): ...            # Chunk(features float32 (n, F), targets, line numbers)
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DatasetError
from .locations import display_path

#: bytes of text read (and parsed) at a time
CHUNK_BYTES = 4 << 20
#: cells that mean "no value" (compared stripped and lower-cased)
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-"})
#: delimiters recognised from the header line, in order of preference
DELIMITERS = (",", ";", "\t", "|")
#: the first bytes looked at to tell a text file from a binary one
_SNIFF_BYTES = 64 << 10
_FLOAT32_MAX = float(np.finfo(np.float32).max)

ProgressCallback = Callable[[int, int], None]   # (bytes read, bytes in all)


class TableError(DatasetError):
    """A CSV file cannot be imported; the message names the file, the line and the column, and what to do."""


@dataclass
class Chunk:
    """Rows of a table, parsed: features as float32, the target as numbers or as text."""

    features: np.ndarray          # float32 (n, F), every value finite
    targets: np.ndarray           # float64 (n,) for a numeric target, str (n,) for a text one
    lines: np.ndarray             # int64 (n,): the line each row is on (the header is line 1)
    dropped: int = 0              # rows left out for a missing value (drop_missing)


@dataclass(frozen=True)
class Table:
    """An opened CSV file: its columns, which are features and which is the target, and how to read it."""

    path: Path
    delimiter: str
    header: tuple[str, ...]
    features: tuple[int, ...]     # column indices, in file order
    target: int                   # column index
    numeric_target: bool          # the target parses as numbers (from the first chunk); else it is text
    drop_missing: bool = False
    text_columns: tuple[str, ...] = ()   # feature columns holding text in the first rows (they will be refused)

    @property
    def name(self) -> str:
        return display_path(self.path)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(self.header[i] for i in self.features)

    @property
    def target_name(self) -> str:
        return self.header[self.target]

    def size(self) -> int:
        return self.path.stat().st_size

    def text_features(self) -> tuple[str, ...]:
        """The feature columns holding text in the file's first rows: to flag before an import refuses them."""
        return self.text_columns

    def chunks(self, progress: ProgressCallback | None = None) -> Iterator[Chunk]:
        """Every row, a chunk at a time; a TableError at the first row that cannot be read."""
        total = self.size()
        with _open_bytes(self.path) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            line = 2
            try:
                text.readline()   # the header
                while lines := text.readlines(CHUNK_BYTES):
                    yield self._parse(lines, line)
                    line += len(lines)
                    if progress is not None:
                        progress(_position(raw), total)
            except UnicodeDecodeError:
                raise TableError(f"{self.name} is not UTF-8 text after line {line}: save it as UTF-8 CSV") from None
            except (OSError, EOFError) as error:   # a gzip file cut short, a disk error
                raise TableError(f"{self.name} cannot be read after line {line}: "
                                 f"{getattr(error, 'strerror', None) or error}") from None

    # ------------------------------------------------------------------ one chunk
    def _parse(self, lines: list[str], first_line: int) -> Chunk:
        """The fast C reader when it can, else the careful row-by-row one (which also finds the problem)."""
        chunk = self._fast(lines, first_line)
        return chunk if chunk is not None else self._careful(lines, first_line)

    def _fast(self, lines: list[str], first_line: int) -> Chunk | None:
        d, columns = self.delimiter, len(self.header)
        numbers = np.arange(first_line, first_line + len(lines))
        if any(not line.strip() for line in lines):   # blank lines are no rows
            kept = [i for i, line in enumerate(lines) if line.strip()]
            lines, numbers = [lines[i] for i in kept], numbers[kept]
            if not lines:
                return Chunk(np.zeros((0, len(self.features)), np.float32),
                             np.zeros(0, np.float64 if self.numeric_target else str), numbers)
        if any('"' in line or line.count(d) != columns - 1 for line in lines):
            return None   # quotes or a ragged line: the careful reader deals with it and says where
        wanted = list(self.features) + ([self.target] if self.numeric_target else [])
        try:   # (float32 at once: a value too large for it becomes inf, which sends the chunk to the careful reader)
            values = np.loadtxt(lines, delimiter=d, dtype=np.float32, usecols=wanted, comments=None, ndmin=2)
        except ValueError:
            return None
        if not np.isfinite(values).all():
            return None
        if self.numeric_target:
            return Chunk(values[:, :-1], values[:, -1].astype(np.float64), numbers)
        if self.target == 0:
            targets = [line.split(d, 1)[0].strip() for line in lines]
        else:
            cut = columns - self.target
            targets = [line.rsplit(d, cut)[1].strip() for line in lines]
        if any(t.lower() in MISSING for t in targets):
            return None
        return Chunk(values, np.array(targets, dtype=str), numbers)

    def _careful(self, lines: list[str], first_line: int) -> Chunk:
        """Row by row with the `csv` module: quoted fields, and the exact place of any problem."""
        features, targets, numbers, dropped = [], [], [], 0
        reader = csv.reader(lines, delimiter=self.delimiter)
        for row in _rows(reader, self.name, first_line):
            line = first_line + reader.line_num - 1
            if not row:
                continue
            if len(row) != len(self.header):
                raise TableError(f"{self.name}, line {line}: {len(row)} values, but the header names "
                                 f"{len(self.header)} columns; every line needs one value per column")
            try:
                values = [self._number(row, column, line) for column in self.features]
                target = self._target(row, line)
            except _Missing:
                dropped += 1
                continue
            features.append(values)
            targets.append(target)
            numbers.append(line)
        width = len(self.features)
        return Chunk(np.array(features, dtype=np.float32).reshape(-1, width),
                     np.array(targets, dtype=np.float64 if self.numeric_target else str),
                     np.array(numbers, dtype=np.int64), dropped)

    def _where(self, line: int, column: int) -> str:
        return f"{self.name}, line {line}, column {self.header[column]!r}"

    def _number(self, row: Sequence[str], column: int, line: int) -> float:
        cell = row[column].strip()
        if cell.lower() in MISSING:
            self._missing(line, column, cell)
        try:
            value = float(cell)
        except ValueError:
            if column == self.target:
                raise TableError(f"{self._where(line, column)}: {short(cell)} is not a number, but the target's "
                                 f"first rows are numbers; fix that value, or make the target text in every row "
                                 f"for classes by name") from None
            raise TableError(f"{self._where(line, column)}: {short(cell)} is not a number; features must be "
                             f"numbers: drop the column (--ignore {_quoted_option(self.header[column])}) or encode "
                             f"it as numbers (one column per category)") from None
        if not np.isfinite(value):
            raise TableError(f"{self._where(line, column)}: {short(cell)} is not a finite number; replace it with a "
                             f"number, or leave it empty and such rows out with --drop-missing")
        if abs(value) > _FLOAT32_MAX:
            raise TableError(f"{self._where(line, column)}: {short(cell)} is too large for a 32-bit float; "
                             f"rescale the column")
        return value

    def _target(self, row: Sequence[str], line: int) -> float | str:
        if self.numeric_target:
            return self._number(row, self.target, line)
        cell = row[self.target].strip()
        if cell.lower() in MISSING:
            self._missing(line, self.target, cell)
        return cell

    def _missing(self, line: int, column: int, cell: str) -> None:
        if self.drop_missing:
            raise _Missing
        what = "is empty" if not cell else f"is {short(cell)}, a missing value"
        raise TableError(f"{self._where(line, column)} {what}; fill it in, or leave such rows out with "
                         f"--drop-missing")


def _rows(reader, name: str, first_line: int) -> Iterator[list[str]]:
    """The reader's rows; a TableError naming the line where the `csv` module cannot go on."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise TableError(f"{name}, line {first_line + reader.line_num - 1}: cannot be read as CSV ({error})") \
                from None


class _Missing(Exception):
    """A row with a missing value, to be left out (drop_missing)."""


# ====================================================================== opening
def open_table(path: str | os.PathLike, *, target: str | None = None, ignore: Sequence[str] = (),
               delimiter: str | None = None, drop_missing: bool = False) -> Table:
    """The table in `path`, its header checked and its columns assigned: `target` (default: the last column)
    and the features (every other column, but those in `ignore`). TableError when it cannot be read as one."""
    path = Path(path)
    name = display_path(path)
    if not path.exists():
        raise TableError(f"{name} does not exist")
    if not path.is_file():
        raise TableError(f"{name} is not a file")
    head = _text_head(path)
    first = head.split("\n", 1)[0].rstrip("\r")
    if not first.strip():
        raise TableError(f"{name} is empty: a CSV needs a header line naming the columns, then one line per example"
                         if not head.strip() else
                         f"{name} starts with a blank line: the first line must be the header naming the columns")
    delimiter = delimiter or _delimiter(first)
    try:
        header = tuple(cell.strip() for cell in next(csv.reader([first], delimiter=delimiter)))
    except csv.Error as error:
        raise TableError(f"{name}, line 1: the header cannot be read as CSV ({error})") from None
    _check_header(name, header, delimiter)
    if len(head.split("\n", 1)) < 2 or not head.split("\n", 1)[1].strip():
        raise TableError(f"{name} has a header line but no rows of data")
    target_index = _column(name, header, target) if target is not None else default_target(header)
    ignored = {_column(name, header, column) for column in ignore}
    if target_index in ignored:
        raise TableError(f"{name}: the target column {header[target_index]!r} cannot also be ignored")
    features = tuple(i for i in range(len(header)) if i != target_index and i not in ignored)
    if not features:
        raise TableError(f"{name}: no feature columns are left besides the target {header[target_index]!r}")
    table = Table(path, delimiter, header, features, target_index, numeric_target=True, drop_missing=drop_missing)
    return Table(path, delimiter, header, features, target_index, _numeric_target(table, head), drop_missing,
                 _text_columns(table, head))


#: column names taken for the target when no --target is given and the last column is not one
TARGET_NAMES = ("label", "labels", "target", "class", "y", "digit")


def default_target(header: Sequence[str]) -> int:
    """The target's column when none is named: the one called label, target, class, y or digit, where there is
    exactly one (MNIST as CSV puts its label first), else the last column."""
    named = [i for i, cell in enumerate(header) if cell.lower() in TARGET_NAMES]
    return named[0] if len(named) == 1 else len(header) - 1


def _check_header(name: str, header: tuple[str, ...], delimiter: str) -> None:
    if len(header) < 2:
        raise TableError(f"{name}: the header names one column; a table needs feature columns and a target "
                         f"column separated by {_delimiter_name(delimiter)}")
    if all(_is_number(cell) for cell in header):
        shown = ", ".join(header[:3]) + (", ..." if len(header) > 3 else "")
        raise TableError(f"{name} has no header line: its first line is numbers ({shown}); add a first line naming "
                         f"the columns, e.g. {delimiter.join(_example_header(len(header)))}")
    for i, cell in enumerate(header):
        if not cell:
            raise TableError(f"{name}: column {i + 1} has no name in the header line; name every column")
    seen: dict[str, int] = {}
    for i, cell in enumerate(header):
        if cell in seen:
            raise TableError(f"{name}: the header names {cell!r} twice (columns {seen[cell] + 1} and {i + 1}); "
                             f"give every column its own name")
        seen[cell] = i


def _example_header(columns: int) -> list[str]:
    names = [f"x{i + 1}" for i in range(columns - 1)] + ["label"]
    return names if columns <= 4 else names[:2] + ["...", names[-1]]


def _column(name: str, header: tuple[str, ...], column: str) -> int:
    """The index of the column named `column` (exactly, else ignoring case), or a TableError with a did-you-mean."""
    if column in header:
        return header.index(column)
    folded = [cell.lower() for cell in header]
    if column.lower() in folded:
        return folded.index(column.lower())
    import difflib
    close = difflib.get_close_matches(column, header, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    listed = ", ".join(header) if len(header) <= 12 else ", ".join(header[:10]) + f", ... ({len(header)} columns)"
    raise TableError(f"{name} has no column {column!r}{hint}; its columns: {listed}")


def _numeric_target(table: Table, head: str) -> bool:
    """Whether the target reads as numbers: every non-missing target cell of the first rows does."""
    lines = _data_lines(head)
    seen = 0
    try:
        for row in csv.reader(lines, delimiter=table.delimiter):
            if len(row) == len(table.header):
                cell = row[table.target].strip()
                if cell.lower() not in MISSING:
                    if not _is_number(cell):
                        return False
                    seen += 1
    except csv.Error:   # (the careful reader says where, when it comes to that line)
        pass
    return seen > 0


def _text_columns(table: Table, head: str) -> tuple[str, ...]:
    """The feature columns with a cell of text (not a number, not a missing value) in the first rows."""
    text: set[int] = set()
    try:
        for row in csv.reader(_data_lines(head), delimiter=table.delimiter):
            if len(row) == len(table.header):
                text.update(i for i in table.features
                            if row[i].strip().lower() not in MISSING and not _is_number(row[i].strip()))
    except csv.Error:   # (the careful reader says where, when it comes to that line)
        pass
    return tuple(table.header[i] for i in table.features if i in text)


def _data_lines(head: str) -> list[str]:
    """The whole data lines of a file's first bytes (the last may be cut off, unless it is all there is)."""
    return head.split("\n")[1:-1] or head.split("\n")[1:]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _delimiter(header_line: str) -> str:
    """The delimiter of a file, from its header line: the first of DELIMITERS it holds (a comma if none)."""
    return next((d for d in DELIMITERS if d in header_line), ",")


def _delimiter_name(delimiter: str) -> str:
    return {",": "commas", ";": "semicolons", "\t": "tabs", "|": "bars"}.get(delimiter, repr(delimiter))


def _quoted_option(column: str) -> str:
    return column if column.replace("_", "").replace("-", "").isalnum() else repr(column)


def short(cell: str, width: int = 30) -> str:
    """A cell quoted for a message, cut when long."""
    return repr(cell if len(cell) <= width else cell[:width] + "...")


# ====================================================================== bytes
def is_gzip(path: Path) -> bool:
    with open(path, "rb") as file:
        return file.read(2) == b"\x1f\x8b"


def _open_bytes(path: Path):
    """The file's bytes, uncompressed if it is gzip."""
    if is_gzip(path):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _position(raw) -> int:
    """How far into the file (compressed bytes, for a gzip file) reading has gone."""
    inner = getattr(raw, "fileobj", None)
    return (inner or raw).tell()


def _text_head(path: Path) -> str:
    """The first bytes of the file as text; TableError if they are not text (NUL bytes, not UTF-8)."""
    name = display_path(path)
    try:
        with _open_bytes(path) as raw:
            head = raw.read(_SNIFF_BYTES)
    except (OSError, EOFError) as error:
        raise TableError(f"{name} cannot be read: {getattr(error, 'strerror', None) or error}") from None
    if head.startswith(b"PK\x03\x04"):
        raise TableError(f"{name} is a zip archive, not a CSV: an .npz needs the .npz ending; a zipped CSV must be "
                         f"unzipped first")
    if b"\x00" in head:
        raise TableError(f"{name} is not a text file (it holds NUL bytes): import a CSV (text, with a header line) "
                         f"or an .npz with arrays x and y")
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if len(head) == _SNIFF_BYTES:
        head = head[:head.rfind(b"\n") + 1] or head   # whole lines only
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start >= len(head) - 3 and len(head) == _SNIFF_BYTES:   # a character cut at the end
            return head[:error.start].decode("utf-8")
        line = head[:error.start].count(b"\n") + 1
        raise TableError(f"{name} is not UTF-8 text (byte {error.start}, line {line}): save it as UTF-8 CSV, or "
                         f"import an .npz with arrays x and y") from None
