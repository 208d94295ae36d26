"""A run folder as plain data and back: how a trial trained on another machine joins the local runs folder.

    files = pack_run(run_dir)                 # {"history.jsonl": b"...", "epoch_0003.safetensors": b"...", ...}
    path = unpack_run("mnist-mlp-...", files, runs_folder(folder))   # the run, here, as if trained here

Only the run's own files travel (its marker, history and checkpoints; not its lock). Unpacking
trusts nothing: a file name must be a plain name (no folders, nothing hidden), and the run is
written into a temporary folder that is renamed into place whole, so a reader never sees half
a run. A name already taken here gets a number (-2, -3, ...), never overwriting a run, unless
the run sent back is that run continued elsewhere (`replace=True`): it then takes its place,
the old folder moved aside first and removed after (never half a run under the name).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .atomic import fsync_dir
from .checkpoints import LOCK_FILE
from .errors import SaveError


def pack_run(run_dir: str | Path) -> dict[str, bytes]:
    """The run folder's files by name (a file linked twice, as best.safetensors is, is sent twice)."""
    files = {}
    for entry in sorted(os.scandir(run_dir), key=lambda e: e.name):
        if entry.is_file(follow_symlinks=False) and entry.name != LOCK_FILE and not entry.name.startswith(".tmp"):
            files[entry.name] = Path(entry.path).read_bytes()
    return files


def unpack_run(name: str, files: dict[str, bytes], runs: str | Path, *, replace: bool = False) -> Path:
    """Write a packed run into the runs folder under `name` (numbered if taken, or in its place with `replace`);
    SaveError for a bad name."""
    for text in (name, *files):
        if not isinstance(text, str) or not text or text in (".", "..") or "/" in text or "\\" in text \
                or "\0" in text or text.startswith("."):
            raise SaveError(f"a run sent back named a file {text!r}: not a plain file name; it was not written")
    runs = Path(runs)
    runs.mkdir(parents=True, exist_ok=True)
    staging = runs / f".incoming-{name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        for file, data in files.items():
            with open(staging / file, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
        target, n = runs / name, 1
        if replace and target.is_dir():
            aside = runs / f".replaced-{name}-{os.getpid()}"
            os.rename(target, aside)
            os.rename(staging, target)
            shutil.rmtree(aside, ignore_errors=True)
            fsync_dir(runs)
            return target
        while True:   # a name is taken by making its folder (atomic); the run then replaces the empty folder
            try:
                target.mkdir()
                break
            except FileExistsError:
                n += 1
                target = runs / f"{name}-{n}"
        os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    fsync_dir(runs)
    return target
