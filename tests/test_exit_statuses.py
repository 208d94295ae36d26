"""One rule for the exit status of every command (README, "Command line"), checked where a save is named.

2: a usage error, which includes a save, run or file named that is not there; 1: something that is
there but fails (a damaged save, a run that fails); the message is one line on stderr either way.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nnstudio.tui.main import main
from nnstudio.tui.studio import command as studio_command

#: every way to name a save (or a run) on the command line -> the prefix of its error line
NAMING_A_SAVE = {
    "eval": (["eval", "{save}"], "nnstudio eval: error: "),
    "predict": (["predict", "{save}"], "nnstudio predict: error: "),
    "saves show": (["saves", "show", "{save}"], "nnstudio saves: error: "),
    "saves rm": (["saves", "rm", "{save}", "--yes"], "nnstudio saves: error: "),
    "train --from": (["train", "--from", "{save}"], "nnstudio train: error: --from: "),
    "studio SAVE": (["studio", "{save}"], "nnstudio: error: "),
    "studio --open": (["--open", "{save}"], "nnstudio: error: "),
}


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    """An empty saves folder, and a studio that must never open."""
    monkeypatch.setenv("NNSTUDIO_SAVES_DIR", str(tmp_path / "saves"))
    monkeypatch.setattr(studio_command, "create_app", lambda **options: pytest.fail("the studio opened"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "saves"


def run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit:
        return exit.code


def error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and captured.out == "", captured
    return lines[0]


@pytest.mark.parametrize("command", list(NAMING_A_SAVE))
def test_a_save_that_is_not_there_is_a_usage_error(command, folder, capsys):
    argv, prefix = NAMING_A_SAVE[command]
    assert run([arg.format(save="nosuch") for arg in argv]) == 2
    assert error_line(capsys) == f"{prefix}no save named 'nosuch' in {folder} (`nnstudio saves list` shows them)"
    missing = Path("gone") / "nosuch.safetensors"
    assert run([arg.format(save=missing) for arg in argv]) == 2
    assert error_line(capsys) == f"{prefix}{missing}: no such file"


def test_a_run_that_is_not_there_is_a_usage_error(folder, capsys):
    assert run(["train", "--resume", "nosuch"]) == 2
    assert error_line(capsys) == (f"nnstudio train: error: --resume nosuch: no such run folder or checkpoint "
                                  f"(runs are in {folder / 'runs'})")


@pytest.mark.parametrize("command", [name for name in NAMING_A_SAVE if not name.startswith("studio")])
def test_a_save_that_is_there_but_damaged_is_a_failure(command, folder, capsys):
    """The studio opens such a save and says what is wrong with it in its own window."""
    folder.mkdir()
    (folder / "damaged.safetensors").write_bytes(b"\x00" * 7)
    argv, _ = NAMING_A_SAVE[command]
    assert run([arg.format(save="damaged") for arg in argv]) == 1
    assert "damaged.safetensors" in error_line(capsys)
    assert (folder / "damaged.safetensors").exists()
