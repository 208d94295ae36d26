"""`nnstudio runs list` and `runs show`, and what the `runs` actions share: naming runs, status and figures.

The summaries are the run core's (`nnstudio.tui.run.runs`); this module prints them with Rich.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from nnstudio import saves
from nnstudio.saves import SaveError

from ..render import size_text
from ..run import forking
from ..run.config import ConfigError, RunConfig
from ..run.run_names import find_run
from ..run.runs import RunSummary, list_runs, run_summary
from .common import UsageError, after_text, existing_saves_folder, fail, percent, plain, position_of
from .saves import _date, _history_table, _settings_table, _value

PROG = "nnstudio runs"


def folder_of(args: argparse.Namespace) -> Path:
    """--saves-dir (checked as `train` checks it: UsageError), else the default saves folder."""
    return existing_saves_folder(args.saves_dir)


def summaries(names: list[str], folder: Path) -> list[RunSummary]:
    """The runs named, each once; UsageError for one that is not there or not a run folder, or named twice."""
    found: dict[Path, tuple[str, RunSummary]] = {}
    for name in names:
        try:
            run = run_summary(find_run(name, folder))
        except SaveError as error:
            raise UsageError(str(error)) from None
        key = run.path.resolve()
        if key in found:
            first = found[key][0]
            same = name if first == name else f"{first!r} and {name!r} are both {run.name}"
            raise UsageError(f"the same run was given twice: {same}; name each run once")
        found[key] = (name, run)
    return [run for _, run in found.values()]


def best_text(run: RunSummary) -> str:
    if run.best is None:
        return "-"
    return percent(run.best) if run.best_metric == "val_acc" else f"loss {loss_text(run.best)}"


def status_text(run: RunSummary, *, pruned_mark: bool = False) -> str:
    """"finished", "finished, pruned" (or "finished*", where a caption says what * means)."""
    status = run.shown_status
    colour = {"running": "green", "paused": "yellow", "interrupted": "yellow", "diverged": "red", "failed": "red"}.get(status)
    text = f"[{colour}]{status}[/]" if colour else status
    if not run.pruned:
        return text
    return text + ("[dim]*[/]" if pruned_mark else ", [dim]pruned[/]")


def loss_text(value: float) -> str:
    return f"{value:.4g}"


def count(n: int, thing: str) -> str:
    """"1 run", "3 runs"."""
    return f"{n} {thing}{'' if n == 1 else 's'}"


def epochs_text(n: int) -> str:
    return count(n, "epoch")


# ---------------------------------------------------------------------------------------- list

def run_list(args: argparse.Namespace) -> int:
    """`nnstudio runs list`: a table of the runs, newest first (or one JSON object per run and line)."""
    try:
        folder = folder_of(args)
    except UsageError as error:
        return fail(PROG, str(error), 2)
    runs = list_runs(folder)
    if args.json:
        for run in runs:
            print(json.dumps(plain(run.as_record()), allow_nan=False))
        return 0
    console = Console()
    where = escape(str(saves.runs_folder(folder)))
    if not runs:
        missing = f" ({escape(str(folder))} does not exist yet: the first run creates it)" if not folder.exists() else ""
        console.print(f"No runs in {where}{missing}.", highlight=False, soft_wrap=True)
        return 0
    console.print(_runs_table(console, runs, f"Runs in {where}"))
    for run in runs:
        if run.fork is not None:
            console.print(f"{escape(run.name)}: {escape(str(run.fork))}", highlight=False, soft_wrap=True)
    for run in runs:
        for note in run.notes:
            console.print(f"[yellow]note[/] {escape(run.name)}: {escape(note)}", highlight=False, soft_wrap=True)
    return 0


#: the list's columns: (title, justify)
_COLUMNS = (("name", "left"), ("data", "left"), ("model", "left"), ("optim", "left"), ("epochs", "right"),
            ("best", "right"), ("status", "left"), ("size", "right"))
#: what a narrow terminal gives up, in turn, until the table fits: a column ("model"), or "pruned" in words
#: (a pruned run's status then reads "finished*", the caption saying what * means)
_NARROWER = ("model", "size", "pruned", "data")
_CAPTION = "best: the best validation accuracy (the lowest validation loss without classes)"
_PRUNED_MARK = "*: pruned (checkpoints deleted, history kept)"


def _runs_table(console: Console, runs: list[RunSummary], title: str) -> Table:
    """The runs' table, one line per run: names are never cut nor folded (they are typed back), so on a narrow
    terminal the columns a name usually repeats (`<data set>-<model>-<time>`) and the size are left out, and
    "pruned" shrinks to a mark, before anything else is folded (`--json` has everything)."""
    for given_up in range(len(_NARROWER) + 1):
        left_out = _NARROWER[:given_up]
        table = _table(runs, title, left_out, fold=given_up == len(_NARROWER))
        unbounded = console.options.update_width(10_000)
        if given_up == len(_NARROWER) or Measurement.get(console, unbounded, table).maximum <= console.width:
            return table
    raise AssertionError("unreachable")


def _table(runs: list[RunSummary], title: str, left_out: tuple[str, ...], fold: bool) -> Table:
    """The table without the columns `left_out` names (and "pruned" as a mark if it names that); `fold`: the
    optimizer and best cells may wrap when even that is too wide."""
    marked = "pruned" in left_out and any(run.pruned for run in runs)
    dropped = [name for name in left_out if name != "pruned"]
    caption = _CAPTION + (f"; {_PRUNED_MARK}" if marked else "") + (
        f"; not shown: {', '.join(dropped)}" if dropped else "")
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, padding=0, caption=caption)   # (a space apart)
    shown = [(name, justify) for name, justify in _COLUMNS if name not in left_out]
    for name, justify in shown:   # (the last resort folds words, never a name nor a status)
        table.add_column(name, justify=justify, no_wrap=name in ("name", "status") or not fold,
                         overflow="ignore" if name == "name" else "fold")
    for run in runs:
        optimizer = " ".join(_value(v) for v in (run.optimizer, run.lr) if v is not None) or "-"
        planned = f"/{run.epochs_planned}" if run.epochs_planned is not None else ""
        cells = dict(name=escape(run.name), data=escape(run.dataset or "-"), model=escape(run.model or "-"),
                     optim=optimizer, epochs=f"{run.epochs_done}{planned}", best=best_text(run),
                     status=status_text(run, pruned_mark="pruned" in left_out), size=size_text(run.size))
        table.add_row(*(cells[name] for name, _ in shown))
    return table


# ---------------------------------------------------------------------------------------- show

def run_show(args: argparse.Namespace) -> int:
    """`nnstudio runs show RUN`: everything the run's folder says about it."""
    try:
        run = summaries([args.run], folder_of(args))[0]
    except UsageError as error:
        return fail(PROG, str(error), 2)
    console = Console()
    planned = f"/{run.epochs_planned}" if run.epochs_planned is not None else ""
    console.print(f"[bold]{escape(run.name)}[/]  {status_text(run)}, {run.epochs_done}{planned} epochs, "
                  f"{size_text(run.size)}", highlight=False)
    console.print(f"folder: {escape(str(run.path))}", highlight=False, soft_wrap=True)
    if run.started:
        console.print(f"started {_date(run.started)}"
                      + (f", updated {_date(run.updated)}" if run.updated else ""), highlight=False)
    facts = [f"data set: {escape(run.dataset or '-')}" + (f" ({run.task})" if run.task else ""),
             f"model: {escape(run.model or '-')}"]
    console.print(", ".join(facts), highlight=False)
    _print_origin(console, run)
    if run.config:
        try:
            console.print(_settings_table(RunConfig.from_dict(run.config), run.config))
        except ConfigError:
            console.print(f"settings (as recorded): {_value(run.config)}", highlight=False, soft_wrap=True)
    if run.history is not None and run.history.epochs:
        console.print(_history_table(run.history.epochs))
    for change in run.history.settings if run.history is not None else []:
        console.print(f"changed {escape(str(change.get('path')))} to {_value(change.get('value'))} "
                      f"{_from(change.get('at'))}", highlight=False, soft_wrap=True)
    _print_end(console, run)
    _print_checkpoints(console, run)
    for note in run.notes:
        console.print(f"[yellow]note[/] {escape(note)}", highlight=False, soft_wrap=True)
    return 0


