"""The run configuration: the settings table, validation messages, text parsing, TOML and JSON round trips.

Most tests are parametrised over `SETTINGS`, so a setting added to the table is tested at once.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnstudio.engine.control import LIVE_SETTINGS as ENGINE_LIVE_SETTINGS
from nnstudio.engine.presets import preset_spec
from nnstudio.engine.spec import SpecError
from nnstudio.tui.run.config import (
    LIVE_SETTINGS, RECOMMENDED, SECTIONS, SETTINGS, ConfigError, RunConfig, Setting, dataset_options, from_toml,
    load_config, model_spec, parse_value, preset_default, setting_at, to_toml, write_config,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SPECS = [preset_spec(name) for name in ("logreg", "mlp", "deep-mlp", "cnn", "autoencoder")]
CNN = preset_spec("cnn")


def config_with(**values) -> RunConfig:
    """A config from dotted paths: config_with(**{"optimizer.lr": 0.1})."""
    return RunConfig().with_overrides(values)


def raises_for(path: str):
    """pytest.raises(ConfigError) that also checks the error names `path` (attribute and message)."""
    class Check:
        def __enter__(self):
            self.ctx = pytest.raises(ConfigError)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self.ctx.__exit__(*exc)
            if handled:
                assert self.info.value.field == path, str(self.info.value)
                assert str(self.info.value).startswith(f"{path}: "), str(self.info.value)
            return handled
    return Check()


# ====================================================================== the table and defaults
def test_defaults_are_valid_and_come_from_the_table_and_the_default_preset():
    config = RunConfig()
    assert config == RunConfig.from_dict({})
    assert config.model.preset == "mlp"
    for path, s in SETTINGS.items():
        assert config.get(path) == RECOMMENDED["mlp"].get(path, s.default) == preset_default("mlp", path)
        assert s.check(s.default) == s.default


def test_the_sections_are_the_tables_sections():
    assert [f.name for f in dataclasses.fields(RunConfig)] == list(SECTIONS)
    assert {s.section for s in SETTINGS.values()} == set(SECTIONS)


def test_live_settings_are_the_ones_the_engine_can_change_between_batches():
    assert sorted(path.split(".")[1] for path in LIVE_SETTINGS) == sorted(ENGINE_LIVE_SETTINGS)


@pytest.mark.parametrize("path", list(SETTINGS))
def test_every_setting_has_help_text(path):
    s = SETTINGS[path]
    help_text = SETTINGS[path].describe()
    assert s.description in help_text and s.constraint in help_text
    assert "\n" not in help_text
    assert ("can change while training" in help_text) == s.live


def test_config_is_immutable():
    config = RunConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.optimizer.lr = 0.1  # type: ignore[misc]


def test_a_section_of_the_wrong_kind_is_refused():
    from nnstudio.tui.run.config import DataSettings
    with raises_for("optimizer"):
        RunConfig(optimizer=DataSettings())


# ====================================================================== bad values, per setting
def _below(s: Setting) -> list:
    step = 1 if s.kind is int else 0.5
    if s.low_open:
        return [s.low]
    return [v for v in (s.low - step, s.low - 2 * step) if s.special is None or v != s.special[0]][:1]


def bad_values(s: Setting) -> list:
    """Values that setting `s` must refuse, derived from its entry in the table."""
    values: list = [[1, 2]]
    if not s.nullable:
        values.append(None)
    if s.kind is bool:
        values += [1, 0, "true", 1.0]
    elif s.kind in (int, float):
        values += [True, False, "abc", "10", {"a": 1}]
        if s.low is not None:
            values += _below(s)
        if s.high is not None:
            values.append(s.high if s.high_open else s.high + 1)
        if s.kind is int:
            values += [2.5, 10.0, 2 ** 64]
        else:
            values += [math.nan, math.inf, -math.inf, 10 ** 400]
    elif s.kind is str:
        values += [5, True, "a\x00b", "\ud800"]
        if s.choices:
            values += ["nonsense", s.choices[0].upper() + "x"]
        if s.nonempty:
            values += ["", "   "]
    elif s.kind is dict:
        values += ["mlp", 3, {"input_shape": [784]}, {"input_shape": [784], "layers": [{"type": "lineer"}]},
                   {"input_shape": [784], "layers": [{"type": "linear", "out": 0}]}]
    return values


@pytest.mark.parametrize("path, value", [(p, v) for p, s in SETTINGS.items() for v in bad_values(s)],
                         ids=lambda x: repr(x)[:30])
def test_a_bad_value_names_the_setting(path, value):
    section, name = path.split(".")
    with raises_for(path) as info:
        RunConfig.from_dict({section: {name: value}})
    if SETTINGS[path].kind is not dict:   # a spec's problems are worded by the engine's validate_spec
        assert "must" in info.value.problem or "far too large" in info.value.problem


@pytest.mark.parametrize("path", [p for p, s in SETTINGS.items() if s.kind in (int, float)])
def test_typed_text_out_of_range_or_not_a_number_names_the_setting(path):
    s = SETTINGS[path]
    texts = ["abc", "", "1,5"] + [str(v) for v in _below(s) if s.low is not None]
    if s.kind is float:
        texts += ["nan", "inf", "-inf"]
    else:
        texts += ["2.5", "1e3"]
    for text in texts:
        with raises_for(path):
            parse_value(path, text)


def test_the_message_says_what_is_allowed():
    with raises_for("optimizer.lr") as info:
        RunConfig.from_dict({"optimizer": {"lr": "abc"}})
    assert str(info.value) == "optimizer.lr: must be a number >= 0, got 'abc'"
    with raises_for("optimizer.name") as info:
        RunConfig.from_dict({"optimizer": {"name": "adm"}})
    assert str(info.value) == ("optimizer.name: must be one of sgd, rmsprop, adam, adamw, got 'adm' "
                               "(did you mean 'adam'?)")
    with raises_for("optimizer.momentum") as info:
        parse_value("optimizer.momentum", "1")
    assert "a number >= 0 and < 1" in str(info.value)


def test_a_quoted_number_in_a_file_gets_a_hint():
    with raises_for("training.epochs") as info:
        from_toml('[training]\nepochs = "20"\n')
    assert "without quotes" in str(info.value) and "epochs = 20" in str(info.value)


# ====================================================================== types
def test_bool_is_not_a_number_and_a_number_is_not_a_bool():
    with raises_for("training.epochs"):
        RunConfig.from_dict({"training": {"epochs": True}})
    with raises_for("optimizer.lr"):
        RunConfig.from_dict({"optimizer": {"lr": False}})
    with raises_for("data.standardize"):
        RunConfig.from_dict({"data": {"standardize": 1}})


def test_whole_numbers_are_fine_for_number_settings_and_become_floats():
    config = RunConfig.from_dict({"optimizer": {"lr": 1, "weight_decay": 0}, "data": {"noise": -1}})
    assert config.optimizer.lr == 1.0 and type(config.optimizer.lr) is float
    assert type(config.optimizer.weight_decay) is float and config.data.noise == -1.0


def test_numpy_scalars_become_plain_python_values():
    np = pytest.importorskip("numpy")
    config = RunConfig.from_dict({"optimizer": {"lr": np.float32(0.5)}, "training": {"epochs": np.int64(3)},
                                  "data": {"standardize": np.bool_(True)}})
    assert type(config.optimizer.lr) is float and type(config.training.epochs) is int
    assert type(config.data.standardize) is bool
    json.dumps(config.to_dict())


def test_special_values_mean_the_data_sets_default():
    config = config_with(**{"data.name": "spirals", "data.size": 0, "data.noise": -1, "data.classes": 0})
    assert dataset_options(config) == {}
    with raises_for("data.classes"):
        config_with(**{"data.name": "spirals", "data.classes": 1})
    with raises_for("data.noise"):
        config_with(**{"data.name": "spirals", "data.noise": -0.5})


# ====================================================================== unknown names
def test_unknown_section_suggests_the_right_one():
    with raises_for("optimiser") as info:
        RunConfig.from_dict({"optimiser": {"lr": 0.1}})
    assert "did you mean 'optimizer'?" in str(info.value)


def test_a_setting_outside_its_section_is_told_where_it_goes():
    with raises_for("lr") as info:
        from_toml("lr = 0.1\n[training]\nepochs = 2\n")
    assert str(info.value) == "lr: is a setting, not a section: write it under [optimizer] (optimizer.lr)"
    with raises_for("name") as info:  # a name several sections have: all of them are offered
        RunConfig.from_dict({"name": "adam"})
    assert "under [data], [optimizer] or [schedule] (data.name, optimizer.name, schedule.name)" in str(info.value)
    with raises_for("epochz") as info:  # neither a section nor a setting: the sections are listed
        RunConfig.from_dict({"epochz": 3})
    assert "unknown section" in str(info.value)


def test_unknown_setting_suggests_the_right_one():
    with raises_for("optimizer.momentun") as info:
        RunConfig.from_dict({"optimizer": {"momentun": 0.5}})
    assert "did you mean 'momentum'?" in str(info.value)
    with raises_for("optimizer.lrr") as info:
        parse_value("optimizer.lrr", "0.1")
    assert "did you mean 'optimizer.lr'?" in str(info.value)
    with raises_for("trainig.epochs") as info:
        RunConfig().replace(**{"trainig.epochs": 3})
    assert "did you mean 'training.epochs'?" in str(info.value)
    with pytest.raises(ConfigError, match="^nope: unknown setting"):
        setting_at("nope")


@pytest.mark.parametrize("data", [None, [], "x", 3, {"optimizer": 3}, {"optimizer": [1]}, {3: {}},
                                  {"optimizer": {3: 1}}])
def test_wrong_shapes_of_config_are_config_errors(data):
    with pytest.raises(ConfigError):
        RunConfig.from_dict(data)


# ====================================================================== combinations
def test_nesterov_needs_momentum():
    config_with(**{"optimizer.name": "sgd", "optimizer.nesterov": True})
    with raises_for("optimizer.nesterov") as info:
        config_with(**{"optimizer.name": "sgd", "optimizer.nesterov": True, "optimizer.momentum": 0})
    assert "momentum > 0" in str(info.value)


def test_a_setting_for_another_choice_is_refused_when_changed():
    with raises_for("optimizer.nesterov") as info:
        RunConfig.from_dict({"optimizer": {"name": "adam", "nesterov": True}})
    assert "optimizer.name is sgd" in str(info.value)
    with raises_for("optimizer.alpha"):
        RunConfig.from_dict({"optimizer": {"name": "adam", "alpha": 0.5}})
    with raises_for("data.size") as info:
        RunConfig.from_dict({"data": {"name": "mnist", "size": 500}})
    assert "synthetic data sets" in str(info.value)
    with raises_for("data.classes"):
        RunConfig.from_dict({"data": {"name": "moons", "classes": 4}})
    with raises_for("schedule.eta_min"):
        RunConfig.from_dict({"schedule": {"name": "step", "eta_min": 0.01}})
    with raises_for("training.label_smoothing"):
        RunConfig.from_dict({"data": {"name": "sine"}, "training": {"label_smoothing": 0.1}})
    # at its default such a setting is simply unused
    RunConfig.from_dict({"optimizer": {"name": "adam", "alpha": 0.99, "nesterov": False}})


def test_warmup_must_end_before_training_does():
    config_with(**{"schedule.name": "cosine", "schedule.warmup_epochs": 9, "training.epochs": 10})
    with raises_for("schedule.warmup_epochs"):
        config_with(**{"schedule.name": "cosine", "schedule.warmup_epochs": 10, "training.epochs": 10})


def test_changing_a_choice_resets_the_settings_that_only_applied_to_the_old_one():
    rms = config_with(**{"optimizer.name": "rmsprop", "optimizer.alpha": 0.9})
    adam = rms.with_overrides({"optimizer.name": "adam"})
    assert adam.optimizer.alpha == 0.99 and rms.optimizer.alpha == 0.9
    spirals = config_with(**{"data.name": "spirals", "data.size": 300, "data.classes": 5})
    mnist = spirals.replace(**{"data.name": "mnist"})
    assert (mnist.data.size, mnist.data.classes) == (0, 0)
    assert spirals.replace(**{"data.name": "blobs"}).data.classes == 5   # still applies: kept


def test_choosing_a_preset_drops_a_custom_spec():
    custom = config_with(**{"model.spec": CNN})
    assert model_spec(custom) == CNN
    assert custom.replace(**{"model.preset": "logreg"}).model.spec is None
    assert custom.replace(**{"training.epochs": 3}).model.spec == CNN


# ====================================================================== parse_value
@pytest.mark.parametrize("path, text, expected", [
    ("optimizer.lr", "1e-3", 0.001),
    ("optimizer.lr", " 0.01 ", 0.01),
    ("optimizer.lr", "0", 0.0),
    ("training.epochs", "20", 20),
    ("training.batch_size", "1_024", 1024),
    ("data.standardize", "true", True),
    ("data.standardize", "Yes", True),
    ("data.standardize", "no", False),
    ("data.standardize", "FALSE", False),
    ("checkpoints.every_epoch", "off", False),
    ("optimizer.name", "adam", "adam"),
    ("optimizer.name", " Adam ", "adam"),
    ("data.name", "fashion-mnist", "fashion-mnist"),
    ("data.noise", "-1", -1.0),
    ("data.data_dir", " ~/mnist ", os.path.expanduser("~/mnist")),   # (as a shell would)
    ("model.spec", "", None),
    ("model.spec", "none", None),
])
def test_parse_value(path, text, expected):
    value = parse_value(path, text)
    assert value == expected and type(value) is type(expected)


def test_parse_value_reads_a_spec_as_json():
    assert parse_value("model.spec", json.dumps(CNN)) == CNN
    with raises_for("model.spec") as info:
        parse_value("model.spec", "{not json")
    assert "JSON" in str(info.value)


@pytest.mark.parametrize("path, text", [("data.standardize", "maybe"), ("optimizer.name", "adm"),
                                        ("training.epochs", "ten"), ("optimizer.lr", "-0.1")])
def test_parse_value_refuses(path, text):
    with raises_for(path):
        parse_value(path, text)


def test_override_from_typed_text_as_the_cli_does():
    config = RunConfig().with_overrides({p: parse_value(p, t) for p, t in
                                         [("optimizer.lr", "0.01"), ("optimizer.name", "sgd"),
                                          ("optimizer.nesterov", "yes")]})
    assert (config.optimizer.lr, config.optimizer.name, config.optimizer.nesterov) == (0.01, "sgd", True)


# ====================================================================== the model spec
def test_a_bad_spec_keeps_the_layer_message():
    with raises_for("model.spec") as info:
        RunConfig.from_dict({"model": {"spec": {"input_shape": [784], "layers": [{"type": "lineer", "out": 3}]}}})
    assert "layer 0" in str(info.value) and "did you mean 'linear'?" in str(info.value)
    assert isinstance(info.value.__cause__, SpecError)


def test_a_spec_is_stored_normalised():
    config = config_with(**{"model.spec": {"input_shape": [784], "layers": [{"type": "linear", "out": 10}]}})
    assert config.model.spec["layers"][0] == {"type": "linear", "out": 10, "bias": True, "init": "auto"}


def test_model_spec_from_preset_fits_the_data():
    assert model_spec(RunConfig()) == preset_spec("mlp")
    spirals = model_spec(config_with(**{"model.preset": "mlp"}), input_shape=(2,), classes=3)
    assert spirals["input_shape"] == [2] and spirals["layers"][-1]["out"] == 3
    assert model_spec(config_with(**{"model.preset": "autoencoder"}), classes=3) == preset_spec("autoencoder")


def test_dataset_options_are_only_the_ones_set():
    assert dataset_options(RunConfig()) == {}
    config = config_with(**{"data.name": "spirals", "data.size": 500, "data.classes": 4, "data.noise": 0.2,
                            "data.data_dir": "/tmp/x"})
    assert dataset_options(config) == {"data_dir": "/tmp/x", "size": 500, "noise": 0.2, "classes": 4}


# ====================================================================== round trips
def modified_configs() -> list[RunConfig]:
    return [
        RunConfig(),
        config_with(**{"optimizer.name": "sgd", "optimizer.lr": 1e-8, "optimizer.nesterov": True,
                       "optimizer.momentum": 0.95, "schedule.name": "step", "schedule.step_size": 3,
                       "schedule.gamma": 0.5, "training.epochs": 5000, "training.seed": 2 ** 63 - 1,
                       "checkpoints.folder": 'runs/"quoted" \\ back\tslash ünï', "data.data_dir": "a\nb"}),
        config_with(**{"model.spec": CNN, "data.name": "spirals", "data.size": 10, "data.noise": 0.0,
                       "data.classes": 7, "schedule.name": "cosine", "schedule.eta_min": 1e-300,
                       "schedule.warmup_epochs": 2, "optimizer.name": "rmsprop", "optimizer.alpha": 0.5}),
        config_with(**{"model.spec": preset_spec("autoencoder"), "optimizer.name": "adamw",
                       "optimizer.weight_decay": 0.01, "optimizer.eps": 5e-324}),
    ]


@pytest.mark.parametrize("config", modified_configs())
def test_json_round_trip(config):
    text = json.dumps(config.to_dict(), allow_nan=False)
    assert RunConfig.from_dict(json.loads(text)) == config
    assert json.loads(text) == config.to_dict()


@pytest.mark.parametrize("config", modified_configs())
def test_toml_round_trip(config, tmp_path):
    path = tmp_path / "run.toml"
    write_config(path, config)
    assert load_config(path) == config
    assert tomllib.loads(path.read_text(encoding="utf-8")) == _without_none(config.to_dict())


def _without_none(value):
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def test_the_saved_file_is_readable():
    text = to_toml(config_with(**{"model.spec": CNN}))
    assert "[model.spec]" in text and '{ type = "conv2d", out = 16' in text and 'name = "adam"' in text
    assert "# learning rate" in text
    assert "eps = 1e-08" in text


def test_a_partial_file_takes_defaults():
    assert from_toml("[optimizer]\nlr = 0.5\n") == config_with(**{"optimizer.lr": 0.5})
    assert from_toml("") == RunConfig()


# ====================================================================== files
def test_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value) and info.value.file == str(path)


def test_invalid_toml_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[optimizer]\nlr = = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value) and "line 2" in str(info.value)


def test_invalid_setting_in_a_file_names_file_and_setting(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("[optimizer]\nname = \"adm\"\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.field == "optimizer.name"
    assert str(info.value).startswith(f"{path}: optimizer.name: ")


@pytest.mark.parametrize("text, problem", [
    ("[optimizer]\nlr = true\n", "optimizer.lr: must be a number >= 0, got true (a yes/no value)"),
    ("[training]\nepochs = false\n", "training.epochs: must be a whole number >= 1 and <= 5000, got false (a yes/no "
                                      "value)"),
    ("[optimizer]\nlr = 1e400\n", "optimizer.lr: 1e400 is too large (it overflows to infinity; the largest number "
                                   "is about 1.8e308)"),
    ("[optimizer]\nlr = -1_0e400\n", "optimizer.lr: -1_0e400 is too far below 0 (it overflows to -infinity"),
    ("[training]\nepochs = 1e400\n", "training.epochs: 1e400 is too large (it overflows to infinity"),
    ("[optimizer]\nlr = inf\n", "optimizer.lr: must be a number >= 0, got inf (it must be a finite number)"),
])
def test_a_file_s_wrong_value_is_told_in_the_file_s_words(tmp_path, text, problem):
    """Not "got True" (Python's word for TOML's true) nor "got inf" for a number written 1e400."""
    path = tmp_path / "run.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: {problem}"), str(info.value)


@pytest.mark.parametrize("content", [b"\xff\xfe[data]", b"\x00\x01\x02"])
def test_binary_file_is_a_config_error(tmp_path, content):
    path = tmp_path / "run.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match="run.toml"):
        load_config(path)


def test_deeply_nested_toml_is_a_config_error():
    with pytest.raises(ConfigError, match="deeply"):
        from_toml("a = " + "[" * 5000)


def test_a_folder_is_not_a_config_file(tmp_path):
    with pytest.raises(ConfigError, match="folder"):
        load_config(tmp_path)


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "run.toml"
    write_config(path, RunConfig())
    write_config(path, config_with(**{"training.epochs": 3}))
    assert os.listdir(tmp_path) == ["run.toml"]
    assert load_config(path).training.epochs == 3


def test_a_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "run.toml"
    write_config(path, RunConfig())
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ConfigError, match="No space left"):
        write_config(path, config_with(**{"training.epochs": 3}))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["run.toml"]


def test_save_creates_the_folder(tmp_path):
    path = tmp_path / "runs" / "a" / "run.toml"
    write_config(path, RunConfig())
    assert load_config(path) == RunConfig()


# ====================================================================== hypothesis: valid configs
def value_strategy(s: Setting) -> st.SearchStrategy:
    """Valid values of one setting, read from its entry in the table."""
    if s.choices is not None:
        base = st.sampled_from(s.choices)
    elif s.kind is bool:
        base = st.booleans()
    elif s.kind is int:
        low = None if s.low is None else int(s.low) + (1 if s.low_open else 0)
        high = 2 ** 63 - 1 if s.high is None else int(s.high) - (1 if s.high_open else 0)
        base = st.integers(min_value=low, max_value=high)
    elif s.kind is float:
        base = st.floats(min_value=s.low, max_value=s.high, exclude_min=s.low_open, exclude_max=s.high_open,
                         allow_nan=False, allow_infinity=False)
    elif s.kind is str:
        text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)
        base = text.filter(str.strip) if s.nonempty else text
    elif s.kind is dict:
        base = st.sampled_from(SPECS)
    else:  # pragma: no cover - a new kind of setting needs a strategy here
        raise AssertionError(f"no strategy for {s.path}")
    if s.special is not None:
        base = st.just(s.special[0]) | base
    if s.nullable:
        base = st.none() | base
    return base


@st.composite
def valid_configs(draw) -> RunConfig:
    values: dict = {section: {} for section in SECTIONS}
    for s in SETTINGS.values():
        values[s.section][s.name] = draw(value_strategy(s))
    for s in SETTINGS.values():   # a setting that does not apply stays at its default
        if s.only_with is not None:
            section, name = s.only_with.path.split(".")
            if values[section][name] not in s.only_with.values:
                values[s.section][s.name] = s.default
    # the rules between numbers
    if values["data"]["val_fraction"] == 0:
        values["training"]["early_stopping"] = 0   # nothing to watch
    if values["schedule"]["name"] != "none":
        values["schedule"]["warmup_epochs"] = draw(st.integers(0, values["training"]["epochs"] - 1))
    if values["optimizer"]["momentum"] == 0:
        values["optimizer"]["nesterov"] = False
    return RunConfig.from_dict(values)


@FAST
@given(valid_configs())
def test_random_valid_configs_round_trip_through_json_and_toml(config):
    assert RunConfig.from_dict(json.loads(json.dumps(config.to_dict(), allow_nan=False))) == config
    assert from_toml(to_toml(config)) == config
    overrides = {path: config.get(path) for path in SETTINGS}
    assert RunConfig().with_overrides(overrides) == config


@FAST
@given(valid_configs(), st.sampled_from([p for p, s in SETTINGS.items() if s.kind is not dict]))
def test_typed_text_of_a_valid_value_parses_back(config, path):
    value = config.get(path)
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    if SETTINGS[path].kind is str and text != text.strip():
        return   # typed text is stripped; a value with outer spaces is not typed in
    assert parse_value(path, text) == value


# ====================================================================== hypothesis: junk
_scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
            | st.sampled_from(["adam", "sgd", "mnist", "spirals", "cnn", "step", "cosine"]))
_junk = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)
_names = st.sampled_from(sorted({s.name for s in SETTINGS.values()})) | st.text(max_size=8)
_junk_sections = st.dictionaries(st.sampled_from(list(SECTIONS)) | st.text(max_size=8),
                                 st.dictionaries(_names, _junk, max_size=5) | _junk, max_size=4)


@FAST
@given(_junk_sections | _junk)
def test_junk_only_ever_raises_config_error(data):
    try:
        RunConfig.from_dict(data)
    except ConfigError:
        pass


@FAST
@given(st.sampled_from(list(SETTINGS)) | st.text(max_size=10), _junk)
def test_junk_override_only_ever_raises_config_error(path, value):
    try:
        RunConfig().with_overrides({path: value})
    except ConfigError:
        pass


@FAST
@given(st.sampled_from(list(SETTINGS)) | st.text(max_size=10), st.text(max_size=30))
def test_junk_text_only_ever_raises_config_error(path, text):
    try:
        parse_value(path, text)
    except ConfigError:
        pass


@FAST
@given(st.text(max_size=200))
def test_junk_toml_text_only_ever_raises_config_error(text):
    try:
        from_toml(text, file="x.toml")
    except ConfigError as error:
        assert error.file == "x.toml"


def test_early_stopping_needs_a_validation_set():
    with pytest.raises(ConfigError, match="training.early_stopping: needs a validation set to watch"):
        RunConfig().replace(**{"training.early_stopping": 3, "data.val_fraction": 0.0})
    assert RunConfig().replace(**{"training.early_stopping": 3}).training.early_stopping == 3


def test_a_folder_written_with_a_tilde_is_in_the_home_folder(monkeypatch, tmp_path):
    """A config file (or a quoted flag) is not expanded by a shell: "~/saves" made a folder named ~ here."""
    monkeypatch.setenv("HOME", str(tmp_path))
    config = RunConfig().replace(**{"checkpoints.folder": "~/saves", "data.data_dir": "~/mnist"})
    assert config.checkpoints.folder == str(tmp_path / "saves") and config.data.data_dir == str(tmp_path / "mnist")
    assert from_toml('[checkpoints]\nfolder = "~/runs"\n').checkpoints.folder == str(tmp_path / "runs")
    monkeypatch.setenv("NNSTUDIO_SAVES_DIR", "~/env-saves")
    from nnstudio import saves
    assert saves.default_folder() == tmp_path / "env-saves"
