"""`nnstudio studio`: the command that opens the studio (also `nnstudio` alone, `nnstudio SAVE`, or `nnstudio
--OPTION ...` with any of its options).

The studio takes the run flags `nnstudio train` takes (`nnstudio.tui.run.arguments`: one table,
one reading), so `nnstudio --dataset spirals --model mlp --lr 0.03` or `nnstudio --config run.toml`
opens with that run ready to train. Every argument is checked before Textual is imported: a bad
flag, value, config file or save name is one line on stderr and exit status 2, and the studio
does not open.
"""

from __future__ import annotations

import argparse
import sys

from nnstudio import saves

from ..run.arguments import UsageError, add_hidden_alias, add_run_flags, flags_given, resolve_save, run_config
from . import create_app

PROG = "nnstudio"
#: run flags that say where things are rather than what to train: they go with a save opened too
PLACE_FLAGS = ("--saves-dir", "--data-dir")


def register(subparsers) -> None:
    """Add `nnstudio studio [SAVE] [--open SAVE] [--no-resume] [--config FILE] [--model M] [--lr X] ...`."""
    parser = subparsers.add_parser(
        "studio", help="open the training studio (the default when no command is given; takes train's run flags)",
        description="Open the terminal training studio: build a model, train it, watch it learn, save it. "
                    "`nnstudio` with no command, `nnstudio FILE.safetensors`, or `nnstudio` followed by any of "
                    "these options does the same. The run flags are those of `nnstudio train` (--config FILE, "
                    "--model, --dataset, --lr, --epochs, ...): the studio opens with that run ready to train "
                    "(press space).",
        epilog="Examples: nnstudio --dataset spirals --model mlp --lr 0.03;  nnstudio --config run.toml;  "
               "nnstudio my-model --saves-dir DIR.  Exit status: 0 when the studio was quit, 2 for a bad "
               "argument (nothing opens).")
    parser.add_argument("save", nargs="?", metavar="SAVE", help="a .safetensors save (or a save name) to open")
    parser.add_argument("--open", dest="open_save", metavar="SAVE", help="same as SAVE")
    parser.add_argument("--no-resume", action="store_true",
                        help="do not offer to resume an interrupted run (run flags that set a setting, such as "
                             "--lr, open that new run instead: nothing is offered then either)")
    add_run_flags(parser)
    add_hidden_alias(parser, "--saves", "--saves-dir")
    parser.set_defaults(handler=run_studio)


def run_studio(args: argparse.Namespace) -> int:
    """Run the studio until the user quits; bad arguments are one line and status 2 before it opens."""
    try:
        config, path = studio_run(args)
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    given = flags_given(args)
    settings_given = [option for option in given if option not in PLACE_FLAGS]
    app = create_app(config=config, open_path=path, default_data=not {"--config", "--dataset"} & set(given),
                     offer_resume=not args.no_resume and path is None and not settings_given)
    app.run()
    return app.return_code or 0   # 128 + the signal's number after SIGHUP or SIGTERM (stop_signals.py)


def studio_run(args: argparse.Namespace):
    """The run config the flags describe and the save to open (either may be None); UsageError if wrong.

    A save opens with its own settings, so only the flags that say where things are go with it.
    """
    target = args.open_save or args.save
    if args.open_save and args.save:
        raise UsageError(f"two saves to open ({args.save} and --open {args.open_save}); name one")
    if target:
        settings = [option for option in flags_given(args) if option not in PLACE_FLAGS]
        if settings:
            raise UsageError(f"{settings[0]} cannot be combined with a save to open: a save opens with its own "
                             f"settings (change them in the studio, or train on from it with `nnstudio train "
                             f"--from {target} {settings[0]} ...`)")
    config = run_config(args)
    path = resolve_save(target, saves.folder_or_default(config.checkpoints.folder)) if target else None
    return config, path
