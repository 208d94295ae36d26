"""The studio: a Textual app to build, train, watch and save models from the keyboard (`nnstudio`).

    from nnstudio.tui.studio import create_app
    create_app().run()

`command` adds the `studio` subcommand to the command line; `nnstudio` with no subcommand
(or with a save as its argument) runs it. The app module is imported only when the studio
starts, so the other subcommands do not pay for importing Textual.
"""

from __future__ import annotations


def create_app(**options):
    """The studio app (see `nnstudio.tui.studio.launch.create_app` for the options)."""
    from .launch import create_app as _create_app

    return _create_app(**options)
