"""`nnstudio data`: list, fetch, import and inspect data sets.

    nnstudio data list [--data-dir DIR]          what is available, where, and how big
    nnstudio data fetch NAME [--mirror URL ...] [--force]
                                                 download into the cache (progress bar, resumable)
    nnstudio data import NAME FILE.csv|FILE.npz   your own data as a data set (see `data_import`)
    nnstudio data import NAME DIR                 copy a local folder of IDX files into the cache, verified
    nnstudio data remove NAME                     delete an imported data set
    nnstudio data info NAME [--data-dir DIR] [--fetch]
                                                 shapes, class counts, pixel statistics, a few samples

Errors print one line to stderr: exit status 2 for bad arguments, 1 for failures.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nnstudio.datasets import (IDX_DATASETS, SYNTHETIC, Dataset, DatasetError, Standardizer, dataset_names,
                               fetch_files, list_datasets, load_dataset)
from nnstudio.datasets.fetch import DEFAULT_TIMEOUT
from nnstudio.datasets.locations import OFFLINE_ENV, display_path, find_files
from nnstudio.engine.fields import Field

from ..render import digit_lines, size_text
from . import data_import
from .download_bars import DownloadBars, download_bars
from .common import UsageError, fail, field_type, parse_flag

PROG = "nnstudio data"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `data` command and its actions to the `nnstudio` parser."""
    parser = subparsers.add_parser("data", help="list, fetch, import and inspect data sets",
                                   description="List, fetch, import and inspect data sets.")
    actions = parser.add_subparsers(dest="data_action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="what is available, where, and sizes")
    _add_data_dir(listing)
    listing.set_defaults(handler=run_list)

    fetch = actions.add_parser(
        "fetch", help="download a data set into the cache",
        description="Download a data set into the cache. Files already there are verified (checksums, or a "
                    "full read) and kept; damaged ones are downloaded again.",
        epilog=f"With {OFFLINE_ENV} set (to anything but 0), nothing is downloaded: fetch only verifies the "
               "cached files, and fails, saying what is missing or damaged, if anything would need the network. "
               "Offline, use `nnstudio data import NAME DIR` instead.")
    fetch.add_argument("name", choices=list(IDX_DATASETS), help="data set to download")
    fetch.add_argument("--mirror", action="append", metavar="URL",
                       help="base URL to download from instead of the built-in mirrors (repeatable)")
    fetch.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to wait for a server")
    fetch.add_argument("--force", action="store_true",
                       help="download every file again, even those the cache holds intact")
    fetch.set_defaults(handler=run_fetch)

    data_import.register(actions)

    info = actions.add_parser("info", help="shapes, class counts, pixel statistics and a few samples")
    info.add_argument("name", choices=dataset_names(), help="data set to describe")
    _add_data_dir(info)
    info.add_argument("--samples", type=field_type(Field("samples", int, low=0)), default=4, help="number of test samples to draw (default 4)")
    info.add_argument("--fetch", action="store_true",
                      help=f"download the data set if it is not here (never with {OFFLINE_ENV} set)")
    info.add_argument("--seed", type=field_type(Field("seed", int, low=0)), default=0, help="seed of a synthetic data set")
    info.set_defaults(handler=run_info)


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="folder holding IDX files (before $NNSTUDIO_DATA_DIR and the cache)")


def _bad_data_dir(args: argparse.Namespace) -> int | None:
    """--data-dir checked as every command checks it (`parse_flag`): exit status 2 if it is no folder."""
    if getattr(args, "data_dir", None) is not None:
        try:
            parse_flag("--data-dir", str(args.data_dir))
        except UsageError as error:
            return fail(PROG, str(error), 2)
    return None


# ---------------------------------------------------------------------------------------- list

def run_list(args: argparse.Namespace) -> int:
    """`nnstudio data list`: a table of every data set."""
    if (status := _bad_data_dir(args)) is not None:
        return status
    table = Table(title="Data sets", caption="Get a missing one with `nnstudio data fetch NAME` "
                  "or, offline, `nnstudio data import NAME DIR`; your own with `nnstudio data import NAME FILE.csv`.")
    table.add_column("name", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("input", no_wrap=True)
    table.add_column("train / test", no_wrap=True)
    table.add_column("where", overflow="fold")
    table.add_column("size", justify="right", no_wrap=True)
    rows = list_datasets(args.data_dir)
    for row in rows:
        table.add_row(row.name if row.available else f"[dim]{row.name}[/]", row.kind,
                      "x".join(map(str, row.input_shape)),
                      f"{row.train_size} / {row.test_size}" if row.train_size else "any",
                      row.where if row.available else "[dim]missing[/]",
                      size_text(row.size_bytes) if row.size_bytes else "")
    Console().print(table)
    for note in dict.fromkeys(note for row in rows for note in row.notes):
        Console(stderr=True).print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)
    return 0


# ---------------------------------------------------------------------------------------- fetch

def run_fetch(args: argparse.Namespace) -> int:
    """`nnstudio data fetch NAME`: download what the cache lacks or holds damaged, with a progress bar."""
    spec = IDX_DATASETS[args.name]
    try:
        with download_bars() as progress:
            result = fetch_files(spec, mirrors=args.mirror, progress=DownloadBars(progress), timeout=args.timeout,
                                 force=args.force)
    except DatasetError as error:
        return fail(PROG, str(error))
    for problem in result.replaced:
        Console(stderr=True).print(f"[yellow]replaced:[/] {problem}", highlight=False, soft_wrap=True)
    files = find_files(result.folder, spec)
    size = sum(path.stat().st_size for path in files.values())
    if not result.downloaded:
        state = "already in the cache, verified"
    elif result.kept:
        state = f"fetched {len(result.downloaded)} and verified ({len(result.kept)} already in the cache)"
    else:
        state = "fetched and verified"
    Console().print(f"{spec.name}: {state}: {display_path(result.folder)} ({len(files)} files, {size_text(size)})",
                    soft_wrap=True)
    return 0


