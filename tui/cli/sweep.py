"""`nnstudio sweep`: train one set-up many times with settings varied, and rank the trials.

    nnstudio sweep --dataset spirals --lr 1e-3,1e-2,1e-1 --optimizer sgd,adam      # a grid: 6 trials
    nnstudio sweep --lr 1e-4..1e-1:4 --batch-size 32,128 --workers 2                # 8 trials, 2 at a time
    nnstudio sweep --lr 1e-4..1e-1 --weight-decay 0,1e-4,1e-3 --trials 10          # 10 drawn at random
    nnstudio sweep --resume [NAME]                                                  # finish a sweep cut off
    nnstudio sweep --experiment optimizers --workers 2                              # a ready-made lesson
    nnstudio sweep --experiment list                                                # what each one teaches
    nnstudio sweep --lr 1e-4..1e-1:8 --executor dask --scheduler tcp://10.0.0.5:8786  # the trials on a Dask cluster

Every train flag takes a list (`a,b,c`) or a range (`A..B:N`, log-spaced from A > 0; see
`nnstudio.tui.run.sweeps`); flags with one value set what every trial shares. Everything is
checked before anything trains: one line naming the flag, exit status 2; then each data set the
trials use is loaded once, and one that cannot be is refused as `train` refuses it (one line,
exit status 1), before anything is made (a stand-in's notice is said once, here). Each trial is a
kept run (`nnstudio runs list`), trained in a process of its own with one BLAS thread, `--workers`
at a time; the sweep itself is kept in the saves folder's sweeps/ (its --workers too: `--resume`
finishes it with them). One line per trial as it starts and ends, then the trials ranked by
validation accuracy (validation loss for models without classes); `--json` prints one JSON object
per trial as it ends instead, then a summary object (`sweep_report.summary`). `--resume NAME` of a
sweep that has run all its trials shows its ranking again and says there is nothing left to run.

A ready-made experiment (`nnstudio.tui.run.experiments`) plans its own trials and says what it
teaches before it trains and what its runs show after the ranking; flags with one value change
what its trials share (--epochs, --data-dir, --dataset, --seed...), and a flag that would set
what it varies is refused (one line, exit status 2).

With `--executor dask` the trials are tasks of a Dask cluster (`nnstudio.tui.run.dask_executor`;
the extra `nnstudio[cluster]`), and their runs come back into the local runs folder. Nothing is
written before the scheduler answers: one that cannot be reached is one line and exit status 1
(a service that is down, as a failed download is; the arguments were right), and Dask not
installed is exit status 2 (the command cannot be used as typed).

Ctrl+C (or SIGTERM, SIGHUP) stops every running trial at its batch boundary with a checkpoint
and starts no more (on a cluster: the stopped runs are sent back first); a second quits at once.
A scheduler lost mid-sweep ends it: its running trials are said stopped (not failed: `--resume`
begins them again), the ranking of what finished, then one line saying so, exit status 1.
Exit status: 0 every trial ran (a diverged or failed trial is a result), 1 none could train, the
data set cannot be loaded, nothing to resume, or the scheduler cannot be reached or was lost,
2 bad arguments, 130 / 143 / 129 stopped.
"""

from __future__ import annotations

import argparse
import json
import signal
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from nnstudio import saves

from ..run.arguments import UsageError, add_run_flags, flags_given, run_config
from ..run.config import RunConfig
from ..run.dask_executor import ClusterError, DaskExecutor, SchedulerLost, scheduler_address
from ..run.executors import LocalExecutor
from ..run.reports import SessionError
from ..run.signals import HANGUP, STOP_SIGNALS, exit_status, forget_the_terminal
from ..run.sweep_folder import Sweep, sweeps_folder
from ..run.experiments import EXPERIMENTS, experiment
from ..run.sweeps import NOT_SWEPT, axis, plan_sweep
from ..run.training_data import check_datasets
from .common import fail, failure_status, one_line_errors
from .sweep_report import outcome, planned, ranking, show_lesson, summary, trial_result

