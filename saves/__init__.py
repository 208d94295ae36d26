"""Saves: trained models and checkpoints as safe, atomic `.safetensors` files with a JSON metadata document.

    from nnstudio import saves
    saves.save_model(saves.save_path("mnist-mlp"), model, dataset="mnist", history=history, metrics=metrics)
    loaded = saves.load(saves.resolve("mnist-mlp"))       # .model, .metadata, .checkpoint
    for entry in saves.list_saves():                      # headers only, newest first
        print(entry.name, entry.model_summary, entry.best_val_accuracy)

Modules, one job each: `format` (the safetensors container), `schema` (the metadata document),
`atomic` (crash-safe writing), `naming` (safe names, folders), `api` (save/load), `tensors` (whether
a file's tensors fit its spec's model and are finite), `resume` (optimizer, schedule and random state
of checkpoints), `listing` (the saves in a folder), `checkpoints` (per-epoch and partial checkpoints
of a run, its resume point, finding interrupted runs), `run_folders` (deleting runs and their
checkpoints, guarded).
Every failure is a `SaveError`.
"""

from .api import (Loaded, delete, header_problem, identify, load, load_problem, read_header, read_metadata,
                  save_checkpoint, save_model)
from .atomic import remove_stale_temp_files
from .checkpoints import (PARTIAL_FILE, CheckpointManager, RunInfo, find_interrupted_runs, find_runs, is_locked,
                          is_run_dir, latest_interrupted_run, new_run_dir, read_run, resume_point, runs_folder)
from .errors import SaveError
from .listing import SaveEntry, describe_model, inspect_save, list_saves
from .naming import SUFFIX, default_folder, folder_or_default, resolve, sanitize_name, save_path
from .resume import ResumeState
from .run_transfer import pack_run, unpack_run
from .run_folders import (checkpoint_files, disk_usage, folder_size, prune_run, remove_run, remove_stale_lock,
                          run_folder_in)
from .schema import FORMAT_VERSION, Metadata

__all__ = [
    "SaveError", "save_model", "save_checkpoint", "load", "read_metadata", "read_header", "Loaded", "ResumeState",
    "Metadata", "FORMAT_VERSION", "list_saves", "SaveEntry", "describe_model", "sanitize_name", "save_path",
    "resolve", "default_folder", "folder_or_default", "SUFFIX", "CheckpointManager", "RunInfo", "new_run_dir",
    "pack_run", "unpack_run",
    "runs_folder", "read_run", "find_runs", "find_interrupted_runs", "latest_interrupted_run", "remove_stale_temp_files",
    "is_run_dir", "is_locked", "header_problem", "load_problem", "inspect_save", "identify", "delete", "resume_point",
    "PARTIAL_FILE",
    "checkpoint_files", "disk_usage", "folder_size", "prune_run", "remove_run", "remove_stale_lock", "run_folder_in",
]
