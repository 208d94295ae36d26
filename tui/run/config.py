"""The run configuration: one immutable, validated object that describes a training run completely.

    config = load_config("run.toml").with_overrides({"optimizer.lr": parse_value("optimizer.lr", "3e-4")})
    config.optimizer.lr            -> 0.0003
    config.to_dict()               -> plain JSON-able dict; RunConfig.from_dict(d) reads it back, validated
    config.portable_dict()         -> the same without the settings of this machine (what a save records)
    write_config("run.toml", config)

The settings themselves, their types, defaults and rules, are written out in `settings`; this
module puts the sections together, checks the rules between settings (Nesterov needs momentum,
a warm-up shorter than the run), and reads and writes TOML files.

A run's defaults depend on its model preset: the settings a preset recommends (`Preset.training`,
e.g. 20 epochs and a cosine schedule for the MLP) are the defaults of a run of that preset, and
any value given explicitly wins. So `RunConfig()` is the MLP with its recommendations, a config
file that names a preset takes that preset's recommendations for what it leaves out, and a
change of preset (`config_for_preset`, or `with_overrides` with `model.preset`) moves the
settings still at the old preset's defaults to the new one's, keeping those the user changed.
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from nnstudio.engine.fields import Overflowed, overflows, short_repr, suggest
from nnstudio.engine.presets import PRESETS, preset_spec
from nnstudio.saves import SaveError
from nnstudio.saves.atomic import write_bytes as atomic_write_bytes

from .settings import (LIVE_SETTINGS, RECOMMENDED, SECTION_CLASSES, SECTIONS, SETTINGS, CheckpointsSettings,
                       ConfigError, DataSettings, ModelSettings, OptimizerSettings, ScheduleSettings, Section, Setting,
                       TrainingSettings, parse_value, section_settings, setting_at)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "RunConfig", "ConfigError", "Setting", "SETTINGS", "SECTIONS", "LIVE_SETTINGS", "DataSettings", "ModelSettings",
    "OptimizerSettings", "ScheduleSettings", "TrainingSettings", "CheckpointsSettings", "parse_value",
    "section_settings", "setting_at", "model_spec", "dataset_options", "portable", "from_toml", "load_config",
    "to_toml", "write_config", "RECOMMENDED", "preset_default", "config_for_preset",
]

#: the preset of a config that names none
DEFAULT_PRESET: str = SETTINGS["model.preset"].default


def preset_default(preset: str, path: str) -> Any:
    """The default of setting `path` in a run of `preset`: what the preset recommends, else the setting's own.

    preset_default("mlp", "training.epochs") -> 20; preset_default("logreg", "training.epochs") -> 10.
    What "restore the default" means for a run of that preset.
    """
    s = setting_at(path)
    return copy.deepcopy(RECOMMENDED[preset].get(path, s.default)) if preset in RECOMMENDED else s.default


def _section_defaults(name: str, preset: str) -> dict[str, Any]:
    """The settings of section `name` that `preset` recommends, by setting name."""
    return {path.split(".", 1)[1]: copy.deepcopy(value) for path, value in RECOMMENDED[preset].items()
            if path.split(".", 1)[0] == name}


def _default_section(name: str):
    """A section's default: its settings' defaults in a run of the default preset (so `RunConfig()` is one)."""
    return lambda: SECTION_CLASSES[name](**_section_defaults(name, DEFAULT_PRESET))


@dataclass(frozen=True)
class RunConfig:
    """A complete, validated description of a training run (immutable: changes make a new one).

    Read settings as attributes (`config.optimizer.lr`); change them with `replace` or
    `with_overrides`; store them with `to_dict` (JSON) or `write_config` (TOML). A section
    left out takes the default preset's defaults: build the config of another preset with
    `from_dict` or `config_for_preset`, which give it that preset's.
    """

    data: DataSettings = field(default_factory=_default_section("data"))
    model: ModelSettings = field(default_factory=_default_section("model"))
    optimizer: OptimizerSettings = field(default_factory=_default_section("optimizer"))
    schedule: ScheduleSettings = field(default_factory=_default_section("schedule"))
    training: TrainingSettings = field(default_factory=_default_section("training"))
    checkpoints: CheckpointsSettings = field(default_factory=_default_section("checkpoints"))

    def __post_init__(self) -> None:
        for name in SECTIONS:
            expected = SECTION_CLASSES[name]
            if not isinstance(getattr(self, name), expected):
                raise ConfigError(name, f"must be {expected.__name__}, got {short_repr(getattr(self, name))}")
        _check_combinations(self)

    # ------------------------------------------------------------------ dicts (JSON, TOML)
    @classmethod
    def from_dict(cls, data: Any) -> RunConfig:
        """A validated config from plain data (parsed JSON or TOML); missing settings take their defaults
        for the config's preset (its recommendations, else the settings' own defaults).

        Unknown sections and settings are errors (with a did-you-mean): a misspelt setting
        silently ignored would train with the default while the user believes otherwise.
        """
        if not isinstance(data, Mapping):
            raise ConfigError("", f"a run config must be a table of sections ({', '.join(SECTIONS)}), "
                                  f"got {short_repr(data)}")
        for key in data:
            if key not in SECTIONS:
                raise _unknown_section(key)
        model = _section_from(data, "model", {})   # first: its preset gives the others their defaults
        sections = {name: model if name == "model" else _section_from(data, name, _section_defaults(name, model.preset))
                    for name in SECTION_CLASSES}
        return cls(**sections)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Every setting as plain JSON-able data ({section: {name: value}}); `from_dict` reads it back."""
        return {name: {s.name: copy.deepcopy(getattr(getattr(self, name), s.name)) for s in section_settings(name)}
                for name in SECTIONS}

    def portable_dict(self) -> dict[str, dict[str, Any]]:
        """`to_dict` without the settings of this machine (the saves folder): what a save records."""
        return portable(self.to_dict())

    # ------------------------------------------------------------------ changes
    def get(self, path: str) -> Any:
        """The value at a dotted path: config.get("optimizer.lr")."""
        s = setting_at(path)
        return getattr(getattr(self, s.section), s.name)

    def applies(self, path: str) -> bool:
        """Whether a setting matters in this run: false for one that applies only with another choice
        (`only_with`: Nesterov momentum when the optimizer is adam, a step size without a step schedule)."""
        s = setting_at(path)
        return s.only_with is None or self.get(s.only_with.path) in s.only_with.values

    def replace(self, **changes: Any) -> RunConfig:
        """A new validated config with some settings changed: config.replace(**{"optimizer.lr": 0.01})."""
        return self.with_overrides(changes)

    def with_overrides(self, overrides: Mapping[str, Any]) -> RunConfig:
        """A new validated config with the settings at these dotted paths changed.

        A change of a choice (optimizer.name, data.name, schedule.name) puts the settings that
        only applied to the old choice back to their defaults, unless they are changed too: so
        `--optimizer adam` on an rmsprop config does not trip over its alpha. Choosing a
        preset drops a custom model.spec (otherwise the spec would win and the preset do nothing),
        and a change of preset moves each setting still at the old preset's default to the new
        preset's (`preset_default`), unless it is changed too: `--model cnn --epochs 3` trains
        the CNN for 3 epochs with the rest of its recommendations.
        """
        values = self.to_dict()
        for path, value in overrides.items():
            s = setting_at(path)
            values[s.section][s.name] = value
        changed = set(overrides) | _follow_preset(values, self.model.preset, explicit=overrides)
        for path, s in SETTINGS.items():
            if path in overrides or s.only_with is None:
                continue
            section, name = s.only_with.path.split(".")
            if s.only_with.path in changed and values[section][name] not in s.only_with.values:
                values[s.section][s.name] = copy.deepcopy(s.default)
        if "model.preset" in overrides and "model.spec" not in overrides:
            values["model"]["spec"] = None
        return RunConfig.from_dict(values)


