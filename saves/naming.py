"""Turning what a user types into a safe file name, and names back into paths.

A save name becomes one plain file in the saves folder: never a path elsewhere (`../x`,
`/etc/x`), never hidden (`.x`, which is also how temp files are named), never a device
name Windows reserves. Letters of any script are kept: a model may be called "modèle-π".
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from .errors import SaveError

SUFFIX = ".safetensors"
#: an environment variable naming another default folder
FOLDER_ENV = "NNSTUDIO_SAVES_DIR"
#: file names are limited to 255 bytes on most file systems; leave room for suffixes and temp names
MAX_NAME_BYTES = 120

_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def default_folder() -> Path:
    """The saves folder: $NNSTUDIO_SAVES_DIR if set, else `$XDG_DATA_HOME/nnstudio/saves` (by default
    `~/.local/share/nnstudio/saves`).

    One folder per user, wherever nnstudio is started: `nnstudio eval NAME` finds a save made in
    another folder, an interrupted run is offered for resuming from anywhere, and nothing is ever
    written into a checkout or an installed package (a relative ./saves did both). It sits beside
    the data cache (`$XDG_CACHE_HOME/nnstudio`), where the XDG specification puts a user's data.
    A relative XDG_DATA_HOME is ignored, as the specification says.
    """
    chosen = os.environ.get(FOLDER_ENV)
    if chosen:
        return Path(chosen).expanduser()
    base = os.environ.get("XDG_DATA_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "share"
    return root / "nnstudio" / "saves"


def folder_or_default(folder: str | os.PathLike | None) -> Path:
    """`folder`, or the default saves folder when it is None or empty (a run config's "" means the default)."""
    return Path(folder) if folder is not None and os.fspath(folder) != "" else default_folder()


def _allowed(char: str) -> bool:
    return char.isalnum() or char in "-_."


def sanitize_name(name: str) -> str:
    """A safe file stem for a user-given save name, or SaveError if nothing usable is left.

    Unicode is normalised (NFKC, so look-alike forms become one name); anything but letters,
    digits, '-', '_' and '.' becomes '-'; leading dots and dashes are dropped (no hidden files,
    no option-like names); a trailing ".safetensors" is dropped (it is added back).

        "../x" -> "x"    "/abs/path" -> "abs-path"    ".x" -> "x"    "my model" -> "my-model"
    """
    if not isinstance(name, str):
        raise SaveError(f"a save name must be text, got {type(name).__name__}")
    text = unicodedata.normalize("NFKC", name).strip()
    if text.lower().endswith(SUFFIX):
        text = text[: -len(SUFFIX)]
    text = "".join(c if _allowed(c) else "-" for c in text)
    text = re.sub(r"-{2,}", "-", text)
    text = re.sub(r"\.{2,}", ".", text)           # ".." never survives, even mid-name
    text = text.lstrip(".-").rstrip(".- ")        # Windows drops trailing dots; hidden files start with one
    while len(text.encode("utf-8")) > MAX_NAME_BYTES:
        text = text[:-1]
    text = text.rstrip(".-")
    if not text:
        raise SaveError(f"save name {name!r} has no usable characters; use letters, digits, '-', '_' or '.'")
    if text.split(".")[0].lower() in _RESERVED:
        text = "_" + text
    return text


def save_path(name: str, folder: str | Path | None = None) -> Path:
    """Where the save called `name` lives: FOLDER/<sanitized name>.safetensors."""
    return folder_or_default(folder) / (sanitize_name(name) + SUFFIX)


def resolve(name_or_path: str | Path, folder: str | Path | None = None) -> Path:
    """The existing save a user means: a path to a file, or a name in `folder`.

    A Path, a value containing a path separator, or an existing "*.safetensors" file is taken
    as a path; anything else is a save name. SaveError says where it looked when nothing is there.
    """
    text = str(name_or_path)
    candidate = Path(text)
    separators = [os.sep] + ([os.altsep] if os.altsep else [])
    if isinstance(name_or_path, Path) or any(s in text for s in separators) or (
            text.endswith(SUFFIX) and candidate.is_file()):
        if candidate.is_file():
            return candidate
        raise SaveError("no such file", candidate)
    path = save_path(text, folder)
    if not path.is_file():
        raise SaveError(f"no save named {text!r} in {path.parent} (`nnstudio saves list` shows them)")
    return path
