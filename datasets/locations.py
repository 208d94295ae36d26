"""Where the files of an IDX data set are looked for, in order, and how to tell the user where to put them.

Order: an explicit folder (argument / `--data-dir`), the folder in `NNSTUDIO_DATA_DIR`, the user
cache (`$XDG_CACHE_HOME/nnstudio/<name>`, default `~/.cache/nnstudio/<name>`), then folders an OS
package installs (Debian's `dataset-fashion-mnist`). A data folder may hold the files directly or
in a subfolder named after the data set. A folder counts only when it has all four files and its
label files match the data set's checksums (cheap: 60 KB), so a folder of MNIST is never taken for
Fashion-MNIST, whose files have the same names. Every folder passed over leaves a note saying why,
including an NNSTUDIO_DATA_DIR that names no folder; the loader shows the notes to the user.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .checksums import matching_digest
from .errors import DatasetError
from .mnist_family import IDX_DATASETS, ROLES, IdxDatasetSpec, IdxFile

DATA_DIR_ENV = "NNSTUDIO_DATA_DIR"
OFFLINE_ENV = "NNSTUDIO_OFFLINE"


def cache_root() -> Path:
    """The user cache of nnstudio: `$XDG_CACHE_HOME/nnstudio`, default `~/.cache/nnstudio`.

    A relative XDG_CACHE_HOME is ignored, as the XDG specification says.
    """
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "nnstudio"


def cache_dir(name: str) -> Path:
    """The cache folder of one data set."""
    return cache_root() / name


def offline() -> bool:
    """True when `NNSTUDIO_OFFLINE` is set (to anything but 0/empty): never try to download."""
    return os.environ.get(OFFLINE_ENV, "") not in ("", "0")


def display_path(path: str | os.PathLike) -> str:
    """`path` with the home folder written as `~`, for messages."""
    text, home = str(path), str(Path.home())
    return "~" + text[len(home):] if home != "/" and (text == home or text.startswith(home + os.sep)) else text


@dataclass(frozen=True)
class Located:
    """The four files of a data set found in one folder."""

    folder: Path
    origin: str  # "argument", "environment", "cache" or "system"
    files: dict[str, Path]  # role -> path

    @property
    def size_bytes(self) -> int:
        return sum(path.stat().st_size for path in self.files.values())


@dataclass
class Search:
    """The outcome of looking for a data set: where it is, or why each folder was passed over."""

    found: Located | None
    notes: list[str] = field(default_factory=list)


def find_files(folder: Path, spec: IdxDatasetSpec) -> dict[str, Path]:
    """The files of `spec` present in `folder` (role -> path), under any accepted name."""
    present = {}
    for role in ROLES:
        for name in spec.files[role].candidate_names():
            path = folder / name
            if path.is_file():
                present[role] = path
                break
    return present


def remove_other_copies(folder: Path, file: IdxFile, keep: str) -> None:
    """Delete the copies of `file` in `folder` under its accepted names other than `keep`.

    Called once the new copy is in place as `keep`, so that a damaged or older copy under another
    name can no longer shadow it, and a failure here still leaves one good copy.
    """
    for name in file.candidate_names():
        if name != keep:
            (folder / name).unlink(missing_ok=True)


def candidate_folders(spec: IdxDatasetSpec, data_dir: str | os.PathLike | None = None) -> list[tuple[Path, str]]:
    """The folders to look in, in order, each with the origin it is reported under."""
    folders: list[tuple[Path, str]] = []
    if data_dir is not None:
        folders += [(Path(data_dir) / spec.name, "argument"), (Path(data_dir), "argument")]
    env_dir = os.environ.get(DATA_DIR_ENV)
    if env_dir:
        folders += [(Path(env_dir) / spec.name, "environment"), (Path(env_dir), "environment")]
    folders.append((cache_dir(spec.name), "cache"))
    folders += [(Path(folder), "system") for folder in spec.system_dirs]
    return folders


def locate(spec: IdxDatasetSpec, data_dir: str | os.PathLike | None = None) -> Search:
    """The first folder holding a complete copy of `spec` (see `copies`), with the notes gathered on the way."""
    search = Search(found=None)
    search.found = next(copies(spec, data_dir, search.notes), None)
    return search


def copies(spec: IdxDatasetSpec, data_dir: str | os.PathLike | None = None,
           notes: list[str] | None = None) -> Iterator[Located]:
    """Every folder holding a complete copy of `spec`, in search order, so a caller that finds one
    damaged can go on to the next; `notes` collects why the other folders were passed over.

    An explicit `data_dir` is a promise by the caller: if it holds no copy of the data set, that is
    an error (DatasetError) rather than a silent fall-through to the cache.
    """
    notes = [] if notes is None else notes
    if data_dir is not None and not Path(data_dir).is_dir():
        raise DatasetError(f"data folder {display_path(data_dir)} does not exist")
    if (note := _env_dir_note()) is not None:
        notes.append(note)
    for folder, origin in candidate_folders(spec, data_dir):
        located = _look_in(folder, origin, spec, notes)
        if located is not None:
            yield located
        elif origin == "argument" and folder == Path(data_dir):  # the last folder of the argument's two
            looked = "; ".join(notes) or f"no {spec.name} files there"
            raise DatasetError(f"{spec.name} not found in {display_path(data_dir)} ({looked}). {how_to_get(spec, data_dir)}")


def _env_dir_note() -> str | None:
    """Why the folder in NNSTUDIO_DATA_DIR cannot be used, if it names no folder."""
    value = os.environ.get(DATA_DIR_ENV)
    if not value or _is_dir(Path(value)):
        return None
    what = "is not a folder" if os.path.lexists(value) else "is a folder that does not exist"
    return f"{DATA_DIR_ENV} is set to {display_path(value)}, which {what}"


def _is_dir(path: Path) -> bool:
    """Whether `path` is a folder; one we may not even look at counts as absent."""
    try:
        return path.is_dir()
    except OSError:
        return False


def _look_in(folder: Path, origin: str, spec: IdxDatasetSpec, notes: list[str]) -> Located | None:
    """The data set in `folder` if it is complete and its labels are the right ones; else a note why not."""
    if not _is_dir(folder):
        return None
    files = find_files(folder, spec)
    if not files:
        return None
    missing = [spec.files[role].name for role in ROLES if role not in files]
    if missing:
        notes.append(f"{display_path(folder)} lacks {', '.join(missing)}")
        return None
    foreign = []
    for role in ("train_labels", "test_labels"):
        path, digests = files[role], spec.files[role].digests
        try:
            if digests and matching_digest(path, digests, name=display_path(path), content=spec.content(role)) is None:
                foreign.append(path.name)
        except DatasetError as error:  # names the file and the damage
            notes.append(str(error))
            return None
        except OSError as error:
            notes.append(f"{display_path(path)}: cannot read ({error.strerror or error})")
            return None
    if foreign:
        other = _holds_instead(files, spec)
        notes.append(f"{display_path(folder)} holds {other}'s files, not {spec.name}'s" if other else
                     f"{display_path(folder)}: {', '.join(foreign)} do not match {spec.name}'s checksums")
        return None
    return Located(folder, origin, files)


def _holds_instead(files: dict[str, Path], spec: IdxDatasetSpec) -> str | None:
    """The other data set of the family whose labels these files are (MNIST's and Fashion-MNIST's share names)."""
    for other in IDX_DATASETS.values():
        if other.name != spec.name and all(
                matching_digest(files[role], other.files[role].digests, name=display_path(files[role]),
                                content=other.content(role)) is not None for role in ("train_labels", "test_labels")):
            return other.name
    return None


def how_to_get(spec: IdxDatasetSpec, data_dir: str | os.PathLike | None = None) -> str:
    """The offline instructions: which files to copy where (the folder the user named, if any, else
    the cache), or which command to run."""
    names = ", ".join(spec.files[role].name for role in ROLES)
    if data_dir is not None:
        return (f"To use {spec.name} from {display_path(data_dir)}, copy {names} into it (or leave the data "
                f"folder out to use the cache, where `nnstudio data import {spec.name} DIR` or "
                f"`nnstudio data fetch {spec.name}` puts them).")
    return (
        f"To use {spec.name}, copy {names} into {display_path(cache_dir(spec.name))}/ "
        f"(or run `nnstudio data import {spec.name} DIR` on a folder that holds them, "
        f"or `nnstudio data fetch {spec.name}` with network)."
    )