def _from(at) -> str:
    """Where a change took effect: "from epoch 4", "from batch 5 of epoch 2"."""
    position = position_of(at)
    if position is None:
        return ""
    done, into = position
    return f"from batch {into + 1} of epoch {done + 1}" if into else f"from epoch {done + 1}"


def _print_origin(console: Console, run: RunSummary) -> None:
    """Where the run came from, and each time it was resumed; a fork's branch point is where it started."""
    if run.history is None:
        console.print("origin: not recorded (the run is older than run histories)", highlight=False)
        return
    continuations = run.history.runs[1:]
    fork = run.fork
    if fork is None:
        console.print(f"origin: {escape(run.origin_text())}", highlight=False, soft_wrap=True)
    else:   # (its second run record is where it branched: the first is its parent's config)
        when = _time(continuations[0].get("time")) if continuations else None
        inherited = (f" (epochs 1-{fork.epoch} are its parent's)" if fork.epoch and fork.epoch > 1
                     else " (epoch 1 is its parent's)" if fork.epoch else "")
        console.print(f"origin: forked from {escape(fork.point)}" + (f" on {_date(when)}" if when else "") + inherited,
                      highlight=False, soft_wrap=True)
        console.print(f"changed at the fork: {escape(fork.changes_text())}", highlight=False, soft_wrap=True)
        continuations = continuations[1:]
    for continuation in continuations:
        when = _time(continuation.get("time"))
        console.print(f"resumed {after_text(continuation.get('at'))}" + (f" on {_date(when)}" if when else ""),
                      highlight=False)


