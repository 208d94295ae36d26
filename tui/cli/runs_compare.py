"""`nnstudio runs compare RUN RUN...`: the settings that tell runs apart and their final metrics side by side.

What is compared, and what cannot be (runs of different data sets or tasks), is the run core's
`compare`; this module prints it, or writes it as one JSON object (`--json`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nnstudio.saves.listing import describe_model

from ..run.config import ConfigError
from ..run.runs import ACCURACIES, NOT_APPLICABLE, Comparison, RunSummary, compare
from ..run.settings import setting_at
from .common import UsageError, aligned_numbers, fail, percent, plain
from .runs_view import PROG, folder_of, status_text, summaries
from .saves import _setting_text, _value

_METRIC_TITLES = {"train_loss": "train loss", "val_loss": "val loss", "train_acc": "train acc", "val_acc": "val acc"}


def run_compare(args: argparse.Namespace) -> int:
    """`nnstudio runs compare RUN RUN...`: what tells the runs apart, and how each ended."""
    try:
        runs = summaries(args.runs, folder_of(args))
    except UsageError as error:
        return fail(PROG, str(error), 2)
    if len(runs) < 2:
        return fail(PROG, f"compare needs two runs or more, got {len(runs)} (`nnstudio runs list` shows them)", 2)
    comparison = compare(runs)
    if args.json:
        print(json.dumps(plain(_comparison_record(comparison)), allow_nan=False))
        return 0
    console = Console()
    columns = [f"#{number}" for number in range(1, len(runs) + 1)]
    legend = Table(title="Runs compared", box=box.SIMPLE_HEAD, pad_edge=False)
    for title in ("", "run", "data set", "status", "epochs"):
        legend.add_column(title, overflow="fold", justify="right" if title == "epochs" else "left")
    for column, run in zip(columns, runs):
        legend.add_row(column, escape(str(run.path) if _shared_name(run, runs) else run.name),
                       escape(run.dataset or "-"), status_text(run), str(run.epochs_done))
    console.print(legend)
    for column, run in zip(columns, runs):
        if run.fork is not None:
            console.print(f"{column}: {escape(_fork_text(run, runs, columns))}", highlight=False, soft_wrap=True)
    if comparison.settings:
        table = Table(title="Settings that differ", box=box.SIMPLE_HEAD, pad_edge=False)
        table.add_column("setting", no_wrap=True)
        for column in columns:
            table.add_column(column, overflow="fold")
        for path, values in comparison.settings.items():
            table.add_row(escape(path), *(_setting_cell(path, value) for value in values))
        console.print(table)
    else:
        console.print("The runs have the same settings.", highlight=False)
    if comparison.metrics:
        table = Table(title="Final metrics", box=box.SIMPLE_HEAD, pad_edge=False)
        table.add_column("metric", no_wrap=True)
        for column in columns:
            table.add_column(column, justify="right")
        for metric in comparison.metrics:   # (one format per row: a loss's decimals, an accuracy's percent)
            if metric == "best":
                accuracy = runs[0].best_metric == "val_acc"
                table.add_row("best val acc" if accuracy else "best val loss", *_row([run.best for run in runs],
                                                                                      accuracy))
            else:
                table.add_row(_METRIC_TITLES[metric], *_row([run.final.get(metric) for run in runs],
                                                            metric in ACCURACIES))
        console.print(table)
    for problem in comparison.problems:
        console.print(f"[yellow]not compared[/]: {escape(problem)}", highlight=False, soft_wrap=True)
    return 0


def _shared_name(run: RunSummary, runs: list[RunSummary]) -> bool:
    """Whether another run compared has the same name (runs of two saves folders): then its path tells it apart."""
    return sum(other.name == run.name for other in runs) > 1


def _fork_text(run: RunSummary, runs: list[RunSummary], columns: list[str]) -> str:
    """"fork of #1@5 (lr 0.1 → 0.01)" when its parent is compared too, else the parent by name."""
    fork = run.fork
    parent = fork.parent
    for column, other in zip(columns, runs):
        if other is not run and _is_parent(other, run):
            parent = column
    return f"fork of {parent}" + (f"@{fork.epoch}" if fork.epoch is not None else "") + f" ({fork.changes_text()})"


def _is_parent(candidate: RunSummary, fork: RunSummary) -> bool:
    """Whether `candidate` is the run `fork` branched from: its folder, if the fork recorded it, else its name."""
    recorded = fork.origin.get("path")
    if isinstance(recorded, str) and recorded:
        try:
            return Path(recorded).resolve() == candidate.path.resolve()
        except OSError:
            return False
    return candidate.name == fork.fork.parent


def _setting_cell(path: str, value) -> str:
    if value is NOT_APPLICABLE:
        return "[dim]n/a[/]"
    if value is None:
        return "-"
    if path == "model.spec" and isinstance(value, dict):
        try:
            return escape(describe_model(value))
        except ValueError:   # (a spec this version cannot read)
            return _value(value)
    try:
        return _setting_text(setting_at(path), value)
    except ConfigError:   # (a setting of a newer version, a part of a model spec)
        return _value(value)


def _row(values: list, accuracy: bool) -> list[str]:
    """A metric's values across the runs: accuracies as percentages, losses with the same decimals."""
    if accuracy:
        return [percent(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else "-" for v in values]
    return aligned_numbers(values)


def _comparison_record(comparison: Comparison) -> dict:
    """The comparison as plain data: the runs with the final metrics compared, each differing setting's values
    (null where it does not apply or is not known: `applies` says which), and what is not compared."""
    runs = []
    for run in comparison.runs:
        final = {metric: run.final.get(metric) for metric in comparison.metrics if metric != "best"}
        record = {"name": run.name, "path": str(run.path), "dataset": run.dataset, "task": run.task,
                  "status": run.status, "epochs_done": run.epochs_done,
                  "fork_of": run.fork.as_record() if run.fork else None, "final": final}
        if "best" in comparison.metrics:
            record.update(best=run.best, best_metric=run.best_metric)
        runs.append(record)
    settings = [{"setting": path, "values": [None if v is NOT_APPLICABLE else v for v in values],
                 "applies": [v is not NOT_APPLICABLE for v in values]}
                for path, values in comparison.settings.items()]
    return {"runs": runs, "settings": settings, "metrics": list(comparison.metrics),
            "not_compared": comparison.problems}
