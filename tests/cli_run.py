"""Running the command line inside the test's process."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from nnstudio.tui.main import main


def run_cli(*argv: str) -> int:
    """The exit status of `nnstudio ARGV...` (argparse's own errors exit through SystemExit)."""
    try:
        return main(list(argv))
    except SystemExit as exit:
        return exit.code


def quick_saves(tmp_path_factory, runs: dict[str, list[str]]) -> Path:
    """A folder of saves, one per `nnstudio train ARGS... --save NAME` in `runs` (offline, quietly)."""
    folder = tmp_path_factory.mktemp("saves")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NNSTUDIO_OFFLINE", "1")
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        with contextlib.redirect_stdout(io.StringIO()):
            for name, args in runs.items():
                assert run_cli("train", *args, "--no-checkpoints", "--saves-dir", str(folder), "--save", name) == 0
    return folder
