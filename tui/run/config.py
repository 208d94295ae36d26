"""The run configuration: one object that describes a training run completely.

    config = load_config("run.toml").with_overrides({"optimizer.lr": parse_value("optimizer.lr", "3e-4")})
    config.optimizer.lr            -> 0.0003
    config.to_dict()               -> plain JSON-able dict (a save's metadata stores this)
    RunConfig.from_dict(d)         -> the same config again, validated
    save_config("run.toml", config)

Every setting lives in one table, `SETTINGS` (section, name, type, default, allowed values,
description, whether it may change live). Validation, text parsing, CLI help, the settings
pane's labels and the comments in a saved TOML file are all read from that table, so adding a
setting is one line there and the rest follows (the tests are parametrised over it too).

Whatever goes wrong, the error is a `ConfigError` naming the setting by its dotted path:

    optimizer.name: must be one of sgd, rmsprop, adam, adamw, got 'adm' (did you mean 'adam'?)
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import math
import numbers
import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np

from nnstudio.datasets import SYNTHETIC, dataset_names
from nnstudio.engine.presets import PRESETS, preset_spec
from nnstudio.engine.spec import SpecError, validate_spec

from . import toml_writer

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


class ConfigError(ValueError):
    """A run configuration is invalid; the message names the setting (and the file) and what is allowed.

    `field` is the dotted path of the setting ("optimizer.lr"), a section name, or "" for the
    config as a whole; `file` is the config file it came from, if any. A form highlights `field`.
    """

    def __init__(self, field: str, problem: str, *, file: str | None = None) -> None:
        self.field, self.problem, self.file = field, problem, file
        where = ": ".join(part for part in (file, field) if part)
        super().__init__(f"{where}: {problem}" if where else problem)

    def in_file(self, file: str | os.PathLike) -> ConfigError:
        """The same error, with the file it came from in front."""
        return ConfigError(self.field, self.problem, file=os.fspath(file))


# ====================================================================== one setting
_INT_LIMIT = 2 ** 63 - 1   # a TOML file holds signed 64-bit integers; bigger ones are typos anyway
_TRUE_WORDS, _FALSE_WORDS = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _number_text(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else repr(float(x))


def _short_repr(value: Any, limit: int = 50) -> str:
    """repr() cut to `limit` characters; never raises (Python refuses to print ints of 4,300+ digits)."""
    try:
        text = repr(value)
    except ValueError:
        return "a number too long to print"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _suggest(word: Any, options) -> str:
    """" (did you mean 'adam'?)" when `word` is close to one of `options`, else ""."""
    if not isinstance(word, str) or len(word) > 40:
        return ""
    close = difflib.get_close_matches(word.lower(), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class OnlyWith(NamedTuple):
    """Where a setting applies: when the setting at `path` has one of `values` (`label` says it in words)."""

    path: str
    values: tuple[str, ...]
    label: str = ""

    def text(self) -> str:
        """ "for synthetic data sets" or "when optimizer.name is rmsprop or adam". """
        if self.label:
            return f"for {self.label}"
        listed = ", ".join(self.values[:-1]) + " or " + self.values[-1] if len(self.values) > 1 else self.values[0]
        return f"when {self.path} is {listed}"


@dataclass(frozen=True)
class Setting:
    """One setting of a run: its type, default, allowed values and meaning.

    Ranges: `low`/`high` are the ends, `low_open`/`high_open` say whether the end itself is
    excluded. `special` is one extra value outside the range with a meaning of its own
    (0 = "the data set's default"). `only_with` = OnlyWith("optimizer.name", ("sgd",)) says
    the setting matters only when that other setting has one of those values; elsewhere it
    must stay at its default, so nobody tunes a knob that is not connected to anything.
    """

    section: str
    name: str
    kind: type                      # bool, int, float, str or dict (a model spec)
    default: Any
    description: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] | None = None
    special: tuple[Any, str] | None = None   # (value, what it means)
    only_with: OnlyWith | None = None
    live: bool = False              # may change while training runs (applied between batches)
    nullable: bool = False          # None is allowed (model.spec: "use the preset")
    nonempty: bool = False          # for text: "" is not allowed

    @property
    def path(self) -> str:
        """The dotted name used in messages, on the command line and in overrides: "optimizer.lr"."""
        return f"{self.section}.{self.name}"

    @property
    def constraint(self) -> str:
        """The allowed values in words: "a number >= 0 and < 1", "one of sgd, rmsprop, adam, adamw"."""
        if self.choices is not None:
            text = "one of " + ", ".join(self.choices)
        elif self.kind is bool:
            text = "true or false"
        elif self.kind is dict:
            text = "a model spec (a table with input_shape and layers)"
        elif self.kind is str:
            text = "non-empty text" if self.nonempty else "text"
        else:
            text = "a whole number" if self.kind is int else "a number"
            bounds = []
            if self.low is not None:
                bounds.append(f"{'>' if self.low_open else '>='} {_number_text(self.low)}")
            if self.high is not None:
                bounds.append(f"{'<' if self.high_open else '<='} {_number_text(self.high)}")
            text += (" " + " and ".join(bounds)) if bounds else ""
        if self.special is not None:
            text = f"{_number_text(self.special[0])} ({self.special[1]}) or {text}"
        if self.nullable:
            text += " or nothing"
        return text

    def describe(self) -> str:
        """One line of help: what it is, what is allowed, the default, where it applies."""
        parts = [self.constraint, f"default {_default_text(self)}"]
        if self.only_with is not None:
            parts.append(f"only {self.only_with.text()}")
        if self.live:
            parts.append("can change while training")
        return f"{self.description}. Allowed: {'; '.join(parts)}"

    def error(self, problem: str) -> ConfigError:
        return ConfigError(self.path, problem)

    def check(self, value: Any, *, typed: str | None = None) -> Any:
        """`value` normalised to a plain Python value of this setting's type, or a ConfigError.

        Messages show what the user gave: `typed` text if the value was parsed from it, else
        the value before conversion (-3, not -3.0).
        """
        if value is None and self.nullable:
            return None
        given, value = (value if typed is None else typed), self._coerce(value)
        if self.special is not None and value == self.special[0]:
            return value
        if self.kind is dict:
            return self._check_spec(value)
        if self.choices is not None and value not in self.choices:
            raise self._wrong(given, _suggest(value, self.choices))
        if self.kind is str and self.nonempty and not value.strip():
            raise self._wrong(given)
        if self.kind in (int, float):
            too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
            too_high = self.high is not None and (value >= self.high if self.high_open else value > self.high)
            if too_low or too_high:
                raise self._wrong(given)
        return value

    def _wrong(self, value: Any, hint: str = "") -> ConfigError:
        return self.error(f"must be {self.constraint}, got {_short_repr(value)}{hint}")

    def _coerce(self, value: Any) -> Any:
        """The value as this setting's Python type, refusing look-alikes (True is not 1, "10" is not 10)."""
        is_bool = isinstance(value, (bool, np.bool_))
        if self.kind is bool:
            if is_bool:
                return bool(value)
            raise self._wrong(value)
        if is_bool:   # bool is an int subclass in Python; `epochs = true` is a mistake, not 1 epoch
            raise self._wrong(value)
        if self.kind is int:
            if isinstance(value, numbers.Integral):
                if abs(value) > _INT_LIMIT:
                    raise self.error(f"is far too large: {_short_repr(value)}")
                return int(value)
            raise self._wrong(value, self._quoted_hint(value))
        if self.kind is float:
            if not isinstance(value, numbers.Real):
                raise self._wrong(value, self._quoted_hint(value))
            try:
                number = float(value)
            except OverflowError:
                raise self.error(f"is far too large: {_short_repr(value)}") from None
            if not math.isfinite(number):
                raise self._wrong(value, " (it must be a finite number)")
            return number
        if self.kind is str:
            if not isinstance(value, str):
                raise self._wrong(value)
            if "\x00" in value:
                raise self.error(f"must not contain NUL characters, got {_short_repr(value)}")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise self.error(f"must be valid Unicode text, got {_short_repr(value)}") from None
            return value
        if not isinstance(value, dict):
            raise self._wrong(value)
        return value

    def _quoted_hint(self, value: Any) -> str:
        """'"10" (text)' in a TOML file is a common slip: say how to write the number."""
        if isinstance(value, str):
            try:
                self._coerce(int(value) if self.kind is int else float(value))
                return f" (text; write it without quotes: {self.name} = {value.strip()})"
            except (ValueError, ConfigError):
                pass
        return ""

    def _check_spec(self, value: dict) -> dict:
        try:
            return validate_spec(value)
        except SpecError as error:   # keep the engine's message: it names the layer and the problem
            raise self.error(str(error)) from error
        except RecursionError:
            raise self.error("is nested far too deeply to be a model spec") from None

    def parse(self, text: str) -> Any:
        """Turn what a user typed (a CLI argument, a form field) into a checked value."""
        if not isinstance(text, str):
            raise self.error(f"expected typed text, got {_short_repr(text)}")
        stripped = text.strip()
        if self.nullable and stripped.lower() in ("", "none", "null"):
            return None
        if self.kind is bool:
            lowered = stripped.lower()
            if lowered not in _TRUE_WORDS + _FALSE_WORDS:
                raise self.error(f"must be true or false (or yes/no), got {_short_repr(text)}")
            return lowered in _TRUE_WORDS
        if self.kind is int:
            try:
                value: Any = int(stripped)
            except ValueError:
                raise self._wrong(text) from None
        elif self.kind is float:
            try:
                value = float(stripped)
            except ValueError:
                raise self._wrong(text) from None
        elif self.kind is dict:
            try:
                value = json.loads(stripped)
            except (ValueError, RecursionError) as error:
                raise self.error(f"must be a model spec written as JSON, e.g. "
                                 f'{{"input_shape": [784], "layers": [...]}}: {error}') from None
        else:
            value = stripped
            if self.choices is not None and value not in self.choices and value.lower() in self.choices:
                value = value.lower()   # "Adam" typed in a form means adam
        return self.check(value, typed=text)


