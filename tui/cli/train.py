"""`nnstudio train`: train a model without the studio, printing what the training session reports.

    nnstudio train --dataset spirals --epochs 20 --lr 0.01
    nnstudio train --config run.toml --save my-model       # a TOML config; flags change single settings
    nnstudio train --from my-model --epochs 5              # continue a save's weights (--reinit: from scratch)
    nnstudio train --resume [RUN]                          # continue an interrupted run exactly
    nnstudio train --fork RUN@8 --lr 1e-4                  # a new run from RUN's epoch 8 (`run.forking`)
    nnstudio train ... --json                              # one JSON object per line on stdout, for scripts
    nnstudio train --from my-model --write-config run.toml # its settings as a file to edit; nothing trained

The command holds no training logic: it builds a `RunConfig`, hands it to a `Session`, shows
the session's events (a model summary, a progress bar, one table row per epoch, a summary) and
exits. Everything typed is checked before anything is loaded or written, so a typo costs
nothing: one line on stderr naming the flag (or the config file and setting) and what is
allowed. Ctrl+C, SIGTERM and SIGHUP (a dropped SSH connection) stop after the current batch and
write a checkpoint; a second Ctrl+C or SIGTERM quits at once (`nnstudio.tui.run.signals`).

Epochs are numbered across a save and its continuations, and `--epochs N` always means "up to
epoch N" in that numbering, the epochs already trained included: `--from` a save trained for 3
epochs with `--epochs 5` trains 2 more and shows epochs 4/5 and 5/5; `--resume --epochs N` sets
the run's new planned total. Either way N must be more than the epochs already done.

Exit status: 0 finished (or stopped early by early stopping), 130 stopped with Ctrl+C (129
SIGHUP, 143 SIGTERM: 128 + the signal's number),
1 diverged, failed or could not start (a data set that cannot be loaded, nothing to resume),
2 bad arguments (including a save, run or file named that is not there, and a model that does
not fit the data set).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from nnstudio import saves

from ..run.arguments import UsageError, add_run_flags, flags_given, parse_flag, resolve_save, run_config
from ..run import forking
from ..run.run_names import find_run
from ..run.config import ConfigError, RunConfig, write_config
from ..run.signals import GracefulStop, exit_status, signal_of
from ..run import Notice, NothingToTrain, Session, SessionError, Status, saved_config
from .common import fail, failure_status, one_line_errors
from .report import PROG, Reporter

#: how each way a run can end maps to the exit status
EXIT_STATUS = {Status.FINISHED: 0, Status.EARLY_STOPPED: 0, Status.STOPPED: 130, Status.DIVERGED: 1, Status.FAILED: 1}
#: what a resumed run still accepts: it keeps its own settings, but may be given more epochs
RESUME_FLAGS = ("--epochs", "--saves-dir")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `train` command to the `nnstudio` parser."""
    parser = subparsers.add_parser(
        "train", help="train a model from the command line (headless)",
        description="Train a model from the command line. Settings come from the defaults (the model preset's "
                    "recommended settings first), then --config (or the save of --from), then the flags.",
        epilog="Exit status: 0 finished, 130 stopped with Ctrl+C (129 SIGHUP, 143 SIGTERM; resume with --resume), "
               "1 diverged or failed, "
               "2 bad arguments.")
    one_line_errors(parser, PROG)
    add_run_flags(parser)
    parser.add_argument("--no-checkpoints", action="store_true",
                        help="do not write a checkpoint each epoch (the run cannot be resumed then)")
    parser.add_argument("--save", metavar="NAME", help="save the trained model under NAME in the saves folder")
    parser.add_argument("--overwrite", action="store_true", help="let --save or --write-config replace a file")
    parser.add_argument("--resume", nargs="?", const="", metavar="RUN",
                        help="continue an interrupted run exactly: the latest one in <saves-dir>/runs, "
                             "or RUN (a run folder, its name or a part of it only that run has, or a checkpoint file)")
    parser.add_argument("--from", dest="from_save", metavar="SAVE",
                        help="start from a save's weights and settings (flags change single settings); "
                             "--epochs is then the total to train up to, the save's epochs included")
    parser.add_argument("--reinit", action="store_true", help="with --from: repeat its settings from fresh weights")
    parser.add_argument("--fork", metavar="RUN[@EPOCH]",
                        help="continue a run (its name, a part of it only that run has, or its folder) from its "
                             "checkpoint of EPOCH (default: its latest; a checkpoint's path, RUN/epoch-0029.safetensors, "
                             "is RUN@29) as a new run, with the settings the flags change (its data set and model "
                             "stay); its history starts with the parent's up to that epoch. Without --epochs it plans "
                             "its parent's total, or 5 more epochs when the parent had done all its own")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per line on stdout (each epoch, then the end); the display goes to stderr")
    parser.add_argument("--write-config", type=Path, metavar="FILE",
                        help="write the run's settings (the defaults, then --config or the save of --from, then "
                             "the flags) to FILE as TOML and exit without training; --config FILE runs them")
    parser.set_defaults(handler=run_train)


