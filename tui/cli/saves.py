"""`nnstudio saves`: list, inspect and delete saved models and checkpoints.

    nnstudio saves list [--saves-dir DIR]             name, date, model, data set, epochs, best val acc, size
    nnstudio saves show NAME [--saves-dir DIR]        model summary, the run's settings, metrics and history
    nnstudio saves rm NAME [--saves-dir DIR] [--yes]  delete a save (asks first unless --yes; exit 1 if declined)

NAME is a save's name in the saves folder (`saves.default_folder()` unless --saves-dir) or a path
to a file. Errors print one line to stderr: exit status 2 for bad arguments (a save that is not
there among them), 1 for failures. `list` and `show` make the checks that opening a save makes
(`nnstudio.tui.run.list_saves`: its tensors, its training state, its weights finite, its run config):
a save that would not load is marked in `list`, and `show` prints why and exits 1. `rm` deletes only
nnstudio saves. (`--dir` is the old name of --saves-dir; it still works.)
"""

from __future__ import annotations

import argparse
import itertools
import sys
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nnstudio.datasets import SYNTHETIC
from nnstudio.engine.fields import number_text
from nnstudio.engine.spec import summarize
from nnstudio import saves
from nnstudio.saves import SaveError, delete, folder_or_default, identify
from nnstudio.saves.listing import describe_model

from ..render import size_text
from ..run import inspect_save, list_saves, recorded_config
from ..run.arguments import add_hidden_alias
from ..run.config import SECTIONS, ConfigError, RunConfig, Setting, section_settings
from ..run.runs import RunSummary, list_runs
from .common import (FLAGS_BY_OPTION, UsageError, after_text, aligned_numbers, existing_saves_folder, fail, parse_flag,
                     position_of, resolve_save)

PROG = "nnstudio saves"

#: rows of history shown by `show`; longer histories show their start and end
HISTORY_ROWS = 12
#: rows of a recorded config or of the final metrics shown by `show`, items of an object and of a list in
#: one cell, and characters of one text: a save is any file, and a header of a million keys or one text
#: of eight million characters must not become a table of that size (Rich would need gigabytes)
MAPPING_ROWS, OBJECT_ITEMS, LIST_ITEMS, TEXT_CHARS = 40, 12, 6, 200
_HISTORY_COLUMNS = (("epoch", "epoch"), ("train_loss", "train loss"), ("train_acc", "train acc"),
                    ("val_loss", "val loss"), ("val_acc", "val acc"), ("lr", "lr"), ("seconds", "time"))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `saves` command and its actions to the `nnstudio` parser."""
    parser = subparsers.add_parser("saves", help="list, inspect and delete saved models",
                                   description="List, inspect and delete saved models and checkpoints.")
    actions = parser.add_subparsers(dest="saves_action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="the saves in a folder, newest first")
    _add_dir(listing)
    listing.set_defaults(handler=run_list)

    show = actions.add_parser("show", help="a save's model, training config, metrics and history")
    show.add_argument("name", help="save name, or path to a .safetensors file")
    _add_dir(show)
    show.set_defaults(handler=run_show)

    remove = actions.add_parser("rm", help="delete a save")
    remove.add_argument("name", help="save name, or path to a .safetensors file")
    _add_dir(remove)
    remove.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    remove.set_defaults(handler=run_rm)


def _add_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--saves-dir", metavar="DIR", help=FLAGS_BY_OPTION["--saves-dir"].help())
    add_hidden_alias(parser, "--dir", "--saves-dir")


def _folder(args: argparse.Namespace) -> Path:
    """--saves-dir (checked as `train` checks it: UsageError), else the default saves folder."""
    return folder_or_default(parse_flag("--saves-dir", args.saves_dir) if args.saves_dir is not None else None)


def _date(moment: datetime) -> str:
    """A time in the viewer's zone, to the minute."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def _clip(text: str, limit: int = TEXT_CHARS) -> str:
    """`text` cut to `limit` characters (an ellipsis says so), escaped for Rich markup."""
    return escape(text if len(text) <= limit else text[:limit - 1] + "…")


def _number(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _clip(str(value))
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}g}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


# ---------------------------------------------------------------------------------------- list