PROG = "nnstudio sweep"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep", help="train a grid (or a random draw) of settings, each trial a kept run, and rank them",
        description="Train one set-up many times with settings varied. Any train flag takes a list of values "
                    "(--lr 1e-3,1e-2) or a range A..B:N (N values, log-spaced when A > 0: --lr 1e-4..1e-1:4); "
                    "the trials are every combination, or --trials N drawn at random (a range without :N is then "
                    "drawn from). Flags with one value set what every trial shares.",
        epilog="Exit status: 0 every trial ran (diverged and failed trials are results), 1 none could train, the "
               "data set cannot be loaded, nothing is left to resume, or the Dask scheduler was lost (finish with "
               "--resume), 2 bad arguments, 130 stopped with Ctrl+C (143 SIGTERM, 129 SIGHUP; finish with --resume).")
    one_line_errors(parser, PROG)
    add_run_flags(parser)
    parser.add_argument("--trials", type=int, metavar="N",
                        help="draw N trials at random (seeded by --seed) instead of running the whole grid")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="trials trained at once, each in a process of its own with one BLAS thread (default 1; "
                             "at most one per core is useful)")
    parser.add_argument("--executor", choices=("local", "dask"), default="local",
                        help="where the trials train: here (local, the default), or on a Dask cluster (dask, with "
                             "--scheduler; pip install 'nnstudio[cluster]'), their runs sent back here")
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                        help="the Dask scheduler's address, for --executor dask (its workers' threads decide how many "
                             "trials train at once)")
    parser.add_argument("--name", metavar="NAME", help="the sweep's name in the saves folder's sweeps/ "
                                                       "(default: data set, what varies, and when)")
    parser.add_argument("--resume", nargs="?", const="", metavar="NAME",
                        help="finish a sweep that was cut off: the latest one, or NAME (one that has run all its "
                             "trials is shown ranked), with the --workers it was started with unless given again")
    parser.add_argument("--experiment", metavar="NAME",
                        help=f"run a ready-made experiment ({', '.join(EXPERIMENTS)}; `--experiment list` says what "
                             "each teaches); other flags change what its trials share (e.g. --epochs, --data-dir), "
                             "not what it varies")
    parser.add_argument("--dry-run", action="store_true",
                        help="list the trials it would train (with --resume: those left), and train none")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per trial as it ends, then a summary (with --dry-run: one per planned "
                             "trial), on stdout")
    parser.set_defaults(handler=run_sweep)


class SweepStop:
    """The stop signals, counted: 1 stops the trials gently (checkpoints), 2 at once."""

    level = 0

    def handle(self, signum: int, frame=None) -> None:
        if signum == HANGUP:
            forget_the_terminal()
        self.signum = getattr(self, "signum", signum)
        self.level = min(2, self.level + 1)


class NothingLeft(Exception):
    """--resume with no trial left to run (exit status 1, as `train --resume` with nothing to resume): `sweep`, if
    one was named, is shown ranked."""

    def __init__(self, message: str, sweep: Sweep | None = None) -> None:
        super().__init__(message)
        self.sweep = sweep


def run_sweep(args: argparse.Namespace) -> int:
    if args.experiment == "list" and args.resume is None:
        _list_experiments(Console(highlight=False, soft_wrap=True))
        return 0
    show = Console(stderr=args.json, highlight=False, soft_wrap=True)
    try:
        _check_executor(args)
        if args.resume is not None:
            sweep, plan, notes = _resumed(args), None, []
        else:
            sweep, (plan, notes) = None, _experiment(args) if args.experiment is not None else _planned(args)
    except NothingLeft as nothing:
        if nothing.sweep is not None:
            _results(nothing.sweep, args, show)
        return fail(PROG, str(nothing), 1)
    except (UsageError, SessionError, ClusterError) as error:
        return fail(PROG, str(error), 2)
    for note in notes:
        show.print(f"[yellow]note:[/] {escape(note)}")
    if args.dry_run:
        _dry_run(sweep, plan, args.json)
        return 0
    if args.executor == "local":   # (on a cluster, its workers load the data set, from their own --data-dir)
        configs = [RunConfig.from_dict(t.config) for t in sweep.tasks()] if sweep is not None else \
            [plan.config(t) for t in plan.trials]
        try:
            notices = check_datasets(configs)
        except SessionError as error:
            return fail(PROG, str(error), failure_status(error))
    else:
        notices = []
    try:
        workers = args.workers or (sweep.workers if sweep is not None else None) or 1
        executor = DaskExecutor.connect(args.scheduler) if args.executor == "dask" else LocalExecutor(workers)
    except ClusterError as error:
        return fail(PROG, str(error), 1)
    try:
        if sweep is None:
            sweep = Sweep.create(plan, plan.base.checkpoints.folder, args.name,
                                 workers=workers if args.executor == "local" else None)
        return _train(sweep, args, show, executor, notices)
    except SessionError as error:
        return fail(PROG, str(error), 2)
    finally:
        if isinstance(executor, DaskExecutor):
            executor.close()