def _default_text(setting: Setting) -> str:
    if setting.default is None:
        return "none"
    if isinstance(setting.default, bool):
        return "true" if setting.default else "false"
    if isinstance(setting.default, str):
        return repr(setting.default)
    return _number_text(setting.default) if isinstance(setting.default, (int, float)) else repr(setting.default)


# ====================================================================== the table of settings
_FOR_SYNTHETIC = OnlyWith("data.name", tuple(SYNTHETIC), "synthetic data sets")
_WITH_CLASSES = tuple(name for name, spec in SYNTHETIC.items() if "classes" in spec.options)
_CLASSIFICATION_SETS = tuple(name for name in dataset_names()
                             if name not in SYNTHETIC or SYNTHETIC[name].task == "classification")
OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine")

#: what each section is about (headings in the settings pane, comments in a saved file)
SECTIONS: dict[str, str] = {
    "data": "the data set and how it is split",
    "model": "the network: a preset by name, or a full spec",
    "optimizer": "how the weights are updated",
    "schedule": "how the learning rate changes from epoch to epoch",
    "training": "the training loop",
    "checkpoints": "saving progress while training, so a run can be resumed",
}


def _s(section: str, name: str, kind: type, default: Any, description: str, **rules: Any) -> Setting:
    return Setting(section, name, kind, default, description, **rules)


