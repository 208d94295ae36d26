"""The `nnstudio` program: one argparse parser over the headless commands (`tui/cli`) and the studio's.

This module is where the two views meet: `tui/cli` and `tui/studio` never import each other.

Each command module exposes `register(subparsers)`, which adds its parser and sets
`handler=<function(args) -> exit status>` as a default. Bad arguments exit with status 2 and
one line on stderr, prefixed with the command they were given to ("nnstudio train: error: ...");
a mistyped command is told the nearest one.

With no command, `nnstudio` opens the studio (`nnstudio studio`); so does `nnstudio
FILE.safetensors` (with that save loaded), and `nnstudio` followed by any option of the studio's
(`nnstudio --data-dir DIR`, `nnstudio --lr=0.03`): which options those are is read from the
studio's own parser, so an option added there works without the word `studio` at once.

Output survives any terminal encoding (`PYTHONIOENCODING=ascii`, latin-1, `LC_ALL=C`): `main` first
makes stdout and stderr replace what they cannot encode (`safe_output`), so a save called
"modèle-π" prints as "mod?le-?" there instead of raising, and Rich, which reads the streams'
encoding, draws its tables with ASCII boxes on a stream that cannot show box-drawing characters.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import sys
from importlib.metadata import PackageNotFoundError, version

from .cli import COMMAND_MODULES as CLI_COMMANDS
from .cli.common import one_line_errors
from .run.blas import limit_blas_threads
from .run.signals import exit_status, stop_signals_unwind, signal_of
from .studio import command as studio_command

COMMAND_MODULES = (studio_command, *CLI_COMMANDS)


def package_version() -> str:
    try:
        return version("nnstudio")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnstudio",
        description="nnstudio: a terminal training studio for neural networks, on a from-scratch NumPy engine.",
        epilog="With no command, nnstudio opens the studio. The studio's options work without the word studio, "
               "and they include the run flags of nnstudio train, so a run opens ready to train: nnstudio "
               "--dataset spirals --model mlp --lr 0.03, nnstudio --config run.toml, nnstudio SAVE "
               "(see nnstudio studio --help).",
    )
    parser.add_argument("--version", action="version", version=f"nnstudio {package_version()}")
    one_line_errors(parser, "nnstudio")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    one_line_everywhere(parser)
    return parser


def one_line_everywhere(parser: argparse.ArgumentParser) -> None:
    """One-line errors for every command and action parser that did not install its own."""
    for name, command in commands(parser).items():
        if getattr(command.error, "__func__", None) is argparse.ArgumentParser.error:
            one_line_errors(command, command.prog)
        one_line_everywhere(command)


def commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Each command's name and parser."""
    for action in parser._actions:  # argparse keeps its subparsers there and nowhere public
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def check_command(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """A first word that is no command: a one-line error that names the nearest command."""
    if not argv or argv[0].startswith("-"):
        return
    known = commands(parser)
    if argv[0] not in known:
        close = difflib.get_close_matches(argv[0], list(known), n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'? " if close else ""
        parser.error(f"unknown command '{argv[0]}' ({hint}commands: {', '.join(known)})")


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """The parsed arguments; an option a command does not know is reported by that command's parser,
    so the error line says which command it was given to."""
    check_command(parser, argv)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        innermost(parser, args).error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def innermost(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the command and action the arguments chose (`nnstudio runs prune`'s, not `nnstudio
    runs`'), whose --help lists what that action takes."""
    for action in parser._actions:   # (argparse keeps its subparsers there and nowhere public)
        if isinstance(action, argparse._SubParsersAction) and getattr(args, action.dest, None) in action.choices:
            return innermost(action.choices[getattr(args, action.dest)], args)
    return parser


def studio_options(parser: argparse.ArgumentParser) -> set[str]:
    """The options of `nnstudio studio` that the program itself does not have (--help, --version stay its own)."""
    studio = commands(parser)["studio"]
    return set(studio._option_string_actions) - set(parser._option_string_actions)  # argparse's table of options


def studio_arguments(argv: list[str], command_names=(), options=frozenset()) -> list[str]:
    """The arguments with "studio" in front when they mean the studio: none at all, a save file, or
    one of the studio's `options` (as `--opt value` or `--opt=value`). A command name stays a command
    even if a file of that name is in the folder, and a mistyped command is still an error, not a
    save that is not there."""
    if not argv:
        return ["studio"]
    first = argv[0]
    if first in command_names:
        return argv
    if first.split("=", 1)[0] in options or (not first.startswith("-") and (
            first.endswith(".safetensors") or os.path.isfile(first))):
        return ["studio", *argv]
    return argv


#: how Python's streams handle a character their encoding lacks unless told otherwise: raise ("strict";
#: "surrogateescape" in the C locale, which raises on anything but undecodable bytes) or escape (stderr)
PYTHON_DEFAULTS = ("strict", "surrogateescape", "backslashreplace")


def safe_output() -> None:
    """Make stdout and stderr write any text: a character their encoding cannot encode is written as "?"
    instead of raising UnicodeEncodeError, whatever the locale or PYTHONIOENCODING.

    "?" is one cell, as most characters it stands for are, so tables and the studio's screen (Textual
    draws on stderr) keep their layout; Python's own default for stderr, backslash escapes, would
    draw each box line of the studio as "\\u2501" runs. The streams are changed in place, so every
    Rich console, which looks them up when it writes, goes through them; a stream without
    `reconfigure` (replaced by a caller), or with another way chosen (PYTHONIOENCODING=ascii:ignore), is
    left alone.
    """
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure") and getattr(stream, "errors", None) in PYTHON_DEFAULTS:
            stream.reconfigure(errors="replace")


def main(argv: list[str] | None = None) -> int:
    safe_output()
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse(parser, studio_arguments(argv, commands(parser), studio_options(parser)))
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    limit_blas_threads()   # one BLAS thread, in every command and the studio alike, unless the user chose (blas.py)
    try:
        with stop_signals_unwind():   # SIGTERM and SIGHUP end a command as Ctrl+C does (a run, gently: signals.py)
            status = handler(args)
            sys.stdout.flush()   # (here, so that a reader gone early is met below, not at the exit's own flush)
            return status
    except KeyboardInterrupt as interrupt:
        with contextlib.suppress(OSError):
            print("interrupted", file=sys.stderr)
        return exit_status(signal_of(interrupt))
    except BrokenPipeError:   # `nnstudio runs list --json | head`: the reader has all it wanted
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # (Python's exit flush fails silently)
        return 1   # (as Rich's own output does when its reader leaves)


if __name__ == "__main__":
    sys.exit(main())