def run_list(args: argparse.Namespace) -> int:
    """`nnstudio saves list`: a table of the folder's saves, from their headers only."""
    try:
        folder = existing_saves_folder(args.saves_dir)
    except UsageError as error:
        return fail(PROG, str(error), 2)
    try:
        entries = list_saves(folder)
    except SaveError as error:
        return fail(PROG, str(error))
    console = Console()
    if not entries:
        console.print(f"No saves in {escape(str(folder))}.", highlight=False)
    else:
        table = Table(title=f"Saves in {escape(str(folder))}")
        table.add_column("name", overflow="fold")
        table.add_column("date", no_wrap=True)
        table.add_column("model", overflow="fold")
        table.add_column("data set", no_wrap=True)
        table.add_column("epochs", justify="right")
        table.add_column("best val acc", justify="right")
        table.add_column("size", justify="right", no_wrap=True)
        for entry in entries:
            name = escape(entry.name) + (" [dim](checkpoint)[/]" if entry.kind == "checkpoint" else "")
            name += " [red](will not load)[/]" if entry.problem is not None else ""
            if entry.error is not None:
                table.add_row(name, _date(entry.modified), "[red]damaged[/] (see below)", "", "", "", size_text(entry.size))
                continue
            table.add_row(name, _date(entry.created), escape(entry.model_summary or ""), escape(entry.dataset or "-"),
                          str(entry.epochs), _percent(entry.best_val_accuracy), size_text(entry.size))
        console.print(table)
    for entry in entries:
        if entry.error is not None:
            console.print(f"[red]damaged[/] {escape(entry.path.name)}: {escape(entry.error)}", highlight=False,
                          soft_wrap=True)
        elif entry.problem is not None:
            console.print(f"[red]will not load[/] {escape(entry.path.name)}: {escape(entry.problem)}", highlight=False,
                          soft_wrap=True)
    unsaved = [run for run in list_runs(folder, batches=False)
               if run.status in ("stopped", "interrupted") and run.resumable]
    for run in unsaved[:3]:   # (their weights are in no save: say where they are, as `runs list` names them)
        console.print(f"[yellow]{run.status}[/] run {escape(run.name)} {_where(run)}: resume it with "
                      f"nnstudio train --resume {escape(run.name)}", highlight=False, soft_wrap=True)
    return 0


def _where(run: RunSummary) -> str:
    """Where a stopped or interrupted run stands, numbered as its epoch table: "after batch 5 of epoch 1"."""
    end = run.history.end if run.history is not None else None
    if run.status == "stopped" and end is not None and position_of(end.get("at")) is not None:
        return after_text(end["at"])
    done = run.info.last_epoch or 0
    if run.info.resume_point is not None and run.info.resume_point.name == saves.checkpoints.PARTIAL_FILE:
        return f"partway through epoch {done + 1}"
    return f"after epoch {done}" if done else "in its first epoch (it resumes from its start)"


# ---------------------------------------------------------------------------------------- show

def run_show(args: argparse.Namespace) -> int:
    """`nnstudio saves show NAME`: everything the header says about one save, and exit 1 with the reason if
    it would not load (the checks `list` makes)."""
    try:
        path = resolve_save(args.name, _folder(args))
    except UsageError as error:
        return fail(PROG, str(error), 2)
    try:
        entry = inspect_save(path)
    except SaveError as error:   # removed since it was found
        return fail(PROG, str(error))
    if entry.error is not None:
        return fail(PROG, f"{path}: {entry.error}")
    metadata, size = entry.metadata, entry.size
    assert metadata is not None   # (a readable entry has its metadata)
    console = Console()
    console.print(f"[bold]{escape(path.stem)}[/]  {metadata.kind}, saved {_date(metadata.created)} by nnstudio "
                  f"{escape(metadata.nnstudio_version)}, {size_text(size)}", highlight=False)
    console.print(f"file: {escape(str(path))}", highlight=False, soft_wrap=True)
    console.print(f"model: {escape(describe_model(metadata.spec))} ({metadata.dtype})", highlight=False)
    if metadata.dataset is not None:
        normalisation = metadata.dataset.get("normalisation")
        shown = {k: v for k, v in (normalisation or {}).items() if v is not None}
        console.print(f"data set: {escape(str(metadata.dataset.get('name') or '-'))}"
                      f"{'  (preprocessing: ' + _value(shown) + ')' if shown else ''}", highlight=False,
                      soft_wrap=True)
    console.print(_summary_table(metadata.spec))
    try:   # (for showing it: whether it can be used is the entry's `problem`)
        config = recorded_config(metadata)
    except ConfigError:
        config = None
    if config is not None:
        console.print(_settings_table(config))
    elif metadata.config:
        console.print(_mapping_table("Config (as recorded)", metadata.config))
    if metadata.metrics:
        console.print(_mapping_table("Final metrics", metadata.metrics))
    if metadata.history:
        console.print(_history_table(metadata.history))
    if metadata.checkpoint is not None:
        part = metadata.checkpoint
        console.print(f"checkpoint after epoch {part['epoch']}: {part['optimizer']['type']} at step "
                      f"{part['optimizer']['step']}"
                      f"{', schedule ' + part['scheduler']['type'] if part['scheduler'] else ''}"
                      f"{', early stopping' if part['early_stopping'] else ''}", highlight=False)
    if entry.problem is not None:
        return fail(PROG, f"{path}: will not load: {entry.problem}")
    return 0


def _summary_table(spec: dict) -> Table:
    summary = summarize(spec)
    table = Table(title="Model", caption=f"{summary.total_params:,} parameters")
    for column in ("layer", "type", "settings", "output shape"):
        table.add_column(column)
    table.add_column("params", justify="right")
    table.add_row("", "input", "", "x".join(map(str, summary.input_shape)), "")
    for row in summary:
        table.add_row(row.name, row.type, escape(row.settings), "x".join(map(str, row.output_shape)), f"{row.params:,}")
    return table