def config_for_preset(config: RunConfig, name: str, *, spec: dict | None = None) -> RunConfig:
    """`config` made a run of preset `name`: what a front end calls when the user picks a preset.

    The preset's recommended settings replace those still at the old preset's defaults; a
    setting the user changed (any other value) stays. `spec` is the model to train, typically
    the preset fitted to the data set; without it the preset itself is built at training time.
    The same as `config.replace(**{"model.preset": name, "model.spec": spec})`: use either.
    """
    return config.with_overrides({"model.preset": name, "model.spec": spec})


def _follow_preset(values: dict[str, dict[str, Any]], old: str, *, explicit: Mapping[str, Any]) -> set[str]:
    """If `values` name another preset than `old`, move the settings still at `old`'s defaults to the new
    preset's (in place), except the `explicit` ones; the paths moved."""
    new = values["model"]["preset"]
    if not isinstance(new, str) or new not in RECOMMENDED or new == old:
        return set()   # an unknown preset is reported by from_dict
    moved = set()
    for path in SETTINGS:
        if path in explicit or (path not in RECOMMENDED[old] and path not in RECOMMENDED[new]):
            continue
        s = SETTINGS[path]
        if values[s.section][s.name] == preset_default(old, path):
            values[s.section][s.name] = preset_default(new, path)
            moved.add(path)
    return moved


