"""The one error type of the saves package, so a caller can report any bad file cleanly."""

from __future__ import annotations

from pathlib import Path


class SaveError(Exception):
    """A save cannot be written, found or read; the message names the file and what is wrong.

    `path` is the file concerned (or None) and `problem` the message without it, so a UI can
    show either. Reading untrusted files raises only this, never a parser's own exception.
    """

    def __init__(self, problem: str, path: str | Path | None = None) -> None:
        self.problem = problem
        self.path = Path(path) if path is not None else None
        super().__init__(f"{self.path}: {problem}" if self.path is not None else problem)

    def at(self, path: str | Path) -> "SaveError":
        """The same error naming `path` (errors raised deep in parsing do not know the file)."""
        return self if self.path is not None else SaveError(self.problem, path)
