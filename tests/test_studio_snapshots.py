"""Snapshots of the studio's monitor, predictions and runs panes at 80x24 and 120x40.

The screens are made deterministic by feeding recorded events (fixed numbers, the embedded
MNIST test digits and made-up predictions) instead of training: no thread runs, no timing
figure depends on the machine, and the header shows no clock. Regenerate after a deliberate
change with `pytest tests/test_studio_snapshots.py --snapshot-update` and look at the SVGs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from studio_recorded import feed, feed_autoencoder

from nnstudio.engine import events
from nnstudio.tui.run import Status
from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.studio.launch import create_app

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


class TestRunsSnapshots:
    """Pane 6 with five recorded runs, two marked; and the Monitor overlaying them on the recorded run."""

    @staticmethod
    def app_with_runs(tmp_path, monkeypatch):
        from studio_runs import write_runs
        monkeypatch.chdir(tmp_path)   # the folder is shown as given: a relative path, the same on every machine
        write_runs(Path("saves"))
        config = RunConfig.from_dict({"data": {"name": "mnist"}, "optimizer": {"lr": 0.001},
                                      "training": {"epochs": 10}})
        return create_app(config=config, saves_dir=Path("saves"), offer_resume=False)

    @staticmethod
    async def mark_two(pilot) -> None:
        from test_studio_app import wait_for
        app = pilot.app
        await pilot.press("6")
        await wait_for(pilot, lambda: len(app.runs.runs) == 5, "the runs to be listed")
        await pilot.press("down", "m", "down", "m")   # the sgd run and lr 0.03
        await wait_for(pilot, lambda: app.monitor.overlay_reads, "the marked runs to be read")
        await pilot.pause()

    def test_runs_pane_80x24(self, snap_compare, tmp_path, monkeypatch):
        assert snap_compare(self.app_with_runs(tmp_path, monkeypatch), terminal_size=(80, 24),
                            run_before=self.mark_two)

    def test_overlay_80x24(self, snap_compare, tmp_path, monkeypatch):
        async def run_before(pilot) -> None:
            feed(pilot.app)
            await self.mark_two(pilot)
            await pilot.press("3")
            await pilot.pause()
            pilot.app.monitor.redraw()
            await pilot.pause()

        assert snap_compare(self.app_with_runs(tmp_path, monkeypatch), terminal_size=(80, 24), run_before=run_before)
