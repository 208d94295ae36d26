"""`nnstudio inspect SAVE|RUN`: the studio's Inside views, drawn once in the terminal (or as JSON); nothing trained.

    nnstudio inspect spirals-mlp                         the decision boundary over the plane, training points on it
    nnstudio inspect spirals-mlp --view neurons --layer 2
    nnstudio inspect mnist-mlp --view confusion --cell 4,9 --json
    nnstudio inspect spirals-mlp-20250101-120000 --view gradient-flow     a run, at its latest checkpoint
    nnstudio inspect mnist-mlp --view gradcheck && echo ok                exit status 1 when the check fails

SAVE|RUN is looked for as a save first (a name in the saves folder, or a path to a .safetensors file,
a run's checkpoints included), then as a run (a run folder's name, a path to it, or a part of a name
that only it has: `find_run`). A run is looked at in its latest checkpoint, as `train --resume` would
continue it, but only read: a run still training in another process can be inspected. Both are opened as
`eval` opens a save (`Session.from_save`: the saved settings, the data prepared as for training, the
weights and the epoch records). The views are `nnstudio.tui.run.inside`'s, drawn by
`nnstudio.tui.render.inside`, as the studio's Inside pane draws them; without a colour terminal (a pipe,
NO_COLOR, TERM=dumb) every picture reads from its characters alone. `--json` prints one object: "save" (or
"run", "run_dir" and "checkpoint"), "model", "dataset" and "epochs_trained", then the view's own numbers
(its `to_json`, "view" first).

Errors print one line to stderr: exit status 2 for bad arguments (nothing of that name, a layer or cell
out of range, a view that does not apply to the model), 1 for failures (a damaged save, a run whose
checkpoints were pruned) and for a gradient check that fails.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.text import Text

from nnstudio import saves
from nnstudio.engine.fields import Field

from ..render import unicode_console
from ..render.cells import clip
from ..render.inside import draw, grid_for, in_ascii
from ..run import Session, SessionError, saved_config
from ..run.config import ConfigError
from ..run.inside import DESCRIPTIONS, VIEWS, NotApplicable, Subject, first_view, look
from ..run.run_names import find_run
from .common import UsageError, existing_saves_folder, fail, failure_status, field_type, one_line_errors, plain, \
    resolve_save, show_notice
from .eval import data_overrides

PROG = "nnstudio inspect"
#: the drawing's size when stdout is not a terminal (a pipe, a file)
PIPED_SIZE = (100, 30)
MIN_WIDTH, MIN_HEIGHT = 20, 5
#: the options that choose within some views only, and those views
VIEW_OPTIONS = {"--layer": ("neurons", "distributions"), "--cell": ("confusion",), "--test": ("boundary",),
                "--walk": ("latent",), "--page": ("neurons", "weights")}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `inspect` command to the `nnstudio` parser."""
    parser = subparsers.add_parser(
        "inspect", help="look inside a saved model or a run: boundary, neurons, weights, gradients...",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Draw one view of the inside of a saved model or a run in the terminal (no training).\n\n"
                    + "\n".join(f"  {view:<14} {DESCRIPTIONS[view]}" for view in VIEWS),
        epilog="SAVE|RUN is looked for as a save first (a name in the saves folder, or a .safetensors path),\n"
               "then as a run (its name, a part of it that only it has, or its folder), read at its latest\n"
               "checkpoint (a run still training too).\n"
               "Without --view: the first of boundary, latent, weights, gradient-flow and distributions\n"
               "that applies (the boundary for 2-D data, the weights for images).\n"
               "Exit status: 0; 1 when the gradient check fails (--view gradcheck) or the save cannot be\n"
               "read; 2 for bad arguments, a layer or cell out of range, or a view that does not apply.")
    one_line_errors(parser, PROG)
    parser.add_argument("target", metavar="SAVE|RUN", help="save name or path, else a run's name or folder")
    parser.add_argument("--view", choices=VIEWS, help="what to draw (default: see below)")
    parser.add_argument("--layer", type=int, metavar="N",
                        help="weight layer, from 1, of the neurons and distributions views (default 1)")
    parser.add_argument("--cell", type=cell_type, metavar="T,P",
                        help="confusion view: the cell of true class T read as P (default: the most frequent mistake)")
    parser.add_argument("--test", action="store_true", help="boundary view: the test points instead of the training ones")
    parser.add_argument("--walk", action="store_true", help="latent view: the walk decoded across the codes")
    parser.add_argument("--page", type=field_type(Field("--page", int, low=1)), metavar="N",
                        help="page of the neurons' or weights' pictures, from 1 (past the last it wraps round)")
    parser.add_argument("--width", type=field_type(Field("--width", int, low=MIN_WIDTH, high=1000)), metavar="COLS",
                        help=f"columns to draw in (default: the terminal's; {PIPED_SIZE[0]} when piped)")
    parser.add_argument("--height", type=field_type(Field("--height", int, low=MIN_HEIGHT, high=1000)),
                        metavar="LINES", help=f"lines to draw in (default: the terminal's; {PIPED_SIZE[1]} when piped)")
    parser.add_argument("--json", action="store_true", help="print the view's numbers as one JSON object instead")
    parser.add_argument("--dataset", metavar="NAME", help="look with this data set instead of the model's own")
    parser.add_argument("--data-dir", metavar="DIR", help="folder holding the data set's IDX files")
    parser.add_argument("--saves-dir", metavar="DIR", help="the saves folder (runs are in its runs/)")
    parser.set_defaults(handler=run_inspect)


