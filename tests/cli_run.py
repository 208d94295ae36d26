"""Running the command line inside the test's process."""

from __future__ import annotations

from nnstudio.tui.main import main


def run_cli(*argv: str) -> int:
    """The exit status of `nnstudio ARGV...` (argparse's own errors exit through SystemExit)."""
    try:
        return main(list(argv))
    except SystemExit as exit:
        return exit.code