_SETTING_LIST = [
    _s("data", "name", str, "mnist", "data set to train on", choices=tuple(dataset_names())),
    _s("data", "data_dir", str, "", "folder with the data set's IDX files; empty searches the usual places"),
    _s("data", "val_fraction", float, 0.1, "fraction of the training set held out for validation",
       low=0.0, high=0.9),
    _s("data", "standardize", bool, False, "shift and scale inputs to mean 0 and standard deviation 1"),
    _s("data", "size", int, 0, "number of training points to generate",
       low=1, high=10_000_000, special=(0, "the data set's default"), only_with=_FOR_SYNTHETIC),
    _s("data", "noise", float, -1.0, "amount of random jitter added to the points",
       low=0.0, special=(-1.0, "the data set's default"), only_with=_FOR_SYNTHETIC),
    _s("data", "classes", int, 0, "number of classes to generate",
       low=2, high=100, special=(0, "the data set's default"), only_with=OnlyWith("data.name", _WITH_CLASSES)),

    _s("model", "preset", str, "mlp", "ready-made model to train (ignored when a spec is given)",
       choices=tuple(PRESETS)),
    _s("model", "spec", dict, None, "a full model spec (input_shape and layers); used instead of the preset",
       nullable=True),

    _s("optimizer", "name", str, "adam", "update rule for the weights", choices=OPTIMIZERS),
    _s("optimizer", "lr", float, 1e-3, "learning rate: how big a step each update takes (0 freezes the weights)",
       low=0.0, live=True),
    _s("optimizer", "momentum", float, 0.9, "momentum for sgd and rmsprop; beta1 (the gradient average) for adam",
       low=0.0, high=1.0, high_open=True, live=True),
    _s("optimizer", "nesterov", bool, False, "Nesterov momentum: look ahead along the momentum before the gradient",
       only_with=OnlyWith("optimizer.name", ("sgd",))),
    _s("optimizer", "weight_decay", float, 0.0, "shrinks the weights towards 0 on every update (regularisation)",
       low=0.0, live=True),
    _s("optimizer", "beta2", float, 0.999, "how slowly Adam's average of squared gradients forgets",
       low=0.0, high=1.0, high_open=True, only_with=OnlyWith("optimizer.name", ("adam", "adamw"))),
    _s("optimizer", "eps", float, 1e-8, "small number added to the denominator so it is never 0",
       low=0.0, low_open=True, only_with=OnlyWith("optimizer.name", ("rmsprop", "adam", "adamw"))),
    _s("optimizer", "alpha", float, 0.99, "how slowly RMSprop's average of squared gradients forgets",
       low=0.0, high=1.0, high_open=True, only_with=OnlyWith("optimizer.name", ("rmsprop",))),

    _s("schedule", "name", str, "none", "learning-rate schedule", choices=SCHEDULES),
    _s("schedule", "step_size", int, 10, "epochs between two drops of the learning rate",
       low=1, only_with=OnlyWith("schedule.name", ("step",))),
    _s("schedule", "gamma", float, 0.1, "factor the learning rate is multiplied by at each drop",
       low=0.0, low_open=True, high=1.0, only_with=OnlyWith("schedule.name", ("step",))),
    _s("schedule", "warmup_epochs", int, 0, "epochs of linear ramp-up to the learning rate before the schedule starts",
       low=0, only_with=OnlyWith("schedule.name", ("step", "cosine"))),
    _s("schedule", "eta_min", float, 0.0, "learning rate the cosine curve ends at",
       low=0.0, only_with=OnlyWith("schedule.name", ("cosine",))),

    _s("training", "epochs", int, 10, "passes over the training set", low=1, high=100_000),
    _s("training", "batch_size", int, 64, "examples per update", low=1, live=True),
    _s("training", "seed", int, 0, "random seed: the same seed gives the same run", low=0),
    _s("training", "clip_norm", float, 0.0, "largest gradient norm allowed before an update; 0 turns clipping off",
       low=0.0),
    _s("training", "early_stopping", int, 0, "stop after this many epochs without a better validation loss; 0 = off",
       low=0),
    _s("training", "min_delta", float, 0.0, "how much the validation loss must improve to count (early stopping)",
       low=0.0),
    _s("training", "label_smoothing", float, 0.0, "share of each target spread over the other classes",
       low=0.0, high=1.0, high_open=True, only_with=OnlyWith("data.name", _CLASSIFICATION_SETS, "classification data sets")),

    _s("checkpoints", "folder", str, "saves", "folder for checkpoints and saves", nonempty=True),
    _s("checkpoints", "keep_last", int, 3, "how many checkpoints of a run to keep (older ones are deleted)", low=1),
    _s("checkpoints", "every_epoch", bool, True, "write a checkpoint at the end of every epoch"),
]

