"""The data set names a run may name, looked up when used: a set imported while the program runs counts at once.

`DatasetNames()` is the choices of the `data.name` setting (and a filtered one says where a setting
applies, e.g. only for classification sets); it reads like a tuple, but asks `datasets` each time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from nnstudio.datasets import SYNTHETIC, DatasetError, builtin_names, dataset_names, imported_names
from nnstudio.datasets.imported import import_command, read_record
from nnstudio.engine.fields import given_text, suggest


class DatasetNames(Sequence):
    """Every data set name (the built-in ones, then those imported here) that `keep` accepts."""

    def __init__(self, keep: Callable[[str], bool] = lambda name: True) -> None:
        self._keep = keep

    def _names(self) -> list[str]:
        return [name for name in dataset_names() if self._keep(name)]

    def __getitem__(self, index):
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if name in builtin_names():   # (no need to look at the disk)
            return self._keep(name)
        return name in imported_names() and self._keep(name)

    def __repr__(self) -> str:
        return f"DatasetNames({', '.join(self._names())})"


def is_classification(name: str) -> bool:
    """Whether the data set `name` is a classification set (an imported one: as its record says)."""
    if name in SYNTHETIC:
        return SYNTHETIC[name].task == "classification"
    if name in builtin_names():
        return True
    try:
        return read_record(name).get("task") == "classification"
    except DatasetError:
        return False


def checked_name(name: str) -> str:
    """`name` if a data set of that name is here; else a ValueError listing them, with a did-you-mean, and how a
    set of one's own gets that name (the name of a set imported on another machine, in a save from there)."""
    names = DatasetNames()
    if name in names:
        return name
    listed = list(names)
    hint = suggest(name, listed)
    if isinstance(name, str) and name.strip():
        hint += f"; or import your own data under that name: {import_command(name)}"
    raise ValueError(f"must be one of {', '.join(listed)}, got {given_text(name)}{hint}")
