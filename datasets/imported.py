"""Data sets a user imports from a CSV or .npz file, kept in the cache beside MNIST.

    import_file("iris", "iris.csv", target="species")     # -> Imported (what was made)
    load_imported("iris")                                 # -> Dataset, like any other

Each lives in `<cache>/imported/<name>/`: the arrays as .npy files (read back memory-mapped, so
loading costs nothing until rows are used) and `dataset.json` saying what they are (task, class
names, columns, where they came from). A CSV is streamed to disk a chunk at a time (`table`), so
a file larger than memory imports in bounded memory; the train/test split and the final arrays
are written the same way. Everything is written to a hidden folder first and renamed into place
only when complete: a failed import leaves nothing behind, and a replaced set stays whole until
its replacement is.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .dataset import Dataset
from .embedded import EMBEDDED_NAME
from .errors import DatasetError
from .locations import cache_root, display_path
from .mnist_family import IDX_DATASETS
from .preprocess import stratified_split, to_layout
from .synthetic import SYNTHETIC
from .table import ProgressCallback, TableError, open_table

#: files larger than this are refused before reading (override: NNSTUDIO_IMPORT_LIMIT, in bytes)
IMPORT_LIMIT = 4 << 30
LIMIT_ENV = "NNSTUDIO_IMPORT_LIMIT"
#: a numeric target of whole numbers with at most this many distinct values is guessed to be classes
GUESSED_CLASSES = 20
#: at most this many classes
MAX_CLASSES = 1000
#: the share of the rows held out as the test split when the file has none
TEST_FRACTION = 0.2
FORMAT = 1
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
#: bytes of rows copied at a time from the parsed file into the train and test arrays
_BLOCK_BYTES = 8 << 20


@dataclass(frozen=True)
class Imported:
    """What an import made: the set's name and folder, its rows, and how the task was decided."""

    name: str
    folder: Path
    task: str
    class_names: tuple[str, ...]
    features: int
    train_rows: int
    test_rows: int
    dropped: int
    task_reason: str
    image_shape: tuple[int, ...] | None
    source: str   # the file it came from
    target: str = ""   # the target column's name

    def describe(self) -> str:
        """What was made, in a sentence: "iris: imported from iris.csv: classification, 3 classes (...), ..."."""
        if self.task == "classification":
            shown = self.class_names[:8]
            if any("," in name for name in shown):   # "big, small, really" would read as three classes
                shown = tuple(repr(name) for name in shown)
            names = ", ".join(shown) + (", ..." if len(self.class_names) > 8 else "")
            what = f"classification, {len(self.class_names)} classes ({names})"
        else:
            what = "regression"
        shape = f"{self.image_shape[1]}x{self.image_shape[2]} images" if self.image_shape else \
            f"{self.features} feature{'s' if self.features != 1 else ''}"
        dropped = f"; {self.dropped:,} rows with missing values left out" if self.dropped else ""
        return (f"{self.name}: imported from {display_path(self.source)}: {what} ({self.task_reason}), target "
                f"{self.target!r}, {shape}, "
                f"{self.train_rows:,} train / {self.test_rows:,} test rows{dropped}.")


def parse_image_size(text: str) -> tuple[int, int]:
    """ "28x28" -> (28, 28); ValueError naming the form otherwise."""
    match = re.fullmatch(r"\s*(\d{1,4})\s*[xX×]\s*(\d{1,4})\s*", text)
    if not match or int(match[1]) < 1 or int(match[2]) < 1:
        raise ValueError(f"an image size is HEIGHTxWIDTH, e.g. 28x28, got {text!r}")
    return int(match[1]), int(match[2])


def builtin_names() -> list[str]:
    """The data sets nnstudio itself provides (an imported set may not take these names)."""
    return [*IDX_DATASETS, EMBEDDED_NAME, *SYNTHETIC]


