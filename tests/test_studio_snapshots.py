"""Snapshots of the studio's monitor and predictions panes at 80x24 and 120x40.

The screens are made deterministic by feeding recorded events (fixed numbers, the embedded
MNIST test digits and made-up predictions) instead of training: no thread runs, no timing
figure depends on the machine, and the header shows no clock. Regenerate after a deliberate
change with `pytest tests/test_studio_snapshots.py --snapshot-update` and look at the SVGs.
"""

from __future__ import annotations

import pytest
from studio_recorded import feed, feed_autoencoder

from nnstudio.engine import events
from nnstudio.tui.run import Status
from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.studio.app import create_app

SIZES = [(80, 24), (120, 40)]


def studio(tmp_path):
    config = RunConfig.from_dict({"data": {"name": "mnist"}, "optimizer": {"lr": 0.001}, "training": {"epochs": 10}})
    return create_app(config=config, saves_dir=tmp_path / "saves", offer_resume=False)


class TestMonitorSnapshots:
    """Pane 3 after six recorded epochs, paused: four plots, the progress line, the status line."""

    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_paused_run(self, snap_compare, tmp_path, size):
        async def run_before(pilot) -> None:
            feed(pilot.app)
            await pilot.pause()

        assert snap_compare(studio(tmp_path), terminal_size=size, run_before=run_before)

    def test_idle_80x24(self, snap_compare, tmp_path):
        assert snap_compare(studio(tmp_path), terminal_size=(80, 24))

    def test_diverged_80x24(self, snap_compare, tmp_path):
        """Why the run diverged and what to try, wrapped under the status line."""
        async def run_before(pilot) -> None:
            feed(pilot.app)
            pilot.app.monitor.on_session_event(events.Diverged(6, 3, "the loss became nan", 6))
            pilot.app.status = Status.DIVERGED
            await pilot.pause()

        assert snap_compare(studio(tmp_path), terminal_size=(80, 24), run_before=run_before)

    def test_autoencoder_80x24(self, snap_compare, tmp_path):
        """No accuracy plot: the reconstruction error takes its place, and says so."""
        async def run_before(pilot) -> None:
            feed_autoencoder(pilot.app)
            await pilot.pause()

        assert snap_compare(studio(tmp_path), terminal_size=(80, 24), run_before=run_before)


class TestPredictionsSnapshots:
    """Pane 4 with the embedded MNIST test digits and made-up predictions (every fifth one wrong)."""

    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_digits_and_confusion(self, snap_compare, tmp_path, size):
        async def run_before(pilot) -> None:
            feed(pilot.app)
            await pilot.press("4")
            await pilot.pause()

        assert snap_compare(studio(tmp_path), terminal_size=size, run_before=run_before)

    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_autoencoder_worst_first(self, snap_compare, tmp_path, size):
        """Each input beside its reconstruction and its error, the worst first."""
        async def run_before(pilot) -> None:
            feed_autoencoder(pilot.app)
            await pilot.press("4", "m")
            await pilot.pause()

        assert snap_compare(studio(tmp_path), terminal_size=size, run_before=run_before)

    @pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
    def test_mistakes_only(self, snap_compare, tmp_path, size):
        async def run_before(pilot) -> None:
            feed(pilot.app)
            await pilot.press("4", "m")
            await pilot.pause()

        assert snap_compare(studio(tmp_path), terminal_size=size, run_before=run_before)
