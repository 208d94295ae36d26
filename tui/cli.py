"""The `nnstudio` command line: one argparse parser whose subcommands live in their own modules.

Each command module exposes `register(subparsers)`, which adds its parser and sets
`handler=<function(args) -> exit status>` as a default. Bad arguments exit with status 2.

With no command, `nnstudio` opens the studio (`nnstudio studio`); so does `nnstudio
FILE.safetensors` or `nnstudio --open SAVE`, with that save loaded.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import PackageNotFoundError, version

from . import bench_cmd, data_cmd, eval_cmd, predict_cmd, saves_cmd, studio, train_cmd

COMMAND_MODULES = (studio, train_cmd, eval_cmd, predict_cmd, bench_cmd, data_cmd, saves_cmd)
#: options of `nnstudio studio` that may come without the command name
STUDIO_OPTIONS = ("--open", "--saves", "--no-resume")


def package_version() -> str:
    try:
        return version("nnstudio")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnstudio",
        description="nnstudio: a terminal training studio for neural networks, on a from-scratch NumPy engine.",
    )
    parser.add_argument("--version", action="version", version=f"nnstudio {package_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def studio_arguments(argv: list[str]) -> list[str]:
    """The arguments with "studio" in front when they mean the studio: none at all, a save file, or
    one of the studio's options (a mistyped command is still an error, not a save that is not there)."""
    if not argv:
        return ["studio"]
    first = argv[0]
    if first.split("=", 1)[0] in STUDIO_OPTIONS or (not first.startswith("-") and (
            first.endswith(".safetensors") or os.path.isfile(first))):
        return ["studio", *argv]
    return argv


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(studio_arguments(list(sys.argv[1:] if argv is None else argv)))
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