def suggested_name(path: str | os.PathLike, taken: tuple[str, ...] = ()) -> str:
    """A data set name made from a file's name ("Iris Data.csv" -> "iris-data"), with -2, -3... when that is a
    built-in set's, already imported, or one of `taken`."""
    stem = Path(path).name.split(".")[0].lower()
    name = re.sub(r"[^a-z0-9_-]+", "-", stem).strip("-_")[:36] or "mydata"
    used = set(taken) | set(builtin_names()) | set(imported_names())
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{name}-{n}"
    return candidate


def imported_title(record: dict) -> str:
    """An imported set's title, from its record: "imported from iris.csv"."""
    return f"imported from {Path(record.get('source', '?')).name}"


def import_command(name: str) -> str:
    """The command that imports one's own data under `name`, for the messages that suggest it."""
    return f"nnstudio data import {name} FILE (.csv or .npz)"


def imported_root() -> Path:
    return cache_root() / "imported"


def imported_folder(name: str) -> Path:
    return imported_root() / name


def imported_names() -> list[str]:
    """The names of the imported sets on this machine, sorted (only complete ones: a `dataset.json` in place)."""
    try:
        return sorted(entry.name for entry in os.scandir(imported_root())
                      if not entry.name.startswith(".") and os.path.isfile(os.path.join(entry.path, "dataset.json")))
    except OSError:
        return []


def check_name(name: str) -> str:
    """`name` if it can name an imported set; DatasetError saying what a name may be otherwise."""
    if name in builtin_names():
        raise DatasetError(f"{name} is a built-in data set; choose another name for yours")
    if not _NAME.fullmatch(name):
        raise DatasetError(f"{name!r} cannot name a data set: use up to 40 lowercase letters, digits, - and _, "
                           f"starting with a letter or digit (e.g. iris)")
    return name


# ====================================================================== importing
def import_file(name: str, path: str | os.PathLike, *, target: str | None = None, task: str | None = None,
                ignore: tuple[str, ...] = (), test_fraction: float = TEST_FRACTION,
                test_file: str | os.PathLike | None = None, drop_missing: bool = False,
                image: tuple[int, int] | None = None, delimiter: str | None = None, replace: bool = False,
                seed: int = 0, progress: ProgressCallback | None = None) -> Imported:
    """Import a CSV (header line, numeric features, a target) or an .npz (arrays x, y and optionally x_test,
    y_test) as the data set `name`. `task` "classification" or "regression" (default: guessed from the target);
    `image` (height, width) declares the features pixels 0..255 of that size. DatasetError when it cannot."""
    check_name(name)
    if task not in (None, "classification", "regression"):
        raise DatasetError(f"the task must be classification or regression, not {task!r}")
    if test_file is None and not 0.0 < test_fraction < 1.0:
        raise DatasetError(f"the test fraction must be between 0 and 1 (e.g. 0.2), got {test_fraction}")
    destination = imported_folder(name)
    if destination.exists() and not replace:
        raise DatasetError(f"a data set named {name} is already imported ({display_path(destination)}); "
                           f"replace it (--replace; in the studio, tick \"replace\") or choose another name")
    sources = [Path(path)] + ([Path(test_file)] if test_file is not None else [])
    tabular = {"--test-file": test_file, "--target": target, "--ignore": ignore, "--delimiter": delimiter}
    if is_npz(sources[0]) and (given := [option for option, value in tabular.items() if value]):
        raise DatasetError(f"{display_path(sources[0])} is an .npz: {', '.join(given)} "
                           f"{'is' if len(given) == 1 else 'are'} for CSV files (an .npz names its arrays x and y, "
                           f"and its test split x_test and y_test)")
    for source in sources:
        _check_size(source)
    imported_root().mkdir(parents=True, exist_ok=True)
    part = Path(tempfile.mkdtemp(prefix=f".{name}.part-", dir=imported_root()))
    try:
        if is_npz(sources[0]):
            raw = _read_npz(sources[0], drop_missing, image)
        else:
            raw = _read_csv(sources, part, target=target, ignore=ignore, drop_missing=drop_missing, image=image,
                            delimiter=delimiter, progress=progress)
        try:
            made = _write(name, part, raw, task=task, test_fraction=test_fraction, seed=seed)
        except DatasetError as error:   # (about the rows as a whole: the file is named in front)
            raise DatasetError(f"{display_path(raw.source)}: {error}") from None
        _put_in_place(part, destination)
    except BaseException:
        shutil.rmtree(part, ignore_errors=True)
        raise
    return made


