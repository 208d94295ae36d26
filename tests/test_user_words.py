"""Messages speak the user's words: no exception class names ("SaveError: ..."), no Python keyword arguments
("pass overwrite=True (--overwrite)"), no tracebacks, on the error paths a user can reach, and none in the message
texts of the saves, the run core, the command line and the studio (issue 12, item 7)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from nnstudio import saves
from nnstudio.engine import events
from nnstudio.saves import checkpoints
from nnstudio.tui.run import RunConfig, Session, SessionError
from test_cli_train import BAD_ARGUMENTS, run_cli

ROOT = Path(__file__).resolve().parents[1]
#: what gives internals away: an exception's class name, a Python keyword argument, a traceback
LEAK = re.compile(r"\b[A-Z]\w*(Error|Exception)\b|\b[a-z_]+=(True|False|None|\.\.\.)|Traceback|pass \w+=")


def plain(text: str) -> str:
    assert not LEAK.search(text), text
    return text


def _message_texts(path: Path):
    """The string constants of a module that are not docstrings, with their line numbers."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                and not node.value.isidentifier()):   # (a name: `__all__`, an attribute, a key)
            yield node.lineno, node.value


@pytest.mark.parametrize("folder", ["saves", "tui/cli", "tui/run", "tui/studio"])
def test_no_message_text_names_an_exception_or_a_keyword_argument(folder):
    leaks = [f"{path.relative_to(ROOT)}:{line}: {text!r}" for path in sorted((ROOT / folder).rglob("*.py"))
             for line, text in _message_texts(path) if LEAK.search(text)]
    assert leaks == []


def config(tmp_path, **overrides) -> RunConfig:
    return RunConfig.from_dict({"data": {"name": "blobs", "size": 200}, "training": {"epochs": 2, "batch_size": 32},
                                "checkpoints": {"folder": str(tmp_path / "saves")}}).with_overrides(overrides)


@pytest.fixture
def full_disk_at_epoch_1(monkeypatch):
    """The epoch-1 checkpoint cannot be written (a full disk), through the manager's own error."""
    real_save = checkpoints.CheckpointManager.save

    def save(self, epoch, *args, **kwargs):
        if epoch == 1:
            raise saves.SaveError("cannot write: No space left on device", self.run_dir / "epoch-0001.safetensors")
        return real_save(self, epoch, *args, **kwargs)

    monkeypatch.setattr(checkpoints.CheckpointManager, "save", save)


def test_a_checkpoint_that_cannot_be_written_mid_run_is_said_in_words(tmp_path, full_disk_at_epoch_1):
    """It was "SaveError: .../epoch-0001.safetensors: cannot write: ..." (the loop named any error's class)."""
    seen = []
    session = Session(config(tmp_path), on_event=seen.append)
    assert session.run() == "failed"
    [failed] = [event for event in seen if isinstance(event, events.Failed)]
    assert plain(failed.message).startswith("could not write a checkpoint (epoch-0001.safetensors: cannot write: "
                                            "No space left on device), so the run stopped")
    assert failed.traceback == ""


def test_the_command_line_says_it_in_words_too(tmp_path, full_disk_at_epoch_1, capsys):
    assert run_cli("train", "--dataset", "blobs", "--epochs", "2", "--saves-dir", str(tmp_path)) == 1
    captured = capsys.readouterr()
    plain(captured.out + captured.err)
    assert "could not write a checkpoint" in captured.out + captured.err


def test_a_save_that_exists_says_what_to_do_in_the_words_of_any_front_end(tmp_path):
    """Reached when the name is taken after the command line or the studio checked it (which ask first)."""
    session = Session(config(tmp_path), checkpoints=False)
    session.run()
    session.save("taken")
    with pytest.raises(SessionError) as caught:
        session.save("taken")
    assert plain(str(caught.value)).endswith("taken.safetensors: already exists; choose another name, or overwrite it")


@pytest.mark.parametrize("case", list(BAD_ARGUMENTS))
def test_bad_arguments_are_refused_in_the_users_words(case, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NNSTUDIO_SAVES_DIR", "saves")   # as `test_cli_train` runs them
    make_args, _ = BAD_ARGUMENTS[case]
    assert run_cli("train", "--dataset", "blobs", *make_args(tmp_path)) == 2
    plain(capsys.readouterr().err)


@pytest.mark.parametrize("argv", [
    ["eval", "nowhere"], ["predict", "nowhere"], ["saves", "show", "nowhere"], ["saves", "rm", "nowhere", "--yes"],
    ["eval", "{folder}"], ["saves", "show", "{damaged}"], ["eval", "{damaged}"], ["saves", "rm", "{text}", "--yes"],
    ["saves", "list", "--saves-dir", "{text}"], ["train", "--resume", "{damaged}"], ["train", "--from", "{text}"],
    ["train", "--resume", "--saves-dir", "{folder}"],
])
def test_failures_with_saves_are_said_in_the_users_words(argv, tmp_path, capsys):
    (tmp_path / "damaged.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{nope}  ")
    (tmp_path / "notes.txt").write_text("not a save\n")
    places = {"folder": str(tmp_path), "damaged": str(tmp_path / "damaged.safetensors"),
              "text": str(tmp_path / "notes.txt")}
    status = run_cli(*(arg.format(**places) for arg in argv), *(["--saves-dir", str(tmp_path)]
                                                                 if "--saves-dir" not in argv else []))
    captured = capsys.readouterr()
    assert status in (1, 2) and captured.err.startswith("nnstudio ")
    plain(captured.out + captured.err)
