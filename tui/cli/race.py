"""`nnstudio race`: optimizers racing on a 2-D test function, run headless and drawn once at the end.

    nnstudio race                                         Rosenbrock, every optimizer, the suggested lr and length
    nnstudio race --function himmelblau --start 0,-3 --steps 600
    nnstudio race --function saddle --optimizers sgd,adam --lr 0.1
    nnstudio race --function beale --json                 the standings and every path, as one JSON object

The race is `nnstudio.tui.run.race`'s, the drawing `nnstudio.tui.render.race`'s: the same as the
studio's Optimizers view (pane 8, o). The optimizers take the run settings' hyperparameters (the
defaults, or --config's file, --momentum and --weight-decay, read as `nnstudio train` reads them).
Without a colour terminal (a pipe, NO_COLOR, TERM=dumb) the map is plain characters.

Errors print one line to stderr with exit status 2 (bad arguments); an optimizer that diverges is a
result, not an error: the table says so, and the exit status is 0.
"""

from __future__ import annotations

import argparse
import json
import math
import re

from rich.console import Console
from rich.table import Table
from rich.text import Text

from nnstudio.engine.fields import Field, suggest
from nnstudio.engine.surfaces import SURFACES

from ..render import unicode_console
from ..render.cells import clip
from ..render.inside import in_ascii
from ..render.race import COLOURS, MINIMUM, START, map_lines, standings, title_line
from ..run.config import ConfigError, RunConfig, load_config
from ..run.race import LR_RANGE, MAX_STEPS, OPTIMIZERS, Race, RaceSettings
from .common import UsageError, fail, field_type, one_line_errors, parse_flag, plain

PROG = "nnstudio race"
#: the map's size when stdout is not a terminal (a pipe, a file)
PIPED_SIZE = (80, 24)
MIN_WIDTH, MIN_HEIGHT = 20, 5
#: "-1.2,1" is a value, not an option (argparse takes only plain negative numbers for values)
NEGATIVE_PAIR = re.compile(r"^-\d+$|^-\d*\.\d+$|^-[\d.]+(e[-+]?\d+)?,")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `race` command to the `nnstudio` parser."""
    parser = subparsers.add_parser(
        "race", help="race the optimizers on a 2-D test function (Rosenbrock, Beale, ...) and draw their paths",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Race SGD, momentum, Nesterov, RMSprop, Adam and AdamW (the engine's own) from one start on a\n"
                    "2-D test function, and draw the function with each optimizer's path and a table of where\n"
                    "each one ended. The functions (start, learning rate and steps suggested for each):\n\n"
                    + "\n".join(f"  {s.name:<11} {s.formula:<48} start {s.start[0]:g},{s.start[1]:g}  lr {s.lr:g}  "
                                f"{s.steps} steps" for s in SURFACES.values()),
        epilog="The optimizers' other hyperparameters are the run settings': momentum is the momentum of\n"
               "momentum and Nesterov and Adam's beta1; beta2, eps, alpha (RMSprop) and weight decay are used\n"
               "as they are (RMSprop races without momentum). One learning rate for all: the fair race.\n"
               "Exit status: 0 (an optimizer that diverges is a result); 2 for bad arguments.")
    one_line_errors(parser, PROG)
    parser._negative_number_matcher = NEGATIVE_PAIR   # --start -1.2,1 (argparse's own takes only -1.2)
    parser.add_argument("--function", type=function_type, default="rosenbrock", metavar="F",
                        help=f"the test function: {', '.join(SURFACES)} (default rosenbrock)")
    parser.add_argument("--start", type=pair_type, metavar="X,Y", help="the start (default: the function's)")
    parser.add_argument("--lr", type=field_type(Field("--lr", float, low=LR_RANGE[0], high=LR_RANGE[1])),
                        metavar="LR", help="the learning rate of every optimizer (default: the function's)")
    parser.add_argument("--steps", type=field_type(Field("--steps", int, low=0, high=MAX_STEPS)), metavar="N",
                        help="steps each optimizer takes (default: the function's)")
    parser.add_argument("--optimizers", type=optimizers_type, metavar="LIST",
                        help=f"which optimizers race, comma-separated (default all: {','.join(OPTIMIZERS)})")
    parser.add_argument("--config", metavar="FILE", help="a run configuration (TOML) whose optimizer settings to use")
    parser.add_argument("--momentum", metavar="X", help="momentum (and Adam's beta1), as nnstudio train takes it")
    parser.add_argument("--weight-decay", metavar="X", help="weight decay of every optimizer")
    parser.add_argument("--json", action="store_true", help="print the race as one JSON object instead (paths too)")
    parser.add_argument("--width", type=field_type(Field("--width", int, low=MIN_WIDTH, high=1000)), metavar="COLS",
                        help=f"the map's columns (default: the terminal's; {PIPED_SIZE[0]} when piped)")
    parser.add_argument("--height", type=field_type(Field("--height", int, low=MIN_HEIGHT, high=1000)),
                        metavar="LINES", help=f"the map's lines (default: fits the terminal; {PIPED_SIZE[1]} when piped)")
    parser.set_defaults(handler=run_race)


def function_type(text: str) -> str:
    """A test function's name, any case; did-you-mean for a near miss."""
    name = text.strip().lower()
    if name not in SURFACES:
        raise argparse.ArgumentTypeError(f"no function {text!r}{suggest(name, SURFACES)}; "
                                         f"the functions are {', '.join(SURFACES)}")
    return name