def cell_type(text: str) -> tuple[int, int]:
    """"4,9" -> (4, 9): a confusion matrix cell, true class then predicted class."""
    try:
        true, predicted = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a cell is two class numbers T,P (true, predicted), got {text!r}") from None
    return true, predicted


@dataclass(frozen=True)
class Target:
    """What SAVE|RUN named: a save file, or a run folder and the checkpoint it is read at."""

    path: Path                     # the file opened
    run_dir: Path | None = None

    def record(self) -> dict:
        if self.run_dir is None:
            return {"save": str(self.path)}
        return {"run": self.run_dir.name, "run_dir": str(self.run_dir), "checkpoint": str(self.path)}

    def title(self) -> str:
        if self.run_dir is None:
            return self.path.stem
        stem = self.path.stem   # a checkpoint's file: "epoch-0153", or the resume point
        where = f"at epoch {int(stem.rpartition('-')[2])}" if stem.startswith("epoch-") and \
            stem.rpartition("-")[2].isdigit() else f"at its {stem.replace('-', ' ')}"
        return f"run {self.run_dir.name} {where}"


def locate(text: str, folder: Path) -> Target:
    """SAVE|RUN: a save first, then a run. UsageError when neither is there, SessionError for a run with no
    checkpoint left."""
    if not text.strip():
        raise UsageError("SAVE|RUN is empty: name a save (nnstudio saves list) or a run (nnstudio runs list)")
    if Path(text).is_dir():
        if saves.is_run_dir(text):
            return run_target(Path(text))
        resolve_save(text, folder)   # (raises: "is a folder, not a save; name one of the saves in it")
    try:
        return Target(saves.resolve(text, folder))
    except saves.SaveError as error:
        not_a_save = str(error)
    try:
        run_dir = find_run(text, folder)
    except saves.SaveError as error:
        if Path(text).name != text:   # (a path)
            raise UsageError(f"{text}: no such save file or run folder") from None
        raise UsageError(f"{not_a_save}, and {error}") from None
    if not saves.is_run_dir(run_dir):
        raise UsageError(f"{not_a_save}, and {run_dir} is not a run folder (it has no run.json)")
    return run_target(run_dir)


def run_target(run_dir: Path) -> Target:
    """A run folder at the checkpoint it would continue from; SessionError when it has none (pruned)."""
    run = saves.read_run(run_dir)
    if run is None or run.resume_point is None:
        name = run_dir.name
        if run is not None and run.pruned_at is not None:
            raise SessionError(f"{name} was pruned: `nnstudio runs prune` deleted its checkpoints and kept its "
                               f"history (`nnstudio runs show {name}`), so there is no model left to look inside")
        raise SessionError(f"{name} has no checkpoint to look inside (`nnstudio runs show {name}` shows what it has)")
    return Target(run.resume_point, run_dir)


