"""`nnstudio predict SAVE`: a saved model's predictions on test samples, digits drawn as characters.

    nnstudio predict mnist-mlp                   random test digits with truth, prediction and confidence
    nnstudio predict mnist-mlp --mistakes        only misclassified ones
    nnstudio predict spirals-mlp --count 20      data that are not images: a table of inputs and predictions
    nnstudio predict mnist-mlp --image seven.pgm a digit of your own (a PGM, or 28 lines of characters)

Digits are drawn with half blocks on a colour Unicode terminal and with a plain ASCII grey ramp
elsewhere (pipes, files, NO_COLOR); --style picks one. A wrong prediction is marked
"✗ 7 (pred 1, 64%)", a right one "✓ 3 (99%)". For regression models --mistakes shows the worst
predictions; for autoencoders each input is drawn beside its reconstruction. With --image, the picture
in a file is read as the studio's Draw pane reads a drawing (`predict_image.py`).
Errors print one line to stderr: exit status 2 for bad arguments (as for `eval`), 1 for failures.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from nnstudio.engine.fields import Field

from ..render import MODES, caption, default_mode, digit_lines, side_by_side, unicode_console
from ..run import Session, SessionError, outputs_problem
from .common import UsageError, fail, failure_status, field_type, one_line_errors
from .eval import add_save_arguments, open_save
from .predict_image import run_predict_image

PROG = "nnstudio predict"
DEFAULT_COUNT = 12
#: inputs shown in the table for data that are not images; wider inputs are cut with "..."
MAX_INPUT_COLUMNS = 8


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `predict` command to the `nnstudio` parser."""
    parser = subparsers.add_parser("predict", help="a saved model's predictions on test samples, drawn",
                                   description="Show a saved model's predictions on random test samples.")
    one_line_errors(parser, PROG)
    add_save_arguments(parser)
    parser.add_argument("--count", type=field_type(Field("count", int, low=1)), default=DEFAULT_COUNT, metavar="N",
                        help=f"how many test samples to show (default {DEFAULT_COUNT})")
    parser.add_argument("--mistakes", action="store_true",
                        help="only misclassified samples (for regression: the worst predictions)")
    parser.add_argument("--seed", type=field_type(Field("seed", int, low=0)), default=0, metavar="N",
                        help="which random samples to show (default 0)")
    parser.add_argument("--style", choices=("auto",) + MODES, default="auto",
                        help="how digits are drawn: blocks (Unicode half blocks), ascii (grey ramp), or auto "
                             "(blocks on a colour terminal, else ascii)")
    parser.add_argument("--image", metavar="FILE",
                        help="read the digit in FILE instead: a PGM (P2 or P5, any size) or a text file of 28 lines "
                             "(' ' and '.' empty, other characters ink, ' .:-=+*#%%@' as grey levels)")
    parser.add_argument("--invert", action=argparse.BooleanOptionalAction, default=None,
                        help="with --image: the picture is dark ink on light (invert it), or not; default: decided "
                             "by its border")
    parser.set_defaults(handler=run_predict)


@dataclass(frozen=True)
class Picked:
    """The test samples to show and the model's outputs for them."""

    index: np.ndarray      # rows of the test split, ascending
    outputs: np.ndarray    # class probabilities (classifiers) or predictions, one row per index
    note: str              # a line about the choice, e.g. "23 of 10,000 test digits are misclassified"


def run_predict(args: argparse.Namespace) -> int:
    """`nnstudio predict SAVE`: rebuild the session from the save, predict some test samples, show them."""
    if args.image is not None or args.invert is not None:
        return run_predict_image(args)
    console = Console()
    try:
        session, path = open_save(args)
    except UsageError as error:
        return fail(PROG, str(error), 2)
    except SessionError as error:
        return fail(PROG, str(error), failure_status(error))
    picked = pick(session, args.count, args.mistakes, args.seed)
    problem = outputs_problem(picked.outputs)
    if problem is not None:
        return fail(PROG, f"{path}: {problem}")
    if picked.note:
        console.print(escape(picked.note), highlight=False)
    if not len(picked.index):
        return 0
    mode = default_mode(console) if args.style == "auto" else args.style
    if session.dataset.image_shape is None:
        console.print(prediction_table(session, picked, marks(console)))
    elif session.reconstruct:
        console.print(side_by_side(reconstruction_cells(session, picked, mode), console.width))
    else:
        console.print(side_by_side(digit_cells(session, picked, mode, marks(console)), console.width))
    return 0


