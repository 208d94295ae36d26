"""What every command shares: one-line errors, exit statuses, notices and formats.

A bad argument is one line on stderr ("nnstudio eval: error: ..."), exit status 2, and nothing
written; a failure is one line and exit status 1 (`fail`). The flags that set a run setting
(`CONFIG_FLAGS`, `parse_flag`), naming a save (`resolve_save`) and `UsageError` live in the run
core (`nnstudio.tui.run.arguments`), because the studio takes them too; they are imported here
for the commands.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
from rich.console import Console
from rich.markup import escape

from nnstudio.engine.fields import Field, FieldError
from nnstudio.saves import folder_or_default

from ..run import MismatchError, Notice, SessionError
from ..run.arguments import (CONFIG_FLAGS, FLAGS_BY_OPTION, FLAGS_BY_PATH, UsageError,  # noqa: F401 (shared)
                             parse_flag, resolve_save)


def one_line_errors(parser: argparse.ArgumentParser, prog: str) -> None:
    """Make argparse report a bad argument in one line (no usage block), as every other check here does."""
    def error(message: str) -> None:
        print(f"{prog}: error: {message} (see {prog} --help)", file=sys.stderr)
        sys.exit(2)

    parser.error = error  # type: ignore[method-assign]


def existing_saves_folder(saves_dir: str | None) -> Path:
    """The saves folder a command that only reads it works on: --saves-dir (UsageError if it is not an
    existing folder: a typo must not read as an empty folder), else the default one (which a first run creates:
    it may not exist yet)."""
    folder = folder_or_default(parse_flag("--saves-dir", saves_dir) if saves_dir is not None else None)
    if folder.exists() and not folder.is_dir():   # ($NNSTUDIO_SAVES_DIR names a file)
        raise UsageError(f"the saves folder {folder} is not a folder")
    if saves_dir is not None and not folder.exists():
        raise UsageError(f"--saves-dir {saves_dir}: no such folder (a run creates its saves folder; check the path)")
    return folder


def fail(prog: str, message: str, status: int = 1) -> int:
    """Print one error line (no markup, no wrapping) and return the exit status."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return status


def failure_status(error: SessionError) -> int:
    """2 for a model and data set that do not fit (the arguments clash), 1 for any other failure."""
    return 2 if isinstance(error, MismatchError) else 1


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


def number(value: float | None) -> str:
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:.4g}"


def aligned_numbers(values: list) -> list[str]:
    """Numbers that sit in one column (or one row) of a table, all with the same decimals, so that they read
    against each other: 4, as `number` shows a loss, or more when the smallest would keep fewer than 3
    significant digits (at most 8); all in scientific notation once the largest reaches a million.
    Anything but a number is "-"; NaN and infinities are shown as they are."""
    numeric = [isinstance(v, (int, float)) and not isinstance(v, bool) for v in values]
    finite = [abs(v) for v, ok in zip(values, numeric) if ok and math.isfinite(v)]
    if finite and max(finite) >= 1e6:
        spec = ".3e"
    else:
        smallest = min((v for v in finite if v > 0), default=1.0)
        spec = f".{min(max(4, 2 - math.floor(math.log10(smallest))), 8)}f"
    return [("-" if not ok else format(v, spec) if math.isfinite(v) else str(v)) for v, ok in zip(values, numeric)]


def position_of(at) -> tuple[int, int] | None:
    """A history position: [epochs done, batches done in the next epoch]."""
    try:
        done, into = (int(x) for x in at)
    except (TypeError, ValueError):
        return None
    return done, into


def after_text(at) -> str:
    """Where a run stood, in words: "after epoch 3", "after batch 4 of epoch 2"."""
    position = position_of(at)
    if position is None:
        return ""
    done, into = position
    return f"after batch {into} of epoch {done + 1}" if into else f"after epoch {done}"


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

