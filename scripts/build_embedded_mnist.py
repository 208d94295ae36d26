#!/usr/bin/env python3
"""Build `datasets/mnist_embedded.npz`, the MNIST subset shipped in the package, from the real files.

    python scripts/build_embedded_mnist.py [--source ../shared/data/mnist] [--train-per-class 500]
                                           [--test-per-class 100] [--out datasets/mnist_embedded.npz]

The source files are verified against the canonical checksums first. The output keeps the first
N images of each digit of each official split, in their original order, with their indices.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from nnstudio.datasets.catalog import MNIST, ROLES
from nnstudio.datasets.checksums import verify
from nnstudio.datasets.embedded import EMBEDDED_PATH, balanced_indices
from nnstudio.datasets.errors import DatasetError
from nnstudio.datasets.idx import read_idx
from nnstudio.datasets.locations import find_files

REPO = Path(__file__).resolve().parents[1]
MAX_BYTES = 4 * 1024 * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=REPO.parent / "shared" / "data" / "mnist")
    parser.add_argument("--train-per-class", type=int, default=500)
    parser.add_argument("--test-per-class", type=int, default=100)
    parser.add_argument("--out", type=Path, default=EMBEDDED_PATH)
    args = parser.parse_args(argv)

    try:
        files = find_files(args.source, MNIST)
        missing = [MNIST.files[role].name for role in ROLES if role not in files]
        if missing:
            raise DatasetError(f"{args.source} lacks {', '.join(missing)}")
        for role in ROLES:
            verify(files[role], MNIST.files[role].digests, what=str(files[role]))
        arrays = {}
        for split, per_class in (("train", args.train_per_class), ("test", args.test_per_class)):
            labels = read_idx(files[f"{split}_labels"], ndim=1)
            index = balanced_indices(labels, per_class)
            images = read_idx(files[f"{split}_images"], ndim=3)
            arrays.update({f"x_{split}": images[index], f"y_{split}": labels[index], f"{split}_index": index})
            del images
    except DatasetError as error:
        print(f"build_embedded_mnist: {error}", file=sys.stderr)
        return 1

    np.savez_compressed(args.out, **arrays)
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size / 1e6:.2f} MB): "
          f"{len(arrays['x_train'])} train + {len(arrays['x_test'])} test images")
    if size > MAX_BYTES:
        print(f"build_embedded_mnist: {args.out} is over the 4 MiB budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
