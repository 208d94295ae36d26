"""`nnstudio train`: train a model without the studio, printing what the training session reports.

    nnstudio train --dataset spirals --epochs 20 --lr 0.01
    nnstudio train --config run.toml --save my-model       # a TOML config; flags change single settings
    nnstudio train --from my-model --epochs 5              # continue a save's weights (--reinit: from scratch)
    nnstudio train --resume [RUN]                          # continue an interrupted run exactly
    nnstudio train ... --json                              # one JSON object per line on stdout, for scripts

The command holds no training logic: it builds a `RunConfig`, hands it to a `Session`, shows
the session's events (a model summary, a progress bar, one table row per epoch, a summary) and
exits. Everything typed is checked before anything is loaded or written, so a typo costs
nothing: one line on stderr naming the flag (or the config file and setting) and what is
allowed. Ctrl+C stops after the current batch and writes a checkpoint; a second one quits.

Epochs are numbered across a save and its continuations: `--from` a save trained for 3 epochs
with `--epochs 2` shows epochs 4/5 and 5/5. `--resume --epochs N` sets the run's new planned
total in that same numbering, so N must be more than the epochs already done.

Exit status: 0 finished (or stopped early by early stopping), 130 stopped with Ctrl+C,
1 diverged, failed or could not start (a data set that cannot be loaded, nothing to resume),
2 bad arguments (including a save, run or file named that is not there, and a model that does
not fit the data set).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, TextIO

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from nnstudio import saves
from nnstudio.datasets import DownloadProgress
from nnstudio.engine import events
from nnstudio.engine.presets import PRESETS
from nnstudio.engine.spec import summarize

from .config import SETTINGS, ConfigError, RunConfig, load_config, parse_value
from .download_bars import DownloadBars, download_bars
from .session import CheckpointSaved, MismatchError, NothingToTrain, Notice, Session, SessionError, saved_config

PROG = "nnstudio train"
#: the progress bar is redrawn at most this often, however fast the batches go
REFRESH_SECONDS = 0.1
#: how each way a run can end maps to the exit status
EXIT_STATUS = {"finished": 0, "early-stopped": 0, "stopped": 130, "diverged": 1, "failed": 1}


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
#: what a resumed run still accepts: it keeps its own settings, but may be given more epochs
RESUME_FLAGS = ("--epochs", "--saves-dir")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `train` command to the `nnstudio` parser."""
    parser = subparsers.add_parser(
        "train", help="train a model from the command line (headless)",
        description="Train a model from the command line. Settings come from the defaults, then --config "
                    "(or the save of --from), then the flags.",
        epilog="Exit status: 0 finished, 130 stopped with Ctrl+C (resume with --resume), 1 diverged or failed, "
               "2 bad arguments.")
    one_line_errors(parser, PROG)
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML run configuration (see the README)")
    parser.add_argument("--model", metavar="NAME|FILE.json",
                        help=f"ready-made model ({', '.join(PRESETS)}) or a model spec file (JSON)")
    for flag in CONFIG_FLAGS:
        parser.add_argument(flag.option, dest=flag.dest, metavar=flag.metavar, help=flag.help())
    parser.add_argument("--no-checkpoints", action="store_true",
                        help="do not write a checkpoint each epoch (the run cannot be resumed then)")
    parser.add_argument("--save", metavar="NAME", help="save the trained model under NAME in the saves folder")
    parser.add_argument("--overwrite", action="store_true", help="let --save replace an existing save")
    parser.add_argument("--resume", nargs="?", const="", metavar="RUN",
                        help="continue an interrupted run exactly: the latest one in <saves-dir>/runs, "
                             "or RUN (a run folder, its name, or a checkpoint file)")
    parser.add_argument("--from", dest="from_save", metavar="SAVE",
                        help="start from a save's weights and settings (flags change single settings)")
    parser.add_argument("--reinit", action="store_true", help="with --from: repeat its settings from fresh weights")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per line on stdout (each epoch, then the end); the display goes to stderr")
    parser.set_defaults(handler=run_train)


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


