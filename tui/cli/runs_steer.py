"""`nnstudio runs pause|resume|stop|set RUN`: steer a run that another process trains (`nnstudio train --detach`,
under nohup or tmux, or a studio), through its run folder.

    nnstudio runs pause RUN          # it pauses after its batch; says where it stands once it has
    nnstudio runs resume RUN
    nnstudio runs stop RUN           # it stops after its batch and writes its checkpoint (resumable)
    nnstudio runs set RUN --lr 0.01 [--momentum X] [--weight-decay X] [--batch-size B]

Each command is sent through the run's folder (`nnstudio.tui.run.steering`) and answered by the
process that trains the run, in the run's history; this waits a few seconds for the answer and says
it in one line. Exit status: 0 done, 1 the run is not training, refused the command or did not
answer, 2 bad arguments (a run that is not there, a value its flag refuses).
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape

from nnstudio import saves

from ..run import SessionError
from ..run.arguments import UsageError, parse_flag
from ..run.following import steer
from ..run.run_names import find_run
from .common import FLAGS_BY_OPTION, fail
from .runs_view import folder_of

PROG = "nnstudio runs"
#: the flags of `runs set`: the live settings
LIVE_FLAGS = ("--lr", "--momentum", "--weight-decay", "--batch-size")
#: how long `stop` waits for the run's end (its checkpoint is written first)
STOP_SECONDS = 30.0
_BY = "nnstudio runs {action}"


def register(actions: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    """Add pause, resume, stop and set to `nnstudio runs`; their parsers (the caller adds --saves-dir)."""
    run_help = "the run: its name, a part of it only that run has, or its folder"
    added = []
    for action, text in (("pause", "pause a run another process trains (after its batch)"),
                         ("resume", "resume a paused run another process trains"),
                         ("stop", "stop a run another process trains, with a checkpoint (resumable)")):
        parser = actions.add_parser(action, help=text, description=text[0].upper() + text[1:] + ": the command "
                                    "goes through the run's folder and the run answers it in its history.")
        parser.add_argument("run", metavar="RUN", help=run_help)
        parser.set_defaults(handler=run_steer, steer_action=action)
        added.append(parser)
    setting = actions.add_parser("set", help="change live settings of a run another process trains",
                                 description="Change live settings of a run another process trains: each value is "
                                             "checked as its flag is, sent through the run's folder and taken by "
                                             "the run between two batches (it answers in its history).")
    setting.add_argument("run", metavar="RUN", help=run_help)
    for option in LIVE_FLAGS:
        flag = FLAGS_BY_OPTION[option]
        setting.add_argument(option, dest=flag.dest, metavar=flag.metavar, help=flag.help())
    setting.set_defaults(handler=run_steer, steer_action="set")
    added.append(setting)
    return added


def run_steer(args: argparse.Namespace) -> int:
    action = args.steer_action
    try:
        run_dir = find_run(args.run, folder_of(args))
        changes = _changes(args) if action == "set" else []
    except UsageError as error:
        return fail(PROG + f" {action}", str(error), 2)
    except saves.SaveError as error:
        return fail(PROG + f" {action}", str(error), 2)
    console = Console(highlight=False, soft_wrap=True)
    try:
        if action == "set":
            for path, value in changes:
                answer = steer(run_dir, "set", by=_BY.format(action="set"), path=path, value=value)
                if not answer.answer.get("ok"):
                    return fail(PROG + " set", f"{answer.run.name} refused {path}: {answer.answer.get('why')}")
                console.print(f"{escape(answer.run.name)}: {path} set to {answer.answer.get('value')}")
            return 0
        return _steer(console, run_dir, action)
    except SessionError as error:
        return fail(PROG + f" {action}", str(error))


def _changes(args: argparse.Namespace) -> list[tuple[str, object]]:
    """The settings `runs set` changes, each checked by its flag's rules; UsageError if none is given."""
    changes = [(FLAGS_BY_OPTION[option].path, parse_flag(option, getattr(args, FLAGS_BY_OPTION[option].dest)))
               for option in LIVE_FLAGS if getattr(args, FLAGS_BY_OPTION[option].dest) is not None]
    if not changes:
        raise UsageError(f"name a setting to change: {', '.join(LIVE_FLAGS)}")
    return changes


def _steer(console: Console, run_dir, action: str) -> int:
    """pause, resume or stop, and wait for the run to say it was done: one line."""
    by = _BY.format(action=action)
    if action == "pause":
        answer = steer(run_dir, "pause", by=by,
                       done=lambda r: r.get("kind") == "status" and r.get("status") == "paused")
    elif action == "resume":
        answer = steer(run_dir, "resume", by=by)
    else:
        answer = steer(run_dir, "stop", by=by, why=f"stopped by {by}", wait=STOP_SECONDS,
                       done=lambda r: r.get("kind") == "end")
    name, said = answer.run.name, answer.answer
    if not said.get("ok"):
        return fail(PROG + f" {action}", f"{name} refused to {action}: {said.get('why')}")
    if said.get("why"):   # (nothing to do: "it was already paused")
        console.print(f"{escape(name)}: {escape(said['why'])}")
        return 0
    done = answer.done
    if action == "pause":
        console.print(f"paused {escape(name)} at {_where(done)}; resume it: {PROG} resume {escape(name)}" if done
                      else f"{escape(name)} pauses after its current batch")
    elif action == "resume":
        console.print(f"resumed {escape(name)}")
    elif done is not None:
        console.print(f"{escape(name)} {done.get('status')} at {_where(done)}; its checkpoint is written: "
                      f"nnstudio train --resume {escape(name)} goes on from there")
    else:
        console.print(f"{escape(name)} stops after its current batch (not yet within {STOP_SECONDS:g} s)")
    return 0


def _where(record: dict) -> str:
    """"epoch 4, batch 120" from a record's position (epochs done, batches into the next)."""
    done, into = record.get("at") or (0, 0)
    return f"epoch {done + 1}, batch {into}" if into else f"the end of epoch {done}"

