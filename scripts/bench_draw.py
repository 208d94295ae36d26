"""How fast the Draw pane's reading follows the pen: from a key press on the canvas to the screen showing the
model's reading of the canvas after that press, for a trained MNIST MLP and a CNN.

    python scripts/bench_draw.py --data-dir ../shared/data/mnist
    python scripts/bench_draw.py --data-dir ../shared/data/mnist --presses 300 --size 200x60

Both models are trained first (the MLP preset for one epoch on full MNIST, the CNN preset for one
epoch on `--cnn-train-size` images: the figure does not depend on how well they read) and saved in
a temporary folder. Each save is then opened in the studio (Textual's headless driver through
`App.run_test()`: everything but the bytes written to a terminal is the real app), pane 9 shown,
and canvas keys are pressed one at a time: the pen lowered, then arrows drawing a square spiral,
dabs (space) and erasing moves (shift+arrows), a clear now and then. A press's latency is the time
from posting the key to the end of the first screen refresh after the pane shows the reading of
the canvas the key made (the reading runs in a thread worker). The next key is pressed once that is
done, about as fast as a person types, so each figure is one key's whole way. The goal is under
50 ms at the 90th percentile. Speed is measured here, never in the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

#: one round of canvas keys: the pen lowered, a square spiral, dabs, erasing moves, and the pen lifted
ROUND = ("p", *["right"] * 6, *["down"] * 6, *["left"] * 6, *["up"] * 4, "space", "space",
         "shift+right", "shift+right", "shift+down", "right", "right", "p", "space", "c")


def train_saves(data_dir: str | None, folder: Path, cnn_train_size: int) -> dict[str, Path]:
    """A trained MLP and a trained CNN on MNIST, saved in `folder`."""
    from nnstudio.tui.run import Session
    from nnstudio.tui.run.config import RunConfig

    saved = {}
    for preset, train_size in (("mlp", 0), ("cnn", cnn_train_size)):
        config = RunConfig.from_dict({"data": {"name": "mnist", "data_dir": data_dir or "", "train_size": train_size},
                                      "model": {"preset": preset}, "training": {"epochs": 1},
                                      "checkpoints": {"folder": str(folder)}})
        session = Session(config, checkpoints=False)
        started = time.perf_counter()
        session.run()
        accuracy = session.history[-1].get("val_acc")
        print(f"  trained the {preset} for 1 epoch in {time.perf_counter() - started:.0f} s "
              f"(validation accuracy {accuracy:.1%})", flush=True)
        saved[preset] = session.save(f"bench-draw-{preset}", folder=folder)
    return saved


async def latencies(path: Path, folder: Path, size: tuple[int, int], presses: int) -> list[tuple[str, float]]:
    """(key, seconds from it to the repaint that shows the reading of the canvas it made), for each press."""
    from nnstudio.tui.studio.draw_canvas import DrawCanvas
    from nnstudio.tui.studio.launch import create_app

    app = create_app(open_path=path, saves_dir=folder, offer_resume=False)
    seen: list[tuple[str, float]] = []
    async with app.run_test(size=size) as pilot:
        while app.session is None or app.status != "idle":
            await asyncio.sleep(0.05)
        await pilot.press("9")
        pane, canvas = app.panes["draw"], app.query_one(DrawCanvas)
        while pane.shown is None or pane.busy:
            await asyncio.sleep(0.01)
        n = 0
        while len(seen) < presses:
            key = ROUND[n % len(ROUND)]
            n += 1
            before = canvas.version
            pressed = time.perf_counter()
            app.simulate_key(key)
            while canvas.version == before and time.perf_counter() - pressed < 1.0:
                await asyncio.sleep(0.0005)
            if canvas.version == before:   # a key that changes no pixel (none in ROUND): nothing to read
                continue
            made = canvas.version
            while pane.shown is None or pane.shown[0] < made:
                await asyncio.sleep(0.0005)
            repainted = asyncio.Event()
            app.call_after_refresh(repainted.set)   # runs once the screen showing the reading is drawn
            await asyncio.wait_for(repainted.wait(), 5.0)
            seen.append((key, time.perf_counter() - pressed))
            await asyncio.sleep(0.02)
    return seen


def p90(values: list[float]) -> float:
    """The 90th percentile of the values (the nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help="folder with the four MNIST IDX files")
    parser.add_argument("--presses", type=int, default=200, help="canvas keys timed per model (default 200)")
    parser.add_argument("--size", default="80x24", help="terminal size, COLUMNSxROWS (default 80x24)")
    parser.add_argument("--cnn-train-size", type=int, default=6000,
                        help="MNIST images the CNN trains its one epoch on (default 6000)")
    args = parser.parse_args()
    columns, rows = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        saves = train_saves(args.data_dir, folder, args.cnn_train_size)
        for preset, path in saves.items():
            timed = [(key, 1000 * s) for key, s in asyncio.run(latencies(path, folder, (columns, rows), args.presses))]
            ms = [m for _, m in timed]
            slowest = ", ".join(f"{key} {m:.0f}" for key, m in sorted(timed, key=lambda t: -t[1])[:5])
            print(f"  {preset}: {len(ms)} presses at {args.size}: median {statistics.median(ms):.1f} ms, "
                  f"90th percentile {p90(ms):.1f} ms, worst {max(ms):.1f} ms (slowest: {slowest})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