def remove_imported(name: str) -> Path:
    """Delete the imported set `name`; DatasetError if there is none."""
    folder = imported_folder(name)
    if name not in imported_names():
        raise DatasetError(f"no imported data set named {name}{_known_hint()}")
    trash = folder.with_name(f".{name}.removed-{os.getpid()}")
    os.replace(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)
    return folder


@dataclass
class _Raw:
    """Rows as read, before the task is decided and the test split made."""

    x: np.ndarray                 # (N, F) float32 or uint8 (image pixels); may be a memory map
    targets: np.ndarray           # float64 or str (N,)
    x_test: np.ndarray | None
    targets_test: np.ndarray | None
    feature_names: tuple[str, ...]
    target_name: str
    source: str
    dropped: int
    image: tuple[int, int] | None   # (height, width) when the rows are pictures


def _header_difference(train: tuple[str, ...], test: tuple[str, ...]) -> str:
    """What a test file's header lacks and adds, in words: "no 'b'; 'x' is extra"."""
    lacks = [name for name in train if name not in test]
    extra = [name for name in test if name not in train]
    said = ([f"no {', '.join(map(repr, lacks))}"] if lacks else []) + \
        ([f"{', '.join(map(repr, extra))} {'is' if len(extra) == 1 else 'are'} extra"] if extra else [])
    return "; ".join(said) or "the same names in another order"


def _read_csv(sources: list[Path], part: Path, *, target, ignore, drop_missing, image, delimiter,
              progress) -> _Raw:
    tables = [open_table(source, target=target, ignore=ignore, delimiter=delimiter, drop_missing=drop_missing)
              for source in sources]
    first = tables[0]
    if len(tables) > 1 and tables[1].header != first.header:
        difference = _header_difference(first.header, tables[1].header)
        raise TableError(f"{tables[1].name} has other columns than {first.name} ({difference}); a test file needs "
                         f"the same header")
    if image is not None and math.prod(image) != len(first.features):
        raise TableError(f"{first.name}: --image {image[0]}x{image[1]} needs {math.prod(image)} feature columns, "
                         f"but there are {len(first.features)}")
    total = sum(table.size() for table in tables)
    done = 0
    arrays, dropped = [], 0
    for n, table in enumerate(tables):
        pixels = part / f"x{n}.raw"
        targets, rows = [], 0

        def step(read: int, _all: int) -> None:
            if progress is not None:
                progress(done + read, total)

        with open(pixels, "wb") as out:
            for chunk in table.chunks(step):
                x = _pixels(chunk.features, chunk.lines, table) if image is not None else chunk.features
                x.tofile(out)
                targets.append(chunk.targets)
                rows += len(x)
                dropped += chunk.dropped
        done += table.size()
        if rows == 0:
            raise TableError(f"{table.name} has no rows left once those with missing values are dropped"
                             if dropped else f"{table.name} has a header line but no rows of data")
        dtype = np.uint8 if image is not None else np.float32
        x = RowFile(pixels, rows, len(table.features), np.dtype(dtype))
        arrays.append((x, np.concatenate(targets)))
    test = arrays[1] if len(arrays) > 1 else (None, None)
    return _Raw(arrays[0][0], arrays[0][1], test[0], test[1], first.feature_names, first.target_name,
                str(sources[0].resolve()), dropped, image)


