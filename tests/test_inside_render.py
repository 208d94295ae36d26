"""Drawing the inside views (tui/render/inside*): what a reader relies on, checked on hand-made views."""

from __future__ import annotations

import numpy as np
from rich.style import Style

from nnstudio.tui.render.inside import draw
from nnstudio.tui.render.inside_charts import _log_bar, confusion_lines
from nnstudio.tui.run.inside import Boundary, Confusion, Fit


def plain(lines) -> list[str]:
    return [line.plain for line in lines]


def a_boundary() -> Boundary:
    """Class 0 left of x = 0, class 1 right of it, sure everywhere; one point of each side, one misplaced."""
    rows, cols = 4, 8
    probabilities = np.zeros((rows, cols, 2))
    probabilities[:, :4, 0] = probabilities[:, 4:, 1] = 1.0
    points = np.array([[-0.9, 0.9], [0.9, -0.9], [-0.6, -0.6]])
    labels = np.array([0, 1, 1])
    return Boundary((-1.0, 1.0, -1.0, 1.0), probabilities, ("0", "1"), (points, labels), (points[:0], labels[:0]),
                    2 / 3, float("nan"))


def test_points_are_their_class_marks_over_the_regions_fills_with_and_without_colour():
    for mono in (True, False):
        picture = plain(draw(a_boundary(), 8, 6, mono))[1:5]
        assert picture[0][0] == "0" and picture[3][7] == "1" and picture[3][1] == "1"   # the last one misplaced
        if mono:
            assert set(picture[1][:4]) == {":"} and set(picture[1][4:]) == {"="}


def style_at(line, offset: int) -> Style:
    style = Style()
    for span in line.spans:
        if span.start <= offset < span.end:
            style += span.style if isinstance(span.style, Style) else Style.parse(span.style)
    return style


def test_in_colour_a_point_keeps_its_class_colour_on_any_region():
    lines = draw(a_boundary(), 8, 6, mono=False)
    region = style_at(lines[2], 0)   # a cell of class 0's region, no point
    misplaced = style_at(lines[4], 1)   # class 1's point on class 0's region
    own = style_at(lines[4], 7)
    assert misplaced.bgcolor == own.bgcolor != region.bgcolor
    assert misplaced.color is not None and misplaced.color.name == "black"


def test_a_surface_fit_draws_its_points():
    values = np.linspace(0, 1, 4 * 8).reshape(4, 8)
    points = np.array([[-0.9, 0.9], [0.9, -0.9]])
    values = np.linspace(0, 1, 4 * 40).reshape(4, 40)
    fit = Fit((-1.0, 1.0, -1.0, 1.0), values, (points, np.zeros(2)), (points[:0], np.zeros(0)), 0.1)
    picture = plain(draw(fit, 40, 6, mono=True))
    assert "o" in picture[1][:4] and "o" in picture[4][-4:] and "o training points" in picture[-1]


def test_a_bar_past_a_mark_covers_it():
    bar = _log_bar(0.013, 1e-7, 1.0, 16, (1e-4, 1e-2))
    at = round((np.log10(1e-2) + 7) / 7 * 16)
    assert bar[at] == "┃" and bar[:at].strip("█┃") == ""


def test_the_confusion_cell_says_how_many_of_its_examples_are_shown():
    matrix = np.array([[5, 40], [0, 5]])
    examples = np.arange(40)
    view = Confusion(matrix, ("cat", "dog"), (0, 1), examples, np.full(40, 0.7), None, np.zeros((40, 2)))
    text = plain(confusion_lines(view, 60, 8, mono=True))
    assert text[-1].startswith("true cat read as dog: 40 test examples (")
    assert "shown)" in text[-1] and any(line.strip().startswith("cat 0") for line in text)
