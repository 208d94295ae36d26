"""What every command shares: one-line errors, the flags that set run settings, naming a save, and formats.

A bad argument is one line on stderr ("nnstudio eval: error: ..."), exit status 2, and nothing
written; a failure is one line and exit status 1 (`fail`). The flags that set a run setting
(`CONFIG_FLAGS`) take their help and their checks from the setting itself, so `--lr 1e-3` and
`lr = 1e-3` in a config file are read by the same rules.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from rich.console import Console
from rich.markup import escape

from nnstudio import saves
from nnstudio.engine.fields import Field, FieldError

from ..run.config import SETTINGS, ConfigError, parse_value
from ..run import MismatchError, Notice, SessionError


class UsageError(Exception):
    """A bad argument or config file: one line on stderr, exit status 2, nothing written."""



# ====================================================================== flags
@dataclass(frozen=True)
class ConfigFlag:
    """A flag that sets one config setting: its help text and its checks are the setting's own."""

    option: str
    path: str
    metavar: str
    note: str = ""   # what the command line adds to the setting's own description

    @property
    def dest(self) -> str:
        return self.option.lstrip("-").replace("-", "_")

    def help(self) -> str:
        return (SETTINGS[self.path].describe() + self.note).replace("%", "%%")


CONFIG_FLAGS = (
    ConfigFlag("--dataset", "data.name", "NAME"),
    ConfigFlag("--data-dir", "data.data_dir", "DIR"),
    ConfigFlag("--val-fraction", "data.val_fraction", "X"),
    ConfigFlag("--optimizer", "optimizer.name", "NAME"),
    ConfigFlag("--lr", "optimizer.lr", "X"),
    ConfigFlag("--momentum", "optimizer.momentum", "X"),
    ConfigFlag("--weight-decay", "optimizer.weight_decay", "X"),
    ConfigFlag("--schedule", "schedule.name", "NAME"),
    ConfigFlag("--warmup", "schedule.warmup_epochs", "N"),
    ConfigFlag("--epochs", "training.epochs", "N"),
    ConfigFlag("--batch-size", "training.batch_size", "B"),
    ConfigFlag("--seed", "training.seed", "N"),
    ConfigFlag("--clip-norm", "training.clip_norm", "X"),
    ConfigFlag("--early-stopping", "training.early_stopping", "N"),
    ConfigFlag("--saves-dir", "checkpoints.folder", "DIR", "; $NNSTUDIO_SAVES_DIR, if set, replaces the default"),
)
FLAGS_BY_OPTION = {flag.option: flag for flag in CONFIG_FLAGS}
FLAGS_BY_PATH = {flag.path: flag for flag in CONFIG_FLAGS}


def one_line_errors(parser: argparse.ArgumentParser, prog: str) -> None:
    """Make argparse report a bad argument in one line (no usage block), as every other check here does."""
    def error(message: str) -> None:
        print(f"{prog}: error: {message} (see {prog} --help)", file=sys.stderr)
        sys.exit(2)

    parser.error = error  # type: ignore[method-assign]


def fail(prog: str, message: str, status: int = 1) -> int:
    """Print one error line (no markup, no wrapping) and return the exit status."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return status


def failure_status(error: SessionError) -> int:
    """2 for a model and data set that do not fit (the arguments clash), 1 for any other failure."""
    return 2 if isinstance(error, MismatchError) else 1


def resolve_save(text: str, folder: Path, option: str = "") -> Path:
    """The save a user names (a name in the saves folder, or a path to a file); UsageError if there is none.

    A folder is named as often as a file: the error then lists the saves in it to pick from.
    """
    where = f"{option} {text}" if option else text
    if Path(text).is_dir():
        raise UsageError(f"{where} is a folder, not a save; {saves_inside(Path(text))}")
    try:
        return saves.resolve(text, folder)
    except saves.SaveError as error:
        raise UsageError(f"{option}: {error}" if option else str(error)) from None


def saves_inside(folder: Path, limit: int = 4) -> str:
    """The saves in a folder, to name one of them: its .safetensors files, or the best (else latest)
    checkpoint of each run folder in it."""
    found = sorted(p for p in folder.glob(f"*{saves.SUFFIX}") if not p.name.startswith("."))
    if not found:
        with contextlib.suppress(OSError):
            runs = [saves.read_run(p) for p in sorted(folder.iterdir()) if p.is_dir()]
            found = [run.best or run.latest for run in runs if run is not None and (run.best or run.latest)]
    if not found:
        return "it holds no saves (`nnstudio saves list` shows them)"
    shown = ", ".join(str(p) for p in found[:limit])
    more = f" and {len(found) - limit} more" if len(found) > limit else ""
    return f"name one of the saves in it: {shown}{more}"



def show_notice(event: Any) -> None:
    """A session's `on_event` for commands that show no progress: its notices (e.g. the embedded digits standing
    in for a missing MNIST), one line each on stderr."""
    if isinstance(event, Notice):
        Console(stderr=True).print(f"[yellow]notice:[/] {escape(event.text)}", highlight=False, soft_wrap=True)


def field_type(field: Field) -> Callable[[str], Any]:
    """An argparse `type` that reads an option's text with a `Field` (its rules and words, as every setting's):
    `parser.add_argument("--count", type=field_type(Field("count", int, low=1)))`."""
    def parse(text: str) -> Any:
        try:
            return field.parse(text)
        except FieldError as error:
            raise argparse.ArgumentTypeError(error.problem) from None
    parse.__name__ = field.name   # argparse names the type in some messages
    return parse


def parse_flag(option: str, text: str) -> Any:
    """A flag's text as a checked value, with the config's own message: "--lr: optimizer.lr: must be ...".

    A folder to read data from must exist (a typo there would only show once the data set is looked for).
    """
    try:
        value = parse_value(FLAGS_BY_OPTION[option].path, text)
    except ConfigError as error:
        raise UsageError(f"{option}: {error}") from None
    if option == "--data-dir" and value and not Path(value).is_dir():
        raise UsageError(f"--data-dir {value} is not a folder")
    return value



def number(value: float | None) -> str:
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:.4g}"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def plain(value: Any) -> Any:
    """`value` as strict JSON data: NaN and infinities become null, paths text, NumPy scalars Python numbers."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value

