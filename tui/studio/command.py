"""`nnstudio studio`: the command that opens the studio (also `nnstudio` alone, or `nnstudio SAVE`).

Textual is imported only once the studio starts, so registering this command costs the other
commands nothing.
"""

from __future__ import annotations

import argparse
import os
import sys

from nnstudio import saves

from . import create_app


def register(subparsers) -> None:
    """Add `nnstudio studio [SAVE] [--open SAVE] [--saves DIR] [--data-dir DIR] [--no-resume]`."""
    parser = subparsers.add_parser(
        "studio", help="open the training studio (the default when no command is given)",
        description="Open the terminal training studio: build a model, train it, watch it learn, save it. "
                    "`nnstudio` with no command, or `nnstudio FILE.safetensors`, does the same.")
    parser.add_argument("save", nargs="?", metavar="SAVE", help="a .safetensors save (or a save name) to open")
    parser.add_argument("--open", dest="open_save", metavar="SAVE", help="same as SAVE")
    parser.add_argument("--saves", metavar="DIR", help="saves folder (default ./saves, or $NNSTUDIO_SAVES_DIR)")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="folder with the data set's IDX files (default: $NNSTUDIO_DATA_DIR, the cache, a download)")
    parser.add_argument("--no-resume", action="store_true", help="do not offer to resume an interrupted run")
    parser.set_defaults(handler=run_studio)


def run_studio(args: argparse.Namespace) -> int:
    """Run the studio until the user quits; a save that cannot be found is an error before it opens."""
    target = args.open_save or args.save
    path = None
    if target:
        try:
            path = saves.resolve(target, args.saves)
        except saves.SaveError as error:
            print(f"nnstudio: {error}", file=sys.stderr)
            return 2
    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        print(f"nnstudio: --data-dir {args.data_dir}: no such folder", file=sys.stderr)
        return 2
    create_app(saves_dir=args.saves, data_dir=args.data_dir, open_path=path,
               offer_resume=not args.no_resume and path is None).run()
    return 0