#: every setting by dotted path ("optimizer.lr"), in the order forms and files show them
SETTINGS: dict[str, Setting] = {s.path: s for s in _SETTING_LIST}
#: the settings that may change while a run trains (the engine applies them between batches)
LIVE_SETTINGS: tuple[str, ...] = tuple(path for path, s in SETTINGS.items() if s.live)


def section_settings(section: str) -> tuple[Setting, ...]:
    """The settings of one section, in order."""
    return tuple(s for s in _SETTING_LIST if s.section == section)


def setting(path: str) -> Setting:
    """The setting at a dotted path, or a ConfigError that suggests the closest one."""
    if isinstance(path, str) and path in SETTINGS:
        return SETTINGS[path]
    shown = path if isinstance(path, str) else _short_repr(path)
    raise ConfigError(str(shown), f"unknown setting{_suggest(path, SETTINGS)}; a setting is named "
                                  f"section.name, e.g. optimizer.lr, with sections {', '.join(SECTIONS)}")


def describe(path: str) -> str:
    """Help text for one setting: used by the CLI's --help and as the settings pane's tooltip."""
    return setting(path).describe()


def parse_value(path: str, text: str) -> Any:
    """Typed text -> a checked value of the setting's type: parse_value("optimizer.lr", "1e-3") -> 0.001."""
    return setting(path).parse(text)