def _pixels(features: np.ndarray, lines: np.ndarray, table) -> np.ndarray:
    """Features declared as pixels: whole numbers 0..255, as uint8; else TableError at the first that is not."""
    bad = (features < 0) | (features > 255) | (features != np.round(features))
    if bad.any():
        row, column = np.argwhere(bad)[0]
        value = features[row, column]
        raise TableError(f"{table.name}, line {lines[row]}, column {table.feature_names[column]!r}: {value:g} is not "
                         f"a pixel value; --image needs whole numbers from 0 to 255")
    return features.astype(np.uint8)


# ---------------------------------------------------------------------- .npz
def is_npz(path: Path) -> bool:
    """Whether `path` is an .npz: by its name, or a zip file's first bytes."""
    if path.suffix.lower() == ".npz":
        return True
    try:
        with open(path, "rb") as file:
            return file.read(4) == b"PK\x03\x04" and zipfile.is_zipfile(path)
    except OSError:
        return False


def _read_npz(path: Path, drop_missing: bool, image: tuple[int, int] | None) -> _Raw:
    name = display_path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files if key in ("x", "y", "x_test", "y_test")}
            files = list(archive.files)
    except ValueError as error:
        if "pickle" in str(error).lower():
            raise DatasetError(f"{name} holds Python objects (pickled arrays), which are not read for safety; save "
                               f"plain numeric arrays (and text labels as a string array)") from None
        raise DatasetError(f"{name} is not a readable .npz: {error}") from None
    except (OSError, zipfile.BadZipFile, EOFError) as error:
        raise DatasetError(f"{name} is not a readable .npz archive: {error}") from None
    for key in ("x", "y"):
        if key not in arrays:
            raise DatasetError(f"{name} has no array {key!r} (it has {', '.join(files) or 'none'}); an .npz needs "
                               f"x (examples) and y (targets), and may add x_test and y_test")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DatasetError(f"{name} has {'x_test' if 'x_test' in arrays else 'y_test'} without its partner; give "
                           f"both x_test and y_test, or neither")
    image_shape = image
    parts, dropped = [], 0
    for x_key, y_key in (("x", "y"), ("x_test", "y_test")):
        if x_key not in arrays:
            parts.append((None, None))
            continue
        x, y = arrays[x_key], arrays[y_key]
        if x.ndim == 3 and image_shape is None:
            image_shape = tuple(int(side) for side in x.shape[1:])
        x, y, lost = _npz_pair(name, x_key, y_key, x, y, drop_missing, image_shape)
        parts.append((x, y))
        dropped += lost
    if parts[1][0] is not None and parts[1][0].shape[1] != parts[0][0].shape[1]:
        raise DatasetError(f"{name}: x has {parts[0][0].shape[1]} features per example but x_test "
                           f"{parts[1][0].shape[1]}; they must match")
    width = parts[0][0].shape[1]
    return _Raw(parts[0][0], parts[0][1], parts[1][0], parts[1][1], tuple(f"x{i + 1}" for i in range(width)), "y",
                str(path.resolve()), dropped, image_shape)


