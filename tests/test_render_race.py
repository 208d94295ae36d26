"""Drawing the optimizer race (tui/render/race.py): points land on the cells computed here by hand, paths are
drawn between far-apart steps, the map is log-shaded, the legend says who diverged, every size fits, and a
snapshot of the whole text."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from nnstudio.engine.surfaces import SURFACES
from nnstudio.tui.render.race import MINIMUM, RAMP, START, map_lines, race_lines, standings
from nnstudio.tui.run.race import Race

ROSENBROCK = SURFACES["rosenbrock"]   # box x -2..2, y -1..3


def fake_race(path, surface=ROSENBROCK, name="sgd", mark="s"):
    """A race of one racer along `path` (exact points, no optimizer), for checking where things land."""
    path = np.array(path, dtype=float)
    racer = SimpleNamespace(name=name, mark=mark, path=path, position=tuple(path[-1]))
    return SimpleNamespace(surface=surface, racers=[racer], start=tuple(path[0]))


def cell(lines, row, col) -> str:
    return lines[row].plain[col]


def test_points_land_on_the_cells_computed_by_hand():
    # a 40 x 20 map of x -2..2, y -1..3: a cell is 0.1 wide and 0.2 high; row 0 is the top (y near 3)
    lines = map_lines(fake_race([(-1.95, 2.95), (0.05, 1.05), (1.55, -0.55)]), 40, 20, mono=True)
    assert len(lines) == 20 and all(len(line.plain) == 40 for line in lines)
    assert cell(lines, 0, 0) == START              # x -1.95 -> column 0, y 2.95 -> row 0
    assert cell(lines, 9, 20) == "s"               # x 0.05 -> column 20, y 1.05 -> row floor(1.95 / 0.2) = 9
    assert cell(lines, 17, 35) == "S"              # where it stands now: x 1.55 -> 35, y -0.55 -> row 17
    assert cell(lines, 10, 30) == MINIMUM          # (1, 1): column 30, row 10


def test_a_long_step_is_drawn_as_a_line_and_points_outside_the_box_are_not():
    lines = map_lines(fake_race([(-1.95, 0.05), (1.95, 0.05), (9.0, 9.0)]), 40, 20, mono=True)
    row = lines[14].plain   # y 0.05 -> row floor(2.95 / 0.2) = 14
    assert row[0] == START and set(row[1:40]) == {"s"}   # one step across the whole map, every cell marked
    assert sum(line.plain.count("S") for line in lines) == 0   # its head (9, 9) is off the map


def test_the_shading_is_log_scaled_blank_in_the_valley_and_densest_on_the_walls():
    lines = map_lines(fake_race([(-2.0, 3.0)]), 40, 20, mono=True)
    # Rosenbrock is 0 at (1, 1) and 2509 at (-2, -1): on a linear scale all but the walls would be blank
    assert cell(lines, 9, 30) == RAMP[0]    # the cell centred on (1.05, 1.1): 0.003
    assert cell(lines, 19, 0) == RAMP[-1]
    assert len({line.plain[c] for line in lines for c in range(40)} & set(RAMP)) == len(RAMP)   # every level shows


def test_colour_is_on_top_of_the_characters():
    race = fake_race([(0.05, 1.05), (0.55, 1.05)])
    mono, colour = map_lines(race, 40, 20, mono=True), map_lines(race, 40, 20, mono=False)
    assert [line.plain for line in mono] == [line.plain for line in colour]
    assert not any(line.spans for line in mono) and all(line.spans for line in colour)


def test_the_legend_gives_each_racer_its_loss_distance_and_who_diverged():
    race = Race("rosenbrock", lr=0.05, names=("sgd", "adam"))
    race.step(20)
    text = "\n".join(line.plain for line in race_lines(race, 100, 24, mono=True, running=False))
    sgd, adam = standings(race)
    assert sgd.status == "diverged" and f"diverged at {sgd.steps + 1}" in text
    assert f"{adam.loss:.3g}" in text and f"{adam.distance:.3g}" in text
    assert "step 20 · lr 0.05 · paused" in text and "dist: to the minimum" in text
    assert "S  SGD" in text and "A  Adam" in text and "AdamW" not in text


@pytest.mark.parametrize("size", [(20, 6), (40, 12), (62, 18), (80, 20), (200, 58)])
@pytest.mark.parametrize("name", list(SURFACES))
def test_every_size_fits(size, name):
    width, height = size
    race = Race(name)
    race.step(50)
    lines = race_lines(race, width, height, mono=False, running=True)
    assert len(lines) <= height and all(line.cell_len <= width for line in lines)
    assert lines[0].plain.startswith(race.surface.title[:10])


def test_the_text_of_a_race(snapshot):
    race = Race("himmelblau")
    race.step(300)
    assert "\n".join(line.plain for line in race_lines(race, 80, 20, mono=True, running=True)) == snapshot
