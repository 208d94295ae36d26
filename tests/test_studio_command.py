"""`nnstudio [studio] [SAVE] [OPTIONS]`: which arguments open the studio, and the run they open it on.

The studio is replaced by a recorder that builds the real app (`create_app`) but never runs it,
so each test sees the configuration a user would train with after pressing space.
"""

from __future__ import annotations

import argparse

import pytest

from nnstudio.engine import build_model
from nnstudio.engine.presets import preset_spec
from nnstudio import saves
from nnstudio.tui import main as cli
from nnstudio.tui.run import RunConfig, load_config, write_config
from nnstudio.tui.studio import command as studio_command
from nnstudio.tui.studio.launch import create_app


@pytest.fixture
def opened(monkeypatch):
    """The studios the command line opened: each one's create_app options and the app they built."""
    seen = []

    class Recorder:
        def __init__(self, **options):
            self.options, self.app = options, create_app(**options)
            seen.append(self)

        def run(self):
            pass

        return_code = 0   # (as an app that was quit)

    monkeypatch.setattr(studio_command, "create_app", Recorder)
    return seen


def run(*argv: str) -> int:
    try:
        return cli.main(list(argv))
    except SystemExit as exit:   # argparse's own errors
        return exit.code


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and captured.out == "", captured
    return lines[0]


def test_nnstudio_alone_or_with_a_save_opens_the_studio(opened, tmp_path):
    assert run() == 0
    assert opened[-1].options["offer_resume"] and opened[-1].options["open_path"] is None
    assert opened[-1].app.config.checkpoints.folder == str(saves.default_folder())

    save = saves.save_model(tmp_path / "model.safetensors", build_model(preset_spec("logreg")))
    assert run(str(save)) == 0 and opened[-1].options["open_path"] == save and not opened[-1].options["offer_resume"]
    assert run("--open", "model", "--saves-dir", str(tmp_path)) == 0 and opened[-1].options["open_path"] == save
    assert run("--open", "model", "--saves", str(tmp_path)) == 0   # the studio's old name for --saves-dir
    assert opened[-1].options["open_path"] == save and len(opened) == 4


@pytest.mark.parametrize("argv", [["--data-dir", "{d}"], ["--data-dir={d}"], ["studio", "--data-dir", "{d}"],
                                  ["studio", "--data-dir={d}"], ["--no-resume", "--data-dir", "{d}"]])
def test_every_studio_option_works_without_the_word_studio(argv, opened, tmp_path):
    """`nnstudio --data-dir DIR` was taken for a command named DIR, `--data-dir=DIR` for an unknown option."""
    assert run(*(arg.format(d=tmp_path) for arg in argv)) == 0
    assert opened[-1].app.config.data.data_dir == str(tmp_path)


def test_the_studio_options_come_from_the_studio_parser():
    """Not from a list kept by hand: every option `nnstudio studio` has, and none of the program's own."""
    parser = cli.build_parser()
    options = cli.studio_options(parser)
    assert {"--open", "--no-resume", "--data-dir", "--saves-dir", "--saves", "--config", "--model", "--lr"} <= options
    assert not {"-h", "--help", "--version"} & options
    for option in options:
        assert cli.studio_arguments([option, "x"], cli.commands(parser), options)[0] == "studio"
        assert cli.studio_arguments([f"{option}=x"], cli.commands(parser), options)[0] == "studio"


@pytest.mark.parametrize("argv", [["--dataset", "spirals", "--model", "mlp", "--lr", "0.03"],
                                  ["--dataset=spirals", "--model=mlp", "--lr=0.03"],
                                  ["studio", "--lr", "0.03", "--dataset", "spirals"]])
def test_the_studio_takes_train_s_run_flags(argv, opened):
    assert run(*argv) == 0
    config = opened[-1].app.config
    assert config.data.name == "spirals" and config.model.preset == "mlp" and config.optimizer.lr == 0.03
    assert not opened[-1].app.embedded_default
    assert not opened[-1].options["offer_resume"]   # the user said which run: it opens ready to train