# ====================================================================== the config object
class _Section:
    """Base of the generated per-section dataclasses: every field is checked as it is set."""

    _section: ClassVar[str]

    def __post_init__(self) -> None:
        for s in section_settings(self._section):
            object.__setattr__(self, s.name, s.check(getattr(self, s.name)))


def _section_class(section: str) -> type:
    """A frozen dataclass for one section, generated from the table so the two cannot drift apart."""
    fields = [(s.name, s.kind if not s.nullable else s.kind | None, field(default=s.default))
              for s in section_settings(section)]
    namespace = {"_section": section, "__doc__": f"Settings: {SECTIONS[section]}.", "__module__": __name__}
    return dataclasses.make_dataclass(f"{section.title()}Settings", fields, bases=(_Section,), frozen=True,
                                      namespace=namespace)


_SECTION_CLASSES: dict[str, type] = {name: _section_class(name) for name in SECTIONS}
DataSettings = _SECTION_CLASSES["data"]
ModelSettings = _SECTION_CLASSES["model"]
OptimizerSettings = _SECTION_CLASSES["optimizer"]
ScheduleSettings = _SECTION_CLASSES["schedule"]
TrainingSettings = _SECTION_CLASSES["training"]
CheckpointsSettings = _SECTION_CLASSES["checkpoints"]