def _npz_pair(name, x_key, y_key, x, y, drop_missing, image_shape):
    if x.dtype.kind not in "biuf":
        raise DatasetError(f"{name}: {x_key} holds {x.dtype} values; examples must be numbers")
    if x.ndim < 2 or len(x) == 0:
        raise DatasetError(f"{name}: {x_key} has shape {x.shape}; it needs one row per example, (N, features) or "
                           f"(N, height, width) for images")
    x = x.reshape(len(x), -1)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DatasetError(f"{name}: {y_key} has shape {y.shape}; it needs one target per example, shape (N,)")
    if len(y) != len(x):
        raise DatasetError(f"{name}: {x_key} has {len(x)} examples but {y_key} has {len(y)} targets; they must match")
    if y.dtype.kind == "S":
        y = y.astype(str)
    if y.dtype.kind not in "biufU":
        raise DatasetError(f"{name}: {y_key} holds {y.dtype} values; targets must be numbers or text")
    if y.dtype.kind != "U":
        y = y.astype(np.float64)
    missing = ~np.isfinite(x).all(axis=1) if x.dtype.kind == "f" else np.zeros(len(x), bool)
    missing |= (~np.isfinite(y)) if y.dtype.kind == "f" else (np.char.strip(np.char.lower(y)) == "")
    if missing.any() and not drop_missing:
        row = int(np.flatnonzero(missing)[0])
        raise DatasetError(f"{name}: {x_key}/{y_key} row {row} has a missing or infinite value; fill it in, or "
                           f"leave such rows out with --drop-missing")
    x, y = x[~missing], y[~missing]
    if image_shape is not None:
        if math.prod(image_shape) != x.shape[1]:
            raise DatasetError(f"{name}: images of {image_shape[0]}x{image_shape[1]} need {math.prod(image_shape)} "
                               f"values per example, but {x_key} has {x.shape[1]}")
        if x.dtype != np.uint8:
            if ((x < 0) | (x > 255) | (x != np.round(x))).any():
                raise DatasetError(f"{name}: {x_key} read as {image_shape[0]}x{image_shape[1]} images needs whole "
                                   f"numbers from 0 to 255 (pixels); scale it to 0..255, or give it as (N, "
                                   f"features) to use the values as they are")
            x = x.astype(np.uint8)
    else:
        if (np.abs(x) > np.finfo(np.float32).max).any():
            raise DatasetError(f"{name}: {x_key} has values too large for 32-bit floats; rescale them")
        x = x.astype(np.float32)
    return x, y, int(missing.sum())


# ---------------------------------------------------------------------- the task and the classes
def decide_task(targets: np.ndarray, task: str | None, column: str) -> tuple[str, str]:
    """(task, why): the task asked for, or the one the target suggests, with the reason in words."""
    if targets.dtype.kind == "U":
        if task == "regression":
            example = str(next(iter(targets), ""))
            raise DatasetError(f"the target {column!r} holds text ({example!r}); a regression target must be numbers: "
                               f"use --task classification, or another --target")
        return "classification", "the target is text"
    distinct = np.unique(targets)
    whole = bool(np.all(distinct == np.round(distinct)))
    if task is not None:
        return task, "as asked"
    if whole and len(distinct) <= GUESSED_CLASSES:
        return "classification", f"the target holds {len(distinct)} distinct whole numbers"
    why = "fractions" if not whole else f"{len(distinct)} distinct values"
    return "regression", f"the target holds {why}"


