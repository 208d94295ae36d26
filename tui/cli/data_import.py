"""`nnstudio data import` and `nnstudio data remove`: bring data into the cache, and take imported sets out.

    nnstudio data import iris iris.csv                     a CSV: header line, numeric features, target last
    nnstudio data import iris iris.csv --target species    the target by name; text targets are class names
    nnstudio data import digits digits.npz                 arrays x, y (and x_test, y_test)
    nnstudio data import mydigits d.csv --image 28x28      784 pixel columns 0..255, drawn like MNIST
    nnstudio data import mnist ~/usb/mnist                 a folder of IDX files (MNIST, Fashion-MNIST), verified
    nnstudio data remove iris

A big file streams with a progress bar; nothing is imported when anything is wrong, and the
one-line error names the file, the line and the column.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from rich.console import Console

from nnstudio.datasets import (IDX_DATASETS, DatasetError, builtin_names, import_dataset, import_file,
                               remove_imported)
from nnstudio.datasets.imported import IMPORT_LIMIT, LIMIT_ENV, TEST_FRACTION, Imported, parse_image_size
from nnstudio.datasets.locations import display_path
from nnstudio.engine.fields import Field

from ..render import size_text
from .common import fail, field_type
from .download_bars import download_bars

PROG = "nnstudio data"
#: files smaller than this import without a progress bar (they take well under a second)
QUIET_BYTES = 8 << 20


def register(actions: argparse._SubParsersAction) -> None:
    """Add `data import` and `data remove` to the `nnstudio data` parser."""
    imports = actions.add_parser(
        "import", help="import a CSV or .npz file as a data set (or a folder of IDX files)",
        description="Import your own data: a CSV with a header line (numeric feature columns and a target column, "
                    "the last unless --target says), or an .npz with arrays x and y (and x_test, y_test). The target "
                    "may be class names (text) or numbers; the task is guessed from it (text or a few whole numbers: "
                    "classification). A test split is held out (stratified) when the file has none. A folder "
                    "instead of a file imports the IDX files of mnist or fashion-mnist, verified.",
        epilog=f"Files up to {size_text(IMPORT_LIMIT)} are imported, streamed in bounded memory; set {LIMIT_ENV} "
               f"(bytes) to change the limit. Then: nnstudio train --dataset NAME.")
    imports.add_argument("name", help="name of the data set to make (lowercase letters, digits, - and _), or "
                                      "mnist / fashion-mnist for a folder of IDX files")
    imports.add_argument("source", type=Path, metavar="FILE|DIR", help=".csv (or .csv.gz) or .npz file; or a folder "
                                                                      "of IDX files")
    imports.add_argument("--target", metavar="COLUMN", help="the column to predict (default: the last)")
    imports.add_argument("--task", choices=("classification", "regression"),
                         help="what to predict (default: guessed from the target)")
    imports.add_argument("--ignore", metavar="COLUMN[,COLUMN...]", action="append", default=[],
                         help="columns to leave out (an id, a text column); repeatable")
    imports.add_argument("--test-fraction", type=field_type(Field("test fraction", float, low=0.0, high=1.0,
                                                                  low_open=True, high_open=True)),
                         default=TEST_FRACTION, metavar="F",
                         help=f"share of the rows held out for testing when the file has no test split "
                              f"(default {TEST_FRACTION})")
    imports.add_argument("--test-file", type=Path, metavar="FILE", help="a CSV with the same columns to test on "
                                                                       "instead of holding rows out")
    imports.add_argument("--drop-missing", action="store_true",
                         help="leave out rows with a missing value (default: refuse the file, naming the row)")
    imports.add_argument("--image", metavar="HxW", help="the features are pixels 0..255 of HxW images (e.g. 28x28)")
    imports.add_argument("--delimiter", metavar="CHAR", help="field separator (default: from the header line: "
                                                            "comma, semicolon, tab or |)")
    imports.add_argument("--seed", type=field_type(Field("seed", int, low=0)), default=0, metavar="N",
                         help="seed of the test split (default 0)")
    imports.add_argument("--replace", action="store_true", help="replace an imported data set of the same name")
    imports.set_defaults(handler=run_import)

    remove = actions.add_parser("remove", help="delete an imported data set from the cache")
    remove.add_argument("name", help="the imported data set")
    remove.set_defaults(handler=run_remove)


def run_import(args: argparse.Namespace) -> int:
    """A folder: the IDX files of a built-in set. A file: a data set of one's own."""
    if args.source.is_dir():
        return _import_idx(args)
    if not args.source.exists():
        return fail(PROG, f"{display_path(args.source)} does not exist: name a .csv or .npz file (or a folder of IDX "
                          f"files for mnist or fashion-mnist)", 2)
    if args.name in IDX_DATASETS:
        return fail(PROG, f"{args.name} is a built-in data set: its IDX files import from a folder; to import "
                          f"{display_path(args.source)} as your own data set, give it another name", 2)
    try:
        image = _image_size(args.image)
        delimiter = _delimiter(args.delimiter)
    except ValueError as error:
        return fail(PROG, str(error), 2)
    ignore = tuple(column.strip() for option in args.ignore for column in option.split(",") if column.strip())
    size = args.source.stat().st_size if args.source.is_file() else 0
    try:
        with _progress_bar(args.source, size) as progress:
            made = import_file(args.name, args.source, target=args.target, task=args.task, ignore=ignore,
                               test_fraction=args.test_fraction, test_file=args.test_file,
                               drop_missing=args.drop_missing, image=image, delimiter=delimiter,
                               replace=args.replace, seed=args.seed, progress=progress)
    except DatasetError as error:
        return fail(PROG, str(error))
    Console().print(summary(made), highlight=False, soft_wrap=True)
    return 0


