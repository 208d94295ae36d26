"""The `nnstudio` command's entry point, kept light: Ctrl+C while the program is still starting (its
imports take a moment) ends it with the same one line and status as later, not a traceback."""

from __future__ import annotations

import sys


def run() -> int:
    try:
        from .main import main
        return main()
    except KeyboardInterrupt:   # (once the program runs, `main` answers Ctrl+C itself)
        try:
            print("interrupted", file=sys.stderr)
        except OSError:
            pass
        return 130