def encode_classes(targets: np.ndarray, column: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class indices (int64) and the class names, sorted (numbers in numeric order)."""
    names, codes = np.unique(targets, return_inverse=True)
    if len(names) > MAX_CLASSES:
        raise DatasetError(f"the target {column!r} has {len(names):,} distinct values: more than {MAX_CLASSES} "
                           f"classes; use --task regression, or another --target")
    if len(names) < 2:
        raise DatasetError(f"the target {column!r} holds one class ({_class_name(names[0])!r}) in every row; a "
                           f"classifier needs at least two: choose another --target")
    return codes.astype(np.int64).reshape(-1), tuple(_class_name(name) for name in names)


def _class_name(value) -> str:
    if isinstance(value, str):
        return str(value)
    return str(int(value)) if float(value).is_integer() else f"{float(value):g}"


# ---------------------------------------------------------------------- writing
def _write(name: str, part: Path, raw: _Raw, *, task, test_fraction, seed) -> Imported:
    task, why = decide_task(raw.targets, task, raw.target_name)
    test_given = raw.x_test is not None
    everything = raw.targets if not test_given else np.concatenate([raw.targets, raw.targets_test])
    if task == "classification":
        codes, class_names = encode_classes(everything, raw.target_name)
        y_all = codes
    else:
        if everything.dtype.kind == "U":
            raise DatasetError(f"the target {raw.target_name!r} holds text; a regression target must be numbers")
        class_names = ()
        y_all = everything.astype(np.float32).reshape(-1, 1)
    _check_memory(raw)
    if test_given:
        n = len(raw.targets)
        train_index, test_index = np.arange(n), None
        y_train, y_test = y_all[:n], y_all[n:]
    else:
        train_index, test_index = stratified_split(y_all if task == "classification" else y_all[:, 0],
                                                   test_fraction, seed)
        if len(train_index) == 0 or len(test_index) == 0:
            raise DatasetError(f"{len(y_all)} rows are too few to hold out a test split of {test_fraction:g}; "
                               f"import more rows, or give a --test-file")
        y_train, y_test = y_all[train_index], y_all[test_index]
    if test_index is None:
        _write_rows(raw.x, None, part / "x_train.npy")
        _write_rows(raw.x_test, None, part / "x_test.npy")
    else:
        held = np.zeros(len(raw.targets), dtype=bool)
        held[test_index] = True
        _write_rows(raw.x, held, part / "x_train.npy", part / "x_test.npy")
    np.save(part / "y_train.npy", y_train)
    np.save(part / "y_test.npy", y_test)
    for leftover in part.glob("*.raw"):
        leftover.unlink()
    image_shape = (1, *raw.image) if raw.image is not None else None
    record = {
        "format": FORMAT, "name": name, "task": task, "class_names": list(class_names),
        "features": list(raw.feature_names), "target": raw.target_name, "task_reason": why,
        "image_shape": list(image_shape) if image_shape else None,
        "source": raw.source, "imported_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "test": "from the file" if test_given else f"{test_fraction:g} of the rows, seed {seed}"
                + (", stratified" if task == "classification" else ""),
        "rows": {"train": int(len(y_train)), "test": int(len(y_test))}, "dropped_missing": raw.dropped,
    }
    (part / "dataset.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return Imported(name, imported_folder(name), task, class_names, raw.x.shape[1], len(y_train), len(y_test),
                    raw.dropped, why, image_shape, raw.source, raw.target_name)


@dataclass(frozen=True)
class RowFile:
    """Rows parsed from a CSV, as raw bytes on disk: read back a block at a time, never all at once."""

    path: Path
    rows: int
    width: int
    dtype: np.dtype

    def __len__(self) -> int:
        return self.rows

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows, self.width


def _blocks(x: np.ndarray | RowFile):
    """(first row, rows) of `x`, a block of about _BLOCK_BYTES at a time."""
    per = max(1, _BLOCK_BYTES // max(1, x.shape[1] * np.dtype(x.dtype).itemsize))
    if isinstance(x, np.ndarray):
        for start in range(0, len(x), per):
            yield start, x[start:start + per]
        return
    with open(x.path, "rb") as file:
        for start in range(0, x.rows, per):
            yield start, np.fromfile(file, dtype=x.dtype, count=min(per, x.rows - start) * x.width).reshape(-1, x.width)


def _write_rows(x: np.ndarray | RowFile, held: np.ndarray | None, path: Path, held_path: Path | None = None) -> None:
    """The rows of `x` as an .npy file at `path`, a block at a time; with `held` (a mask), the rows it marks go to
    `held_path` instead. Both keep the rows' order."""
    outputs = [(path, None if held is None else ~held)] + ([(held_path, held)] if held is not None else [])
    files = []
    try:
        for out, mask in outputs:
            rows = len(x) if mask is None else int(mask.sum())
            file = open(out, "wb")
            files.append(file)
            np.lib.format.write_array_header_1_0(file, {"descr": np.lib.format.dtype_to_descr(np.dtype(x.dtype)),
                                                        "fortran_order": False, "shape": (rows, x.shape[1])})
        for start, block in _blocks(x):
            for file, (_, mask) in zip(files, outputs):
                np.ascontiguousarray(block if mask is None else block[mask[start:start + len(block)]]).tofile(file)
    finally:
        for file in files:
            file.close()


def _check_size(path: Path) -> None:
    name = display_path(path)
    if not path.exists():
        raise DatasetError(f"{name} does not exist")
    if path.is_dir():
        raise DatasetError(f"{name} is a folder; import a .csv or .npz file (a folder of IDX files imports as "
                           f"mnist or fashion-mnist)")
    limit = import_limit()
    size = path.stat().st_size
    if size > limit:
        raise DatasetError(f"{name} is {_size(size)}, more than the import limit of {_size(limit)}; use a sample "
                           f"of it, or raise the limit with {LIMIT_ENV}=BYTES if this machine's memory can "
                           f"train on it")


def import_limit() -> int:
    text = os.environ.get(LIMIT_ENV, "").strip()
    if not text:
        return IMPORT_LIMIT
    try:
        value = int(text)
    except ValueError:
        raise DatasetError(f"{LIMIT_ENV} must be a number of bytes, got {text!r}") from None
    return max(value, 0)


def _check_memory(raw: _Raw) -> None:
    """Refuse a set whose training copy (float32) would not fit in half this machine's memory."""
    rows = len(raw.x) + (0 if raw.x_test is None else len(raw.x_test))
    needed = rows * raw.x.shape[1] * 4
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    if needed > memory // 2:
        raise DatasetError(f"{rows:,} rows of {raw.x.shape[1]} features need {_size(needed)} as 32-bit floats "
                           f"to train on, more than half this machine's {_size(memory)} of memory; import a sample")


def _size(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:,} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} GB"


