"""The headless command line: one module per command, each with `register(subparsers)`.

`common` holds what the commands share (one-line errors, exit statuses, number formats; the flags
that set run settings and naming a save come from `nnstudio.tui.run.arguments`, as the studio
takes them too), `report` the display of `nnstudio train`. The commands drive
the run core (`nnstudio.tui.run`) and draw with Rich; the `nnstudio` program (`nnstudio.tui.main`)
puts them beside the studio's command.
"""

from __future__ import annotations

from . import baseline, bench, data, eval, inspect, predict, race, runs, saves, sweep, train

#: the commands, in the order `nnstudio --help` lists them
COMMAND_MODULES = (train, sweep, eval, predict, inspect, race, baseline, bench, data, saves, runs)