def _settings_table(config: RunConfig, recorded: dict | None = None) -> Table:
    """The run's settings, a row per section: its choice first (adam, cosine), then each setting that applies
    to that choice (no Adam betas for SGD), as `name=value` in the words of a config file. With `recorded` (the
    settings as a run's history holds them), only those: a baseline records no model, optimizer or schedule."""
    table = Table(title="Settings", show_header=False)
    table.add_column("section", style="bold")
    table.add_column("settings", overflow="fold")
    synthetic = SYNTHETIC.get(config.data.name)
    defaults = synthetic.defaults() if synthetic is not None else {}
    for section in SECTIONS:
        parts = []
        if recorded is not None and not isinstance(recorded.get(section), dict):
            continue
        for s in section_settings(section):
            value = config.get(s.path)
            if s.machine or not config.applies(s.path) or value is None or value == "" or \
                    (recorded is not None and s.name not in recorded[section]):
                continue
            if s.path == "model.preset":
                parts.append("its own spec (the Model table)" if config.model.spec else f"preset {escape(value)}")
            elif s.name == "name":
                parts.append(escape(value))
            elif not isinstance(value, dict):
                parts.append(f"{s.name}={_setting_text(s, value, defaults.get(s.name))}")
        table.add_row(section, ", ".join(parts))
    return table


def _setting_text(setting: Setting, value, default=None) -> str:
    """A setting's value as a config file writes it (true, 0.001, 1e-08); for its special value "default", with
    what that is when known ("default (1000)": a synthetic set's own)."""
    if setting.special is not None and value == setting.special[0]:
        return "default" if default is None else f"default ({_setting_text(setting, default)})"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return number_text(value)
    return escape(str(value))


def _mapping_table(title: str, values: dict) -> Table:
    table = Table(title=title, show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in itertools.islice(values.items(), MAPPING_ROWS):
        table.add_row(_clip(str(key)), _value(value))
    if len(values) > MAPPING_ROWS:
        table.add_row("...", f"and {len(values) - MAPPING_ROWS:,} more")
    return table


def _value(value, depth: int = 0) -> str:
    """A config or metric value in one short line: objects as key=value lists (nested ones in braces), long
    objects, lists and texts elided."""
    if isinstance(value, dict):
        if depth > 2:
            return "{...}"
        items = itertools.islice(value.items(), OBJECT_ITEMS)
        text = ", ".join(f"{_clip(str(k))}={_value(v, depth + 1)}" for k, v in items)
        text += ", ..." if len(value) > OBJECT_ITEMS else ""
        return f"{{{text}}}" if depth else text
    if isinstance(value, list):
        shown = ", ".join(_value(v, depth + 1) for v in value[:LIST_ITEMS])
        return f"\\[{shown}{', ...' if len(value) > LIST_ITEMS else ''}]"   # "\\[": a bracket, not Rich markup
    return _number(value)


def _history_table(history: list[dict]) -> Table:
    present = [(key, title) for key, title in _HISTORY_COLUMNS if any(key in entry for entry in history)]
    table = Table(title="History", caption=f"{len(history)} epochs")
    for _, title in present:
        table.add_column(title, justify="right")
    rows: list[dict | None] = list(history)
    if len(rows) > HISTORY_ROWS:
        rows = rows[:3] + [None] + rows[-(HISTORY_ROWS - 4):]
    losses = {key: iter(aligned_numbers([entry.get(key) for entry in rows if entry is not None]))
              for key in ("train_loss", "val_loss")}   # (a column's losses with the same decimals)
    for entry in rows:
        if entry is None:
            table.add_row(*("..." for _ in present))
            continue
        cells = []
        for key, _ in present:
            value = entry.get(key)
            if key in losses:
                cells.append(next(losses[key]))
            elif key in ("train_acc", "val_acc") and isinstance(value, (int, float)) and not isinstance(value, bool):
                cells.append(_percent(value))
            elif key == "seconds" and isinstance(value, (int, float)):
                cells.append(f"{value:.1f}s" if value >= 0.95 else f"{value:.2g}s")   # (a small set's: "0.04s")
            else:
                cells.append(_number(value))
        table.add_row(*cells)
    return table


# ------------------------------------------------------------------------------------------ rm

def run_rm(args: argparse.Namespace) -> int:
    """`nnstudio saves rm NAME`: delete one save, after confirmation unless --yes.

    Only an nnstudio save is deleted (a ".safetensors" file whose header holds nnstudio's metadata):
    `rm ./notes.txt` by mistake must not remove a file this command never wrote.
    """
    try:
        path = resolve_save(args.name, _folder(args))
    except UsageError as error:
        return fail(PROG, str(error), 2)
    try:
        identify(path)
    except SaveError as error:
        return fail(PROG, f"not deleting {error}; `saves rm` deletes only nnstudio saves")
    if not args.yes:
        if not sys.stdin.isatty():
            return fail(PROG, f"not deleting {path} without confirmation: pass --yes", 2)
        print(f"Delete {path} ({size_text(path.stat().st_size)})? [y/N] ", end="", flush=True)
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            print(f"Kept {path}.")
            return 1
    try:
        delete(path)
    except SaveError as error:
        return fail(PROG, str(error))
    print(f"Deleted {path}.")
    return 0
