"""Every command prints under any terminal encoding: a character the stream cannot encode is replaced, never a
traceback, and tables fall back to ASCII boxes (`nnstudio.tui.main.safe_output`).

Each environment is one child process that runs every command in turn through `main` (the streams are set up
once per process, as the installed `nnstudio` sets them up), so the whole tour costs one start-up each.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import real_mnist
from nnstudio.tui.main import main

NAME = "modèle-π"
#: a save made beforehand (by this process, in UTF-8): its name on disk reaches every environment as it is
ON_DISK = "déjà-vu"
#: the commands, separated by ";" on the child's command line, and the exit status each must give
TOUR = [
    (["train", "--dataset", "spirals", "--epochs", "1", "--save", NAME], 0),
    (["saves", "list"], 0),
    (["saves", "show", NAME], 0),
    (["eval", NAME], 0),
    (["predict", NAME, "--count", "2"], 0),
    (["data", "list"], 0),
    (["baseline", "--dataset", "spirals", "--samples", "100"], 0),
    (["race", "--steps", "5"], 0),
    (["train", "--dataset", "spirals", "--epochs", "1", "--save", NAME], 2),   # taken: an error line naming it
    (["eval", "absent-ñ"], 2),
    (["--help"], 0),
    (["train", "--help"], 0),
]
if real_mnist.HAVE_MNIST:
    TOUR.append((["bench", "--models", "mlp", "--epochs", "1", "--limit", "200", "--data-dir",
                  str(real_mnist.MNIST_DIR)], 0))

#: runs the commands given on its command line (separated by ";") through main, then prints their statuses
DRIVER = """
import sys
from nnstudio.tui.main import main
commands = [[]]
for arg in sys.argv[1:]:
    commands.append([]) if arg == ";" else commands[-1].append(arg)
statuses = []
for argv in commands:
    try:
        statuses.append(main(argv))
    except SystemExit as exit:
        statuses.append(exit.code)
print("statuses", *statuses)
"""

#: name -> (environment, the encoding the child's stdout then has)
ENVIRONMENTS = {
    "PYTHONIOENCODING=ascii": ({"PYTHONIOENCODING": "ascii"}, "ascii"),
    "PYTHONIOENCODING=latin-1": ({"PYTHONIOENCODING": "latin-1"}, "latin-1"),
    "LANG=C LC_ALL=C": ({"LANG": "C", "LC_ALL": "C"}, "utf-8"),   # Python takes the C locale for UTF-8 (PEP 538, 540)
    "LANG=C LC_ALL=C without UTF-8 mode": (
        {"LANG": "C", "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}, "ascii"),
}


def tour(tmp_path: Path, environment: dict[str, str]) -> subprocess.CompletedProcess:
    keep = {key: value for key, value in os.environ.items()
            if key not in ("PYTHONIOENCODING", "PYTHONUTF8", "LANG", "LANGUAGE", "COLUMNS") and not key.startswith("LC_")}
    env = {**keep, "NNSTUDIO_SAVES_DIR": str(tmp_path / "saves"), **environment}
    args = [arg for argv, _ in TOUR for arg in [";", *argv]][1:]
    return subprocess.run([sys.executable, "-c", DRIVER, *args], cwd=tmp_path, env=env, capture_output=True,
                          timeout=300)


@pytest.mark.parametrize("name", list(ENVIRONMENTS))
def test_every_command_prints_under_any_encoding(name, tmp_path, capsys):
    environment, encoding = ENVIRONMENTS[name]
    assert main(["train", "--dataset", "spirals", "--epochs", "1", "--saves-dir", str(tmp_path / "saves"),
                 "--save", ON_DISK, "--no-checkpoints"]) == 0
    capsys.readouterr()
    child = tour(tmp_path, environment)
    out, err = child.stdout.decode(encoding), child.stderr.decode(encoding)   # every byte is the stream's own
    assert "Traceback" not in out + err and "UnicodeEncodeError" not in out + err, err
    assert out.splitlines()[-1] == "statuses " + " ".join(str(status) for _, status in TOUR), err
    assert len(err.strip().splitlines()) == 2 and all(": error: " in line for line in err.splitlines()), err
    if encoding != "utf-8":   # tables drawn with ASCII boxes, not box-drawing characters turned into "?"
        assert re.search(r"^\+-{20,}\+$", out, re.MULTILINE) and "???" not in out, out
    if name == "PYTHONIOENCODING=ascii":   # what the stream lacks is "?", on stdout and stderr alike
        assert "saved: " in out and "mod?le-?.safetensors" in out and "d?j?-vu" in out
        assert "--save mod?le-?: " in err and "'absent-?'" in err