# ----------------------------------------------------------------------------------------- info

def run_info(args: argparse.Namespace) -> int:
    """`nnstudio data info NAME`: what the data set holds, with a few samples drawn."""
    if (status := _bad_data_dir(args)) is not None:
        return status
    synthetic = args.name in SYNTHETIC
    try:
        with download_bars() if args.fetch else contextlib.nullcontext() as progress:
            dataset = load_dataset(args.name, data_dir=args.data_dir, allow_fetch=args.fetch, layout="flat",
                                   progress=DownloadBars(progress) if progress is not None else None,
                                   **({"seed": args.seed} if synthetic else {}))
    except DatasetError as error:
        return fail(PROG, str(error))
    if dataset.notice:
        Console(stderr=True).print(f"[yellow]notice:[/] {dataset.notice}", highlight=False, soft_wrap=True)
    console = Console()
    console.print(f"[bold]{dataset.name}[/]: {dataset.title}  (from {dataset.source})", highlight=False)
    console.print(_shapes_table(dataset))
    if dataset.task == "classification":
        console.print(_class_table(dataset))
    console.print(_stats_table(dataset))
    if args.samples:
        if dataset.image_shape is not None:
            console.print(_draw_images(dataset, args.samples, console.width), highlight=False)
        elif dataset.task == "classification":
            console.print(_scatter(dataset.x_train, dataset.y_train), highlight=False)
        else:
            console.print(_rows_table(dataset, args.samples))
    return 0


def _shapes_table(dataset: Dataset) -> Table:
    table = Table(title="Arrays")
    for column in ("split", "samples", "x", "y"):
        table.add_column(column)
    for split, x, y in (("train", dataset.x_train, dataset.y_train), ("test", dataset.x_test, dataset.y_test)):
        table.add_row(split, str(len(x)), f"{x.shape} {x.dtype}", f"{y.shape} {y.dtype}")
    return table


def _class_table(dataset: Dataset) -> Table:
    table = Table(title="Class counts")
    for column in ("class", "name", "train", "test"):
        table.add_column(column, justify="right" if column in ("train", "test") else "left")
    train = np.bincount(dataset.y_train, minlength=dataset.num_classes)
    test = np.bincount(dataset.y_test, minlength=dataset.num_classes)
    for c, name in enumerate(dataset.class_names):
        table.add_row(str(c), name, str(train[c]), str(test[c]))
    return table


def _stats_table(dataset: Dataset) -> Table:
    pixels = dataset.image_shape is not None
    table = Table(title="Pixel statistics (train)" if pixels else "Feature statistics (train)")
    for column in ("", "min", "max", "mean", "std"):
        table.add_column(column, justify="right")
    x = dataset.x_train.reshape(len(dataset.x_train), -1)
    columns = [("all pixels", x)] if pixels else [(escape(dataset.feature_name(i)), x[:, i:i + 1])
                                                  for i in range(x.shape[1])]
    if dataset.task == "regression":
        columns.append(("y", dataset.y_train.reshape(-1, 1)))
    for label, values in columns:
        stats = Standardizer.fit(values)
        table.add_row(label, f"{values.min():.3g}", f"{values.max():.3g}", f"{float(stats.mean):.4g}",
                      f"{float(stats.std):.4g}")
    return table


def _draw_images(dataset: Dataset, count: int, width: int) -> str:
    """The first `count` test images side by side, as many per row as `width` columns hold."""
    count = min(count, len(dataset.x_test))
    per_row = max(1, (width + 2) // 30)
    blocks = []
    for first in range(0, count, per_row):
        shown = range(first, min(first + per_row, count))
        drawings = [digit_lines(dataset.x_test[i]) for i in shown]
        captions = [f"#{i} {dataset.class_names[dataset.y_test[i]]}"[:28].ljust(28) for i in shown]
        lines = ["  ".join(parts) for parts in zip(*drawings)] + ["  ".join(captions)]
        blocks.append("\n".join(line.rstrip() for line in lines))
    return "\n\n".join(blocks)


def _scatter(x: np.ndarray, y: np.ndarray, width: int = 56, height: int = 20) -> str:
    """The 2-D points as a character plot: each cell shows the class of the last point in it."""
    grid = [[" "] * width for _ in range(height)]
    low, high = x.min(axis=0), x.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    cols = ((x[:, 0] - low[0]) / span[0] * (width - 1)).round().astype(int)
    rows = ((high[1] - x[:, 1]) / span[1] * (height - 1)).round().astype(int)
    for r, c, label in zip(rows, cols, y):
        grid[r][c] = str(label % 10)
    return "\n".join("".join(row) for row in grid)


def _rows_table(dataset: Dataset, count: int) -> Table:
    table = Table(title="First samples (train)")
    for i in range(dataset.x_train.shape[1]):
        table.add_column(escape(dataset.feature_name(i)), justify="right")
    table.add_column("y", justify="right")
    for x, y in zip(dataset.x_train[:count], dataset.y_train[:count]):
        table.add_row(*(f"{v:.3f}" for v in x), f"{float(y[0]):.3f}")
    return table
