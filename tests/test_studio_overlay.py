"""The runs compared in the Monitor as a run trains: what the line above the plots says (runs not drawn, forks),
the log scale of the learning rate, and the runs' validation loss."""

from __future__ import annotations

from pathlib import Path

from nnstudio.datasets import load_dataset
from nnstudio.tui.studio.app import create_app
from studio_runs import write_run
from studio_host import screen_text
from test_studio_app import config, press_while_training, wait_for, wait_status
from test_studio_runs import mark, overlay_legend, show_runs


NOT_DRAWN = "not drawn: spirals-run (data set spirals classification, not blobs classification)"


def seen(app) -> str:
    """The screen's text, its words each one space apart (what wraps reads on)."""
    return " ".join(screen_text(app).split())


async def test_the_runs_not_drawn_stay_named_while_the_run_trains(tmp_path, monkeypatch):
    """A marked run of another data set is named as not drawn before the run starts, and while it trains."""
    monkeypatch.chdir(tmp_path)
    write_run(Path("saves"), "earlier", lr=0.1, dataset="blobs", train_size=180, epochs=2, batches=3)
    write_run(Path("saves"), "later", lr=0.3, dataset="blobs", train_size=180, epochs=2, batches=3, optimizer="sgd",
              batch_size=32)
    write_run(Path("saves"), "latest", lr=0.03, dataset="blobs", train_size=180, epochs=2, batches=3, batch_size=8)
    write_run(Path("saves"), "spirals-run", lr=0.1, dataset="spirals", train_size=900, epochs=2, batches=3)
    settings = config(tmp_path, **{"training.epochs": 1000, "checkpoints.folder": "saves"})
    app = create_app(config=settings, dataset=load_dataset("blobs", size=200, classes=3), saves_dir=Path("saves"),
                     offer_resume=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await show_runs(pilot)
        await mark(pilot, "earlier", "later", "latest", "spirals-run")
        await pilot.press("3")
        assert NOT_DRAWN in seen(app)
        await pilot.press("3")
        app.simulate_key("space")
        await wait_for(pilot, lambda: len(app.monitor.history) >= 2, "the run to train")
        await press_while_training(pilot, "3")
        app.monitor.redraw()
        await pilot.pause()
        assert "(this run)" in overlay_legend(app)
        assert "not drawn: spirals-run (data set spirals classification, not blobs" in overlay_legend(app)
        assert NOT_DRAWN in seen(app)   # and shown whole
        app.runner.stop()
        await wait_status(pilot, "stopped")
