"""`nnstudio eval SAVE`: how well a saved model does on its data set's test split; nothing is trained.

    nnstudio eval mnist-mlp                          accuracy, loss, per-class accuracy, confusion matrix
    nnstudio eval mnist-mlp --dataset mnist-embedded  the same model on another data set of the same shape
    nnstudio eval sine-mlp --json                    one JSON object on stdout

Regression models and autoencoders report the test mean squared error instead. A save whose weights
are not finite is refused on loading; one whose outputs overflow is refused too (`outputs_problem`). The session is
rebuilt from the save's own settings (`Session.from_save`), so the test data is prepared
exactly as it was for training, and computes the figures itself (`Session.evaluate_test`).
Errors print one line to stderr: exit status 2 for bad arguments (a save that is not there, a
folder, a data set the model does not fit), 1 for failures (a damaged save, a data set that
cannot be loaded).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nnstudio import saves

from ..run.config import ConfigError
from ..run import Session, SessionError, outputs_problem, saved_config
from .common import (FLAGS_BY_OPTION, UsageError, fail, failure_status, one_line_errors, parse_flag, percent, plain,
                     resolve_save, show_notice)

PROG = "nnstudio eval"
#: a confusion matrix wider than this many classes would not fit a terminal; the per-class table still shows
MAX_CONFUSION_CLASSES = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `eval` command to the `nnstudio` parser."""
    parser = subparsers.add_parser("eval", help="test accuracy, loss and confusion matrix of a saved model",
                                   description="Evaluate a saved model on its data set's test split (no training).")
    one_line_errors(parser, PROG)
    add_save_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.set_defaults(handler=run_eval)


def add_save_arguments(parser: argparse.ArgumentParser) -> None:
    """SAVE and the options that say where it and its data are (shared with `predict`)."""
    parser.add_argument("save", metavar="SAVE", help="save name in the saves folder, or path to a .safetensors file")
    parser.add_argument("--dataset", metavar="NAME", help="test on this data set instead of the save's own")
    parser.add_argument("--data-dir", metavar="DIR", help="folder holding the data set's IDX files")
    parser.add_argument("--saves-dir", metavar="DIR", help=FLAGS_BY_OPTION["--saves-dir"].help())


def data_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """--dataset and --data-dir as config overrides, checked like `train`'s flags (UsageError)."""
    overrides = {}
    if args.dataset is not None:
        overrides["data.name"] = parse_flag("--dataset", args.dataset)
    if args.data_dir is not None:
        overrides["data.data_dir"] = parse_flag("--data-dir", args.data_dir)
    return overrides


def open_save(args: argparse.Namespace) -> tuple[Session, Path]:
    """The save named on the command line as a prepared session (its settings, its weights), and its path.

    Nothing is trained or written: `Session.from_save` only loads the data and the model.
    UsageError for bad options, SessionError when the save or its data cannot be had.
    """
    overrides = data_overrides(args)
    folder = saves.folder_or_default(parse_flag("--saves-dir", args.saves_dir) if args.saves_dir is not None else None)
    path = resolve_save(args.save, folder)
    try:
        config = saved_config(path).with_overrides(overrides)
    except ConfigError as error:
        raise UsageError(str(error)) from None

    return Session.from_save(path, config=config, on_event=show_notice), path


def run_eval(args: argparse.Namespace) -> int:
    """`nnstudio eval SAVE`: rebuild the session from the save, evaluate on the test split, print."""
    console = Console()
    try:
        session, path = open_save(args)
    except UsageError as error:
        return fail(PROG, str(error), 2)
    except SessionError as error:
        return fail(PROG, str(error), failure_status(error))
    record = {"save": str(path), "model": saves.describe_model(session.spec), **session.evaluate_test()}
    problem = outputs_problem(record.get("test_loss", record.get("test_mse")))
    if problem is not None:
        return fail(PROG, f"{path}: {problem}")
    if args.json:
        print(json.dumps(plain(record), allow_nan=False))
        return 0
    console.print(f"[bold]{escape(path.stem)}[/]: {escape(record['model'])}, tested on "
                  f"{escape(record['dataset'])} ({record['test_size']:,} test samples)", highlight=False)
    console.print(results_table(record))
    if record["task"] == "classification":
        console.print(per_class_table(record))
        if len(record["class_names"]) <= MAX_CONFUSION_CLASSES:
            console.print(confusion_table(record))
    return 0


def results_table(record: dict) -> Table:
    table = Table(title="Test", title_justify="left", show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    if record["task"] == "classification":
        table.add_row("accuracy", percent(record["test_acc"]))
        table.add_row("loss", f"{record['test_loss']:.4f}")
    else:
        table.add_row("mean squared error", f"{record['test_mse']:.5g}")
    return table


def per_class_table(record: dict) -> Table:
    confusion = np.asarray(record["confusion"])
    table = Table(title="Per-class accuracy", title_justify="left")
    for column in ("class", "name", "samples", "correct", "accuracy"):
        table.add_column(column, justify="left" if column == "name" else "right")
    for c, (name, accuracy) in enumerate(zip(record["class_names"], record["per_class_acc"])):
        table.add_row(str(c), escape(name), f"{confusion[c].sum():,}", f"{confusion[c, c]:,}", percent(accuracy))
    return table


def class_labels(names: list[str], width: int = 10) -> list[str]:
    """Short labels of the classes for the confusion matrix's rows and columns: their names, cut to `width`."""
    return [name if len(name) <= width else name[:width - 1] + "…" for name in names]


def confusion_table(record: dict) -> Table:
    """Rows are the true classes, columns the predicted ones; the diagonal (right) stands out from the errors."""
    confusion = np.asarray(record["confusion"])
    table = Table(title="Confusion matrix", title_justify="left")
    table.add_column("true\\pred", style="bold", justify="right")
    labels = class_labels(record["class_names"])
    for label in labels:
        table.add_column(escape(label), justify="right")
    for t, row in enumerate(confusion):
        cells = [f"[bold green]{n}[/]" if p == t else f"[red]{n}[/]" if n else "[dim]0[/]" for p, n in enumerate(row)]
        table.add_row(escape(labels[t]), *cells)
    return table