def _check_executor(args: argparse.Namespace) -> None:
    """The executor's flags go together; Dask is there when it is asked for (ClusterError: install it)."""
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: give 1 or more")
    if args.executor == "local":
        if args.scheduler is not None:
            raise UsageError("--scheduler goes with --executor dask (the trials train here otherwise)")
        return
    if args.workers is not None:
        raise UsageError("--workers is for --executor local: on a cluster, its workers' threads decide how many "
                         "trials train at once")
    if not args.scheduler:
        raise UsageError("--executor dask needs --scheduler tcp://HOST:PORT, the address `dask scheduler` prints")
    scheduler_address(args.scheduler)
    if not args.dry_run:
        DaskExecutor.check_installed()


def _swept(args: argparse.Namespace) -> tuple[list, argparse.Namespace]:
    """The flags given more than one value (as axes), and the arguments with those left out."""
    axes, shared = [], argparse.Namespace(**vars(args))
    for option in flags_given(args):
        if option == "--config":
            continue
        dest = option.lstrip("-").replace("-", "_")
        text = getattr(args, dest)
        if "," in text or (".." in text and option not in ("--model", *NOT_SWEPT)):   # (../data is a folder)
            axes.append(axis(option, text))
            setattr(shared, dest, None)
    return axes, shared


def _planned(args: argparse.Namespace) -> tuple:
    """The sweep's plan (its base's saves folder set), and notes on what was asked and changed."""
    axes, shared = _swept(args)
    base = run_config(shared)
    folder = saves.folder_or_default(base.checkpoints.folder)
    base = base.replace(**{"checkpoints.folder": str(folder)})
    plan = plan_sweep(base, axes, trials=args.trials, seed=base.training.seed)
    notes = []
    if args.trials is not None and len(plan.trials) < args.trials:
        count = len(plan.trials)
        notes.append(f"--trials {args.trials}: the values given make only {count} different trial"
                     f"{'s' if count != 1 else ''}; {'all ' if count != 1 else ''}{count} run")
    return plan, notes


def _experiment(args: argparse.Namespace) -> tuple:
    """A ready-made experiment's plan (as `_planned`): its base settings, changed by the flags given, and its own
    trials."""
    exp = experiment(args.experiment)
    if args.config is not None:
        raise UsageError("--config cannot be combined with --experiment: an experiment brings its own settings; "
                         "change what its trials share with flags, e.g. --epochs 3")
    if args.trials is not None:
        raise UsageError(f"--trials cannot be combined with --experiment: the {exp.name} experiment runs its own "
                         f"{len(exp.variants)} trials")
    axes, _ = _swept(args)
    if axes:
        raise UsageError(f"{axes[0].option} {','.join(axes[0].texts)}: an experiment plans its own trials; give "
                         "the settings they share one value each")
    refused = exp.refused(flags_given(args))
    if refused is not None:
        raise UsageError(f"{refused}: the {exp.name} experiment varies it itself ({', '.join(exp.options)}); leave "
                         f"it out. Other flags change what its trials share, e.g. --epochs, --data-dir, --seed")
    base = run_config(args, base=exp.base_config())
    folder = saves.folder_or_default(base.checkpoints.folder)
    return exp.plan(base.replace(**{"checkpoints.folder": str(folder)})), []