def _time(text) -> datetime | None:
    """A history record's time (ISO 8601 with its zone), or None."""
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _print_end(console: Console, run: RunSummary) -> None:
    status = run.status
    if run.paused:
        console.print(f"[yellow]paused[/]: {escape(run.info.holder)} holds it, paused; go on: nnstudio runs resume "
                      f"{escape(run.name)}", highlight=False, soft_wrap=True)
    elif status == "running":
        console.print(f"[green]running[/]: {escape(run.info.holder)} is training it (it holds the run's lock); steer "
                      f"it: nnstudio runs pause|resume|stop|set {escape(run.name)}", highlight=False, soft_wrap=True)
    elif status == "interrupted":
        console.print(f"[yellow]interrupted[/]: cut off after epoch {run.epochs_done} without ending (killed, or its "
                      f"connection dropped)", highlight=False)
    else:
        end = run.history.end if run.history is not None else None
        at = f" {after_text(end.get('at'))}" if end and position_of(end.get("at")) else ""
        said = run.why.removeprefix("Training ")   # ("Training diverged at epoch 1, batch 4: ...": it says where)
        if said.startswith(f"{status} at "):
            console.print(f"ended: {escape(said)}", highlight=False, soft_wrap=True)
        elif run.why.startswith(f"{status} "):   # ("stopped by Ctrl+C": the reason says the status itself)
            console.print(f"ended: {escape(run.why)}{at}", highlight=False, soft_wrap=True)
        else:
            why = f": {escape(run.why)}" if run.why and run.why != "completed" else ""
            console.print(f"ended: {status}{at}{why}", highlight=False, soft_wrap=True)
        hint = forking.retry_hint(run.path, run.lr) if status == "diverged" else None
        if hint is not None:
            console.print(escape(hint), highlight=False, soft_wrap=True)
    if run.best is not None:
        best = percent(run.best) if run.best_metric == "val_acc" else loss_text(run.best)
        epoch = f" (epoch {run.best_epoch})" if run.best_epoch is not None else ""
        console.print(f"best {run.best_metric.replace('_', ' ')}: {best}{epoch}", highlight=False)


def _print_checkpoints(console: Console, run: RunSummary) -> None:
    files = saves.checkpoint_files(run.path)
    if files:
        size = size_text(saves.disk_usage(files))
        named = [f.name for f in files if not f.name.startswith(".")]
        unfinished = len(files) - len(named)   # (temp files of writes a kill cut short: prune deletes them too)
        console.print(f"checkpoints ({size}): {escape(', '.join(named))}"
                      + (f" and {count(unfinished, 'unfinished write')}" if unfinished else ""), highlight=False,
                      soft_wrap=True)
    if run.pruned:
        console.print(f"pruned {_date(run.pruned_time)}" if run.pruned_time else "pruned", highlight=False,
                      end="")
        console.print(": its checkpoints were deleted and its history kept; it can be compared, not resumed",
                      highlight=False)
    elif run.resumable and run.status in ("interrupted", "stopped"):
        console.print(f"resumable from {escape(run.info.resume_point.name)}: nnstudio train --resume "
                      f"{escape(run.name)}", highlight=False, soft_wrap=True)
    elif not files:
        console.print("no checkpoints", highlight=False)
