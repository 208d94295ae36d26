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
    assert error_line(capsys) == (f"nnstudio train: error: --resume nosuch: no run named 'nosuch' in "
                                  f"{folder / 'runs'}, nor one whose name starts with, ends with or holds it "
                                  f"(`nnstudio runs list` shows them)")


@pytest.mark.parametrize("command", [name for name in NAMING_A_SAVE if not name.startswith("studio")])
def test_a_save_that_is_there_but_damaged_is_a_failure(command, folder, capsys):
    """The studio opens such a save and says what is wrong with it in its own window."""
    folder.mkdir()
    (folder / "damaged.safetensors").write_bytes(b"\x00" * 7)
    argv, _ = NAMING_A_SAVE[command]
    assert run([arg.format(save="damaged") for arg in argv]) == 1
    assert "damaged.safetensors" in error_line(capsys)
    assert (folder / "damaged.safetensors").exists()


# ---------------------------------------------------------------------------------------- folders that cannot be used
SAVES_PROBLEM = "checkpoints.folder: FILE/sub cannot be made: FILE is a file, not a folder; name a folder"
DATA_PROBLEM = "data.data_dir: FILE is a file, not a folder; name the folder that holds the data set's files"
#: a folder named in a flag or in a config file -> (arguments, the start of the error line); one check and one
#: message for both (`Setting.check_here`), exit status 2, before anything is loaded or the studio opens
UNUSABLE_FOLDERS = {
    "train --saves-dir": (["train", "--saves-dir", "FILE/sub"], f"nnstudio train: error: --saves-dir: {SAVES_PROBLEM}"),
    "train --resume --saves-dir": (["train", "--resume", "--saves-dir", "FILE/sub"],
                                   f"nnstudio train: error: --saves-dir: {SAVES_PROBLEM}"),
    "train --config": (["train", "--config", "saves.toml"], f"nnstudio train: error: saves.toml: {SAVES_PROBLEM}"),
    "eval --saves-dir": (["eval", "x", "--saves-dir", "FILE/sub"], f"nnstudio eval: error: --saves-dir: {SAVES_PROBLEM}"),
    "predict --saves-dir": (["predict", "x", "--saves-dir", "FILE/sub"],
                            f"nnstudio predict: error: --saves-dir: {SAVES_PROBLEM}"),
    "saves list --saves-dir": (["saves", "list", "--saves-dir", "FILE/sub"],
                               f"nnstudio saves: error: --saves-dir: {SAVES_PROBLEM}"),
    "studio --saves-dir": (["--saves-dir", "FILE/sub"], f"nnstudio: error: --saves-dir: {SAVES_PROBLEM}"),
    "studio --config": (["--config", "saves.toml"], f"nnstudio: error: saves.toml: {SAVES_PROBLEM}"),
    "train --data-dir": (["train", "--data-dir", "FILE"], f"nnstudio train: error: --data-dir: {DATA_PROBLEM}"),
    "train --config, data": (["train", "--config", "data.toml"], f"nnstudio train: error: data.toml: {DATA_PROBLEM}"),
    "eval --data-dir": (["eval", "x", "--data-dir", "FILE"], f"nnstudio eval: error: --data-dir: {DATA_PROBLEM}"),
    "baseline --data-dir": (["baseline", "--data-dir", "FILE"], f"nnstudio baseline: error: --data-dir: {DATA_PROBLEM}"),
    "data list --data-dir": (["data", "list", "--data-dir", "FILE"], f"nnstudio data: error: --data-dir: {DATA_PROBLEM}"),
    "studio --data-dir": (["--data-dir", "FILE"], f"nnstudio: error: --data-dir: {DATA_PROBLEM}"),
    "studio --config, data": (["--config", "data.toml"], f"nnstudio: error: data.toml: {DATA_PROBLEM}"),
}


@pytest.mark.parametrize("case", list(UNUSABLE_FOLDERS))
def test_a_folder_that_cannot_be_used_is_a_usage_error_worded_alike_in_flags_and_files(case, folder, capsys):
    folder.parent.joinpath("FILE").write_text("notes")
    folder.parent.joinpath("saves.toml").write_text('[checkpoints]\nfolder = "FILE/sub"\n')
    folder.parent.joinpath("data.toml").write_text('[data]\ndata_dir = "FILE"\n')
    before = sorted(folder.parent.rglob("*"))
    argv, start = UNUSABLE_FOLDERS[case]
    assert run(argv) == 2
    assert error_line(capsys).startswith(start)
    assert sorted(folder.parent.rglob("*")) == before


def test_a_folder_a_flag_replaces_is_not_looked_at(folder, capsys):
    """--saves-dir over a config file's unusable folder: the run goes on with the flag's."""
    folder.parent.joinpath("FILE").write_text("notes")
    folder.parent.joinpath("saves.toml").write_text('[checkpoints]\nfolder = "FILE/sub"\n[training]\nepochs = 1\n'
                                                    '[data]\nname = "spirals"\n')
    assert run(["train", "--config", "saves.toml", "--saves-dir", "elsewhere", "--no-checkpoints"]) == 0
    assert "Finished" in capsys.readouterr().out


@pytest.mark.parametrize("folder", ["/proc/nnstudio-saves", "/sys/kernel/nnstudio-saves"])
def test_a_saves_folder_that_cannot_be_written_is_refused_before_anything_starts(folder, capsys):
    """Permission bits say nothing to root, nor of /proc or a read-only file system: the folder is tried."""
    import os
    if not os.path.isdir(folder.rsplit("/", 1)[0]):
        pytest.skip("no such system folder here")
    assert main(["train", "--dataset", "blobs", "--saves-dir", folder]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("cannot be written; name a folder you can write (one that is not there yet is made)")
    assert len(err.splitlines()) == 1


def test_ctrl_c_while_the_program_is_still_starting_is_one_line_and_130():
    """A Ctrl+C in the first moments (the imports) printed a 14-line traceback."""
    import subprocess
    import sys
    script = ("import sys\n"
              "class Interrupting:\n"
              "    def find_spec(self, name, path=None, target=None):\n"
              "        if name == 'nnstudio.tui.main':\n"
              "            raise KeyboardInterrupt\n"
              "sys.meta_path.insert(0, Interrupting())\n"
              "from nnstudio.tui.program import run\n"
              "sys.exit(run())\n")
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert child.returncode == 130 and child.stderr == "interrupted\n"


def test_a_reader_that_leaves_early_costs_no_traceback(tmp_path):
    """`nnstudio runs list --json | head -3` ended in a BrokenPipeError traceback."""
    import os
    import subprocess
    import sys
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "NNSTUDIO_OFFLINE": "1",
           "NNSTUDIO_SAVES_DIR": str(tmp_path / "saves")}
    assert main(["train", "--dataset", "blobs", "--epochs", "1", "--saves-dir", str(tmp_path / "saves")]) == 0
    for command in (["runs", "list", "--json"], ["data", "list"]):   # plain JSON lines, and Rich's tables
        read, write = os.pipe()
        os.close(read)   # the reader is gone before anything is written
        child = subprocess.run([sys.executable, "-m", "nnstudio.tui", *command], stdout=write,
                               stderr=subprocess.PIPE, text=True, timeout=60, env=env)
        os.close(write)
        assert child.returncode == 1 and child.stderr == "", command