def open_target(args: argparse.Namespace) -> tuple[Session, Target]:
    """The save or run named, as a prepared session with its weights and epoch records (nothing is written)."""
    overrides = data_overrides(args)
    target = locate(args.target, existing_saves_folder(args.saves_dir))
    try:
        config = saved_config(target.path).with_overrides(overrides)
    except ConfigError as error:
        raise UsageError(str(error)) from None
    return Session.from_save(target.path, config=config, on_event=show_notice), target


def check_options(args: argparse.Namespace, view: str) -> None:
    """UsageError for an option that chooses within other views than `view`."""
    given = {"--layer": args.layer is not None, "--cell": args.cell is not None, "--test": args.test,
             "--walk": args.walk, "--page": args.page is not None}
    for option, views in VIEW_OPTIONS.items():
        if given[option] and view not in views:
            raise UsageError(f"{option} goes with --view {' or '.join(views)}, not with the {view} view")


def options_of(args: argparse.Namespace, view: str, width: int, height: int) -> dict:
    """The `look` options for `view` at this size and with the options given."""
    options = grid_for(view, width, height)
    if view in VIEW_OPTIONS["--layer"]:
        options["layer"] = args.layer
    if view == "confusion":
        options["cell"] = args.cell
    return options


def size_of(args: argparse.Namespace, console: Console) -> tuple[int, int]:
    """--width and --height, else the terminal's size (a line left for the prompt), else PIPED_SIZE."""
    if console.is_terminal:
        width, height = console.size
        width, height = max(width, MIN_WIDTH), max(height - 1, MIN_HEIGHT)
    else:
        width, height = PIPED_SIZE
    return args.width or width, args.height or height


def json_default(value):
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    raise TypeError(f"{type(value).__name__} is not JSON data")


def run_inspect(args: argparse.Namespace) -> int:
    """`nnstudio inspect SAVE|RUN`: open it, look at it in the view asked for (or the default one), print."""
    console = Console(highlight=False)
    try:
        if args.view is not None:
            check_options(args, args.view)
        session, target = open_target(args)
    except UsageError as error:
        return fail(PROG, str(error), 2)
    except SessionError as error:
        return fail(PROG, str(error), failure_status(error))
    subject = Subject.of_session(session)
    width, height = size_of(args, console)
    body = height - 1   # (a line for what is looked at)
    try:
        if args.view is None:
            view, result = first_view(subject, lambda view: grid_for(view, width, body))
            check_options(args, view)
        else:
            view, result = args.view, look(args.view, subject, **options_of(args, args.view, width, body))
    except UsageError as error:
        return fail(PROG, str(error), 2)
    except NotApplicable as error:
        return fail(PROG, str(error), 2)
    failed = view == "gradcheck" and not result.passed
    epochs = len(subject.epoch_records())
    if args.json:
        record = {**target.record(), "model": saves.describe_model(session.spec), "dataset": subject.dataset,
                  "epochs_trained": epochs, **result.to_json()}
        print(json.dumps(plain(record), allow_nan=False, default=json_default))
        return 1 if failed else 0
    mono = not console.is_terminal or console.is_dumb_terminal or console.no_color
    ascii_only = not unicode_console(console)
    header = Text.assemble((target.title(), "bold"), f" · {saves.describe_model(session.spec)} · {subject.dataset}, "
                           f"{epochs} epoch{'s' if epochs != 1 else ''} trained")
    other = args.test or args.walk
    header = in_ascii(clip(header, width)) if ascii_only else clip(header, width)
    for line in [header, *draw(result, width, body, mono, other=other, page=(args.page or 1) - 1, keys="cli",
                                                     ascii_only=ascii_only)]:
        console.print(line, soft_wrap=True)
    return 1 if failed else 0