def summary(made: Imported) -> str:
    """What an import made, and what to do next."""
    return (f"{made.describe()}\n"
            f"Task guessed wrong? Import again with --task and --replace. Train on it: nnstudio train --dataset "
            f"{made.name}   (or choose it in the studio's Settings pane)")


def _import_idx(args: argparse.Namespace) -> int:
    """`nnstudio data import mnist DIR`: copy the IDX files into the cache after checking them."""
    if args.name not in IDX_DATASETS:
        return fail(PROG, f"{display_path(args.source)} is a folder: a folder imports the IDX files of "
                          f"{' or '.join(IDX_DATASETS)}, not {args.name!r}; to import your own data, name a .csv or "
                          f".npz file", 2)
    table_options = [flag for flag, value in (("--target", args.target), ("--task", args.task),
                                              ("--test-file", args.test_file), ("--image", args.image),
                                              ("--ignore", args.ignore), ("--drop-missing", args.drop_missing))
                     if value]
    if table_options:
        return fail(PROG, f"{', '.join(table_options)} apply to a CSV or .npz file, not a folder of IDX files", 2)
    try:
        folder = import_dataset(args.name, args.source)
    except DatasetError as error:
        return fail(PROG, str(error))
    Console().print(f"{args.name}: imported from {display_path(args.source)} into {display_path(folder)} "
                    "(4 files, checksums verified)", soft_wrap=True)
    return 0


def run_remove(args: argparse.Namespace) -> int:
    if args.name in builtin_names():
        return fail(PROG, f"{args.name} is a built-in data set, not an imported one; only imported sets are removed "
                          f"(`nnstudio data list` shows them)", 2)
    try:
        folder = remove_imported(args.name)
    except DatasetError as error:
        return fail(PROG, str(error))
    Console().print(f"{args.name}: removed ({display_path(folder)}). Saves trained on it keep their weights; to "
                    f"evaluate them, import it again.", soft_wrap=True)
    return 0


def _image_size(text: str | None) -> tuple[int, int] | None:
    try:
        return None if text is None else parse_image_size(text)
    except ValueError as error:
        raise ValueError(f"--image: {error}") from None


def _delimiter(text: str | None) -> str | None:
    if text is None:
        return None
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "space": " "}
    text = named.get(text.lower(), text)
    if len(text) != 1 or text in '"\r\n' or text.isalnum():
        raise ValueError(f"--delimiter must be one character such as , ; | or tab, got {text!r}")
    return text


@contextlib.contextmanager
def _progress_bar(source: Path, size: int):
    """A progress callback drawing a bar on stderr for a big file on a terminal; None otherwise."""
    if size < QUIET_BYTES or not sys.stderr.isatty():
        yield None
        return
    with download_bars(transient=True) as progress:
        task = progress.add_task(f"reading {source.name}", total=size)
        yield lambda done, total: progress.update(task, completed=done, total=total)
