"""`nnstudio baseline`: how far a model with no training loop gets on a data set, as a yardstick for the networks.

    nnstudio baseline --dataset spirals              kernel ridge (RBF) on the spirals' training rows
    nnstudio baseline --dataset mnist --samples 10000 --json

Kernel ridge regression is solved in closed form (one linear solve, no learning rate) on a
random subset of the training rows that `nnstudio train` with the same data flags would use,
and reported on the test rows: accuracy for classification, mean squared error for regression.
Errors print one line to stderr: exit status 2 for bad arguments, 1 for failures.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.markup import escape

from nnstudio.engine.fields import Field, FieldError

from ..run import ConfigError, RunConfig, SessionError
from ..run.baseline import ALPHA, GAMMA, SAMPLES, kernel_ridge_baseline
from .common import FLAGS_BY_OPTION, UsageError, fail, one_line_errors, parse_flag, percent, plain, show_notice

PROG = "nnstudio baseline"
#: the flags that set the run's data, as `train` reads them
DATA_FLAGS = (("--dataset", "NAME"), ("--data-dir", "DIR"), ("--val-fraction", "X"), ("--seed", "N"))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `baseline` command to the `nnstudio` parser."""
    parser = subparsers.add_parser(
        "baseline", help="kernel ridge regression on a data set: a yardstick with no training loop",
        description="Fit kernel ridge regression (RBF kernel, solved in closed form) on a random subset of a data "
                    "set's training rows, as `nnstudio train` would split them, and report it on the test rows.")
    one_line_errors(parser, PROG)
    for option, metavar in DATA_FLAGS:
        parser.add_argument(option, metavar=metavar, help="as for nnstudio train")
    for field in (ALPHA, GAMMA, SAMPLES):
        parser.add_argument(f"--{field.name}", metavar="X" if field.kind is float else "N",
                            help=field.describe().replace("%", "%%"))
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.set_defaults(handler=run_baseline)


def _knob(field: Field, text: str | None) -> Any:
    if text is None:
        return field.default
    try:
        return field.parse(text)
    except FieldError as error:
        raise UsageError(f"--{field.name}: {error.problem}") from None


def _config(args: argparse.Namespace) -> RunConfig:
    """The run config the data flags describe (the rest at their defaults), checked as `train` checks them."""
    given = {option: getattr(args, FLAGS_BY_OPTION[option].dest) for option, _ in DATA_FLAGS}
    overrides = {FLAGS_BY_OPTION[option].path: parse_flag(option, text) for option, text in given.items()
                 if text is not None}
    try:
        return RunConfig().with_overrides(overrides)
    except ConfigError as error:
        raise UsageError(str(error)) from None


def run_baseline(args: argparse.Namespace) -> int:
    """`nnstudio baseline`: check the flags, fit on the run's training rows, report on its test rows."""
    console = Console(stderr=args.json)

    try:
        config = _config(args)
        knobs = {field.name: _knob(field, getattr(args, field.name)) for field in (ALPHA, GAMMA, SAMPLES)}
        record = kernel_ridge_baseline(config, on_event=show_notice, **knobs)
    except UsageError as error:
        return fail(PROG, str(error), 2)
    except SessionError as error:
        return fail(PROG, str(error))
    if args.json:
        print(json.dumps(plain(record), allow_nan=False))
        return 0
    figure = (f"test accuracy {percent(record['test_acc'])}" if "test_acc" in record
              else f"test mean squared error {record['test_mse']:.5g}")
    console.print(f"[bold]{escape(record['model'])}[/] on {escape(record['dataset'])}: {figure} "
                  f"({record['test_size']:,} test samples)", highlight=False)
    console.print(f"fitted on {record['train_size']:,} of {record['train_available']:,} training rows in "
                  f"{record['seconds']:.1f}s; alpha {record['alpha']:g}, gamma {record['gamma']:.4g}", highlight=False)
    return 0
