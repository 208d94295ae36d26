"""The command-line arguments both views take: the flags that set a run's settings, and naming a save.

    add_run_flags(parser)                          # --config FILE, --model NAME|FILE.json, --lr X, ...
    config = run_config(parser.parse_args(argv))   # the defaults (or --config's file), then the flags
    path = resolve_save("mnist-mlp", folder)       # a save's name or path -> its file

One table (`CONFIG_FLAGS`) and one reading (`run_config`), so that `nnstudio train --lr 0.03` and
`nnstudio --lr 0.03` (the studio) mean the same run. Each flag sets one setting and takes its
help and its checks from it, so `--lr 1e-3` and `lr = 1e-3` in a config file are read by the same
rules. Whatever is wrong is a `UsageError` naming the flag (or the file and the setting, or the
save that is not there), raised before anything is loaded: `nnstudio train`, `eval`, `predict`,
`saves` and the studio all print it as one line and exit with status 2. Plain argparse and the
run config: no Rich, no Textual.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnstudio import saves
from nnstudio.engine.presets import PRESETS

from .config import SETTINGS, ConfigError, RunConfig, load_config, parse_value


class UsageError(Exception):
    """A bad argument or config file: one line on stderr, exit status 2, nothing written."""


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
    ConfigFlag("--train-size", "data.train_size", "N"),
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
    ConfigFlag("--saves-dir", "checkpoints.folder", "DIR"),
)
FLAGS_BY_OPTION = {flag.option: flag for flag in CONFIG_FLAGS}
FLAGS_BY_PATH = {flag.path: flag for flag in CONFIG_FLAGS}


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """--config, --model and every flag of `CONFIG_FLAGS`, as options of `parser` (all default to None)."""
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML run configuration (see the README)")
    parser.add_argument("--model", metavar="NAME|FILE.json",
                        help=f"ready-made model ({', '.join(PRESETS)}; default mlp), trained with the settings it "
                             f"recommends unless others are given; or a model spec file (JSON)")
    for flag in CONFIG_FLAGS:
        parser.add_argument(flag.option, dest=flag.dest, metavar=flag.metavar, help=flag.help())


def add_hidden_alias(parser: argparse.ArgumentParser, alias: str, option: str) -> None:
    """An old spelling of a flag that still works (scripts use it) but that no help lists."""
    parser.add_argument(alias, dest=FLAGS_BY_OPTION[option].dest, metavar=FLAGS_BY_OPTION[option].metavar,
                        help=argparse.SUPPRESS)


def flags_given(args: argparse.Namespace) -> list[str]:
    """The options of `add_run_flags` typed on the command line, in the order --help lists them."""
    given = ["--config"] if args.config is not None else []
    given += ["--model"] if args.model is not None else []
    return given + [flag.option for flag in CONFIG_FLAGS if getattr(args, flag.dest) is not None]


def parse_flag(option: str, text: str) -> Any:
    """A flag's text as a checked value, with the config's own message: "--lr: optimizer.lr: must be ...".

    A folder named must be usable here (`Setting.check_here`): one to read data from must exist
    (a typo there would only show once the data set is looked for), and a saves folder must be
    one or one that can be made, as the same setting in a config file must (`check_file_places`).
    """
    path = FLAGS_BY_OPTION[option].path
    try:
        return SETTINGS[path].check_here(parse_value(path, text))
    except ConfigError as error:
        raise UsageError(f"{option}: {error}") from None


def check_file_places(config: RunConfig, file: str | Path, args: argparse.Namespace) -> None:
    """The folders a config file names must be usable here, as the same flags' must (`parse_flag`); a folder
    that a flag replaces is not looked at. UsageError naming the file and the setting."""
    for path, s in SETTINGS.items():
        flag = FLAGS_BY_PATH.get(path)
        if s.place is None or (flag is not None and getattr(args, flag.dest, None) is not None):
            continue
        try:
            s.check_here(config.get(path))
        except ConfigError as error:
            raise UsageError(str(error.in_file(file))) from None


def run_config(args: argparse.Namespace, *, base: RunConfig | None = None,
               extra: Mapping[str, Any] | None = None) -> RunConfig:
    """The run the flags describe: `base` (default: --config's file, else the defaults), changed by --model and
    the flags, then by `extra` (a command's own overrides); UsageError for anything wrong."""
    if base is None:
        try:
            base = load_config(args.config) if args.config is not None else RunConfig()
        except ConfigError as error:
            raise UsageError(str(error)) from None
        if args.config is not None:
            check_file_places(base, args.config, args)
    overrides = {flag.path: parse_flag(flag.option, getattr(args, flag.dest))
                 for flag in CONFIG_FLAGS if getattr(args, flag.dest) is not None}
    if args.model is not None:
        overrides.update(model_overrides(args.model))
    overrides.update(extra or {})
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