def _list_experiments(show: Console) -> None:
    for exp in EXPERIMENTS.values():
        labels = " | ".join(trial.label for trial in exp.plan(exp.base_config()).trials)
        show.print(f"[bold]{exp.name}[/]  {escape(exp.title)}  [dim]({len(exp.variants)} trials: {escape(labels)})[/]")
        show.print(f"  {escape(exp.lesson)}")
        show.print(f"  Look at {escape(exp.look_at)}.  [dim]nnstudio sweep --experiment {exp.name} --workers 2[/]")
    show.print("Flags change what an experiment's trials share (--epochs, --data-dir, --dataset, --seed...), "
               "not what it varies.")


def _resumed(args: argparse.Namespace) -> Sweep:
    """The sweep --resume [NAME] finishes; NothingLeft if it (or, without NAME, every sweep) has run all its
    trials."""
    clashing = [o for o in flags_given(args) if o != "--saves-dir"] + (["--trials"] if args.trials else []) + \
        (["--experiment"] if args.experiment is not None else [])
    if clashing:
        raise UsageError(f"{clashing[0]} cannot be combined with --resume: a sweep goes on with its own settings")
    folder = saves.folder_or_default(getattr(args, "saves_dir", None))

    def left(sweep: Sweep) -> bool:
        return bool(sweep.tasks() or sweep.ended_outside())

    name = args.resume
    if not name:
        found = sorted((p for p in sweeps_folder(folder).glob("*/sweep.json")), key=lambda p: p.stat().st_mtime)
        unfinished = [p.parent.name for p in found if left(Sweep.open(p.parent.name, folder))]
        if not unfinished:
            raise NothingLeft(f"nothing to resume: no sweep to finish in {sweeps_folder(folder)}, every one there has "
                              "run all its trials (see one ranked: nnstudio sweep --resume NAME)")
        name = unfinished[-1]
    sweep = Sweep.open(name, folder)
    if not left(sweep):
        raise NothingLeft(f"sweep {sweep.name} has run all its trials: nothing left to run", sweep)
    return sweep


def _dry_run(sweep: Sweep | None, plan, json_out: bool) -> None:
    """--dry-run: the trials it would train (of a resumed sweep: those left), one line (or JSON object) each."""
    if sweep is None:
        listed = [(trial, None) for trial in plan.trials]
    else:
        plan, trials = sweep.plan, {t.number: t for t in sweep.plan.trials}
        listed = [(trials[task.number], Path(task.resume).name if task.resume else None) for task in sweep.tasks()]
        for number in sweep.ended_outside():
            if not json_out:
                print(f"trial {number}: {trials[number].label} (its run {sweep.runs[number]} ended outside the "
                      "sweep: its result is taken from it, nothing trained)")
    for trial, run in listed:
        if json_out:
            print(json.dumps(planned(trial, plan, run)), flush=True)
        else:
            print(f"trial {trial.number}: {trial.label}" + (f" (goes on with its run {run})" if run else ""))


def _results(sweep: Sweep, args: argparse.Namespace, show: Console) -> None:
    """A sweep's results: ranked, its lesson (an experiment's), and with --json the summary object."""
    ranking(sweep, show)
    exp = EXPERIMENTS.get(sweep.plan.experiment or "")
    if exp is not None:
        show_lesson(exp, sweep, show)
    if args.json:
        print(json.dumps(summary(sweep)), flush=True)