def pick(session: Session, count: int, mistakes: bool, seed: int) -> Picked:
    """`count` random test samples, or with `mistakes` random wrong ones (regression: the worst ones)."""
    y_test, total = session.data.y_test, len(session.data.x_test)
    rng = np.random.default_rng(seed)
    if not mistakes:
        index = np.sort(rng.permutation(total)[:count])
        return Picked(index, session.predict_test(index), "")
    outputs = session.predict_test()
    if session.classes:
        wrong = np.flatnonzero(outputs.argmax(axis=1) != y_test)
        index = np.sort(rng.permutation(wrong)[:count])
        note = (f"{len(wrong):,} of {total:,} test samples are misclassified "
                f"({100 * (1 - len(wrong) / max(total, 1)):.2f}% accuracy)")
        if len(wrong):
            note += f"; showing {len(index)}" if len(index) < len(wrong) else "; showing all"
        return Picked(index, outputs[index], note)
    errors = _squared_errors(session, np.arange(total), outputs)
    index = np.argsort(-errors, kind="stable")[:count]
    return Picked(index, outputs[index], f"the {len(index)} worst of {total:,} test predictions (largest error first)")


def _squared_errors(session: Session, index: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """Per sample: the mean squared error of the output against the target (the input, for autoencoders)."""
    target = session.data.x_test[index] if session.reconstruct else session.data.y_test[index]
    return np.mean((outputs - target.reshape(outputs.shape)).reshape(len(index), -1) ** 2, axis=1)


def marks(console: Console) -> tuple[str, str]:
    """The right/wrong marks: ✓ and ✗ where the terminal can show them, else plain letters."""
    unicode = unicode_console(console)
    return ("✓", "✗") if unicode else ("ok", "XX")


def verdict(true: str, predicted: str, confidence: float, right_wrong: tuple[str, str]) -> Text:
    """ "✓ 3 (99%)" in green, or "✗ 7 (pred 1, 64%)" in bold red."""
    right, wrong = right_wrong
    if true == predicted:
        return Text(f"{right} {true} ({confidence:.0%})", style="green")
    return Text(f"{wrong} {true} (pred {predicted}, {confidence:.0%})", style="bold red")


def _image(session: Session, row: int) -> np.ndarray:
    """Test image `row` as raw pixels, (height, width): the data set's, not the scaled copy the model saw."""
    shape = session.dataset.image_shape
    return session.dataset.x_test[row].reshape(shape[1:] if len(shape) == 3 else shape)


def digit_cells(session: Session, picked: Picked, mode: str, right_wrong: tuple[str, str]) -> list[list]:
    """One cell per sample: the drawing, the verdict and the sample's number."""
    names = session.dataset.class_names
    cells = []
    for row, probabilities in zip(picked.index, picked.outputs):
        predicted = int(np.argmax(probabilities))
        lines: list = digit_lines(_image(session, row), mode)
        true = names[int(session.data.y_test[row])]
        lines.append(caption(verdict(true, names[predicted], float(probabilities[predicted]), right_wrong)))
        lines.append(Text(f"#{row}", style="dim"))
        cells.append(lines)
    return cells


def reconstruction_cells(session: Session, picked: Picked, mode: str) -> list[list]:
    """For an autoencoder: each input beside its reconstruction, captioned with the error."""
    shape = _image(session, 0).shape
    errors = _squared_errors(session, picked.index, picked.outputs)
    cells = []
    for row, output, error in zip(picked.index, picked.outputs, errors):
        cells.append(digit_lines(_image(session, row), mode) + [caption(f"#{row} input")])
        cells.append(digit_lines(np.asarray(output).reshape(shape), mode) + [caption(f"output (mse {error:.4f})")])
    return cells


def prediction_table(session: Session, picked: Picked, right_wrong: tuple[str, str]) -> Table:
    """For data that are not images: inputs, truth, prediction and confidence (or error), wrong rows marked."""
    x = session.dataset.x_test.reshape(len(session.dataset.x_test), -1)
    shown = min(x.shape[1], MAX_INPUT_COLUMNS)
    table = Table(title="Test predictions", title_justify="left")
    classes = session.classes
    table.add_column("#", justify="right")
    if classes:
        table.add_column("")  # the right/wrong mark
    for i in range(shown):
        table.add_column(escape(session.dataset.feature_name(i)), justify="right")
    if shown < x.shape[1]:
        table.add_column("...")
    for column in ("truth", "prediction", "confidence" if classes else "sq. error"):
        table.add_column(column, justify="right")
    names = session.dataset.class_names
    errors = None if classes else _squared_errors(session, picked.index, picked.outputs)
    for n, (row, output) in enumerate(zip(picked.index, picked.outputs)):
        inputs = [f"{v:.3f}" for v in x[row, :shown]] + (["..."] if shown < x.shape[1] else [])
        if classes:
            predicted, true = int(np.argmax(output)), int(session.data.y_test[row])
            mark, style = (right_wrong[0], None) if predicted == true else (right_wrong[1], "bold red")
            table.add_row(str(row), mark, *inputs, escape(names[true]), escape(names[predicted]),
                          f"{float(output[predicted]):.0%}", style=style)
        else:
            truth = np.ravel(session.data.y_test[row])
            table.add_row(str(row), *inputs, _values(truth), _values(np.ravel(output)), f"{errors[n]:.4g}")
    return table


def _values(values: np.ndarray) -> str:
    return ", ".join(f"{v:.3f}" for v in values[:MAX_INPUT_COLUMNS])