def test_a_setting_flag_keeps_the_default_data_set(opened):
    """Without --dataset the studio opens on its usual data (the embedded digits until the full MNIST is here)."""
    assert run("--epochs", "30") == 0
    assert opened[-1].app.config.training.epochs == 30
    assert opened[-1].app.config.data.name == "mnist-embedded" and opened[-1].app.embedded_default


def test_the_studio_reads_a_config_file_and_the_flags_change_it(opened, tmp_path):
    path = write_config(tmp_path / "run.toml", RunConfig().replace(**{"data.name": "moons", "optimizer.name": "sgd",
                                                                       "training.epochs": 7}))
    assert run("--config", str(path)) == 0
    assert opened[-1].app.config == load_config(path).replace(**{"checkpoints.folder": str(saves.default_folder())})
    assert run("studio", "--config", str(path), "--epochs", "30") == 0
    config = opened[-1].app.config
    assert (config.data.name, config.optimizer.name, config.training.epochs) == ("moons", "sgd", 30)


def test_the_studio_reads_its_flags_with_train_s_own_code():
    """One flag table and one reading: the studio's parser has exactly train's run options."""
    parser = cli.build_parser()
    commands = cli.commands(parser)

    def run_options(command: str) -> set[str]:
        return {option for action in commands[command]._actions if isinstance(action, argparse.Action)
                for option in action.option_strings if action.help != argparse.SUPPRESS}

    train_only = {"--no-checkpoints", "--save", "--overwrite", "--resume", "--from", "--reinit", "--json",
                  "--write-config", "--fork"}
    assert run_options("train") - train_only == run_options("studio") - {"--open", "--no-resume"}


@pytest.mark.parametrize("argv, expected", [
    (["--lr", "fast"], "nnstudio: error: --lr: optimizer.lr: must be a number >= 0, got 'fast'"),
    (["--lr=-1"], "nnstudio: error: --lr: optimizer.lr: must be a number >= 0"),
    (["--dataset", "spirlas"], "did you mean 'spirals'?"),
    (["--config", "absent.toml"], "nnstudio: error: absent.toml: no such config file"),
    (["--model", "resnet"], "nnstudio: error: --model: model.preset: must be one of"),
    (["--data-dir", "nowhere"], "nnstudio: error: --data-dir: data.data_dir: nowhere does not exist"),
    (["--saves-dir", "/dev/null/sub"], "nnstudio: error: --saves-dir: checkpoints.folder: /dev/null/sub cannot be "
                                       "made: /dev/null is not a folder; name a folder"),
    (["--schedule", "cosine", "--warmup", "9", "--epochs", "3"], "--warmup: schedule.warmup_epochs: must be less"),
    (["--model", "cnn", "model"], "nnstudio: error: --model cannot be combined with a save to open"),
    (["--lr"], "nnstudio studio: error: argument --lr: expected one argument"),
])
def test_bad_studio_flags_are_one_line_and_nothing_opens(argv, expected, opened, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    saves.save_model(saves.default_folder() / "model.safetensors", build_model(preset_spec("logreg")))
    assert run(*argv) == 2
    assert expected in one_error_line(capsys)
    assert opened == []


def test_help_says_the_studio_takes_the_run_flags(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "nnstudio --dataset spirals --model mlp --lr 0.03" in out and "nnstudio --config run.toml" in out
    with pytest.raises(SystemExit):
        cli.main(["studio", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--config FILE" in out and "--lr X" in out and "--saves-dir DIR" in out and "those of `nnstudio train`" in out
    assert "--saves " not in out and "--saves]" not in out   # the old name works, undocumented


async def test_an_emptied_saves_folder_setting_means_the_default_folder(tmp_path):
    """checkpoints.folder "" is the default saves folder (as in a config file), not the working folder."""
    from nnstudio.tui.studio.messages import ConfigChanged

    app = create_app(saves_dir=tmp_path / "mine", offer_resume=False)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.panes["saves"].saves_dir == tmp_path / "mine"
        app.post_message(ConfigChanged(app.config.replace(**{"checkpoints.folder": ""})))
        await pilot.pause()
        assert app.config.checkpoints.folder == ""
        assert app.panes["saves"].saves_dir == saves.default_folder()
