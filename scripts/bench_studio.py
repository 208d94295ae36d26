"""How the studio keeps up while it trains: training throughput inside the app against headless
`nnstudio train`, and how long a key press takes to be handled during training.

    python scripts/bench_studio.py --data-dir ../shared/data/mnist --epochs 3 --repeat 3
    python scripts/bench_studio.py --data-dir ../shared/data/mnist --pane inside      (pane 8 in view)
    python scripts/bench_studio.py --dataset spirals --epochs 200 --pane inside       (the boundary redrawn)
    python scripts/bench_studio.py --data-dir ../shared/data/mnist --pane race        (the optimizer race running)

Throughput: headless and studio runs of the same configuration (MNIST, the MLP preset, Adam,
batch 64, the same seed) are taken in turn, and each studio epoch is compared with the same
epoch of the headless run before it (these machines slow down over a run, alike for both);
the studio shows the monitor pane (or, with `--pane inside`, the Inside pane's first view: the
decision boundary of a 2-D set, the first layer's weights of MNIST) and no key is pressed, as when
a user watches a run.

Keys: one more studio run, during which a key is pressed every 0.6 s: space (pause, then
resume) and the pane keys 1-6 in turn. A key's latency is the time from posting it to the end
of the first screen refresh that shows its effect (the status line's "pausing"/"running", or
the new pane). With `--overlay N`, N finished runs of 50 full-MNIST epochs (their per-batch
losses included: 844 batches an epoch) are written into the saves folder first and marked in the
Runs pane, so the Monitor overlays them on the run being trained; the Monitor's keys (e: epochs or
examples, s: smoothing, l: log loss) are then pressed too, each while the Monitor is shown.

The CPU time the interface thread spent from a press to its repaint (its own work and whatever timer
ran meanwhile, a plot's redraw) is printed beside each latency: on a machine shared with other jobs it
varies much less than the wall-clock time, which waits for the cores too.

The app runs under Textual's headless driver through `App.run_test()`: everything but the bytes
written to a terminal is the real app (the compositor, the plots, the redraw timers). Speed is
measured here, never in the test suite.
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

#: the keys pressed in turn during the latency run: pause, resume, then each pane
KEYS = ("space", "space", "1", "2", "3", "4", "5", "6")
#: with --overlay, the Monitor's keys too, each pressed on the Monitor; every pane key shows another pane (a key
#: for the pane already shown would be answered at once and count as a fast press)
OVERLAY_KEYS = ("space", "space", "1", "2", "3", "e", "1", "3", "s", "2", "3", "l", "4", "5", "6")
#: with --pane inside: pause, resume, then the Inside pane's view keys, each answered by the view bar
INSIDE_KEYS = ("space", "space", "8", "u", "d", "g", "b", "w", "3", "8")
#: the keys that show the pane (or view) in which the throughput is measured, by --pane; race: the Optimizers view of
#: pane 8 with its race running (animated from its timer while the model trains)
PANE_KEYS = {"monitor": ("3",), "inside": ("8",), "race": ("8", "o", "p")}
#: what the runs written for --overlay look like: full MNIST's training split, batch 64, 50 epochs
OVERLAY_EPOCHS, OVERLAY_TRAIN, OVERLAY_BATCH = 50, 54_000, 64


def write_overlay_runs(saves: Path, count: int) -> None:
    """`count` finished runs with whole histories (as `nnstudio train` writes them), lr 1e-3 to 1e-2."""
    import json
    import math

    from nnstudio.engine import events
    from nnstudio.tui.run.config import RunConfig
    from nnstudio.tui.run.history import HistoryRecorder

    batches = -(-OVERLAY_TRAIN // OVERLAY_BATCH)
    for n in range(count):
        lr = 1e-3 * (n + 1)
        run_dir = saves / "runs" / f"mnist-mlp-lr{lr:g}"
        run_dir.mkdir(parents=True)
        recorder = HistoryRecorder(run_dir, train_size=OVERLAY_TRAIN)
        config = RunConfig().replace(**{"optimizer.lr": lr, "training.epochs": OVERLAY_EPOCHS}).portable_dict()
        recorder.start(config=config, origin={"kind": "new"}, dataset="mnist", model="mlp", task="classification")
        for e in range(OVERLAY_EPOCHS):
            for b in range(batches):
                t = e + (b + 1) / batches
                recorder.batch(events.BatchEnd(e, b, batches, 2.3 * math.exp(-(1 + 100 * lr) * t) + 0.05 * (b % 7),
                                               0.9, 1e4, seen=min((b + 1) * OVERLAY_BATCH, OVERLAY_TRAIN)))
            acc = 0.98 - 0.5 * math.exp(-(1 + 100 * lr) * (e + 1))
            recorder.epoch(events.EpochEnd(e, OVERLAY_EPOCHS, 0.1, acc, 0.12, acc - 0.01, lr, {"layers.0": 0.1},
                                           {}, {}, 1e4, 5.0, 5.0 * (e + 1), 0.0))
        recorder.end("finished", "", at=(OVERLAY_EPOCHS, 0))
        recorder.close()
        (run_dir / "run.json").write_text(json.dumps({
            "format_version": 1, "name": run_dir.name, "status": "finished", "started_at": None, "updated_at": None,
            "last_epoch": OVERLAY_EPOCHS, "last_checkpoint": None, "monitor": "val_acc", "mode": "max", "best": None,
            "keep_last": 3, "pid": 0, "host": "bench"}))


def headless(data_dir: str | None, epochs: int, saves: Path, dataset: str = "mnist") -> list[float]:
    """`nnstudio train --json` in a subprocess: the training samples/s of each epoch."""
    command = [sys.executable, "-m", "nnstudio.tui", "train", "--dataset", dataset,
               *(["--data-dir", data_dir] if data_dir else []),
               "--model", "mlp", "--epochs", str(epochs), "--saves-dir", str(saves), "--json"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return [json.loads(line)["samples_per_second"] for line in done.stdout.splitlines() if '"event": "epoch"' in line]


def studio_app(data_dir: str | None, epochs: int, saves: Path, dataset: str = "mnist"):
    from nnstudio.tui.run.config import RunConfig
    from nnstudio.tui.studio.launch import create_app

    config = RunConfig().replace(**{"training.epochs": epochs, "data.name": dataset})
    return create_app(config=config, saves_dir=saves, data_dir=data_dir, offer_resume=False)


async def train_in_studio(app, size: tuple[int, int], pane: str = "monitor") -> list[float]:
    """Train with `pane` shown, no key pressed: the training samples/s of each epoch."""
    async with app.run_test(size=size) as pilot:
        await pilot.press(*PANE_KEYS[pane])
        app.simulate_key("space")
        while app.status not in ("finished", "stopped", "diverged", "failed"):
            await asyncio.sleep(0.2)
        if app.status != "finished":
            raise SystemExit(f"the studio's run ended {app.status}")
        return [h["samples_per_second"] for h in app.monitor.history]


async def key_latencies(app, size: tuple[int, int], overlay: int = 0, profile: str | None = None,
                        inside: bool = False) -> list[tuple[str, float]]:
    """(key, seconds, seconds of the interface thread's CPU meanwhile) for keys pressed every 0.6 s while the
    studio trains (the marked runs overlaid); with
    `profile`, the interface thread's work from each press to its repaint is profiled, one file per key
    (`profile`.KEY)."""
    import cProfile
    from textual.widgets import TabbedContent

    from nnstudio.tui.studio.app import PANES
    from nnstudio.tui.studio.inside_pane import VIEW_KEYS

    INSIDE_VIEWS = {key: view for key, view, _ in VIEW_KEYS if key in INSIDE_KEYS}

    def done(key: str, before):
        if key == "space":
            return lambda: app.status != before
        if key in ("e", "s", "l"):   # the Monitor's view changed, and the plot that shows it first was rebuilt
            redraws = app.monitor.plot_redraws
            return lambda: app.monitor.view != before and app.monitor.plot_redraws > redraws
        if key in INSIDE_VIEWS:   # the Inside pane's view bar says the view (drawn in a worker, after)
            return lambda: app.panes["inside"].view == INSIDE_VIEWS[key]
        pane_id = PANES[int(key) - 1][0]
        return lambda: app.query_one(TabbedContent).active == pane_id

    keys = OVERLAY_KEYS if overlay else INSIDE_KEYS if inside else KEYS
    seen: list[tuple[str, float]] = []
    profilers: dict[str, cProfile.Profile] = {}
    async with app.run_test(size=size) as pilot:
        if overlay:
            await pilot.press("6")
            while len(app.runs.runs) < overlay:
                await asyncio.sleep(0.1)
            await pilot.press(*["m"] * overlay)
            while not app.monitor.overlay_reads:
                await asyncio.sleep(0.1)
        await pilot.press("3")
        app.simulate_key("space")
        n = 0
        while app.status not in ("finished", "stopped", "diverged", "failed"):
            await asyncio.sleep(0.6)
            if app.status not in ("running", "paused"):
                continue
            key = keys[n % len(keys)]
            n += 1
            effect = done(key, app.monitor.view if key in ("e", "s", "l") else app.status)
            profiler = profilers.setdefault(key, cProfile.Profile()) if profile else None
            if profiler is not None:
                profiler.enable()
            pressed, busy = time.perf_counter(), time.thread_time()
            app.simulate_key(key)  # (not pilot.press: it waits for an idle CPU, which training never leaves)
            while not effect():
                await asyncio.sleep(0.001)
            handled = time.perf_counter()
            repainted = asyncio.Event()
            app.call_after_refresh(repainted.set)  # runs once the screen showing the effect is drawn
            try:
                await asyncio.wait_for(repainted.wait(), 1.0)
                handled = time.perf_counter()
            except asyncio.TimeoutError:
                pass  # nothing left to redraw (the run had just ended): the effect is the answer
            if profiler is not None:
                profiler.disable()
            seen.append((key, handled - pressed, time.thread_time() - busy))
        if app.status == "paused":
            app.runner.stop()
    for key, profiler in profilers.items():
        profiler.dump_stats(f"{profile}.{key}")
    return seen


def p90(values: list[float]) -> float:
    """The 90th percentile of sorted values (the nearest rank)."""
    return values[min(len(values) - 1, round(0.9 * (len(values) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help="folder with the four MNIST IDX files (for --dataset mnist)")
    parser.add_argument("--dataset", default="mnist", help="data set to train on (default mnist; spirals, ...)")
    parser.add_argument("--pane", choices=sorted(PANE_KEYS), default="monitor",
                        help="the pane shown while training (default monitor); inside: the key run presses the "
                             "Inside pane's view keys")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3, help="headless and studio runs, taken in turn (default 3)")
    parser.add_argument("--size", default="120x40", help="terminal size of the app, COLSxROWS (default 120x40)")
    parser.add_argument("--keys-only", action="store_true",
                        help="measure only the keys (no throughput runs); --epochs is then the key run's length")
    parser.add_argument("--overlay", type=int, default=0, metavar="N",
                        help="during the key run, overlay N finished runs of 50 epochs (written first, then marked)")
    parser.add_argument("--profile", metavar="FILE",
                        help="profile the interface thread from each press to its repaint (cProfile stats; "
                             "FILE.KEY for each key)")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    if args.dataset == "mnist" and not args.data_dir:
        parser.error("--data-dir is needed for --dataset mnist")
    print(f"MLP on {args.dataset}, {args.epochs} epochs, app at {args.size}, {args.pane} pane shown; "
          f"training samples/s of each epoch")
    ratios = []
    with tempfile.TemporaryDirectory() as folder:
        for run in range(0 if args.keys_only else args.repeat):
            cli = headless(args.data_dir, args.epochs, Path(folder) / f"cli{run}", args.dataset)
            app = asyncio.run(train_in_studio(studio_app(args.data_dir, args.epochs, Path(folder) / f"app{run}",
                                                         args.dataset), size, args.pane))
            ratios += [a / c for a, c in zip(app, cli)]
            if len(cli) > 6:   # many short epochs (a 2-D set): their means
                print(f"  run {run + 1}: headless {statistics.mean(cli):,.0f}; studio {statistics.mean(app):,.0f} "
                      f"samples/s (mean of {len(cli)} epochs); ratio of the means {statistics.mean(app) / statistics.mean(cli):.2f}")
            else:
                print(f"  run {run + 1}: headless {', '.join(f'{v:,.0f}' for v in cli)}; "
                      f"studio {', '.join(f'{v:,.0f}' for v in app)}")
        if ratios:
            print(f"  studio / headless, epoch by epoch: median {statistics.median(ratios):.2f} "
                  f"(from {min(ratios):.2f} to {max(ratios):.2f}, {len(ratios)} epochs)")
        if args.overlay:
            print(f"  writing {args.overlay} runs of {OVERLAY_EPOCHS} epochs to overlay...", flush=True)
            write_overlay_runs(Path(folder) / "keys", args.overlay)
        seen = asyncio.run(key_latencies(studio_app(args.data_dir, max(args.epochs, 8), Path(folder) / "keys",
                                                    args.dataset), size, args.overlay, args.profile,
                                         inside=args.pane == "inside"))
    panes = ("1", "2", "3", "4", "5", "6", "8")
    views = ("b", "u", "w", "d", "g")
    for label, keys in (("space (pause/resume)", ("space",)), ("pane keys", panes),
                        ("monitor keys e, s, l", ("e", "s", "l")), ("inside view keys", views),
                        ("all keys", (*panes, *views, "space", "e", "s", "l"))):
        ms = sorted(1000 * t for key, t, _ in seen if key in keys)
        cpu = sorted(1000 * c for key, _, c in seen if key in keys)
        if ms:
            print(f"  {label} during training: {len(ms)} presses, median {statistics.median(ms):.0f} ms, "
                  f"90th percentile {p90(ms):.0f} ms, worst {ms[-1]:.0f} ms (the interface thread's CPU: "
                  f"{statistics.median(cpu):.0f} / {p90(cpu):.0f} / {cpu[-1]:.0f} ms)")
    for key in (*panes, *views, "e", "s", "l"):
        ms = [1000 * t for k, t, _ in seen if k == key]
        if ms:
            print(f"    key {key}: median {statistics.median(ms):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
