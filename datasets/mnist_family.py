"""What the MNIST family is made of: file names, canonical checksums, mirrors, class names.

Only facts live here; finding, fetching and reading the files is done elsewhere from these specs,
so a test can build a spec of its own (tiny files, its own checksums, a mirror on 127.0.0.1).

Checksums. MNIST: the sha256 of each file's decompressed content (robust to re-compression, and
known for all four files) plus the sha256 of the canonical `.gz` for the three files where we know
it. Fashion-MNIST: the md5 of the canonical `.gz` files published in zalandoresearch/fashion-mnist,
plus the sha256 of their decompressed content, computed from the files in Debian's
`dataset-fashion-mnist` package, whose deflate streams are the canonical ones: each Debian file is
the canonical one with the file name dropped from its gzip header and the time stamp changed, so
restoring both (see tests/test_datasets_fashion.py) rebuilds a file with the published md5. Both
kinds of digest were checked that way against the installed package.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from .checksums import Digest, content_sha256
from .errors import DatasetError
from .idx import IdxContent

ROLES = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class IdxFile:
    """One of the four files of a data set: its canonical name and the digests it must match."""

    name: str  # canonical file name, e.g. "train-images-idx3-ubyte.gz"
    digests: tuple[Digest, ...] = ()

    @property
    def stem(self) -> str:
        """The name without `.gz`: the name of the unpacked file."""
        return self.name[:-3] if self.name.endswith(".gz") else self.name

    def candidate_names(self) -> tuple[str, ...]:
        """File names under which this file is accepted in a folder, best first.

        The canonical `.gz`, the unpacked file, and the unpacked file with a dot before `idx`
        (as some redistributions name them).
        """
        dotted = self.stem.replace("-idx", ".idx")
        return tuple(dict.fromkeys((self.name, self.stem, dotted)))


@dataclass(frozen=True)
class IdxDatasetSpec:
    """An image-classification data set stored as four IDX files (the MNIST layout).

    `train_size` and `test_size` are the numbers of images the files must hold; None (a spec of
    your own, e.g. in a test) accepts any number, as long as the images and labels agree.
    """

    name: str
    title: str
    files: dict[str, IdxFile]  # role (see ROLES) -> file
    class_names: tuple[str, ...]
    image_shape: tuple[int, int] = (28, 28)
    train_size: int | None = None
    test_size: int | None = None
    mirrors: tuple[str, ...] = ()  # base URLs; a file's URL is base + "/" + file name
    system_dirs: tuple[str, ...] = ()  # folders where an OS package installs the files
    embedded_stands_in: bool = True    # the embedded MNIST subset may replace it offline (it is digits too)

    @property
    def mirrors_env_var(self) -> str:
        """The environment variable that replaces the mirror list (space- or comma-separated)."""
        return "NNSTUDIO_" + self.name.upper().replace("-", "_") + "_MIRRORS"

    def effective_mirrors(self) -> tuple[str, ...]:
        """The mirrors from the environment variable if it is set, else the built-in list."""
        value = os.environ.get(self.mirrors_env_var, "").replace(",", " ").split()
        return tuple(value) or self.mirrors

    def content(self, role: str) -> IdxContent:
        """What the file of `role` must hold (uint8 images or labels, so many of them), checked against its
        header before its data are read or hashed (see `idx.IdxContent`)."""
        split, kind = role.split("_")
        count = self.train_size if split == "train" else self.test_size
        shape = (count, *self.image_shape) if kind == "images" else (count,)
        return IdxContent(shape, what=f"{self.name} {split} {kind}")

    def with_checksums(self, checksums: dict[str, tuple[Digest, ...] | Digest | str]) -> IdxDatasetSpec:
        """A copy whose files expect the given digests, keyed by file name or role.

        A plain string is a content sha256. Used by tests and by anyone with their own copies.
        """
        files = dict(self.files)
        for key, value in checksums.items():
            role = key if key in files else next((r for r, f in files.items() if key in f.candidate_names()), None)
            if role is None:
                raise KeyError(f"{self.name} has no file {key!r}")
            if isinstance(value, str):
                value = (content_sha256(value),)
            elif isinstance(value, Digest):
                value = (value,)
            files[role] = replace(files[role], digests=tuple(value))
        return replace(self, files=files)


MNIST = IdxDatasetSpec(
    name="mnist",
    title="MNIST handwritten digits",
    files={
        "train_images": IdxFile("train-images-idx3-ubyte.gz", (
            content_sha256("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
            Digest("md5", "f68b3c2dcbeaaa9fbdd348bbdeb94873", "file"),
        )),
        "train_labels": IdxFile("train-labels-idx1-ubyte.gz", (
            Digest("sha256", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", "file"),
            content_sha256("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        )),
        "test_images": IdxFile("t10k-images-idx3-ubyte.gz", (
            Digest("sha256", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", "file"),
            content_sha256("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        )),
        "test_labels": IdxFile("t10k-labels-idx1-ubyte.gz", (
            Digest("sha256", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", "file"),
            content_sha256("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
        )),
    },
    class_names=tuple(str(digit) for digit in range(10)),
    train_size=60000,
    test_size=10000,
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist",
        "https://storage.googleapis.com/cvdf-datasets/mnist",
    ),
)

FASHION_MNIST = IdxDatasetSpec(
    name="fashion-mnist",
    title="Fashion-MNIST clothing images (Zalando)",
    files={
        "train_images": IdxFile("train-images-idx3-ubyte.gz", (
            Digest("md5", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "file"),
            content_sha256("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        )),
        "train_labels": IdxFile("train-labels-idx1-ubyte.gz", (
            Digest("md5", "25c81989df183df01b3e8a0aad5dffbe", "file"),
            content_sha256("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        )),
        "test_images": IdxFile("t10k-images-idx3-ubyte.gz", (
            Digest("md5", "bef4ecab320f06d8554ea6380940ec79", "file"),
            content_sha256("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        )),
        "test_labels": IdxFile("t10k-labels-idx1-ubyte.gz", (
            Digest("md5", "bb300cfdad3c16e7a12a480ee83cd310", "file"),
            content_sha256("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
        )),
    },
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    train_size=60000,
    test_size=10000,
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets",
    ),
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    embedded_stands_in=False,   # digits under a clothing set's name would mislead
)

IDX_DATASETS: dict[str, IdxDatasetSpec] = {spec.name: spec for spec in (MNIST, FASHION_MNIST)}


def idx_spec(name_or_spec: str | IdxDatasetSpec) -> IdxDatasetSpec:
    """The spec of a downloadable data set, by name (a spec is returned as it is)."""
    if isinstance(name_or_spec, IdxDatasetSpec):
        return name_or_spec
    try:
        return IDX_DATASETS[name_or_spec]
    except KeyError:
        known = ", ".join(IDX_DATASETS)
        raise DatasetError(f"{name_or_spec!r} is not a downloadable data set (those are: {known})") from None
