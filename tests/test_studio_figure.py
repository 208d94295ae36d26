"""A plot's figure built in two layers (`figure.LayeredBuild`): the runs compared built once and kept, the current
run drawn over them; cell for cell the figure one build of every series draws."""

from __future__ import annotations

import math

import pytest

from nnstudio.tui.studio.figure import FigureCalls, LayeredBuild
from nnstudio.tui.studio.plots import RUN_LOOKS, steady_range

THEME = "pro"


def curve(n: int, points: int = 40) -> tuple[list[float], list[float]]:
    xs = [50 * i / (points - 1) for i in range(points)]
    return xs, [2.3 * math.exp(-(n + 1) * x / 40) + 0.05 * ((i * 7) % 5) for i, x in enumerate(xs)]


def figure(runs: int, current: tuple[list[float], list[float]], mono: bool, keep: bool = True,
           ylim: tuple[float, float] = (0.0, 2.6)) -> FigureCalls:
    """The loss plot of `runs` compared runs (kept) and the current run over them, as the monitor draws it."""
    calls = FigureCalls()
    for n in range(runs):
        calls.plot(*curve(n), **RUN_LOOKS[1 + n].plot_style(mono))
        if keep:
            calls.keep()
    calls.plot(*current, **RUN_LOOKS[0].plot_style(mono))
    calls.xlabel("epoch")
    calls.xlim(0, 50)
    calls.xticks([0, 25, 50], ["0", "25", "50"])
    calls.ylim(*ylim)
    calls.yticks([0.5, 1.0, 1.5, 2.0], ["0.5", "1.0", "1.5", "2.0"])
    return calls


@pytest.mark.parametrize("mono", [False, True], ids=["colour", "NO_COLOR"])
@pytest.mark.parametrize("size", [(38, 9), (99, 25)], ids=["80x24", "200x60"])
def test_two_layers_draw_what_one_build_of_every_series_draws(mono, size):
    current = curve(7, 25)
    layered, whole = figure(10, current, mono), figure(10, current, mono, keep=False)
    assert layered.layered and not whole.layered
    one, two = LayeredBuild().build(whole, *size, THEME), LayeredBuild().build(layered, *size, THEME)
    assert two.plain == one.plain
    assert [(s.start, s.end, str(s.style)) for s in two.spans] == [(s.start, s.end, str(s.style)) for s in one.spans]


def test_the_kept_layer_is_built_once_while_it_and_the_axes_stay_the_same():
    builder = LayeredBuild()
    for points in (10, 20, 30):   # the current run moves on: only it is built again
        builder.build(figure(10, curve(7, points), mono=False), 38, 9, THEME)
    assert builder.kept_builds == 1
    builder.build(figure(10, curve(7, 30), mono=False, ylim=(0.0, 2.8)), 38, 9, THEME)   # other axes
    builder.build(figure(10, curve(7, 30), mono=False, ylim=(0.0, 2.8)), 99, 25, THEME)  # another size
    builder.build(figure(9, curve(7, 30), mono=False, ylim=(0.0, 2.8)), 99, 25, THEME)   # another run compared
    assert builder.kept_builds == 4


def test_without_axes_ranges_or_kept_series_a_figure_is_built_in_one_go():
    calls = FigureCalls()
    calls.plot(*curve(0))
    calls.keep()
    calls.plot(*curve(1))
    assert not calls.layered   # no x and y range set: each layer would choose its own
    calls.xlim(0, 50)
    calls.ylim(0, 3)
    assert calls.layered
    calls.clear_figure()
    assert calls.series == calls.kept == 0 and not calls.calls


def test_a_steady_range_is_widened_by_at_most_half_a_row_to_round_steps():
    assert steady_range(0.0512, 2.347, 7) == (0.0, 2.4)
    for low, high, rows in ((0.0512, 2.347, 7), (-1.29, 0.37, 23), (91.3, 97.9, 7), (1e-4, 3e-3, 25)):
        bottom, top = steady_range(low, high, rows)
        row = (high - low) / rows
        assert bottom <= low < bottom + row / 2 + 1e-12 and top - row / 2 - 1e-12 < high <= top
    assert steady_range(0.3, 0.3, 5) == (0.3, 0.3)
    # a curve moving a little inside keeps the range
    assert steady_range(0.06, 2.347, 7) == steady_range(0.0512, 2.31, 7)


@pytest.mark.parametrize("theme", ["pro", "dark", "matrix"])
@pytest.mark.parametrize("mono", [False, True], ids=["colour", "NO_COLOR"])
def test_the_text_is_what_rich_makes_of_plotext_s_escape_codes(theme, mono):
    from rich.text import Text
    from textual_plotext.plot import Plot

    from nnstudio.tui.studio.figure import prepare, replay, text_of, matrix_of
    calls = figure(3, curve(7, 25), mono)
    ours, theirs = Plot(), Plot()
    for plot in (ours, theirs):
        replay(calls.layer(None), plot)
        prepare(plot, 60, 15, theme)
    made, parsed = text_of(matrix_of(ours)), Text.from_ansi(theirs.build())
    assert made.plain == parsed.plain and made.end == parsed.end
    assert cells(made) == cells(parsed)


def cells(text) -> list[str]:
    """Each character's style, as text."""
    styles = [""] * len(text.plain)
    for span in text.spans:
        for i in range(span.start, span.end):
            styles[i] = f"{styles[i]}+{span.style}"
    return styles
