"""The README's screenshots: the studio training the default MLP on the embedded MNIST digits, and comparing runs.

    python scripts/screenshots.py [--epochs 8] [--out docs] [--compare-only | --experiment-only | --inside-only]

A real run in the real app (Textual's headless driver, 120x40): press space, wait for the
epochs to finish, then save the monitor and the predictions panes as SVG. Works offline: the
embedded subset is what a fresh install trains on.

Comparing runs (studio-compare.svg): `nnstudio train --dataset spirals --epochs 20` with a learning
rate too small (0.001) and one too big (0.3), then the studio trains lr 0.03 on spirals, marks the
two in the Runs pane and shows them overlaid in the Monitor, the losses on a log scale.

An experiment (studio-experiment.svg): the studio's Sweep pane (7) runs the ready-made `optimizers` lesson,
two trials at a time, on full MNIST when `--data-dir` holds it (the embedded digits otherwise), and the
Monitor overlays its four runs.

Inside the network (studio-inside.svg): the studio trains the MLP on spirals, and the Inside pane (8)
shows its decision boundary with the training points.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path


async def train_to_the_end(app, pilot) -> None:
    """Press space and wait for the run to finish (it must), then clear its notifications."""
    app.simulate_key("space")
    while app.status != "finished":
        await pilot.pause(0.2)
        if app.status in ("stopped", "diverged", "failed"):
            raise SystemExit(f"the run ended {app.status}")
    app.clear_notifications()


async def take(out: Path, epochs: int) -> None:
    from nnstudio.tui.run.config import RunConfig
    from nnstudio.tui.studio.launch import create_app

    with tempfile.TemporaryDirectory() as saves:
        config = RunConfig().replace(**{"data.name": "mnist-embedded", "training.epochs": epochs})
        app = create_app(config=config, saves_dir=saves, offer_resume=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await train_to_the_end(app, pilot)
            await pilot.pause(1.0)  # the plots redraw on their own timer
            for key, name in (("3", "studio-monitor.svg"), ("4", "studio-predictions.svg")):
                await pilot.press(key)
                await pilot.pause(0.5)
                app.save_screenshot(filename=name, path=str(out))
                print(out / name)


async def take_compare(out: Path) -> None:
    import subprocess

    from nnstudio.tui.run.config import RunConfig
    from nnstudio.tui.studio.launch import create_app

    with tempfile.TemporaryDirectory() as saves:
        for lr in ("0.001", "0.3"):
            subprocess.run([sys.executable, "-m", "nnstudio.tui", "train", "--dataset", "spirals", "--lr", lr,
                            "--epochs", "20", "--saves-dir", saves], check=True, capture_output=True)
        config = RunConfig().replace(**{"data.name": "spirals", "optimizer.lr": 0.03, "training.epochs": 20})
        app = create_app(config=config, saves_dir=saves, offer_resume=False)
        async with app.run_test(size=(120, 40)) as pilot:
            app.simulate_key("space")
            while app.status != "finished":
                await pilot.pause(0.2)
                if app.status in ("stopped", "diverged", "failed"):
                    raise SystemExit(f"the run ended {app.status}")
            await pilot.press("6")
            while len(app.runs.runs) < 3:
                await pilot.pause(0.2)
            table = app.query_one("#runs-table")
            for row, run in enumerate(list(app.runs.shown)):
                if run.path != app.runs.live_run:   # the two runs before this one
                    table.move_cursor(row=row)
                    await pilot.press("m")
            while not app.monitor.overlay_reads:
                await pilot.pause(0.2)
            await pilot.press("3", "l")   # the losses on a log scale: lr 0.3's blows up tenfold
            app.clear_notifications()
            await pilot.pause(1.0)
            app.save_screenshot(filename="studio-compare.svg", path=str(out))
            print(out / "studio-compare.svg")


async def take_experiment(out: Path, data_dir: str | None) -> None:
    from textual.widgets import Select

    from nnstudio.tui.run.config import RunConfig
    from nnstudio.tui.studio.launch import create_app

    with tempfile.TemporaryDirectory() as saves:
        config = RunConfig().replace(**{"data.name": "mnist", "data.data_dir": data_dir or ""})
        app = create_app(config=config, saves_dir=saves, offer_resume=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("7")
            pane = app.query_one("#sweep-pane")
            pane.query_one("#sweep-experiment", Select).value = "optimizers"
            pane.query_one("#sweep-workers", Select).value = 2
            await pilot.pause()
            await pilot.press("ctrl+r")
            while pane._last is None:
                await pilot.pause(0.5)
            if {result["status"] for _, result in pane._last.ranked()} != {"finished"}:
                raise SystemExit("a trial of the experiment did not finish")
            await pilot.press("3")
            read = app.monitor.overlay_reads
            app.monitor.compare(list(app.monitor.compared))   # (their histories as they ended)
            while app.monitor.overlay_reads == read:
                await pilot.pause(0.2)
            app.clear_notifications()
            await pilot.pause(1.0)
            app.save_screenshot(filename="studio-experiment.svg", path=str(out))
            print(out / "studio-experiment.svg")


async def take_inside(out: Path, epochs: int = 60) -> None:
    from nnstudio.tui.run.config import RunConfig
    from nnstudio.tui.studio.launch import create_app

    with tempfile.TemporaryDirectory() as saves:
        config = RunConfig().replace(**{"data.name": "spirals", "training.epochs": epochs})
        app = create_app(config=config, saves_dir=saves, offer_resume=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("8")
            await train_to_the_end(app, pilot)
            inside = app.panes["inside"]
            while inside.busy or inside.dirty or "Decision boundary" not in inside.drawn[0].plain:
                await pilot.pause(0.1)
            await pilot.pause(0.3)
            app.save_screenshot(filename="studio-inside.svg", path=str(out))
            print(out / "studio-inside.svg")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--out", default="docs", help="folder for the SVG files (default docs)")
    parser.add_argument("--compare-only", action="store_true", help="only the screenshot of runs compared")
    parser.add_argument("--experiment-only", action="store_true", help="only the screenshot of an experiment")
    parser.add_argument("--inside-only", action="store_true", help="only the screenshot of the Inside pane")
    parser.add_argument("--data-dir", help="a folder with the MNIST files, for the experiment (default: embedded)")
    args = parser.parse_args()
    os.environ["NNSTUDIO_OFFLINE"] = "1"  # the embedded digits, whatever this machine has cached
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    only = args.compare_only or args.experiment_only or args.inside_only
    if not only:
        asyncio.run(take(out, args.epochs))
    if args.compare_only or not only:
        asyncio.run(take_compare(out))
    if args.experiment_only or not only:
        asyncio.run(take_experiment(out, args.data_dir))
    if args.inside_only or not only:
        asyncio.run(take_inside(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
