"""Snapshots of the Optimizers view of pane 8 (o): Himmelblau after 300 steps, where the optimizers end in three
different minima, at 80x24 and 120x40. No model trains; the race is the same on every machine (float64 steps).
Regenerate after a deliberate change with `pytest tests/test_studio_race_snapshots.py --snapshot-update`, and look.
"""

from __future__ import annotations

import pytest

from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.studio.launch import create_app
from nnstudio.tui.studio.race_view import RaceView


async def himmelblau_after_300_steps(pilot) -> None:
    await pilot.press("8", "o", "f", "f")
    race_view = pilot.app.panes["inside"].query_one(RaceView)
    race_view.race.step(300)
    race_view.redraw()
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_race(snap_compare, tmp_path, size):
    config = RunConfig.from_dict({"data": {"name": "blobs"}, "training": {"epochs": 10}})
    app = create_app(config=config, saves_dir=tmp_path / "saves", offer_resume=False)
    assert snap_compare(app, terminal_size=size, run_before=himmelblau_after_300_steps)