@dataclass(frozen=True)
class RunConfig:
    """A complete, validated description of a training run (immutable: changes make a new one).

    Read settings as attributes (`config.optimizer.lr`); change them with `replace` or
    `with_overrides`; store them with `to_dict` (JSON) or `save_config` (TOML).
    """

    data: DataSettings = field(default_factory=DataSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    optimizer: OptimizerSettings = field(default_factory=OptimizerSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    training: TrainingSettings = field(default_factory=TrainingSettings)
    checkpoints: CheckpointsSettings = field(default_factory=CheckpointsSettings)

    def __post_init__(self) -> None:
        for name in SECTIONS:
            expected = _SECTION_CLASSES[name]
            if not isinstance(getattr(self, name), expected):
                raise ConfigError(name, f"must be {expected.__name__}, got {_short_repr(getattr(self, name))}")
        _check_combinations(self)

    # ------------------------------------------------------------------ dicts (JSON, TOML)
    @classmethod
    def from_dict(cls, data: Any) -> RunConfig:
        """A validated config from plain data (parsed JSON or TOML); missing settings take their defaults.

        Unknown sections and settings are errors (with a did-you-mean): a misspelt setting
        silently ignored would train with the default while the user believes otherwise.
        """
        if not isinstance(data, Mapping):
            raise ConfigError("", f"a run config must be a table of sections ({', '.join(SECTIONS)}), "
                                  f"got {_short_repr(data)}")
        for key in data:
            if key not in SECTIONS:
                raise _unknown_section(key)
        sections = {}
        for name, section_class in _SECTION_CLASSES.items():
            values = data.get(name, {})
            if not isinstance(values, Mapping):
                raise ConfigError(name, f"must be a table of settings ([{name}] in a TOML file), "
                                        f"got {_short_repr(values)}")
            known = [s.name for s in section_settings(name)]
            for key in values:
                if key not in known:
                    shown = key if isinstance(key, str) else _short_repr(key)
                    raise ConfigError(f"{name}.{shown}", f"unknown setting{_suggest(key, known)}; "
                                                         f"{name} settings are: {', '.join(known)}")
            sections[name] = section_class(**values)
        return cls(**sections)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Every setting as plain JSON-able data ({section: {name: value}}); `from_dict` reads it back."""
        return {name: {s.name: copy.deepcopy(getattr(getattr(self, name), s.name)) for s in section_settings(name)}
                for name in SECTIONS}

    # ------------------------------------------------------------------ changes
    def get(self, path: str) -> Any:
        """The value at a dotted path: config.get("optimizer.lr")."""
        s = setting(path)
        return getattr(getattr(self, s.section), s.name)

    def replace(self, **changes: Any) -> RunConfig:
        """A new validated config with some settings changed: config.replace(**{"optimizer.lr": 0.01})."""
        return self.with_overrides(changes)

    def with_overrides(self, overrides: Mapping[str, Any]) -> RunConfig:
        """A new validated config with the settings at these dotted paths changed.

        A change of a choice (optimizer.name, data.name, schedule.name) puts the settings that
        only applied to the old choice back to their defaults, unless they are changed too: so
        `--optimizer adam` on an rmsprop config does not trip over its alpha. Choosing a
        preset drops a custom model.spec (otherwise the spec would win and the preset do nothing).
        """
        values = self.to_dict()
        for path, value in overrides.items():
            s = setting(path)
            values[s.section][s.name] = value
        for path, s in SETTINGS.items():
            if path in overrides or s.only_with is None:
                continue
            section, name = s.only_with.path.split(".")
            if s.only_with.path in overrides and values[section][name] not in s.only_with.values:
                values[s.section][s.name] = copy.deepcopy(s.default)
        if "model.preset" in overrides and "model.spec" not in overrides:
            values["model"]["spec"] = None
        return RunConfig.from_dict(values)


assert tuple(SECTIONS) == tuple(f.name for f in dataclasses.fields(RunConfig)), "RunConfig must list every section"


def _unknown_section(key: Any) -> ConfigError:
    """A top-level key that is no section; a setting written above every [section] is told where it goes."""
    shown = str(key if isinstance(key, str) else _short_repr(key))
    homes = [name for name in SECTIONS if any(s.name == key for s in section_settings(name))]
    if homes:
        tables = " or ".join(", ".join(f"[{home}]" for home in homes).rsplit(", ", 1))
        paths = ", ".join(f"{home}.{key}" for home in homes)
        return ConfigError(shown, f"is a setting, not a section: write it under {tables} ({paths})")
    return ConfigError(shown, f"unknown section{_suggest(key, SECTIONS)}; sections are: {', '.join(SECTIONS)}")


def _check_combinations(config: RunConfig) -> None:
    """Rules that involve two settings; each message names the one to change."""
    for s in _SETTING_LIST:
        if s.only_with is None:
            continue
        other_value = config.get(s.only_with.path)
        if other_value not in s.only_with.values and config.get(s.path) != s.default:
            raise s.error(f"applies only {s.only_with.text()}, but {s.only_with.path} is {other_value!r}; "
                          f"leave {s.name} out or set it to {_default_text(s)}")
    opt, sched = config.optimizer, config.schedule
    if opt.name == "sgd" and opt.nesterov and opt.momentum == 0:
        raise ConfigError("optimizer.nesterov", "needs optimizer.momentum > 0 (Nesterov momentum is a kind of "
                                                "momentum); set momentum, e.g. 0.9, or nesterov = false")
    if sched.name != "none" and sched.warmup_epochs >= config.training.epochs:
        raise ConfigError("schedule.warmup_epochs", f"must be less than training.epochs "
                                                    f"({config.training.epochs}), or the run never gets past "
                                                    f"the warm-up; got {sched.warmup_epochs}")


# ====================================================================== what a config means
def model_spec(config: RunConfig, *, input_shape: Any = None, classes: int | None = None) -> dict:
    """The spec of the model to build: model.spec when given, else the preset's.

    A preset is a recipe, so it can be fitted to the data (`input_shape`, `classes`, passed on
    when the preset has such a setting); a full spec is returned as written (a copy).
    """
    if config.model.spec is not None:
        return copy.deepcopy(config.model.spec)
    preset = PRESETS[config.model.preset]
    options = preset.options()
    fitted = {key: value for key, value in (("input_shape", input_shape), ("classes", classes))
              if value is not None and key in options}
    return preset_spec(config.model.preset, **fitted)


def dataset_options(config: RunConfig) -> dict[str, Any]:
    """Keyword arguments for `load_dataset` beyond the name: only the options set and meaningful."""
    data = config.data
    options: dict[str, Any] = {}
    if data.data_dir:
        options["data_dir"] = data.data_dir
    for s in section_settings("data"):
        if s.special is not None and getattr(data, s.name) != s.special[0]:
            options[s.name] = getattr(data, s.name)
    return options


# ====================================================================== TOML files
_HEADER = ("nnstudio run configuration: nnstudio train --config FILE\n"
           "Every setting is optional (missing ones take their defaults).")


def _without_none(value: Any) -> Any:
    """Drop null entries: TOML has no null, and a missing key means its default (null, for every nullable setting)."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def to_toml(config: RunConfig) -> str:
    """The config as a TOML document, with each setting's description as a comment."""
    comments = {tuple(path.split(".")): s.describe() for path, s in SETTINGS.items()}
    comments.update({(name,): f"{name}: {about}" for name, about in SECTIONS.items()})
    return toml_writer.dumps(_without_none(config.to_dict()), comments=comments, header=_HEADER)


def from_toml(text: str, *, file: str | os.PathLike | None = None) -> RunConfig:
    """A config from TOML text; errors name `file` when given."""
    try:
        data = tomllib.loads(text)
        return RunConfig.from_dict(data)
    except tomllib.TOMLDecodeError as error:   # its message ends "(at line 3, column 7)"
        raise ConfigError("", f"not valid TOML: {error}", file=os.fspath(file) if file is not None else None) from None
    except RecursionError:   # tomllib reads nested arrays recursively
        raise ConfigError("", "is nested far too deeply to be a config file",
                          file=os.fspath(file) if file is not None else None) from None
    except ConfigError as error:
        raise (error.in_file(file) if file is not None else error) from None


def load_config(path: str | os.PathLike) -> RunConfig:
    """Read and validate a TOML config file; every problem is a ConfigError naming the file."""
    name = os.fspath(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError("", "no such config file", file=name) from None
    except IsADirectoryError:
        raise ConfigError("", "is a folder, not a config file", file=name) from None
    except OSError as error:
        raise ConfigError("", f"cannot read the config file: {error.strerror or error}", file=name) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError("", f"is not UTF-8 text (a byte at position {error.start} cannot be read); "
                              f"a config file is plain TOML text", file=name) from None
    return from_toml(text, file=name)


def save_config(path: str | os.PathLike, config: RunConfig) -> None:
    """Write `config` as TOML, atomically: the file is the old one or the complete new one, never half.

    The text is read back before writing, so a file that would not load as this same config
    is never written.
    """
    name = os.fspath(path)
    text = to_toml(config)
    if from_toml(text) != config:   # a guard for the writer: cheap, and a broken file is never written
        raise ConfigError("", "internal error: the TOML text would not read back as this config", file=name)
    target = Path(path)
    fd, temp = None, None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            fd = None   # the file object owns it now
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
        temp = None
    except OSError as error:
        raise ConfigError("", f"cannot write the config file: {error.strerror or error}", file=name) from None
    finally:
        if fd is not None:
            os.close(fd)
        if temp is not None:
            try:
                os.unlink(temp)
            except OSError:
                pass