def _section_from(data: Mapping[str, Any], name: str, defaults: dict[str, Any]) -> Section:
    """Section `name` from the plain data of a config: its values over `defaults` (and the settings' own)."""
    values = data.get(name, {})
    if not isinstance(values, Mapping):
        raise ConfigError(name, f"must be a table of settings ([{name}] in a TOML file), got {short_repr(values)}")
    known = [s.name for s in section_settings(name)]
    for key in values:
        if key not in known:
            shown = key if isinstance(key, str) else short_repr(key)
            raise ConfigError(f"{name}.{shown}", f"unknown setting{suggest(key, known)}; "
                                                 f"{name} settings are: {', '.join(known)}")
    return SECTION_CLASSES[name](**{**defaults, **values})


def _unknown_section(key: Any) -> ConfigError:
    """A top-level key that is no section; a setting written above every [section] is told where it goes."""
    shown = str(key if isinstance(key, str) else short_repr(key))
    homes = [name for name in SECTIONS if any(s.name == key for s in section_settings(name))]
    if homes:
        tables = " or ".join(", ".join(f"[{home}]" for home in homes).rsplit(", ", 1))
        paths = ", ".join(f"{home}.{key}" for home in homes)
        return ConfigError(shown, f"is a setting, not a section: write it under {tables} ({paths})")
    return ConfigError(shown, f"unknown section{suggest(key, SECTIONS)}; sections are: {', '.join(SECTIONS)}")


def _check_combinations(config: RunConfig) -> None:
    """Rules that involve two settings; each message names the one to change."""
    for s in SETTINGS.values():
        if s.only_with is None:
            continue
        other_value = config.get(s.only_with.path)
        if other_value not in s.only_with.values and config.get(s.path) != s.default:
            raise s.error(f"applies only {s.only_with.text()}, but {s.only_with.path} is {other_value!r}; "
                          f"leave {s.name} out or set it to {s.default_text()}")
    opt, sched = config.optimizer, config.schedule
    if opt.name == "sgd" and opt.nesterov and opt.momentum == 0:
        raise ConfigError("optimizer.nesterov", "needs optimizer.momentum > 0 (Nesterov momentum is a kind of "
                                                "momentum); set momentum, e.g. 0.9, or nesterov = false")
    if config.training.early_stopping and config.data.val_fraction == 0:
        raise ConfigError("training.early_stopping", "needs a validation set to watch: data.val_fraction is 0; "
                                                     "hold some data out (e.g. 0.1) or set early_stopping to 0")
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