# ====================================================================== the plan: arguments checked
@dataclass
class Plan:
    """A run checked from the command line; nothing has been loaded or written yet."""

    folder: Path                      # the saves folder: runs/ for checkpoints, and --save's target
    config: RunConfig | None = None   # None when resuming: the checkpoint holds the settings
    resume: str | None = None         # "" means the latest interrupted run
    start_from: Path | None = None    # --from: a save to continue (or repeat, with --reinit)
    fork: tuple[Path, int, dict] | None = None   # --fork: the parent run folder, its epoch, the settings to change
    reinit: bool = False
    epochs: int | None = None         # a resumed run's new planned total
    save_name: str | None = None
    overwrite: bool = False
    write_config: Path | None = None  # --write-config: write the config there instead of training
    note: str | None = None           # what the training line adds about a choice made for the user


def make_plan(args: argparse.Namespace) -> Plan:
    """Check every argument and build the run's config: UsageError (exit 2) or SessionError (exit 1)."""
    _check_combinations(args)
    saves_dir = parse_flag("--saves-dir", args.saves_dir) if args.saves_dir is not None else None
    folder = saves.folder_or_default(saves_dir)
    if args.resume is not None:
        epochs = parse_flag("--epochs", args.epochs) if args.epochs is not None else None
        plan = Plan(folder, resume=args.resume, epochs=epochs)
    elif args.fork is not None:
        plan = _fork_plan(args, folder)
    else:
        start_from = resolve_save(args.from_save, folder, "--from") if args.from_save is not None else None
        config = run_config(args, base=saved_config(start_from) if start_from is not None else None,
                            extra={"checkpoints.every_epoch": False} if args.no_checkpoints else None)
        folder = saves.folder_or_default(config.checkpoints.folder)   # --config's file may name one
        config = config.replace(**{"checkpoints.folder": str(folder)})
        plan = Plan(folder, config=config, start_from=start_from, reinit=args.reinit)
        if start_from is not None and not args.reinit and args.write_config is None:
            _check_epochs_to_continue(args, start_from, config)
    if args.save is not None:
        _check_save_target(args.save, folder, args.overwrite)
        plan.save_name, plan.overwrite = args.save, args.overwrite
    if args.write_config is not None:
        plan.write_config = _check_config_target(args.write_config, args.overwrite)
    return plan


def _fork_plan(args: argparse.Namespace, folder: Path) -> Plan:
    """--fork RUN[@EPOCH]: the parent's checkpoint of that epoch, and the settings the flags change. Without
    --epochs the fork plans its parent's total, or `forking.EXTRA_EPOCHS` more when that is done by then."""
    try:
        run_dir, epoch = forking.fork_point(args.fork, folder)
        checkpoint, epoch = forking.fork_checkpoint(run_dir, epoch)
        parent = forking.parent_config(checkpoint)
    except SessionError as error:
        raise UsageError(str(error)) from None
    planned = forking.planned_epochs(parent.training.epochs, epoch)
    extra = {"training.epochs": planned} if args.epochs is None and planned != parent.training.epochs else None
    config = run_config(args, base=parent, extra=extra)
    changed = forking.changes(parent, config)
    fixed = forking.fixed_changes(changed)
    if fixed:
        raise UsageError(f"--fork goes on with the parent's data set and model, so {fixed[0]} cannot change; to "
                         f"train another, start from a save: {PROG} --from SAVE")
    if config.training.epochs <= epoch:
        raise UsageError(f"--fork {args.fork}: it starts after epoch {epoch} and would end at epoch "
                         f"{config.training.epochs}; pass --epochs {epoch + 1} or more (the total to train up to, e.g. "
                         f"--epochs {epoch + forking.EXTRA_EPOCHS})")
    note = (f"its parent had done all its {parent.training.epochs} epochs by then, so it trains "
            f"{forking.EXTRA_EPOCHS} more unless --epochs says another total" if extra else None)
    return Plan(folder, fork=(run_dir, epoch, {**changed, "checkpoints.folder": str(folder)}), note=note)


def _given(args: argparse.Namespace) -> list[str]:
    """The options typed on the command line that change settings (in the order --help lists them)."""
    given = flags_given(args)
    given += ["--no-checkpoints"] if args.no_checkpoints else []
    given += ["--from"] if args.from_save is not None else []
    given += ["--fork"] if args.fork is not None else []
    return given + (["--reinit"] if args.reinit else [])