def _train(sweep: Sweep, args: argparse.Namespace, show: Console, executor, notices: list[str]) -> int:
    trials, tasks, outside = sweep.plan.trials, sweep.tasks(), len(sweep.ended_outside())
    total, labels = len(trials), {t.number: t.label for t in trials}
    continued = {t.number for t in tasks if t.resume}   # (cut off before: they go on with their runs)
    before = total - len(tasks) - outside
    left = (f", {before} done before" if before else "") + \
        (f", {outside} trained to {'their' if outside != 1 else 'its'} end outside the sweep (taken from "
         f"{'their runs' if outside != 1 else 'its run'})" if outside else "")
    where = f"on the Dask cluster at {escape(args.scheduler)} ({executor.describe()})" \
        if isinstance(executor, DaskExecutor) else f"{executor.workers} at a time"
    show.print(f"sweep [bold]{escape(sweep.name)}[/]: {len(tasks)} trial{'s' if len(tasks) != 1 else ''} to train"
               f"{left}, {where}; runs in {escape(str(saves.runs_folder(sweep.plan.base.checkpoints.folder)))}")
    exp = EXPERIMENTS.get(sweep.plan.experiment or "")
    if exp is not None:
        show.print(f"[bold]{escape(exp.title)}[/]. {escape(exp.lesson)} Look at {escape(exp.look_at)}.")
    stop = SweepStop()
    previous = {s: signal.getsignal(s) for s in (*STOP_SIGNALS, HANGUP) if s is not None}

    noticed = set(notices)   # (every trial on the embedded digits says so: said once, before they start)
    for notice in notices:
        show.print(f"[yellow]notice:[/] {escape(notice)}")

    def news(number: int, record: dict) -> None:
        head = f"trial {number}/{total}  {escape(labels.get(number, ''))}"
        kind = record.get("kind")
        if kind == "notice" and str(record.get("text")) not in noticed:
            noticed.add(str(record.get("text")))
            show.print(f"{head}  [yellow]{escape(str(record.get('text')))}[/]")
        elif kind == "result":
            if args.json:
                print(json.dumps(trial_result(number, labels.get(number, ""), record)), flush=True)
            show.print(f"{head}  {outcome(record)}")
        elif kind == "retry" and record.get("worker"):   # (on a cluster: Dask's scheduler decides how often)
            show.print(f"{head}  [yellow]{escape(record.get('why', ''))}[/]")
        elif kind == "retry":
            show.print(f"{head}  [yellow]its worker died ({escape(record.get('why', ''))}); trying it once more[/]")
        elif kind == "started" and record.get("run"):
            begun = "continued from its checkpoint" if number in continued else "started"
            show.print(f"{head}  {begun} [dim](run {escape(record['run'])})[/]")
        elif kind == "started":
            show.print(f"{head}  started [dim](on {escape(str(record.get('worker', 'a worker')))})[/]")

    for signum in previous:
        signal.signal(signum, lambda s, f: (stop.handle(s, f), _say_stopping(show, stop, sweep, executor)))
    lost = None
    try:
        sweep.run(executor, news, stop)
    except SchedulerLost as error:   # (its running trials said stopped: --resume runs them again)
        lost = error
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    _results(sweep, args, show)
    if lost is not None:
        return _say_lost(lost, sweep, args)
    if stop.level:
        show.print(f"Stopped. Finish it with: nnstudio sweep --resume {escape(sweep.name)}")
        return exit_status(getattr(stop, "signum", signal.SIGINT))
    results = [sweep.results.get(t.number) or {} for t in trials]
    return 1 if all(r.get("status") == "failed" for r in results) else 0


def _say_lost(lost: SchedulerLost, sweep: Sweep, args: argparse.Namespace) -> int:
    """The scheduler gone mid-sweep: one line saying so and how to finish the sweep; exit status 1 (a service that
    went down)."""
    left = len(sweep.tasks())
    saves_dir = f" --saves-dir {args.saves_dir}" if getattr(args, "saves_dir", None) else ""
    return fail(PROG, f"{lost}: {left} trial{'s' if left != 1 else ''} not finished; finish "
                      f"{'them' if left != 1 else 'it'} with nnstudio sweep --resume {sweep.name}{saves_dir}, on the "
                      f"cluster once it is back (add --executor dask --scheduler {args.scheduler}) or here", 1)


def _say_stopping(show: Console, stop: SweepStop, sweep: Sweep, executor) -> None:
    if isinstance(executor, DaskExecutor) and not executor.connected():
        return   # (the scheduler lost: nothing comes back, as the line that follows says)
    if stop.level == 1 and isinstance(executor, DaskExecutor):
        show.print("[yellow]Stopping: no more trials are sent; each running one stops at its next batch on its "
                   "worker, and its run, with a checkpoint, is sent back here (again: leave at once, and the running "
                   f"trials' work on the cluster is lost). nnstudio sweep --resume {escape(sweep.name)} finishes the "
                   "rest.[/]")
    elif stop.level == 1:
        show.print("[yellow]Stopping: each running trial stops at its next batch and keeps a checkpoint "
                   f"(again: at once). nnstudio sweep --resume {escape(sweep.name)} finishes the rest.[/]")
