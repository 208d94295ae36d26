"""A run as a user names it: its whole name, a path to its folder, or a part of its name that only it has.

    find_run("mnist-mlp-20261203-101500", folder)   # the run folder of that name in <saves>/runs
    find_run("101500", folder)                      # the one run whose name ends so (or starts so, or holds it)

Run names are long (`<data set>-<model>-<date>-<time>`), so the end of one (its time) or its start
usually tells it apart. A part of a name is looked for as the start of names first, then as their
end, then anywhere in them; the first of those that finds anything decides, and it must find one
run: several are listed so that the user can type more of one. The whole name and a path always
win. Any folder in the runs folder is a candidate; whether a command may act on it (`runs rm`
deletes only run folders) is the command's to check.
"""

from __future__ import annotations

import os
from pathlib import Path

from nnstudio import saves

#: the candidates an ambiguous part of a name lists at most
LISTED = 8


def find_run(text: str, folder: str | Path | None = None) -> Path:
    """The run folder a user names: a run's name in the saves folder's runs/, a path to a run folder, or a part
    of one name there (`matching`). SaveError saying where it looked, or which runs it could mean."""
    runs = saves.runs_folder(folder)
    separators = [os.sep] + ([os.altsep] if os.altsep else [])
    if len(text) > 1:
        text = text.rstrip("".join(separators)) or text   # ("name/", as a shell's completion writes it)
    named = runs / text
    plain = bool(text) and text not in (".", "..") and not any(sep in text for sep in separators)
    if plain and os.path.lexists(named):
        return named
    if os.path.lexists(text):
        return Path(text)
    if not plain:
        raise saves.SaveError("no such run folder", text)
    found = matching(text, _names(runs))
    if len(found) == 1:
        return runs / found[0]
    if found:
        listed = ", ".join(found[:LISTED]) + (f" and {len(found) - LISTED} more" if len(found) > LISTED else "")
        raise saves.SaveError(f"{text!r} could be any of {len(found)} runs in {runs}: {listed}; type more of the "
                              f"one you mean")
    raise saves.SaveError(f"no run named {text!r} in {runs}, nor one whose name starts with, ends with or holds it "
                          f"(`nnstudio runs list` shows them)")


def matching(part: str, names: list[str]) -> list[str]:
    """The names `part` could mean, sorted: those that start with it; if none, those that end with it; if
    none, those that hold it."""
    for test in (str.startswith, str.endswith, str.__contains__):
        found = sorted(name for name in names if test(name, part))
        if found:
            return found
    return []


def _names(runs: Path) -> list[str]:
    """The folders in the runs folder (hidden ones aside): the runs a part of a name may mean."""
    try:
        return [entry.name for entry in os.scandir(runs) if not entry.name.startswith(".") and entry.is_dir()]
    except OSError:
        return []
