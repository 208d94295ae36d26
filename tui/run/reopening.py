"""Reading saves back into runs: the run config a save records, the run folder a checkpoint continues, and
whether a save would open at all (`list_saves`, `inspect_save`: the checks opening one makes, for the views).

A save's config is what `Session` recorded (`RunConfig.portable_dict`: every setting but the
machine's saves folder); saves of nnstudio 0.1 nested it under "run" beside summary fields,
and may hold the folder, which is dropped here so that it is never imposed on another machine.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from nnstudio import saves
from nnstudio.datasets.imported import import_command

from .dataset_names import DatasetNames
from .config import SECTIONS, ConfigError, RunConfig, portable
from .reports import SessionError


def run_folder_to_continue(checkpoint: Path) -> Path | None:
    """The checkpoint's run folder, if the checkpoint is where that run continues from; else None (a fresh one)."""
    folder = checkpoint.parent
    if not saves.is_run_dir(folder):
        return None
    point = saves.resume_point(folder)
    try:
        return folder if point is not None and os.path.samefile(point, checkpoint) else None
    except OSError:
        return None


#: why a loaded model gives no figures although its weights are finite (weights that are not are refused on loading)
OVERFLOW = ("its outputs are not finite numbers: its weights are so large that the arithmetic overflows; "
            "retrain it, or open an earlier checkpoint")


def outputs_problem(outputs) -> str | None:
    """`OVERFLOW` if a loaded model's outputs (or its loss) are not all finite numbers, else None: what `eval`,
    `predict` and the studio say instead of showing NaN."""
    return None if np.isfinite(outputs).all() else OVERFLOW


def load_save(path: Path) -> saves.Loaded:
    """A save or checkpoint, loaded; SessionError if it cannot be."""
    try:
        return saves.load(path)
    except saves.SaveError as error:
        raise SessionError(str(error)) from None


def config_from_metadata(metadata: saves.Metadata, path: str | Path) -> RunConfig:
    """The run config a save records, with its model pinned to the saved spec.

    The spec is pinned because a preset is refitted to whatever data set it meets, while the
    saved weights fit only the saved shapes: another data set then gets a clear "does not fit"
    instead of a weights mismatch. Saves without a run config (written by other tools) get the
    defaults, on the data set they name. SessionError names the file and the setting that is wrong.
    """
    try:
        return _pinned_config(metadata)
    except ConfigError as error:
        raise SessionError(f"{path}: {_invalid(error, metadata)}") from None


def _pinned_config(metadata: saves.Metadata) -> RunConfig:
    config = recorded_config(metadata)
    dataset = {"data.name": metadata.dataset_name} if metadata.dataset_name and config is None else {}
    return (config or RunConfig()).with_overrides({"model.spec": metadata.spec, **dataset})


def _invalid(error: ConfigError, metadata: saves.Metadata) -> str:
    name = metadata.dataset_name
    if error.field == "data.name" and name and name not in DatasetNames():
        return (f"it was trained on {name}, a data set that is not on this machine (imported where it was trained, "
                f"or removed since): import it under that name, {import_command(name)}")
    return f"its run configuration is invalid: {error}"


def config_problem(metadata: saves.Metadata) -> str | None:
    """Why the run config a save records cannot be used (as `config_from_metadata` refuses it), or None."""
    try:
        _pinned_config(metadata)
    except ConfigError as error:
        return _invalid(error, metadata)
    return None


def list_saves(folder: str | Path | None = None) -> list[saves.SaveEntry]:
    """The saves in a folder as `saves.list_saves` lists them, a save whose run config cannot be used included
    among those that will not load: the checks opening one makes (`load`, then `config_from_metadata`)."""
    return saves.list_saves(folder, check=config_problem)


def inspect_save(path: str | Path) -> saves.SaveEntry:
    """One save as `list_saves` shows it; SaveError if there is no such file."""
    return saves.inspect_save(path, check=config_problem)


def recorded_config(metadata: saves.Metadata) -> RunConfig | None:
    """The run config a save records, as it was trained (a preset stays a preset); None when the save holds
    none (written by another tool); ConfigError when it is invalid."""
    record = _run_record(metadata.config)
    return None if record is None else RunConfig.from_dict(portable(record))


def _run_record(config: dict) -> dict | None:
    """The run config in a save's config record: the record itself (sections at the top, as sessions write it),
    or under "run" beside summary fields (as nnstudio 0.1 wrote it); None when the save holds no run config."""
    if isinstance(config.get("run"), dict):
        return config["run"]
    return config if any(isinstance(config.get(name), dict) for name in SECTIONS) else None


def saved_config(path: str | Path) -> RunConfig:
    """The run config of a save, read from its header only (see `config_from_metadata`)."""
    try:
        metadata = saves.read_metadata(path)
    except saves.SaveError as error:
        raise SessionError(str(error)) from None
    return config_from_metadata(metadata, path)


def config_of(loaded: saves.Loaded) -> RunConfig:
    """The run config of a loaded save (see `config_from_metadata`)."""
    return config_from_metadata(loaded.metadata, loaded.path)
