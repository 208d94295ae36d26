"""`nnstudio predict SAVE --image FILE`: a saved model reads a digit of your own, as the studio's Draw pane does.

    nnstudio predict mnist-mlp --image seven.pgm      a portable graymap (P2 or P5), any size, any maxval
    nnstudio predict mnist-mlp --image seven.txt      28 lines of characters (' ' and '.' empty, others ink)
    nnstudio predict scan-cnn --image scan.pgm --invert   dark ink on light paper, said outright

The picture is read (`datasets.picture_files`), turned bright-on-dark when its border is light (a
scan: `digit_style.ink_on_dark`; --invert / --no-invert decide instead), then made and read as
MNIST's digits were (`run.drawing.DigitReader`). It prints the picture as the model sees it beside
a bar per class, or, for an autoencoder, beside the model's reconstruction. A file that cannot be
read, or a model that does not read 28x28 images, is one line on stderr naming the file and the problem.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from nnstudio.datasets.digit_style import ink_on_dark
from nnstudio.datasets.picture_files import PictureError, read_picture

from ..render import caption, default_mode, digit_lines, side_by_side, unicode_console
from ..render.bars import probability_bars
from ..run import SessionError
from ..run.drawing import DigitReader, NotDrawable
from .common import UsageError, fail, failure_status
from .eval import open_save

PROG = "nnstudio predict"
#: cells of the bars' column (name, bar, percentage)
BARS_WIDTH = 38


def run_predict_image(args: argparse.Namespace) -> int:
    """Read the picture, then the save; print what the model makes of the picture."""
    if args.image is None:
        return fail(PROG, "--invert and --no-invert apply to a picture: give it with --image FILE", 2)
    if args.mistakes:
        return fail(PROG, "--mistakes picks test samples; with --image the model reads your picture only", 2)
    path = Path(args.image)
    if not path.exists():
        return fail(PROG, f"--image {args.image}: no such file", 2)
    try:
        picture = ink_on_dark(read_picture(path), args.invert)
    except PictureError as error:
        return fail(PROG, str(error))
    if not picture.any():
        if args.invert is None:
            return fail(PROG, f"{path}: there is no digit in the picture (it is one grey all over)")
        flag = "--invert" if args.invert else "--no-invert"
        return fail(PROG, f"{path}: no ink stands out of the picture's ground with {flag}: try it without {flag}")
    try:
        session, save = open_save(args)
        reader = DigitReader.of_session(session)
    except UsageError as error:
        return fail(PROG, str(error), 2)
    except SessionError as error:
        return fail(PROG, str(error), failure_status(error))
    except NotDrawable as problem:
        return fail(PROG, f"{save.name}: {problem} (train one with `nnstudio train --dataset mnist`)", 2)
    reading = reader.read(picture)
    console = Console()
    mode = default_mode(console) if args.style == "auto" else args.style
    unicode = unicode_console(console)
    console.print(f"[bold]{escape(path.name)}[/] read by [bold]{escape(save.stem)}[/] ({escape(reader.dataset)}, "
                  f"{reader.epochs} epoch(s) trained): cropped, scaled to 20 pixels and centred as MNIST's digits "
                  "were", highlight=False, soft_wrap=True)
    seen = digit_lines(reading.seen, mode) + [caption("as the model sees it")]
    if reading.reconstruction is not None:
        error = reading.reconstruction_error
        cells = [seen, digit_lines(reading.reconstruction, mode) + [caption(f"reconstruction (mse {error:.4f})")]]
    else:
        name, probability = reading.best
        bars = probability_bars(reading.class_names, reading.probabilities, BARS_WIDTH, unicode=unicode)
        cells = [seen, bars + [Text("")] * max(len(seen) - len(bars) - 1, 0) +
                 [Text.assemble("prediction: ", (name, "bold"), f" ({probability:.0%})")]]
    console.print(side_by_side(cells, console.width))
    return 0

