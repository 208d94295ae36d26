#!/usr/bin/env python3
"""Build `datasets/mnist_embedded.npz`, the MNIST subset shipped in the package, from the real files.

    python scripts/build_embedded_mnist.py [--source ../shared/data/mnist] [--train-per-class 500]
                                           [--test-per-class 100] [--out datasets/mnist_embedded.npz]

The source files are verified against the canonical checksums first. The output keeps the first
N images of each digit of each official split, in their original order, with their indices. It is
written to a temporary file beside --out and moved into place only if it fits the 4 MiB budget,
so an oversized build never replaces the file the package ships.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from nnstudio.datasets.checksums import verify
from nnstudio.datasets.embedded import EMBEDDED_PATH, balanced_indices
from nnstudio.datasets.errors import DatasetError
from nnstudio.datasets.idx import read_idx
from nnstudio.datasets.locations import find_files
from nnstudio.datasets.mnist_family import MNIST, ROLES

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
            verify(files[role], MNIST.files[role].digests, name=str(files[role]), content=MNIST.content(role))
        arrays = {}
        for split, per_class in (("train", args.train_per_class), ("test", args.test_per_class)):
            labels = read_idx(files[f"{split}_labels"], content=MNIST.content(f"{split}_labels"))
            index = balanced_indices(labels, per_class)
            images = read_idx(files[f"{split}_images"], content=MNIST.content(f"{split}_images"))
            arrays.update({f"x_{split}": images[index], f"y_{split}": labels[index], f"{split}_index": index})
            del images
    except DatasetError as error:
        print(f"build_embedded_mnist: {error}", file=sys.stderr)
        return 1

    try:
        size = write_within_budget(args.out, arrays)
    except (DatasetError, OSError) as error:
        print(f"build_embedded_mnist: {error}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} ({size / 1e6:.2f} MB): "
          f"{len(arrays['x_train'])} train + {len(arrays['x_test'])} test images")
    return 0


def write_within_budget(out: Path, arrays: dict[str, np.ndarray]) -> int:
    """Write `arrays` to `out` as a compressed .npz only if it fits MAX_BYTES; returns its size.

    The archive goes to a temporary file in the same folder first (so the final rename is atomic);
    an archive over the budget is deleted and `out` is left as it was.
    """
    handle, temp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as stream:  # a file object: savez would add .npz to a bare name
            np.savez_compressed(stream, **arrays)
        size = temp.stat().st_size
        if size > MAX_BYTES:
            raise DatasetError(f"{out}: the archive would be {size} bytes, over the {MAX_BYTES}-byte "
                               "budget; it was not written")
        os.chmod(temp, 0o644)  # mkstemp makes it private; the shipped file is world-readable
        os.replace(temp, out)
    finally:
        temp.unlink(missing_ok=True)
    return size


if __name__ == "__main__":
    sys.exit(main())
