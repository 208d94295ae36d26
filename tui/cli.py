"""The `nnstudio` command line: one argparse parser whose subcommands live in their own modules.

Each command module exposes `register(subparsers)`, which adds its parser and sets
`handler=<function(args) -> exit status>` as a default. Bad arguments exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version

from . import bench_cmd, data_cmd, eval_cmd, predict_cmd, saves_cmd, train_cmd

COMMAND_MODULES = (train_cmd, eval_cmd, predict_cmd, bench_cmd, data_cmd, saves_cmd)


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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