# ====================================================================== the plan: arguments checked
@dataclass
class Plan:
    """A run checked from the command line; nothing has been loaded or written yet."""

    folder: Path                      # the saves folder: runs/ for checkpoints, and --save's target
    config: RunConfig | None = None   # None when resuming: the checkpoint holds the settings
    resume: str | None = None         # "" means the latest interrupted run
    start_from: Path | None = None    # --from: a save to continue (or repeat, with --reinit)
    reinit: bool = False
    epochs: int | None = None         # a resumed run's new planned total
    save_name: str | None = None
    overwrite: bool = False


def make_plan(args: argparse.Namespace) -> Plan:
    """Check every argument and build the run's config: UsageError (exit 2) or SessionError (exit 1)."""
    _check_combinations(args)
    folder = _saves_folder(args)
    if args.resume is not None:
        epochs = parse_flag("--epochs", args.epochs) if args.epochs is not None else None
        plan = Plan(folder, resume=args.resume, epochs=epochs)
    else:
        base, start_from = _base_config(args, folder)
        config = _with_flags(base, args)
        folder = _saves_folder(args, config)
        config = config.replace(**{"checkpoints.folder": str(folder)})
        plan = Plan(folder, config=config, start_from=start_from, reinit=args.reinit)
    if args.save is not None:
        _check_save_target(args.save, folder, args.overwrite)
        plan.save_name, plan.overwrite = args.save, args.overwrite
    return plan


def _given(args: argparse.Namespace) -> list[str]:
    """The options typed on the command line that change settings (in the order --help lists them)."""
    given = ["--config"] if args.config is not None else []
    given += ["--model"] if args.model is not None else []
    given += [flag.option for flag in CONFIG_FLAGS if getattr(args, flag.dest) is not None]
    given += ["--no-checkpoints"] if args.no_checkpoints else []
    given += ["--from"] if args.from_save is not None else []
    return given + (["--reinit"] if args.reinit else [])


def _check_combinations(args: argparse.Namespace) -> None:
    if args.resume is not None:
        clashing = [option for option in _given(args) if option not in RESUME_FLAGS]
        if clashing:
            raise UsageError(f"{clashing[0]} cannot be combined with --resume: a resumed run keeps its own "
                             f"settings (only {', '.join(RESUME_FLAGS)}, --save and --json apply)")
    if args.reinit and args.from_save is None:
        raise UsageError("--reinit needs --from SAVE (it repeats that save's settings from fresh weights)")
    if args.config is not None and args.from_save is not None:
        raise UsageError("--config and --from both give the whole configuration; use one (flags change single "
                         "settings)")
    if args.model is not None and args.from_save is not None and not args.reinit:
        raise UsageError("--model cannot change the model of a save continued with --from; add --reinit to "
                         "train the new model from fresh weights")


def parse_flag(option: str, text: str) -> Any:
    """A flag's text as a checked value, with the config's own message: "--lr: optimizer.lr: must be ..."."""
    try:
        return parse_value(FLAGS_BY_OPTION[option].path, text)
    except ConfigError as error:
        raise UsageError(f"{option}: {error}") from None


def _saves_folder(args: argparse.Namespace, config: RunConfig | None = None) -> Path:
    """--saves-dir, else the config's folder when it names one, else the default ($NNSTUDIO_SAVES_DIR or ./saves)."""
    if args.saves_dir is not None:
        folder = Path(parse_flag("--saves-dir", args.saves_dir))
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"--saves-dir {folder} is not a folder")
        return folder
    if config is not None and config.checkpoints.folder != SETTINGS["checkpoints.folder"].default:
        return Path(config.checkpoints.folder)
    return saves.default_folder()