def _check_combinations(args: argparse.Namespace) -> None:
    if args.write_config is not None and args.resume is not None:
        raise UsageError("--write-config writes the settings of a new run, so it cannot be combined with --resume; "
                         "for a run's own settings, name one of its checkpoints: --from CHECKPOINT --write-config FILE")
    if args.resume is not None:
        clashing = [option for option in _given(args) if option not in RESUME_FLAGS]
        if clashing:
            raise UsageError(f"{clashing[0]} cannot be combined with --resume: a resumed run keeps its own "
                             f"settings (only {', '.join(RESUME_FLAGS)}, --save and --json apply)")
    if args.write_config is not None and args.save is not None:
        raise UsageError("--save has nothing to save: --write-config writes the settings and trains nothing")
    if args.fork is not None:
        if args.no_checkpoints:
            raise UsageError("--fork cannot be combined with --no-checkpoints: a fork is kept as a run beside its "
                             "parent, to compare and fork again, and a run without checkpoints keeps no run folder; "
                             f"fork with them, then `nnstudio runs prune` deletes its checkpoints and keeps its history")
        clashing = [option for option in ("--from", "--config", "--reinit", "--write-config")
                    if (option == "--write-config" and args.write_config is not None) or option in _given(args)]
        if clashing:
            raise UsageError(f"--fork cannot be combined with {clashing[0]}: a fork starts from its parent's "
                             f"checkpoint and settings (flags change single settings)")
    if args.reinit and args.from_save is None:
        raise UsageError("--reinit needs --from SAVE (it repeats that save's settings from fresh weights)")
    if args.config is not None and args.from_save is not None:
        raise UsageError("--config and --from both give the whole configuration; use one (flags change single "
                         "settings)")
    if args.model is not None and args.from_save is not None and not args.reinit:
        raise UsageError("--model cannot change the model of a save continued with --from; add --reinit to "
                         "train the new model from fresh weights")


def _check_epochs_to_continue(args: argparse.Namespace, save: Path, config: RunConfig) -> None:
    """--from SAVE trains up to training.epochs, counting the save's own: refused now if that leaves nothing."""
    try:
        done = len(saves.read_metadata(save).history)
    except saves.SaveError as error:
        raise SessionError(str(error)) from None
    planned = config.training.epochs
    if planned > done:
        return
    more = f"ask for more, e.g. --epochs {done + max(done // 4, 5)}"
    if args.epochs is not None:
        raise UsageError(f"--epochs {planned}: {args.from_save} has {done} epochs already and --epochs counts them "
                         f"(it is the total to train up to); {more}")
    raise UsageError(f"{args.from_save} has trained all its {done} epochs; {more} (or add --reinit to train "
                     f"its settings afresh)")


def _check_save_target(name: str, folder: Path, overwrite: bool) -> Path:
    """Where --save will write; refused now, before training, if the name is unusable or taken."""
    try:
        path = saves.save_path(name, folder)
    except saves.SaveError as error:
        raise UsageError(f"--save: {error}") from None
    if path.exists() and not overwrite:
        kept = "" if path.stem == name else f" (a name keeps letters, digits, - _ and . only: it is saved as {path.stem})"
        raise UsageError(f"--save {name}: {path} already exists{kept}; add --overwrite to replace it, or choose "
                         f"another name")
    return path


def _check_config_target(path: Path, overwrite: bool) -> Path:
    """Where --write-config will write; refused now if it is a folder, or a file and not --overwrite."""
    if path.is_dir():
        raise UsageError(f"--write-config {path} is a folder; name a file, e.g. {path / 'run.toml'}")
    if path.exists() and not overwrite:
        raise UsageError(f"--write-config {path} already exists; add --overwrite to replace it, or choose another name")
    if not path.parent.is_dir():
        raise UsageError(f"--write-config {path}: there is no folder {path.parent}; create it first, or name a file "
                         f"in an existing folder")
    return path


def write_settings(plan: Plan, json_out: bool) -> int:
    """--write-config: the run's settings as TOML, without this machine's saves folder (a file travels)."""
    config = RunConfig.from_dict(plan.config.portable_dict())
    try:
        path = write_config(plan.write_config, config)
    except ConfigError as error:
        return fail(PROG, str(error))
    if json_out:
        print(json.dumps({"event": "config-written", "path": str(path)}))
    else:
        Console(stderr=True).print(f"wrote {escape(str(path))}; train it with: {PROG} --config {escape(str(path))}",
                                   highlight=False, soft_wrap=True)
    return 0


