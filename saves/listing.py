"""The listing of a folder's saves: what saves it holds, from their headers alone.

Listing reads each file's header and scans its weights for NaN and infinity in slices (nothing is
built or kept), so a folder of a hundred saves lists in well under a second. Files that cannot be
read are listed with the reason rather than hidden (a user should see a damaged save), and so are
files whose header reads but that `load` would refuse (`load_problem`: tensors that do not fit
their model spec, a checkpoint's training state that does not load, weights that are not finite)
or that the caller's `check` refuses (the run core's reading of the save's run config): they list,
but will not load. Temp files of writers in progress (hidden names) and anything not ending in
".safetensors" are skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from nnstudio.engine.spec import summarize

from .api import load_problem
from .errors import SaveError
from .naming import SUFFIX, folder_or_default
from .schema import MAX_YEAR, MIN_YEAR, Metadata


@dataclass(frozen=True)
class SaveEntry:
    """One save in a folder, as the listing shows it; `error` is set (and the rest mostly None) for a damaged
    file, `problem` for one whose header reads but that would not load (it lists, but will not load)."""

    name: str
    path: Path
    size: int                          # bytes on disk
    modified: datetime                 # file time, for sorting files without a readable date
    metadata: Metadata | None = None
    error: str | None = None
    problem: str | None = None

    @property
    def loadable(self) -> bool:
        """Whether it loads: it reads, and neither `load` nor the caller's check refuses it."""
        return self.error is None and self.problem is None

    @property
    def created(self) -> datetime:
        """When it was saved: the metadata's time, else the file's."""
        return self.metadata.created if self.metadata is not None else self.modified

    @property
    def kind(self) -> str | None:
        return self.metadata.kind if self.metadata else None

    @property
    def model_summary(self) -> str | None:
        return describe_model(self.metadata.spec) if self.metadata else None

    @property
    def dataset(self) -> str | None:
        return self.metadata.dataset_name if self.metadata else None

    @property
    def epochs(self) -> int | None:
        return self.metadata.epochs if self.metadata else None

    @property
    def best_val_accuracy(self) -> float | None:
        return self.metadata.best_val_accuracy if self.metadata else None


def _compact(n: int) -> str:
    """109386 -> "109k", 1_200_000 -> "1.2M": parameter counts at a glance."""
    for limit, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if n >= limit:
            value = n / limit
            return f"{value:.1f}{suffix}" if value < 10 else f"{value:.0f}{suffix}"
    return str(n)


def describe_model(spec: dict) -> str:
    """A one-line model summary: "mlp 784-128-64-10, 109k params", "cnn 1x28x28-c16-c32-10, 20k params"."""
    summary = summarize(spec)
    sizes = ["x".join(map(str, summary.input_shape))]
    for row in summary:
        if row.type == "linear":
            sizes.append(str(row.output_shape[-1]))
        elif row.type == "conv2d":
            sizes.append(f"c{row.output_shape[0]}")
    name = spec.get("name") or ("autoencoder" if "encoder" in spec else "model")
    return f"{name} {'-'.join(sizes)}, {_compact(summary.total_params)} params"


def _modified(stat: os.stat_result) -> datetime:
    """The file's time as UTC; a time datetime cannot hold (set with `touch -d` or a broken clock) is the epoch,
    so that the entry still lists and converts to any local zone."""
    try:
        moment = datetime.fromtimestamp(stat.st_mtime, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return datetime.fromtimestamp(0, timezone.utc)
    return moment if MIN_YEAR <= moment.year <= MAX_YEAR else datetime.fromtimestamp(0, timezone.utc)


#: a further reason to refuse a save, given its metadata (None: none); e.g. the run core's reading of its config
Check = Callable[[Metadata], "str | None"]


def _entry(path: Path, stat: os.stat_result, check: Check | None) -> SaveEntry:
    modified = _modified(stat)
    name = path.name[: -len(SUFFIX)]
    try:
        metadata, _, problem = load_problem(path)
    except SaveError as error:
        return SaveEntry(name, path, stat.st_size, modified, error=error.problem)
    if problem is None and check is not None:
        problem = check(metadata)
    return SaveEntry(name, path, stat.st_size, modified, metadata=metadata, problem=problem)


def inspect_save(path: str | Path, check: Check | None = None) -> SaveEntry:
    """One file as `list_saves` shows it (the same checks); SaveError if it cannot be found."""
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise SaveError("no such file", path) from None
    except OSError as error:
        raise SaveError(f"cannot open: {error.strerror or error}", path) from None
    return _entry(path, stat, check)


def list_saves(folder: str | Path | None = None, check: Check | None = None) -> list[SaveEntry]:
    """Every save in `folder` (default: the saves folder), newest first; an empty list if there is no folder.
    `check` is asked about each save that `load` would accept; what it returns is the entry's `problem`."""
    folder = folder_or_default(folder)
    entries = []
    try:
        scanned = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as error:
        raise SaveError(f"cannot list: {error.strerror or error}", folder) from None
    for item in scanned:
        if item.name.startswith(".") or not item.name.endswith(SUFFIX):
            continue
        try:
            if not item.is_file():
                continue
            stat = item.stat()
        except OSError:  # removed while listing
            continue
        entries.append(_entry(Path(item.path), stat, check))
    entries.sort(key=lambda e: (e.created, e.modified, e.name), reverse=True)
    return entries