def flat_settings(data: Mapping[str, Any]) -> dict[str, Any]:
    """A config as `to_dict` (or a save) holds it, {section: {name: value}}, as {"section.name": value}."""
    return {f"{section}.{name}": value for section, values in data.items() if isinstance(values, Mapping)
            for name, value in values.items()}


def setting_in(data: Any, path: str) -> Any:
    """A setting of a config as `to_dict` (or a history record) holds it, by its dotted path ("optimizer.lr"); None
    where the config does not say."""
    value = data
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def portable(data: Mapping[str, Any]) -> dict[str, Any]:
    """A config's plain data without the settings of the machine it was made on (`Setting.machine`:
    the saves folder, often an absolute path that means nothing elsewhere). What a save records,
    and what is read back from one, so older saves that recorded the folder do not impose it."""
    out: dict[str, Any] = {}
    for name, values in data.items():
        if isinstance(values, Mapping):
            values = {key: value for key, value in values.items()
                      if not (f"{name}.{key}" in SETTINGS and SETTINGS[f"{name}.{key}"].machine)}
        out[name] = values
    return out


# ====================================================================== TOML files
_HEADER = ("# nnstudio run configuration: nnstudio train --config FILE\n"
           "# Every setting is optional: a missing one takes its default, or the model preset's recommendation\n"
           "# where the preset makes one (the comments say which); nnstudio train --help describes them.\n")


def _without_none(value: Any) -> Any:
    """Drop null entries: TOML has no null, and a missing key means its default (null, for every nullable setting)."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def to_toml(config: RunConfig) -> str:
    """The config as a TOML document: every setting (so a file shows all a run used), each under a comment
    that says what it is and what it allows. The values are written by tomli-w; only the comments are ours."""
    parts = [_HEADER]
    for name, values in _without_none(config.to_dict()).items():
        parts.append(f"\n# {name}: {SECTIONS[name]}\n[{name}]\n")
        tables = []   # a table (the model spec) goes after the section's plain values, as TOML requires
        for key, value in values.items():
            comment = f"# {SETTINGS[f'{name}.{key}'].describe()}\n"
            if isinstance(value, dict):
                tables.append(f"\n{comment}{tomli_w.dumps({name: {key: value}})}")
            else:
                parts.append(comment + tomli_w.dumps({key: value}))
        parts.extend(tables)
    return "".join(parts)


def from_toml(text: str, *, file: str | os.PathLike | None = None) -> RunConfig:
    """A config from TOML text; errors name `file` when given."""
    try:
        data = tomllib.loads(text, parse_float=_toml_float)
        return RunConfig.from_dict(data)
    except tomllib.TOMLDecodeError as error:   # its message ends "(at line 3, column 7)"
        raise ConfigError("", f"not valid TOML: {error}", file=os.fspath(file) if file is not None else None) from None
    except RecursionError:   # tomllib reads nested arrays recursively
        raise ConfigError("", "is nested far too deeply to be a config file",
                          file=os.fspath(file) if file is not None else None) from None
    except ConfigError as error:
        raise (error.in_file(file) if file is not None else error) from None


def _toml_float(text: str) -> float:
    """A TOML float; one written too large (1e400) keeps its text, so that its message quotes it (`Overflowed`)."""
    return Overflowed(text) if overflows(text) else float(text)


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


def write_config(path: str | os.PathLike, config: RunConfig, *, overwrite: bool = True) -> Path:
    """Write `config` as a TOML file, atomically: the file is the old one or the complete new one, never half."""
    try:
        return atomic_write_bytes(path, to_toml(config).encode("utf-8"), overwrite=overwrite)
    except SaveError as error:
        raise ConfigError("", f"cannot write the config file: {error.problem}", file=os.fspath(path)) from None
