"""How the studio keeps up while it trains: training throughput inside the app against headless
`nnstudio train`, and how long a key press takes to be handled during training.

    python scripts/bench_studio.py --data-dir ../shared/data/mnist --epochs 3

Both runs train the same configuration (MNIST, the MLP preset, Adam, batch 64, the same seed)
in this one session, one after the other, so the figures are comparable as a ratio (absolute
seconds drift on a shared machine). The app runs under Textual's headless driver through
`App.run_test()`: everything but the bytes written to a terminal is the real app (the
compositor, the plots, the redraw timers). During training a pane key (1-5, cycling) is pressed
every half second; its latency is the time from posting the key to the new pane being shown,
including the screen refresh that follows.

Speed is measured here, never in the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def headless(data_dir: str, epochs: int, saves: Path) -> dict:
    """`nnstudio train --json` in a subprocess: per-epoch training samples/s and the wall time."""
    command = [sys.executable, "-m", "nnstudio.tui.cli", "train", "--dataset", "mnist", "--data-dir", data_dir,
               "--model", "mlp", "--epochs", str(epochs), "--saves-dir", str(saves), "--json"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    epochs_seen = [json.loads(line) for line in done.stdout.splitlines() if '"event": "epoch"' in line]
    return {"samples_per_s": [e["samples_per_second"] for e in epochs_seen],
            "epoch_s": [e["seconds"] for e in epochs_seen], "wall_s": wall}


async def in_studio(data_dir: str, epochs: int, saves: Path, size: tuple[int, int]) -> dict:
    """The studio trains the same run while a pane key is pressed every half second."""
    from textual.widgets import TabbedContent

    from nnstudio.tui.config import RunConfig
    from nnstudio.tui.studio.app import PANES, create_app

    app = create_app(config=RunConfig().replace(**{"training.epochs": epochs}), saves_dir=saves, data_dir=data_dir,
                     offer_resume=False)
    latencies: list[float] = []
    async with app.run_test(size=size) as pilot:
        await pilot.press("3")
        start = time.perf_counter()
        await pilot.press("space")
        n = 0
        while app.status not in ("finished", "stopped", "diverged", "failed"):
            await pilot.pause(0.5)
            if app.status != "running":
                continue
            n += 1
            pane_id = PANES[n % len(PANES)][0]
            pressed = time.perf_counter()
            await pilot.press(str(n % len(PANES) + 1))
            while app.query_one(TabbedContent).active != pane_id:
                await asyncio.sleep(0.001)
            await pilot.wait_for_scheduled_animations()
            latencies.append(time.perf_counter() - pressed)
        wall = time.perf_counter() - start
        history = app.monitor.history
        status = app.status
    return {"samples_per_s": [h["samples_per_second"] for h in history],
            "epoch_s": [h["seconds"] for h in history], "wall_s": wall, "latencies_s": latencies, "status": status}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True, help="folder with the four MNIST IDX files")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--size", default="120x40", help="terminal size of the app, COLSxROWS (default 120x40)")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as folder:
        cli = headless(args.data_dir, args.epochs, Path(folder) / "cli")
        app = asyncio.run(in_studio(args.data_dir, args.epochs, Path(folder) / "app", size))
    if app["status"] != "finished":
        print(f"the studio's run ended {app['status']}", file=sys.stderr)
        return 1
    best_cli, best_app = max(cli["samples_per_s"]), max(app["samples_per_s"])
    mean_cli, mean_app = statistics.mean(cli["samples_per_s"]), statistics.mean(app["samples_per_s"])
    ms = sorted(1000 * t for t in app["latencies_s"])
    print(f"MLP on full MNIST, {args.epochs} epochs, batch 64, app at {args.size}")
    print(f"  headless nnstudio train: {mean_cli:,.0f} samples/s mean, {best_cli:,.0f} best; "
          f"epochs {', '.join(f'{s:.2f}' for s in cli['epoch_s'])} s; {cli['wall_s']:.1f} s in all")
    print(f"  studio:                  {mean_app:,.0f} samples/s mean, {best_app:,.0f} best; "
          f"epochs {', '.join(f'{s:.2f}' for s in app['epoch_s'])} s; {app['wall_s']:.1f} s in all")
    print(f"  studio / headless: {mean_app / mean_cli:.2f} (mean), {best_app / best_cli:.2f} (best epoch)")
    if ms:
        print(f"  key presses during training: {len(ms)}, median {statistics.median(ms):.0f} ms, "
              f"95th percentile {ms[int(0.95 * (len(ms) - 1))]:.0f} ms, worst {ms[-1]:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
