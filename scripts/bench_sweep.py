"""How fast a sweep trains its trials side by side: `--workers 1` against `--workers 2`, and a Dask cluster of 2
workers against `--workers 2`. A benchmark, not a test: speed is measured here, never in the test suite.

    python scripts/bench_sweep.py local --workers 2            # one 4-trial sweep, here; prints its wall seconds
    python scripts/bench_sweep.py cluster --port 8786          # a LocalCluster (2 workers, 1 thread each) until Ctrl+C
    python scripts/bench_sweep.py dask --scheduler tcp://127.0.0.1:8786    # the same sweep on it
    python scripts/bench_sweep.py compare --repeat 3           # all of it, in turn, with ratios pair by pair

The sweep is the issue's: an MLP on full MNIST (`--data-dir`, default ../shared/data/mnist), 4 trials
(lr 1e-3, 2e-3, 3e-3, 4e-3), `--epochs` each (default 1), run as a user runs it: `nnstudio sweep` in a
process of its own, with a fresh saves folder. `local`, `dask` and `cluster` run one thing, so that
any outside timer (`/usr/bin/time`, hyperfine) can time the whole process; `compare` times them itself,
alternating A B A B so that a machine whose speed drifts (a shared one) slows both alike, and reports
the median of the ratios of each pair, with the load average before and after.

The Dask comparison runs against a cluster that is already up, as a real one is: its start-up is not
the sweep's. Its workers are warm processes that run one trial after another, where `--workers`
starts a fresh process for each trial (imports and data loading included); `compare` says both.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "mnist"
LRS = "1e-3,2e-3,3e-3,4e-3"


def sweep_command(args: argparse.Namespace, saves_dir: str, *executor: str) -> list[str]:
    return [sys.executable, "-m", "nnstudio.tui", "sweep", "--dataset", "mnist", "--data-dir", str(args.data_dir),
            "--model", "mlp", "--epochs", str(args.epochs), "--lr", LRS, "--saves-dir", saves_dir, *executor]


def run_sweep(args: argparse.Namespace, *executor: str) -> float:
    """One sweep in a process of its own, its output kept only if it fails; its wall seconds."""
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as saves_dir:
        started = time.perf_counter()
        done = subprocess.run(sweep_command(args, saves_dir, *executor), capture_output=True, text=True)
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the sweep failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def local(args: argparse.Namespace) -> int:
    print(f"{run_sweep(args, '--workers', str(args.workers)):.2f}")
    return 0


def dask(args: argparse.Namespace) -> int:
    print(f"{run_sweep(args, '--executor', 'dask', '--scheduler', args.scheduler):.2f}")
    return 0


def cluster(args: argparse.Namespace) -> int:
    from distributed import LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      scheduler_port=args.port, dashboard_address="127.0.0.1:0",
                      worker_dashboard_address="127.0.0.1:0") as up:
        print(up.scheduler_address, flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    return 0


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def compare(args: argparse.Namespace) -> int:
    """local 2 vs local 1, then dask (a LocalCluster started here first) vs local 2: pair by pair."""
    print(f"load average before: {load()} ({os.cpu_count()} cores); {args.repeat} pairs each, "
          f"MLP on MNIST, 4 trials of {args.epochs} epoch(s)")
    pairs = {"--workers 2 / --workers 1": [], "dask 2 workers / --workers 2": []}
    times: dict[str, list[float]] = {"--workers 1": [], "--workers 2": [], "dask": []}
    for _ in range(args.repeat):
        one, two = run_sweep(args, "--workers", "1"), run_sweep(args, "--workers", "2")
        times["--workers 1"].append(one)
        times["--workers 2"].append(two)
        pairs["--workers 2 / --workers 1"].append(two / one)
    server = subprocess.Popen([sys.executable, __file__, "cluster", "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        address = server.stdout.readline().strip()
        run_sweep(args, "--executor", "dask", "--scheduler", address)   # (warm-up: the workers' first imports)
        for _ in range(args.repeat):
            on_dask = run_sweep(args, "--executor", "dask", "--scheduler", address)
            two = run_sweep(args, "--workers", "2")
            times["dask"].append(on_dask)
            times["--workers 2"].append(two)
            pairs["dask 2 workers / --workers 2"].append(on_dask / two)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    for name, values in times.items():
        print(f"{name:>12}: median {statistics.median(values):6.2f} s  (min {min(values):.2f}, max {max(values):.2f})")
    for name, ratios in pairs.items():
        print(f"{name}: median ratio {statistics.median(ratios):.3f}  ({', '.join(f'{r:.3f}' for r in ratios)})")
    print(f"load average after: {load()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--epochs", type=int, default=1)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("local").add_argument("--workers", type=int, default=2)
    commands.add_parser("dask").add_argument("--scheduler", required=True)
    commands.add_parser("cluster").add_argument("--port", type=int, default=8786)
    commands.add_parser("compare").add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    return {"local": local, "dask": dask, "cluster": cluster, "compare": compare}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