def _put_in_place(part: Path, destination: Path) -> None:
    """Rename the finished folder into place; an older set of the name is moved aside first, then deleted."""
    old = None
    if destination.exists():
        old = destination.with_name(f".{destination.name}.old-{os.getpid()}")
        os.replace(destination, old)
    os.replace(part, destination)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ====================================================================== loading
def read_record(name: str) -> dict:
    """The `dataset.json` of an imported set; DatasetError if missing or damaged."""
    path = imported_folder(name) / "dataset.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"no imported data set named {name}{_known_hint()}") from None
    except (OSError, ValueError) as error:
        raise DatasetError(f"{display_path(path)} cannot be read ({error}); import {name} again with --replace") \
            from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise DatasetError(f"{display_path(path)} is not an nnstudio data set record; import {name} again with "
                           f"--replace")
    return record


def load_imported(name: str, layout: str = "flat") -> Dataset:
    """The imported set `name` as a Dataset (arrays memory-mapped)."""
    record = read_record(name)
    folder = imported_folder(name)
    try:
        arrays = {part: np.load(folder / f"{part}.npy", mmap_mode="r", allow_pickle=False)
                  for part in ("x_train", "y_train", "x_test", "y_test")}
        image_shape = tuple(record["image_shape"]) if record.get("image_shape") else None
        task, class_names = record["task"], tuple(record["class_names"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DatasetError(f"the imported data set {name} is damaged ({error}); import it again with --replace") \
            from None
    features = arrays["x_train"].shape[1]
    input_shape = image_shape if (image_shape and layout == "image") else (features,)
    return Dataset(
        name=name, task=task,
        x_train=to_layout(arrays["x_train"], layout, image_shape), y_train=np.asarray(arrays["y_train"]),
        x_test=to_layout(arrays["x_test"], layout, image_shape), y_test=np.asarray(arrays["y_test"]),
        class_names=class_names, input_shape=tuple(input_shape), source=str(folder),
        title=imported_title(record), image_shape=image_shape,
        standardize=None if image_shape else "per-feature",
        feature_names=() if image_shape else tuple(str(name) for name in record.get("features") or ()),
    )


def _known_hint() -> str:
    names = imported_names()
    return f" (imported: {', '.join(names)})" if names else " (none are imported yet: nnstudio data import NAME FILE)"