def pair_type(text: str) -> tuple[float, float]:
    """"X,Y" -> (x, y): two finite numbers."""
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        x, y = (float(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a start is two numbers X,Y (e.g. -1.2,1), got {text!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise argparse.ArgumentTypeError(f"a start is two finite numbers, got {text!r}")
    return x, y


def optimizers_type(text: str) -> tuple[str, ...]:
    """"sgd,adam" -> ("sgd", "adam"), in the order given, each once; did-you-mean for a near miss."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"name at least one of {', '.join(OPTIMIZERS)}")
    for name in names:
        if name not in OPTIMIZERS:
            raise argparse.ArgumentTypeError(f"no optimizer {name!r}{suggest(name, OPTIMIZERS)}; "
                                             f"the optimizers are {', '.join(OPTIMIZERS)}")
    return tuple(dict.fromkeys(names))


def race_settings(args: argparse.Namespace) -> RaceSettings:
    """The optimizer settings: --config's file (else the defaults), then --momentum and --weight-decay."""
    try:
        config = load_config(args.config) if args.config is not None else RunConfig()
        overrides = {path: parse_flag(option, value) for option, path, value in (
            ("--momentum", "optimizer.momentum", args.momentum),
            ("--weight-decay", "optimizer.weight_decay", args.weight_decay)) if value is not None}
        return RaceSettings.of(config.with_overrides(overrides))
    except ConfigError as error:
        raise UsageError(str(error)) from None


def make_race(args: argparse.Namespace) -> Race:
    """The race the arguments describe, stepped to its end; UsageError for anything wrong."""
    surface = SURFACES[args.function]
    if args.start is not None:
        x_low, x_high, y_low, y_high = surface.box
        x, y = args.start
        if not (x_low <= x <= x_high and y_low <= y <= y_high):
            raise UsageError(f"--start {x:g},{y:g} is outside the {surface.name} map (x {x_low:g} to {x_high:g}, "
                             f"y {y_low:g} to {y_high:g}); choose a start inside it")
    race = Race(surface, start=args.start, lr=args.lr, settings=race_settings(args), names=args.optimizers)
    if not race.racers:
        raise UsageError(f"no optimizer can race: {'; '.join(race.left_out)}")
    race.step(surface.steps if args.steps is None else args.steps)
    return race


def size_of(args: argparse.Namespace, console: Console, racers: int) -> tuple[int, int]:
    """The map's size: --width and --height, else the terminal's (room left for the table), else PIPED_SIZE."""
    if console.is_terminal:
        width, height = console.size
        width, height = max(width, MIN_WIDTH), max(height - racers - 8, MIN_HEIGHT)
    else:
        width, height = PIPED_SIZE
    return args.width or width, args.height or height


def standings_table(race, mono: bool) -> Table:
    """Each optimizer's mark, loss, distance, steps and where it ended, one row each."""
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for name, justify in (("", "left"), ("optimizer", "left"), ("loss", "right"),
                          (f"to {race.surface.target_name}", "right"), ("steps", "right"), ("ended at", "left"),
                          ("", "left")):
        table.add_column(name, justify=justify, no_wrap=name in ("optimizer", "loss", "steps"))
    for st in standings(race):
        mark = Text(st.mark.upper(), "" if mono else f"bold black on {COLOURS[st.name]}")
        table.add_row(mark, st.label, st.loss_text(), st.distance_text(), str(st.steps),
                      f"({_coordinate(st.point[0])}, {_coordinate(st.point[1])})", st.state_text())
    return table


def _coordinate(value: float) -> str:
    """A point's coordinate to three decimals (1e-46 is 0.000 on a map some units wide: what a reader wants)."""
    text = f"{value:.3f}" if abs(value) < 1e6 else f"{value:.3g}"
    return "0.000" if text == "-0.000" else text


def run_race(args: argparse.Namespace) -> int:
    """`nnstudio race`: race, then print the map and the standings (or the JSON)."""
    try:
        race = make_race(args)
    except UsageError as error:
        return fail(PROG, str(error), 2)
    if args.json:
        print(json.dumps(plain(race.to_json()), allow_nan=False))
        return 0
    console = Console(highlight=False)
    mono = not console.is_terminal or console.is_dumb_terminal or console.no_color
    ascii_only = not unicode_console(console)
    width, height = size_of(args, console, len(race.racers))
    s = race.surface
    minima = f"   {MINIMUM} {'minima' if len(s.minima) > 1 else 'minimum'}" if s.minima else ""
    lines = [clip(title_line(race), width), *map_lines(race, width, height, mono),
             clip(Text(f"{START} start ({race.start[0]:g}, {race.start[1]:g}){minima}   x {s.box[0]:g}…{s.box[1]:g}, "
                       f"y {s.box[2]:g}…{s.box[3]:g}"), width)]
    for line in lines:
        console.print(in_ascii(line) if ascii_only else line, soft_wrap=True)
    console.print()
    console.print(standings_table(race, mono))
    for note in (*race.notes(), f"What to watch for on {s.title} at lr {s.lr:g}: {s.about}"):
        console.print(Text(note), soft_wrap=True)
    return 0