def _base_config(args: argparse.Namespace, folder: Path) -> tuple[RunConfig, Path | None]:
    """The settings the flags change: --config's, --from's save's, or the defaults (and the save's path)."""
    if args.config is not None:
        try:
            return load_config(args.config), None
        except ConfigError as error:
            raise UsageError(str(error)) from None
    if args.from_save is not None:
        path = resolve_save(args.from_save, folder, "--from")
        return saved_config(path), path
    return RunConfig(), None


def _with_flags(base: RunConfig, args: argparse.Namespace) -> RunConfig:
    overrides = {flag.path: parse_flag(flag.option, getattr(args, flag.dest))
                 for flag in CONFIG_FLAGS if getattr(args, flag.dest) is not None}
    if args.model is not None:
        overrides.update(model_overrides(args.model))
    if args.no_checkpoints:
        overrides["checkpoints.every_epoch"] = False
    data_dir = overrides.get("data.data_dir")
    if data_dir and not Path(data_dir).is_dir():
        raise UsageError(f"--data-dir {data_dir} is not a folder")
    try:
        return base.with_overrides(overrides)
    except ConfigError as error:  # a rule between two settings, e.g. --warmup against --epochs
        flag = FLAGS_BY_PATH.get(error.field)
        typed = flag is not None and getattr(args, flag.dest) is not None
        raise UsageError(f"{flag.option}: {error}" if typed else str(error)) from None


def model_overrides(value: str) -> dict[str, Any]:
    """--model: a preset's name, or a JSON spec file (read and checked here, so its problems are usage errors)."""
    if value in PRESETS:
        return {"model.preset": value}
    path = Path(value)
    if value.lower().endswith(".json") or path.is_file():
        return {"model.spec": read_spec_file(path)}
    try:
        return {"model.preset": parse_value("model.preset", value)}
    except ConfigError as error:
        raise UsageError(f"--model: {error}; or give a model spec file (FILE.json)") from None


