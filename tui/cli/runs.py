"""`nnstudio runs`: list, inspect, compare and delete the runs kept in the saves folder's runs/.

    nnstudio runs list [--json]                          name, data set, model, optimizer and lr, epochs, best,
                                                         status, size; newest first (--json: one object a line)
    nnstudio runs show RUN                               settings, origin, epochs, how it ended, checkpoints
    nnstudio runs compare RUN RUN... [--json]            the settings that differ, the final metrics side by side
    nnstudio runs rm RUN... [--yes]                      delete run folders (asks first unless --yes)
    nnstudio runs prune [RUN...] [--keep-last N] [--older-than DAYS] [--interrupted] [--dry-run] [--yes]
                                                         delete ended runs' checkpoints (of every run, or of
                                                         those named), keep their histories

RUN is a run's name in <saves>/runs (`--saves-dir`), a part of one that only that run has
(`run_names.find_run`), or a path to a run folder. Errors print one
line to stderr: exit status 2 for bad arguments (a run that is not there, a path `rm` refuses),
1 for failures (a run a live process trains, a file that cannot be deleted, a declined
confirmation). The summaries are the run core's (`nnstudio.tui.run.runs`), the deleting the saves
layer's (`nnstudio.saves.run_folders`); `runs_view` (list, show), `runs_compare` and `runs_delete`
(rm, prune) print, and this module registers the command.
"""

from __future__ import annotations

import argparse

from nnstudio.engine.fields import Field

from .common import FLAGS_BY_OPTION, field_type
from .runs_compare import run_compare
from .runs_delete import run_prune, run_rm
from .runs_view import run_list, run_show

#: the longest --older-than (a century): a run's age, not a number too large to be a time
MAX_DAYS = 36_500.0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `runs` command and its actions to the `nnstudio` parser."""
    parser = subparsers.add_parser(
        "runs", help="list, compare and delete the runs kept in the saves folder",
        description="List, inspect, compare and delete runs: every run (from the studio or nnstudio train) keeps "
                    "its folder in the saves folder's runs/, with its checkpoints and its whole history.")
    actions = parser.add_subparsers(dest="runs_action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="every run, newest first")
    listing.add_argument("--json", action="store_true", help="one JSON object per run and line, for scripts")
    listing.set_defaults(handler=run_list)

    show = actions.add_parser("show", help="a run's settings, origin, epochs, end and checkpoints")
    show.add_argument("run", metavar="RUN", help="a run's name in the runs folder, a part of it only that run has "
                                                 "(its start, or its end: the time it started), or a path")
    show.set_defaults(handler=run_show)

    comparing = actions.add_parser("compare", help="the settings that differ and the final metrics side by side",
                                   description="The settings that tell the runs apart (those that apply to none of "
                                               "them hidden) and their final metrics side by side; runs of "
                                               "different data sets or tasks get their settings compared and a "
                                               "line saying why their metrics are not.")
    comparing.add_argument("runs", metavar="RUN", nargs="+", help="two runs or more (names, parts of names, or paths)")
    comparing.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    comparing.set_defaults(handler=run_compare)

    remove = actions.add_parser("rm", help="delete runs (their folders)",
                                description="Delete run folders: only folders inside the runs folder (never a "
                                            "symbolic link or anything outside it), never a run a live process "
                                            "trains.")
    remove.add_argument("runs", metavar="RUN", nargs="+", help="runs to delete (names, parts of names that mean one run, or paths)")
    remove.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    remove.set_defaults(handler=run_rm)

    prune = actions.add_parser(
        "prune", help="delete the checkpoints of ended runs, keeping their histories",
        description="Delete the checkpoints (.safetensors files) of runs that ended (finished, early-stopped, "
                    "stopped, diverged, failed), keeping run.json and history.jsonl: a pruned run is still "
                    "listed, shown and compared, but can no longer be resumed. Also removes the lock files "
                    "ended runs left. A running run is never touched; an interrupted one only with --interrupted.")
    prune.add_argument("runs", metavar="RUN", nargs="*",
                       help="prune only these runs (names, parts of names that mean one run, or paths); "
                            "default: every run that ended")
    prune.add_argument("--keep-last", type=field_type(Field("--keep-last", int, low=0)), default=0, metavar="N",
                       help="keep the checkpoints of the N newest of the runs it would prune (default 0)")
    prune.add_argument("--older-than", type=field_type(Field("--older-than", float, low=0.0, high=MAX_DAYS)),
                       metavar="DAYS",
                       help="prune only runs last updated more than DAYS days ago")
    prune.add_argument("--interrupted", action="store_true",
                       help="prune interrupted runs (cut off, resumable) too: they can no longer be resumed then")
    prune.add_argument("--dry-run", action="store_true", help="say what would be deleted, and delete nothing")
    prune.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    prune.set_defaults(handler=run_prune)

    for action in (listing, show, comparing, remove, prune):
        action.add_argument("--saves-dir", metavar="DIR", help=FLAGS_BY_OPTION["--saves-dir"].help())