# ====================================================================== opening and running the session
def open_session(plan: Plan, on_event) -> Session:
    """The session the plan describes, prepared (data loaded, model built); SessionError if it cannot be."""
    if plan.resume is not None:
        session = Session.open_checkpoint(_resume_target(plan), on_event=on_event, folder=plan.folder)
        _plan_resumed_epochs(plan, session)
        _match_blas_threads(session, on_event)
        return session
    if plan.fork is not None:
        run_dir, epoch, changed = plan.fork
        session = forking.fork(run_dir, epoch, changed, on_event=on_event)
        _match_blas_threads(session, on_event)
        return session
    if plan.start_from is not None:
        return Session.from_save(plan.start_from, config=plan.config, reinitialise=plan.reinit, on_event=on_event)
    session = Session(plan.config, on_event=on_event)
    session.prepare()
    return session


def _match_blas_threads(session: Session, on_event) -> None:
    problem = session.match_blas_threads()
    if problem is not None:
        on_event(Notice(problem))


def _resume_target(plan: Plan) -> Path:
    """--resume RUN (a path, or a run's name in <saves>/runs), or the most recent interrupted run."""
    runs = saves.runs_folder(plan.folder)
    if plan.resume:
        for candidate in (Path(plan.resume), runs / plan.resume):
            if candidate.exists():
                _not_training(candidate if candidate.is_dir() else candidate.parent)
                return candidate
        if Path(plan.resume).name != plan.resume:   # (a path)
            raise UsageError(f"--resume {plan.resume}: no such run folder or checkpoint (runs are in {runs})")
        try:   # (a part of a run's name that only it has)
            candidate = find_run(plan.resume, plan.folder)
        except saves.SaveError as error:
            raise UsageError(f"--resume {plan.resume}: {error}") from None
        _not_training(candidate)
        return candidate
    run = saves.latest_interrupted_run(plan.folder)
    if run is None:
        training = [r.name for r in saves.find_runs(plan.folder) if r.status == "running" and r.active]
        still = f"; {training[0]} is still training in another nnstudio process" if training else ""
        raise SessionError(f"nothing to resume: no interrupted run in {runs}{still} (start one with `{PROG}`, or name "
                           f"a run folder or checkpoint: --resume PATH)")
    return run.path


def _not_training(folder: Path) -> None:
    """Refused before the data loads: a run that another process is training now (its lock is held), or one
    whose checkpoints `runs prune` deleted."""
    run = saves.read_run(folder) if saves.is_run_dir(folder) else None
    if run is not None and run.active:
        raise SessionError(f"{run.name} is still training in another nnstudio process (it holds the run's lock); "
                           f"stop that one first (Ctrl+C there), then resume it")
    if run is not None and run.pruned_at is not None and run.resume_point is None:
        raise SessionError(f"{run.name} was pruned: `nnstudio runs prune` deleted its checkpoints and kept its "
                           f"history (`nnstudio runs show {run.name}`), so it cannot be resumed")


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


def run_train(args: argparse.Namespace) -> int:
    """`nnstudio train`: check the arguments, open the session, run it in this thread, report, save."""
    reporter = Reporter(Console(stderr=args.json), sys.stdout if args.json else None)
    try:
        plan = make_plan(args)
        if plan.write_config is not None:
            return write_settings(plan, args.json)
        with reporter.opening():
            session = open_session(plan, reporter)
    except UsageError as error:
        return fail(PROG, str(error), 2)
    except SessionError as error:
        return fail(PROG, str(error), failure_status(error))
    planned = session.epochs_planned
    reporter.header(session, planned, resumed=plan.resume is not None, note=plan.note)
    stopper = GracefulStop(lambda: session.stop(f"stopped by {stopper.name}"))   # (the history records why)
    try:
        with reporter.live(session, planned), stopper.installed():
            status = session.run()
    except KeyboardInterrupt as interrupt:
        reporter.interrupted(session)
        return exit_status(signal_of(interrupt))
    except SessionError as error:  # e.g. the checkpoint folder cannot be written
        return fail(PROG, str(error))
    saved, problem = _save(session, plan, status)
    reporter.summary(session, status, saved, problem, stopped_by=stopper.name)
    if problem is not None or session.close_problem is not None:
        return fail(PROG, problem or session.close_problem)
    if status is Status.STOPPED and stopper.signum is not None:
        return exit_status(stopper.signum)
    return EXIT_STATUS[status]


def _save(session: Session, plan: Plan, status: Status) -> tuple[Path | None, str | None]:
    """--save after the run (also after a stop or divergence: the model holds good weights); not after a crash."""
    if plan.save_name is None or status is Status.FAILED:
        return None, None
    try:
        return session.save(plan.save_name, folder=plan.folder, overwrite=plan.overwrite), None
    except SessionError as error:
        return None, f"--save {plan.save_name}: {error}"