def read_spec_file(path: Path) -> dict:
    """A model spec from a JSON file, validated; every problem is a UsageError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"--model {path}: no such file") from None
    except UnicodeDecodeError:
        raise UsageError(f"--model {path}: not UTF-8 text; a model spec is a JSON file") from None
    except OSError as error:
        raise UsageError(f"--model {path}: cannot read it: {error.strerror or error}") from None
    try:
        spec = json.loads(text)
    except ValueError as error:
        raise UsageError(f"--model {path}: not valid JSON: {error}") from None
    except RecursionError:
        raise UsageError(f"--model {path}: nested far too deeply to be a model spec") from None
    try:
        return SETTINGS["model.spec"].check(spec)
    except ConfigError as error:
        raise UsageError(f"--model {path}: {error.problem}") from None


def _check_save_target(name: str, folder: Path, overwrite: bool) -> Path:
    """Where --save will write; refused now, before training, if the name is unusable or taken."""
    try:
        path = saves.save_path(name, folder)
    except saves.SaveError as error:
        raise UsageError(f"--save: {error}") from None
    if path.exists() and not overwrite:
        raise UsageError(f"--save {name}: {path} already exists; add --overwrite to replace it, or choose "
                         f"another name")
    return path


# ====================================================================== opening and running the session
def open_session(plan: Plan, on_event) -> Session:
    """The session the plan describes, prepared (data loaded, model built); SessionError if it cannot be."""
    if plan.resume is not None:
        session = Session.open_checkpoint(_resume_target(plan), on_event=on_event, folder=plan.folder)
        _plan_resumed_epochs(plan, session)
        return session
    if plan.start_from is not None:
        return Session.from_save(plan.start_from, config=plan.config, reinitialise=plan.reinit, on_event=on_event)
    session = Session(plan.config, on_event=on_event)
    session.prepare()
    return session


def _resume_target(plan: Plan) -> Path:
    """--resume RUN (a path, or a run's name in <saves>/runs), or the most recent interrupted run."""
    runs = saves.runs_folder(plan.folder)
    if plan.resume:
        for candidate in (Path(plan.resume), runs / plan.resume):
            if candidate.exists():
                return candidate
        raise UsageError(f"--resume {plan.resume}: no such run folder or checkpoint (runs are in {runs})")
    run = saves.latest_interrupted_run(plan.folder)
    if run is None:
        raise SessionError(f"nothing to resume: no interrupted run in {runs} (start one with `{PROG}`, or name a "
                           f"run folder or checkpoint: --resume PATH)")
    return run.path


def _plan_resumed_epochs(plan: Plan, session: Session) -> None:
    """A resumed run must have epochs left to train: --epochs N is its new total, more than those done."""
    try:
        session.plan(plan.epochs)
    except NothingToTrain as error:
        done = error.done
        if plan.epochs is not None:
            raise UsageError(f"--epochs {plan.epochs}: this run has already done {done} epochs; pass --epochs "
                             f"{done + 1} or more to train it further") from None
        raise UsageError(f"this run has done all its {done} epochs; pass --epochs {done + 1} or more to "
                         f"train it further") from None


@contextlib.contextmanager
def stop_on_interrupt(session: Session) -> Iterator[None]:
    """Ctrl+C once: the session stops after the current batch and writes a checkpoint. Twice: quit now.

    The first press puts Python's default handler back, so a second one raises KeyboardInterrupt
    wherever the run is. Signals reach only the main thread; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def stop(signum, frame) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        session.stop()

    signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)


def run_train(args: argparse.Namespace) -> int:
    """`nnstudio train`: check the arguments, open the session, run it in this thread, report, save."""
    reporter = Reporter(Console(stderr=args.json), sys.stdout if args.json else None)
    try:
        plan = make_plan(args)
        with reporter.opening():
            session = open_session(plan, reporter)
    except UsageError as error:
        return fail(PROG, str(error), 2)
    except SessionError as error:
        return fail(PROG, str(error), failure_status(error))
    planned = session.epochs_planned
    reporter.header(session, planned, resumed=plan.resume is not None)
    try:
        with reporter.live(session, planned), stop_on_interrupt(session):
            status = session.run()
    except KeyboardInterrupt:
        reporter.interrupted(session)
        return 130
    except SessionError as error:  # e.g. the checkpoint folder cannot be written
        return fail(PROG, str(error))
    saved, problem = _save(session, plan, status)
    reporter.summary(session, status, saved, problem)
    if problem is not None:
        return fail(PROG, problem)
    return EXIT_STATUS[status]


def _save(session: Session, plan: Plan, status: str) -> tuple[Path | None, str | None]:
    """--save after the run (also after a stop or divergence: the model holds good weights); not after a crash."""
    if plan.save_name is None or status == "failed":
        return None, None
    try:
        return session.save(plan.save_name, folder=plan.folder, overwrite=plan.overwrite), None
    except SessionError as error:
        return None, f"--save {plan.save_name}: {error}"


# ====================================================================== showing events
def model_table(spec: dict) -> Table:
    """The model summary: one row per layer with its output shape and parameters, and the total."""
    summary = summarize(spec)
    table = Table(title=f"Model: {escape(str(spec.get('name') or 'custom'))}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("layer")
    table.add_column("output shape")
    table.add_column("parameters", justify="right")
    table.add_row("", "input", _shape(summary.input_shape), "")
    for number, row in enumerate(summary):
        settings = f" ({escape(row.settings)})" if row.settings else ""
        table.add_row(row.name, f"{row.type}{settings}", _shape(row.output_shape), f"{row.params:,}",
                      end_section=number == len(summary) - 1)
    table.add_row("", "[bold]total[/]", "", f"[bold]{summary.total_params:,}[/]")
    return table


def _shape(shape) -> str:
    return "x".join(str(d) for d in shape)


def dataset_line(session: Session) -> str:
    """One line (rich markup): which data set, where from, how it is split, what the model must do."""
    dataset, data = session.dataset, session.data
    kind = (f"{dataset.num_classes} classes" if session.classes
            else "reconstruction" if session.reconstruct else dataset.task)
    return (f"[bold]data[/] {escape(dataset.name)} from {escape(str(dataset.source))}: {len(data.x_train):,} train / "
            f"{len(data.x_val):,} val / {len(data.x_test):,} test, input {_shape(dataset.input_shape)}, {kind}")


def training_line(session: Session, planned: int, resumed: bool) -> str:
    """One line (rich markup): the optimizer and loop settings, and where a continued run picks up.

    A run continuing a save counts its own epochs ("2 epochs; continuing from a save trained for
    3"), a resumed one its planned total, as the epoch rows do.
    """
    c = session.config
    count = planned if resumed else planned - session.epoch_offset
    parts = [f"{c.optimizer.name} lr {c.optimizer.lr:g}", f"batch {c.training.batch_size}",
             f"{count} epoch{'' if count == 1 else 's'}",
             f"seed {c.training.seed}"]
    if c.schedule.name != "none":
        parts.append(f"{c.schedule.name} schedule")
    if c.training.early_stopping:
        parts.append(f"early stopping after {c.training.early_stopping}")
    if not session.checkpoints_enabled:
        parts.append("no checkpoints")
    text = f"[bold]training[/] {', '.join(parts)}"
    done = session.epochs_done
    if resumed:
        text += f"; resuming {escape(str(session.run_dir))} after epoch {done}"
    elif session.history:
        text += f"; continuing from a save trained for {len(session.history)} epochs"
    return text


#: the per-epoch table: (title, width); a header once, then one row per epoch as it ends
EPOCH_COLUMNS = (("epoch", 9), ("train loss", 10), ("train acc", 9), ("val loss", 10), ("val acc", 9),
                 ("lr", 9), ("time", 7))


def _epoch_table(header: bool) -> Table:
    table = Table(box=None, show_header=header, header_style="bold", pad_edge=False, padding=(0, 1))
    for title, width in EPOCH_COLUMNS:
        table.add_column(title, justify="right", min_width=width, no_wrap=True)
    return table


def epoch_row(event: events.EpochEnd) -> Table:
    """One epoch's figures as a table row aligned under `_epoch_table(header=True)`, numbered as the
    session numbers them (after the epochs of the save the run continues)."""
    table = _epoch_table(header=False)
    table.add_row(f"{event.epoch + 1}/{event.epochs}", number(event.train_loss),
                  percent(event.train_accuracy),
                  number(event.val_loss), percent(event.val_accuracy), f"{event.lr:.3g}", f"{event.seconds:.1f}s")
    return table


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


class Reporter:
    """Shows a session's events: rich text on the console and, for --json, one JSON object per line.

    It is the session's `on_event`. The command runs the session in the main thread, so events
    arrive one at a time on the thread that draws; batch events redraw the progress bar at most
    every REFRESH_SECONDS. Notices that arrive while the data loads wait for the header; download
    bars drawn meanwhile last until the header, or until `opening` ends however it ends.
    """

    def __init__(self, console: Console, json_out: TextIO | None = None) -> None:
        self.console = console
        self.json_out = json_out  # kept: a live display may replace sys.stdout while it runs
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.downloads: Progress | None = None  # bars of a data set being downloaded before the run
        self._download_bars: DownloadBars | None = None
        self.pending_notices: list[str] | None = []
        self.ending: Any = None  # the event that ended the run
        self.checkpoint: Path | None = None
        self.started = time.monotonic()
        self._drawn_at = 0.0

    def __call__(self, event: Any) -> None:
        if isinstance(event, DownloadProgress):
            self._download(event)
        elif isinstance(event, Notice):
            self._notice(event.text)
        elif isinstance(event, CheckpointSaved):
            self.checkpoint = event.path
        elif isinstance(event, events.BatchEnd):
            self._batch(event)
        elif isinstance(event, events.EpochEnd):
            self._epoch(event)
        elif isinstance(event, (events.Finished, events.Stopped, events.Diverged, events.Failed)):
            self.ending = event

    def emit(self, record: dict) -> None:
        """One JSON line on stdout (only with --json)."""
        if self.json_out is not None:
            self.json_out.write(json.dumps(plain(record), allow_nan=False) + "\n")
            self.json_out.flush()

    # ------------------------------------------------------------------ before the run
    def _notice(self, text: str) -> None:
        if self.pending_notices is not None:
            self.pending_notices.append(text)
        else:
            self.console.print(f"[yellow]notice:[/] {escape(text)}", highlight=False, soft_wrap=True)

    def _download(self, event: DownloadProgress) -> None:
        """A data set is being downloaded before the run: bars on stderr (a terminal only), gone at the header."""
        if self._download_bars is None:
            if not self.console.is_terminal:
                return
            self.downloads = download_bars(self.console)
            self.downloads.start()
            self._download_bars = DownloadBars(self.downloads)
        self._download_bars(event)

    def _stop_downloads(self) -> None:
        """Take the download bars down: the cursor shows again and stdout/stderr are no longer redirected."""
        downloads, self.downloads, self._download_bars = self.downloads, None, None
        if downloads is not None:
            downloads.stop()

    @contextlib.contextmanager
    def opening(self) -> Iterator[None]:
        """Around opening the session: download bars it starts are stopped however it ends (a failed
        checksum, a network error, Ctrl+C), so that an error line is not drawn under a bar."""
        try:
            yield
        finally:
            self._stop_downloads()

    def header(self, session: Session, planned: int, *, resumed: bool) -> None:
        """The model summary, the data set and training lines, any notices, and the epoch table's header."""
        self._stop_downloads()
        self.console.print(model_table(session.spec))
        self.console.print(dataset_line(session), highlight=False, soft_wrap=True)
        notices, self.pending_notices = self.pending_notices or [], None
        for text in notices:
            self._notice(text)
        self.console.print(training_line(session, planned, resumed), highlight=False, soft_wrap=True)
        self.console.print(_epoch_table(header=True))

    # ------------------------------------------------------------------ during the run
    @contextlib.contextmanager
    def live(self, session: Session, planned: int) -> Iterator[None]:
        """A progress bar for the current epoch below the rows printed so far (gone when the run ends).

        Only on a terminal: in a pipe or a log file it would show nothing but a stray blank line.
        """
        if not self.console.is_terminal:
            yield
            return
        progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("batches"),
            TimeRemainingColumn(), TextColumn("{task.fields[speed]}"), TextColumn("{task.fields[loss]}"),
            console=self.console, transient=True, auto_refresh=False, redirect_stdout=False, redirect_stderr=False)
        self.task = progress.add_task(self._title(session.epochs_done, planned), total=len(session.batches),
                                      speed="", loss="")
        self.progress = progress
        try:
            with progress:
                yield
        finally:
            self.progress = None

    @staticmethod
    def _title(epoch: int, planned: int) -> str:
        return f"epoch {epoch + 1}/{planned}"

    def _batch(self, event: events.BatchEnd) -> None:
        now = time.monotonic()
        if self.progress is None or (now - self._drawn_at < REFRESH_SECONDS and event.batch + 1 < event.batches):
            return
        self._drawn_at = now
        accuracy = f"  acc {percent(event.accuracy)}" if event.accuracy is not None else ""
        self.progress.update(self.task, total=event.batches, completed=event.batch + 1,
                             speed=f"{event.samples_per_s:,.0f} samples/s",
                             loss=f"loss {number(event.mean_loss)}{accuracy}")
        self.progress.refresh()

    def _epoch(self, event: events.EpochEnd) -> None:
        """An epoch's JSON line and table row (the session numbers them as its history does)."""
        self.emit({"event": "epoch", **event.as_dict(), "epochs": event.epochs, "eta": event.eta})
        self.console.print(epoch_row(event))
        if self.progress is not None and event.epoch + 1 < event.epochs:
            self.progress.reset(self.task, description=self._title(event.epoch + 1, event.epochs),
                                speed="", loss="")
            self.progress.refresh()

    # ------------------------------------------------------------------ after the run
    def summary(self, session: Session, status: str, saved: Path | None, problem: str | None) -> None:
        """The final JSON line and the closing lines: how it ended, the best figures, where things are."""
        record = self.final_record(session, status, saved)
        self.emit(record)
        for line in summary_lines(record, problem):
            self.console.print(line, highlight=False, soft_wrap=True)

    def final_record(self, session: Session, status: str, saved: Path | None) -> dict:
        run = saves.read_run(session.run_dir) if session.run_dir is not None else None
        message = getattr(self.ending, "message", "") or ""
        stopped_at = self.ending if isinstance(self.ending, events.Stopped) else None
        resumable = status == "stopped" and self.checkpoint is not None
        return {
            "event": status, "epochs_done": session.epochs_done, "epochs": session.epochs_planned,
            "stopped_in_batch": stopped_at.batch if stopped_at else None,
            "metrics": session.metrics(), "seconds": round(time.monotonic() - self.started, 3),
            "message": message, "run_dir": session.run_dir, "checkpoint": self.checkpoint,
            "best_checkpoint": run.best if run is not None else None, "save": saved,
            "resume": f"{PROG} --resume {session.run_dir}" if resumable else None,
            **({"traceback": self.ending.traceback} if isinstance(self.ending, events.Failed) else {}),
        }

    def interrupted(self, session: Session) -> None:
        """A second Ctrl+C cut the run short: say what is kept and how to go on."""
        if self.checkpoint is not None:
            how = f"resume from the last checkpoint with: {PROG} --resume {session.run_dir}"
        else:
            how = "no checkpoint was written, so it cannot be resumed"
        self.console.print(f"[yellow]Interrupted[/]; {escape(how)}", highlight=False, soft_wrap=True)


_ENDINGS = {"finished": "[green]Finished[/]", "early-stopped": "[green]Stopped early[/]",
            "stopped": "[yellow]Stopped[/]", "diverged": "[red]Diverged[/]", "failed": "[red]Failed[/]"}


def summary_lines(record: dict, problem: str | None = None) -> list[str]:
    """The closing lines (rich markup) for a final record."""
    metrics = record["metrics"]
    facts = [f"{record['epochs_done']} of {record['epochs']} epochs in {record['seconds']:.1f}s"]
    if record["stopped_in_batch"]:
        facts[0] += f" (stopped {record['stopped_in_batch']} batches into epoch {record['epochs_done'] + 1})"
    if metrics.get("best_val_acc") is not None:
        facts.append(f"best val acc {percent(metrics['best_val_acc'])}")
    if metrics.get("val_loss") is not None:
        facts.append(f"final val loss {number(metrics['val_loss'])}")
    lines = [f"{_ENDINGS[record['event']]}: {'; '.join(facts)}"]
    if record["message"]:
        lines.append(escape(record["message"]))
    if record["run_dir"] is not None:
        best = f" (best: {escape(str(record['best_checkpoint']))})" if record["best_checkpoint"] else ""
        lines.append(f"checkpoints: {escape(str(record['run_dir']))}{best}")
    if record["save"] is not None:
        lines.append(f"saved: {escape(str(record['save']))}")
    elif problem is not None:
        lines.append(f"[red]not saved[/]: {escape(problem)}")
    if record["event"] == "stopped":
        lines.append(f"resume with: {escape(record['resume'])}" if record["resume"]
                     else "checkpoints were off (--no-checkpoints), so this run cannot be resumed")
    return lines
