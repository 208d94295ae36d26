"""`nnstudio data import`: copy a data set from a local folder into the cache, verifying every file.

This is the offline way in: files brought on a USB stick or copied from another machine. All
four files are copied to `.part` files and checked first; only when all pass are they renamed
into place, so a bad copy leaves the cache as it was.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .checksums import verify
from .errors import DatasetError
from .locations import cache_dir, display_path, find_files, remove_other_copies
from .mnist_family import ROLES, IdxDatasetSpec, idx_spec


def import_dataset(
    dataset: str | IdxDatasetSpec,
    source: str | os.PathLike,
    *,
    checksums: dict | None = None,
    folder: str | os.PathLike | None = None,
) -> Path:
    """Copy the four files of `dataset` from `source` (or `source/<name>`) into the cache folder.

    Files may be gzip-compressed or unpacked. `checksums` and `folder` override the expected
    digests and the destination, as for `fetch_files`. Returns the destination folder.
    """
    spec = idx_spec(dataset)
    if checksums:
        spec = spec.with_checksums(checksums)
    source = Path(source)
    if not source.is_dir():
        raise DatasetError(f"{display_path(source)} is not a folder")
    files = _source_files(spec, source)
    destination = Path(folder) if folder is not None else cache_dir(spec.name)
    try:
        destination.mkdir(parents=True, exist_ok=True)
        if destination.resolve() == files[ROLES[0]].parent.resolve():
            for role in ROLES:
                verify(files[role], spec.files[role].digests, name=str(files[role]), content=spec.content(role))
            return destination
        parts = {role: _copy_to_part(files[role], destination) for role in ROLES}
    except OSError as error:
        raise DatasetError(f"cannot copy into {display_path(destination)}: {error.strerror or error}") from None
    try:
        for role, part in parts.items():
            verify(part, spec.files[role].digests, name=str(files[role]), content=spec.content(role))
    except DatasetError:
        for part in parts.values():
            part.unlink(missing_ok=True)
        raise
    for role, part in parts.items():
        final = part.with_name(files[role].name)
        os.replace(part, final)
        remove_other_copies(destination, spec.files[role], keep=final.name)  # an older copy under another name
    return destination


def _source_files(spec: IdxDatasetSpec, source: Path) -> dict[str, Path]:
    """The four files in `source/<name>` or `source`, or an error listing what is missing."""
    for folder in (source / spec.name, source):
        files = find_files(folder, spec) if folder.is_dir() else {}
        if len(files) == len(ROLES):
            return files
    files = find_files(source, spec)
    missing = [" or ".join(spec.files[role].candidate_names()[:2]) for role in ROLES if role not in files]
    raise DatasetError(f"{display_path(source)} lacks {spec.name} files: {'; '.join(missing)}")


def _copy_to_part(path: Path, destination: Path) -> Path:
    part = destination / (path.name + ".part")
    shutil.copyfile(path, part)
    return part
