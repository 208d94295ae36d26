"""How fast, and in how much memory, `nnstudio data import` reads a big CSV.

    python scripts/bench_import.py --data-dir ../shared/data/mnist            (MNIST's 60,000 digits as a 110 MB CSV)
    python scripts/bench_import.py --data-dir ../shared/data/mnist --copies 10 (the same rows ten times: 1.1 GB)

The CSV is MNIST's training set written as text (a header, 784 pixel columns and the label),
repeated `--copies` times. Each import runs as its own process (`nnstudio data import NAME FILE`,
then again with `--image 28x28`, pixels kept as bytes), and its peak resident memory (the kernel's
`ru_maxrss` of the child) and wall time are reported. For comparison, the same file read whole by
`np.loadtxt` (what a script without streaming does) in a process of its own, where memory allows.
Speed is measured here, never in the test suite.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_csv(data_dir: Path, path: Path, copies: int) -> None:
    from nnstudio.datasets import load_dataset
    dataset = load_dataset("mnist", data_dir=data_dir, fallback=False)
    x = dataset.x_train.reshape(len(dataset.x_train), -1)
    with open(path, "w") as out:
        out.write(",".join([f"p{i}" for i in range(784)] + ["label"]) + "\n")
        for _ in range(copies):
            for start in range(0, len(x), 5000):
                block = np.concatenate([x[start:start + 5000], dataset.y_train[start:start + 5000, None]], axis=1)
                np.savetxt(out, block, fmt="%d", delimiter=",")


def measured(command: list[str], env: dict) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of `command` run as a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak <= before:
        print("  (peak RSS not above an earlier child's: run each measure in its own process to see it)")
    return seconds, peak / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="folder with MNIST's IDX files")
    parser.add_argument("--copies", type=int, default=1, help="how many times the 60,000 rows are written")
    parser.add_argument("--what", choices=("import", "image", "loadtxt", "all"), default="all")
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)   # the file written by the parent run
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-import-"))
    try:
        return run(args, folder)
    finally:   # the CSV and the imported copies are gigabytes at --copies 10
        shutil.rmtree(folder, ignore_errors=True)


def run(args: argparse.Namespace, folder: Path) -> int:
    csv_path = args.csv or folder / "mnist.csv"
    if args.csv is None:
        write_csv(args.data_dir, csv_path, args.copies)
    size = csv_path.stat().st_size
    if args.what == "all":
        print(f"{csv_path.name}: {size / 1e6:.0f} MB, {60000 * args.copies:,} rows of 785 columns")
    env = {**os.environ, "XDG_CACHE_HOME": str(folder / "cache")}
    runs = {
        "import": [sys.executable, "-m", "nnstudio.tui", "data", "import", "plain", str(csv_path)],
        "image": [sys.executable, "-m", "nnstudio.tui", "data", "import", "pixels", str(csv_path), "--image", "28x28"],
        "loadtxt": [sys.executable, "-c", f"import numpy as np; np.loadtxt({str(csv_path)!r}, delimiter=',', "
                                          f"skiprows=1, dtype=np.float32)"],
    }
    for what, command in runs.items():
        if args.what not in (what, "all"):
            continue
        if args.what == "all":   # each in a fresh process of this script: ru_maxrss is the largest child's so far
            subprocess.run([sys.executable, __file__, "--data-dir", str(args.data_dir), "--csv", str(csv_path),
                            "--what", what], check=True)
            continue
        seconds, peak = measured(command, env)
        print(f"{what:8s} {seconds:6.1f} s  {size / 1e6 / seconds:6.1f} MB/s  peak RSS {peak:7.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
