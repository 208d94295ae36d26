"""`nnstudio runs rm RUN...` and `runs prune`: deleting runs and checkpoints, after confirmation.

Which runs `prune` deletes the checkpoints of is the run core's `prune_plan`; the deleting, with
its guards (only run folders inside the runs folder, never a run a live process holds), is the
saves layer's (`saves.run_folders`). This module asks, says what it does and how much it freed.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from nnstudio import saves
from nnstudio.saves import SaveError

from ..render import size_text
from ..run.run_names import find_run
from ..run.runs import PrunePlan, list_runs, prune_plan
from .common import UsageError, fail
from .runs_view import PROG, count, epochs_text, folder_of, summaries


def now() -> datetime:
    """The time `prune --older-than` counts from (a test sets its own)."""
    return datetime.now(timezone.utc)


def _confirmed(question: str) -> bool | None:
    """Ask on a terminal: True if answered yes, False if not, None if there is no terminal to ask on."""
    if not sys.stdin.isatty():
        return None
    print(f"{question} [y/N] ", end="", flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _deletable(name: str, folder: Path, home: Path) -> Path:
    """The run folder `name` means (`find_run`: a part of a name must mean one run); UsageError unless it is a
    run folder inside the runs folder `home` (`saves.run_folder_in`)."""
    try:
        path = find_run(name, folder)
    except SaveError as error:
        raise UsageError(str(error)) from None
    try:
        saves.run_folder_in(path, home)
    except SaveError as error:
        raise UsageError(f"not deleting {error}") from None
    return path


def run_rm(args: argparse.Namespace) -> int:
    """`nnstudio runs rm RUN...`: delete run folders, after confirmation unless --yes.

    Every run named is checked before anything is deleted: a name that is not there, a path
    outside the runs folder, a symbolic link, a folder that is not a run's (exit 2), and a run a
    live process trains (exit 1) delete nothing at all.
    """
    try:
        folder = folder_of(args)
        home = saves.runs_folder(folder)
        # (first: a path outside the runs folder is told so, whatever it holds)
        paths = [_deletable(name, folder, home) for name in args.runs]
        runs = summaries([str(path) for path in paths], folder)
    except UsageError as error:
        return fail(PROG, str(error), 2)
    for run in runs:
        if run.status == "running":
            return fail(PROG, f"not deleting {run.path}: a live nnstudio process is training it; stop it first")
    for name, path in zip(args.runs, paths):   # (a part of a name: say which run it means before it goes)
        if name.rstrip("/" + os.sep) not in (path.name, str(path)):
            print(f"{name!r} is the run {path.name}")
    size = size_text(sum(run.size for run in runs))
    if not args.yes:
        what = f"the run {runs[0].name}" if len(runs) == 1 else f"these {len(runs)} runs"
        for run in runs if len(runs) > 1 else []:
            print(f"  {run.name}  ({run.status}, {epochs_text(run.epochs_done)}, {size_text(run.size)})")
        about = (f"{runs[0].status}, {epochs_text(runs[0].epochs_done)}, " if len(runs) == 1 else "") + size
        answer = _confirmed(f"Delete {what} ({about})?")
        if answer is None:
            return fail(PROG, f"not deleting {what} without confirmation: pass --yes", 2)
        if not answer:
            print(f"Kept {what}.")
            return 1
    status, freed = 0, 0
    for run in runs:
        try:
            freed += saves.remove_run(run.path, home)
        except SaveError as error:
            status = fail(PROG, f"not deleted: {error}")
            continue
        print(f"Deleted {run.path}.")
    print(f"Freed {size_text(freed)}.")
    return status


# ---------------------------------------------------------------------------------------- prune

def run_prune(args: argparse.Namespace) -> int:
    """`nnstudio runs prune`: delete the checkpoints of ended runs (`prune_plan` says which), keep their
    histories, and remove the lock files ended runs left."""
    try:
        folder = folder_of(args)
        named = {run.path for run in summaries(args.runs, folder)} if args.runs else None
    except UsageError as error:
        return fail(PROG, str(error), 2)
    runs = [run for run in list_runs(folder) if named is None or run.path in named]
    older = timedelta(days=args.older_than) if args.older_than is not None else None
    plan = prune_plan(runs, keep_last=args.keep_last, older_than=older, now=now(), interrupted=args.interrupted)
    console = Console()
    for run in runs if named is not None else []:   # (a run named that has nothing left to prune: say why)
        if run.pruned and not saves.checkpoint_files(run.path):
            console.print(f"{escape(run.name)} was pruned already", highlight=False, soft_wrap=True)
    reasons: dict[str, list[str]] = {}
    for run, why in plan.kept:
        reasons.setdefault(why, []).append(run.name)
    for why, names in reasons.items():
        console.print(f"keeping {escape(', '.join(names))}: {escape(why)}", highlight=False, soft_wrap=True)
    if not plan.prune and not plan.locks:
        where = "of the runs named" if named is not None else f"in {escape(str(saves.runs_folder(folder)))}"
        console.print(f"Nothing to prune {where}.", highlight=False)
        return 0
    size = size_text(plan.size)
    pruning = {run.path for run in plan.prune}
    stale = [run for run in plan.locks if run.path not in pruning]
    asking = not args.dry_run and not args.yes
    _print_plan(console, plan, size, would=args.dry_run or asking)
    if args.dry_run:
        console.print("Nothing deleted (--dry-run).", highlight=False)
        return 0
    if plan.prune and not args.yes:
        what = f"the checkpoints of {count(len(plan.prune), 'run')}"
        answer = _confirmed(f"Delete these checkpoints and free {size}?")
        if answer is None:
            return fail(PROG, f"not deleting {what} without confirmation: pass --yes (or --dry-run to see what "
                              f"would go)", 2)
        if not answer:
            print("Nothing deleted.")
            return 1
    status, freed, pruned = 0, 0, 0
    home = saves.runs_folder(folder)
    for run in plan.prune:
        try:
            freed += saves.prune_run(run.path, home)   # (its lock file too)
            pruned += 1
        except SaveError as error:
            status = fail(PROG, f"not pruned: {error}")
    for run in stale:
        saves.remove_stale_lock(run.path, home)
    locks = sum(not (run.path / saves.checkpoints.LOCK_FILE).exists() for run in plan.locks)
    removed = _locks_text(locks)
    if pruned:
        console.print(f"Pruned {count(pruned, 'run')}: freed {size_text(freed)}" + (f"; removed {removed}" if locks
                      else "") + f". {KEPT} still show them; they can no longer be resumed or forked.",
                      highlight=False, soft_wrap=True)
    elif locks:
        console.print(f"Removed {removed}; no checkpoints were deleted.", highlight=False, soft_wrap=True)
    return status


#: what a pruned run keeps, and who still reads it
KEPT = "Their settings and histories are kept: `nnstudio runs list`, `show` and `compare`"


def _print_plan(console: Console, plan: PrunePlan, size: str, *, would: bool) -> None:
    """What pruning deletes (each run's checkpoints and their size), what it keeps, and what that costs: a
    pruned run can be compared but no longer resumed or forked (said of each that could be until now)."""
    if plan.prune:
        console.print(f"Pruning {'would delete' if would else 'deletes'} the checkpoints (saved weights) of "
                      f"{count(len(plan.prune), 'run')}, {size} in all:", highlight=False)
        for run in plan.prune:
            resumable = (f", {'still resumable' if would else 'resumable until now'}"
                         if run.resumable and run.status in ("stopped", "interrupted") else "")
            console.print(f"  {escape(run.name)} ({run.status}{resumable}, {epochs_text(run.epochs_done)}: "
                          f"{size_text(saves.disk_usage(saves.checkpoint_files(run.path)))})", highlight=False,
                          soft_wrap=True)
        if would:   # (once done, the last line says it)
            console.print(f"{KEPT} would still show them, but they could no longer be resumed or forked.",
                          highlight=False, soft_wrap=True)
    if plan.locks and would:
        console.print(f"It would also remove {_locks_text(len(plan.locks))}.", highlight=False, soft_wrap=True)


def _locks_text(n: int) -> str:
    """"1 lock file an ended run left behind", "2 lock files ended runs left behind"."""
    return f"{count(n, 'lock file')} {'an ended run' if n == 1 else 'ended runs'} left behind"
