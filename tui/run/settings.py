"""Every setting of a run, written out section by section as typed, checked, described attributes.

    class OptimizerSettings(Section):
        lr: float = setting(1e-3, "learning rate: ...", low=0.0)

Each attribute is one setting: its type is the annotation, its default, rules and meaning are in
`setting(...)`. The rules are those of the engine's `Field` (a bool is not a number, floats are
finite, did-you-mean for choices), so a run setting, a layer field in a model spec and a field
of a save's metadata are checked alike. Validation, text parsing, the command line's help, the
settings pane's form and its hints are all read from these classes (`SETTINGS` lists them by
dotted path), so adding a setting is one line here and the rest follows; the tests are
parametrised over `SETTINGS` too.

Whatever goes wrong, the error is a `ConfigError` naming the setting by its dotted path:

    optimizer.name: must be one of sgd, rmsprop, adam, adamw, got 'adm' (did you mean 'adam'?)
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from nnstudio.datasets import SYNTHETIC
from nnstudio.engine.control import LIVE_SETTINGS as ENGINE_LIVE_SETTINGS
from nnstudio.engine.fields import Field, FieldError, short_repr, suggest
from nnstudio.engine.presets import PRESETS, Preset
from nnstudio.engine.spec import validate_spec
from nnstudio.saves.schema import MAX_HISTORY_ENTRIES

from .dataset_names import DatasetNames, checked_name, is_classification


class ConfigError(FieldError):
    """A run configuration is invalid; the message names the setting (and the file) and what is allowed.

    `field` is the dotted path of the setting ("optimizer.lr"), a section name, or "" for the
    config as a whole; `file` is the config file it came from, if any. A form highlights `field`.
    """

    def __init__(self, field: str, problem: str, *, file: str | None = None) -> None:
        where = ": ".join(part for part in (file, field) if part)
        ValueError.__init__(self, f"{where}: {problem}" if where else problem)
        self.name = self.field = field
        self.problem, self.file = problem, file

    def in_file(self, file: str | os.PathLike) -> ConfigError:
        """The same error, with the file it came from in front."""
        return ConfigError(self.field, self.problem, file=os.fspath(file))


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


class Place(NamedTuple):
    """A setting that names a folder on this machine: whether it must already be there (a folder to read
    from) or may be made (a folder to write to), and what to name instead when it cannot be used."""

    must_exist: bool
    advice: str


def folder_problem(path: Path, must_exist: bool) -> str | None:
    """Why `path` cannot be used as a folder ("data is a file, not a folder"), or None if it can: it is a
    folder, or (unless `must_exist`) it can be made, because the nearest part of it that exists is one."""
    def not_a_folder(path: Path) -> str:
        return f"{path} is a file, not a folder" if path.is_file() else f"{path} is not a folder"

    try:
        if path.is_dir():
            return None if must_exist or _writable(path) else f"{path} cannot be written"
        if path.exists():
            return not_a_folder(path)
        if must_exist:
            return f"{path} does not exist"
        parent = next(parent for parent in path.parents if parent.exists())
        if not parent.is_dir():
            return f"{path} cannot be made: {not_a_folder(parent)}"
        if not _writable(parent):
            return f"{path} cannot be made: {parent} cannot be written"
        return None
    except (OSError, ValueError) as error:   # a name too long, a NUL character, a folder we may not look into
        return f"{path} cannot be used: {getattr(error, 'strerror', None) or error}"
    except StopIteration:   # no part of it exists: not even the working folder
        return f"{path} cannot be made: none of the folders it is in exists"


def _writable(folder: Path) -> bool:
    """Whether a folder can be created in `folder`, tried (permission bits say nothing to root, nor of a
    read-only file system or /proc): an empty folder made and removed at once."""
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".nnstudio-probe-", dir=folder))
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class Setting(Field):
    """One setting of a run: a `Field` that belongs to a section.

    `only_with` = OnlyWith("optimizer.name", ("sgd",)) says the setting matters only when that
    other setting has one of those values; elsewhere it must stay at its default, so nobody
    tunes a knob that is not connected to anything. `machine` marks a setting of the machine
    a run trains on rather than of the run (the saves folder): a save does not record it.
    `place` marks a folder of this machine, which `check_here` looks at.
    """

    section: str = ""
    only_with: OnlyWith | None = None
    machine: bool = False
    place: Place | None = None

    NULL_WORD: ClassVar[str] = "nothing"   # TOML has no null: a setting with no value is left out

    @property
    def path(self) -> str:
        """The dotted name used in messages, on the command line and in overrides: "optimizer.lr"."""
        return f"{self.section}.{self.name}"

    @property
    def live(self) -> bool:
        """Whether it may change while a run trains: it is one of the engine's live settings, which
        its loop applies between batches (`nnstudio.engine.control.LIVE_SETTINGS`, by name)."""
        return self.name in ENGINE_LIVE_SETTINGS

    def describe(self) -> str:
        """One line of help: what it is, what is allowed, the default (and the presets' own), where it applies."""
        parts = [self.constraint, f"default {self.default_text()}{self.preset_defaults_text()}"]
        if self.only_with is not None:
            parts.append(f"only {self.only_with.text()}")
        if self.live:
            parts.append("can change while training")
        return f"{self.description}. Allowed: {'; '.join(parts)}"

    def preset_defaults_text(self) -> str:
        """ " (20 with the mlp preset)": the presets that recommend another default for this setting."""
        by_value: dict[str, list[str]] = {}
        for preset, settings in RECOMMENDED.items():
            if self.path in settings and settings[self.path] != self.default:
                by_value.setdefault(self.value_text(settings[self.path]), []).append(preset)
        texts = [f"{value} with the {' and '.join(presets)} preset{'s' if len(presets) > 1 else ''}"
                 for value, presets in by_value.items()]
        return f" ({'; '.join(texts)})" if texts else ""

    def error(self, problem: str) -> ConfigError:
        return ConfigError(self.path, problem)

    def check(self, value: Any, *, typed: str | None = None) -> Any:
        """As `Field.check`; a folder (`place`) written with a leading ~ means the home folder, as in a shell
        (which expands it on a command line, but not in a config file or a quoted flag: a folder named ~
        appeared in the working folder)."""
        value = super().check(value, typed=typed)
        if self.place is not None and isinstance(value, str) and value.startswith("~"):
            value = os.path.expanduser(value)
        return value

    def check_here(self, value: Any) -> Any:
        """`value` (already `check`ed) if this machine can use it, else a ConfigError saying why: a folder it
        names must be a folder, or one that can be made (`place`).

        One check with one message wherever a user names the value, a flag or a config file alike.
        It is not part of `check`, since a save's recorded config names folders of the machine it
        was trained on: those are looked for only when the data is loaded.
        """
        if self.place is not None and value:
            problem = folder_problem(Path(value), self.place.must_exist)
            if problem is not None:
                raise self.error(f"{problem}; {self.place.advice}")
        return value


# ====================================================================== writing sections
def setting(default: Any, description: str, **rules: Any) -> Any:
    """A section attribute: its default, what it means, and its rules (`Field`'s: low, choices, ...)."""
    return dataclasses.field(default=default, metadata={"setting": (description, rules)})


def section(name: str, about: str):
    """Make a class of typed attributes a frozen section dataclass, with a `Setting` per attribute."""
    def make(cls: type) -> type:
        cls = dataclass(frozen=True)(cls)
        hints = typing.get_type_hints(cls)
        settings = []
        for attribute in dataclasses.fields(cls):
            description, rules = attribute.metadata["setting"]
            kind, nullable = hints[attribute.name], False
            if typing.get_origin(kind) in (typing.Union, types.UnionType):   # `dict | None`: nullable
                kind, nullable = next(a for a in typing.get_args(kind) if a is not type(None)), True
            settings.append(Setting(attribute.name, kind, description, attribute.default, nullable=nullable,
                                    section=name, **rules))
        cls.SECTION, cls.ABOUT, cls.SETTINGS = name, about, tuple(settings)
        return cls
    return make


class Section:
    """Base of the sections: every attribute is a setting, checked (and normalised) as it is set."""

    SECTION: ClassVar[str]
    ABOUT: ClassVar[str]
    SETTINGS: ClassVar[tuple[Setting, ...]]

    def __post_init__(self) -> None:
        for s in self.SETTINGS:
            object.__setattr__(self, s.name, s.check(getattr(self, s.name)))


# ====================================================================== the sections
OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine")
_FOR_SYNTHETIC = OnlyWith("data.name", tuple(SYNTHETIC), "synthetic data sets")
_WITH_CLASSES = OnlyWith("data.name", tuple(name for name, spec in SYNTHETIC.items() if "classes" in spec.options))
_CLASSIFICATION_SETS = OnlyWith("data.name", DatasetNames(is_classification), "classification data sets")
_ADAM_FAMILY = ("adam", "adamw")
_REAL_SETS = OnlyWith("data.name", DatasetNames(lambda name: name not in SYNTHETIC),
                      "data sets read from files (a synthetic one is made as big as data.size says)")


@section("data", "the data set and how it is split")
class DataSettings(Section):
    name: str = setting("mnist", "data set to train on (built in, or imported with `nnstudio data import`)",
                        choices=DatasetNames(), validate=checked_name)
    data_dir: str = setting("", "folder with the data set's IDX files; empty searches the usual places",
                            place=Place(True, "name the folder that holds the data set's files"))
    val_fraction: float = setting(0.1, "fraction of the training set held out for validation", low=0.0, high=0.9)
    standardize: bool = setting(False, "shift and scale inputs to mean 0 and standard deviation 1 (an imported "
                                       "table always is, column by column)")
    train_size: int = setting(0, "train on only this many of the training rows, drawn at random by the seed (the "
                                 "validation rows stay as they are: a small subset shows overfitting); 0 = all",
                              low=0, only_with=_REAL_SETS)
    size: int = setting(0, "number of training points to generate", low=1, high=10_000_000,
                        special=(0, "the data set's default"), only_with=_FOR_SYNTHETIC)
    noise: float = setting(-1.0, "amount of random jitter added to the points", low=0.0,
                           special=(-1.0, "the data set's default"), only_with=_FOR_SYNTHETIC)
    classes: int = setting(0, "number of classes to generate", low=2, high=100,
                           special=(0, "the data set's default"), only_with=_WITH_CLASSES)


@section("model", "the network: a preset by name, or a full spec")
class ModelSettings(Section):
    preset: str = setting("mlp", "ready-made model to train (ignored when a spec is given)", choices=tuple(PRESETS))
    spec: dict | None = setting(None, "a full model spec (input_shape and layers); used instead of the preset",
                                words="a model spec (a table with input_shape and layers)", validate=validate_spec)


@section("optimizer", "how the weights are updated")
class OptimizerSettings(Section):
    name: str = setting("adam", "update rule for the weights", choices=OPTIMIZERS)
    lr: float = setting(1e-3, "learning rate: how big a step each update takes (0 freezes the weights)", low=0.0)
    momentum: float = setting(0.9, "momentum for sgd and rmsprop; beta1 (the gradient average) for adam",
                              low=0.0, high=1.0, high_open=True)
    nesterov: bool = setting(False, "Nesterov momentum: look ahead along the momentum before the gradient",
                             only_with=OnlyWith("optimizer.name", ("sgd",)))
    weight_decay: float = setting(0.0, "shrinks the weights towards 0 on every update (regularisation)", low=0.0)
    beta2: float = setting(0.999, "how slowly Adam's average of squared gradients forgets", low=0.0, high=1.0,
                           high_open=True, only_with=OnlyWith("optimizer.name", _ADAM_FAMILY))
    eps: float = setting(1e-8, "small number added to the denominator so it is never 0", low=0.0, low_open=True,
                         only_with=OnlyWith("optimizer.name", ("rmsprop",) + _ADAM_FAMILY))
    alpha: float = setting(0.99, "how slowly RMSprop's average of squared gradients forgets", low=0.0, high=1.0,
                           high_open=True, only_with=OnlyWith("optimizer.name", ("rmsprop",)))


@section("schedule", "how the learning rate changes from epoch to epoch")
class ScheduleSettings(Section):
    name: str = setting("none", "learning-rate schedule", choices=SCHEDULES)
    step_size: int = setting(10, "epochs between two drops of the learning rate", low=1,
                             only_with=OnlyWith("schedule.name", ("step",)))
    gamma: float = setting(0.1, "factor the learning rate is multiplied by at each drop", low=0.0, low_open=True,
                           high=1.0, only_with=OnlyWith("schedule.name", ("step",)))
    warmup_epochs: int = setting(0, "epochs of linear ramp-up to the learning rate before the schedule starts",
                                 low=0, only_with=OnlyWith("schedule.name", ("step", "cosine")))
    eta_min: float = setting(0.0, "learning rate the cosine curve ends at", low=0.0,
                             only_with=OnlyWith("schedule.name", ("cosine",)))


@section("training", "the training loop")
class TrainingSettings(Section):
    epochs: int = setting(10, "passes over the training set, in all: a continued save or resumed run trains up "
                                  "to this many, counting those it has", low=1,
                          high=MAX_HISTORY_ENTRIES)  # a save holds one history entry per epoch
    batch_size: int = setting(64, "examples per update", low=1)
    seed: int = setting(0, "random seed: the same seed gives the same run", low=0)
    clip_norm: float = setting(0.0, "largest gradient norm allowed before an update; 0 turns clipping off", low=0.0)
    early_stopping: int = setting(0, "stop after this many epochs without a better validation loss; 0 = off", low=0)
    min_delta: float = setting(0.0, "how much the validation loss must improve to count (early stopping)", low=0.0)
    label_smoothing: float = setting(0.0, "share of each target spread over the other classes", low=0.0, high=1.0,
                                     high_open=True, only_with=_CLASSIFICATION_SETS)


@section("checkpoints", "saving progress while training, so a run can be resumed")
class CheckpointsSettings(Section):
    folder: str = setting("", "folder for saves and run checkpoints; empty means the default: $NNSTUDIO_SAVES_DIR, "
                              "else nnstudio/saves in $XDG_DATA_HOME (~/.local/share)", machine=True,
                    place=Place(False, "name a folder you can write (one that is not there yet is made)"))
    keep_last: int = setting(3, "how many checkpoints of a run to keep (older ones are deleted)", low=1)
    every_epoch: bool = setting(True, "write a checkpoint at the end of every epoch")


#: the sections in the order a config lists them, by name
SECTION_CLASSES: dict[str, type[Section]] = {cls.SECTION: cls for cls in (
    DataSettings, ModelSettings, OptimizerSettings, ScheduleSettings, TrainingSettings, CheckpointsSettings)}
#: what each section is about (headings in the settings pane, the first line of a written file)
SECTIONS: dict[str, str] = {name: cls.ABOUT for name, cls in SECTION_CLASSES.items()}
#: every setting by dotted path ("optimizer.lr"), in the order forms and files show them
SETTINGS: dict[str, Setting] = {s.path: s for cls in SECTION_CLASSES.values() for s in cls.SETTINGS}
#: the settings that may change while a run trains (the engine applies them between batches)
LIVE_SETTINGS: tuple[str, ...] = tuple(path for path, s in SETTINGS.items() if s.live)
if sorted(path.split(".")[1] for path in LIVE_SETTINGS) != sorted(ENGINE_LIVE_SETTINGS):
    raise RuntimeError(f"each of the engine's live settings ({', '.join(ENGINE_LIVE_SETTINGS)}) must name exactly "
                       f"one run setting, but these are live: {', '.join(LIVE_SETTINGS)}")


def _recommended(preset: Preset) -> dict[str, Any]:
    """A preset's recommended settings (`Preset.training`), each checked by its setting: a typo in a preset
    must fail here, at import, not later as if the user's config were wrong."""
    checked = {}
    for path, value in preset.training.items():
        s = SETTINGS.get(path)
        if s is None or s.section == "model" or s.machine:
            raise RuntimeError(f"preset {preset.name!r} recommends {path!r}, which is not a run setting it may "
                               f"recommend (a setting of data, optimizer, schedule, training or checkpoints)")
        try:
            checked[path] = s.check(value)
        except ConfigError as error:
            raise RuntimeError(f"preset {preset.name!r} recommends a bad value: {error}") from None
    return checked


#: the settings each preset recommends, checked, by preset and dotted path: a run of that preset
#: takes them as its defaults (`config.preset_default`)
RECOMMENDED: dict[str, dict[str, Any]] = {name: _recommended(preset) for name, preset in PRESETS.items()}


def section_settings(name: str) -> tuple[Setting, ...]:
    """The settings of one section, in order."""
    return SECTION_CLASSES[name].SETTINGS


def setting_at(path: str) -> Setting:
    """The setting at a dotted path, or a ConfigError that suggests the closest one."""
    if isinstance(path, str) and path in SETTINGS:
        return SETTINGS[path]
    shown = path if isinstance(path, str) else short_repr(path)
    raise ConfigError(str(shown), f"unknown setting{suggest(path, SETTINGS)}; a setting is named "
                                  f"section.name, e.g. optimizer.lr, with sections {', '.join(SECTIONS)}")


def parse_value(path: str, text: str) -> Any:
    """Typed text -> a checked value of the setting's type: parse_value("optimizer.lr", "1e-3") -> 0.001."""
    return setting_at(path).parse(text)

#: settings named shortly wherever runs and trials are told apart ("lr 0.01", "batch 32", "train rows 2000")
SHORT_NAMES = {"optimizer.lr": "lr", "optimizer.name": "optimizer", "optimizer.momentum": "momentum",
               "optimizer.weight_decay": "wd", "optimizer.nesterov": "nesterov", "training.batch_size": "batch",
               "training.seed": "seed", "training.epochs": "epochs", "training.clip_norm": "clip",
               "training.label_smoothing": "smoothing", "training.early_stopping": "patience",
               "schedule.name": "schedule", "schedule.warmup_epochs": "warm-up", "model.preset": "model",
               "data.name": "data", "data.val_fraction": "val", "data.train_size": "train rows"}
#: settings whose value names itself in a legend or a change ("sgd", "mlp", "adam → sgd": no "optimizer")
NAMED_BY_VALUE = frozenset({"optimizer.name", "model.preset", "data.name"})
#: settings whose 0 (or none) means "every one": said "all" where runs are told apart ("train rows all")
ZERO_MEANS_ALL = frozenset({"data.train_size"})


def shown_value(path: str, value: Any) -> Any:
    """A setting's value as a label or a change says it: "all" for a 0 that means every one, else the value."""
    return "all" if path in ZERO_MEANS_ALL and not value else value
