"""`load_dataset(name)`: the one entry point that turns a data set name into a `Dataset`.

Names: `mnist` and `fashion-mnist` (IDX files: an explicit folder, NNSTUDIO_DATA_DIR, the user
cache, then a download; when all fail the embedded MNIST subset stands in for MNIST, with a notice
(not for Fashion-MNIST: another set under its name would mislead); a copy
that turns out damaged when read is passed over with a note, except in an explicit folder, which
is strict),
`mnist-embedded` (the subset shipped in the package), the synthetic sets of `synthetic`, and the
sets a user imported from a CSV or .npz file (`imported`, kept in the cache).
`list_datasets` says what is available and where, for `nnstudio data list`.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, replace

import numpy as np

from .dataset import Dataset
from .embedded import EMBEDDED_NAME, EMBEDDED_PATH, embedded_size_bytes, load_embedded
from .errors import DatasetError
from .fetch import DEFAULT_TIMEOUT, ProgressCallback, fetch_files
from .idx import read_idx, read_idx_header
from .imported import builtin_names, import_command, imported_folder, imported_title, imported_names, load_imported, read_record
from .locations import Located, copies, display_path, find_files, how_to_get, locate, offline
from .mnist_family import IDX_DATASETS, MNIST, IdxDatasetSpec
from .preprocess import to_layout
from .synthetic import DEFAULT_SIZE, SYNTHETIC, generate



def dataset_names() -> list[str]:
    """Every name `load_dataset` accepts: the built-in sets, then those imported on this machine."""
    builtin = builtin_names()
    return builtin + [name for name in imported_names() if name not in builtin]


def load_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike | None = None,
    layout: str = "flat",
    allow_fetch: bool | None = None,
    fallback: bool = True,
    progress: ProgressCallback | None = None,
    mirrors: list[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    size: int | None = None,
    test_size: int | None = None,
    noise: float | None = None,
    seed: int = 0,
    **options,
) -> Dataset:
    """The data set `name`, raw (see `preprocess.prepare` for training-ready arrays).

    Image sets: `data_dir` is an explicit folder (an error if the files are not there);
    `layout` is "flat" (N, 784) or "image" (N, 1, 28, 28), both views of the uint8 pixels;
    `allow_fetch` allows a download when no local copy exists (default: yes, unless
    NNSTUDIO_OFFLINE is set); with `fallback`, MNIST when it cannot be had is replaced by the
    embedded MNIST subset and `Dataset.notice` says so; otherwise a `DatasetError` is raised.
    Synthetic sets: `size` train points (default 1000), `test_size` (default size // 4), `noise`,
    `seed`, and generator options such as `classes` (spirals, blobs) or `cells` (checkerboard).
    """
    if name in SYNTHETIC:
        if layout != "flat":
            raise DatasetError(f"{name} is not an image data set: only the flat layout applies")
        return _load_synthetic(name, size=size, test_size=test_size, noise=noise, seed=seed, **options)
    extra = {key: value for key, value in (("size", size), ("test_size", test_size), ("noise", noise))
             if value is not None}
    if extra or options:
        raise DatasetError(f"options {', '.join([*extra, *options])} apply to synthetic data sets only")
    if name == EMBEDDED_NAME:
        return load_embedded_dataset(layout)
    if name in IDX_DATASETS:
        return load_idx_dataset(IDX_DATASETS[name], data_dir=data_dir, layout=layout, allow_fetch=allow_fetch,
                                fallback=fallback, progress=progress, mirrors=mirrors, timeout=timeout)
    if name in imported_names():
        return load_imported(name, layout)
    raise DatasetError(unknown_name(name))


def unknown_name(name: str) -> str:
    """Why `name` names no data set here, with a did-you-mean, and how to import one under that name."""
    close = difflib.get_close_matches(name, dataset_names(), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (f"unknown data set {name!r} ({hint}known: {', '.join(dataset_names())}); to use your own data under that "
            f"name: {import_command(name)}")


def load_idx_dataset(
    spec: IdxDatasetSpec,
    *,
    data_dir: str | os.PathLike | None = None,
    layout: str = "flat",
    allow_fetch: bool | None = None,
    fallback: bool = True,
    progress: ProgressCallback | None = None,
    mirrors: list[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Dataset:
    """An IDX data set from the first place that has it (see the module docstring)."""
    notes: list[str] = []
    for located in copies(spec, data_dir, notes):
        try:
            return _noted(read_located(spec, located, layout), notes)
        except DatasetError as error:
            if located.origin == "argument":
                raise
            notes.append(f"passed over {display_path(located.folder)} ({located.origin}): {error}")
    fetch = (not offline()) if allow_fetch is None else allow_fetch
    if fetch:
        try:
            folder = fetch_files(spec, mirrors=mirrors, progress=progress, timeout=timeout).folder
            return _noted(read_located(spec, Located(folder, "cache", find_files(folder, spec)), layout), notes)
        except DatasetError as error:  # the network, or the cache folder itself (unwritable, not a folder)
            failure = type(error)(f"{error}{_looked(notes)}")
    else:
        looked = "; ".join(notes)
        failure = DatasetError(f"{spec.name} is not on this machine{f' ({looked})' if looked else ''} and "
                               f"downloading is off. {how_to_get(spec)}")
    if not (fallback and spec.embedded_stands_in):
        raise failure
    dataset = load_embedded_dataset(layout)
    stop = "" if str(failure).endswith(".") else "."
    dataset.notice = (f"{failure}{stop} Using the embedded MNIST digits subset: "
                      f"{len(dataset.y_train)} train / {len(dataset.y_test)} test images.")
    return dataset


def _noted(dataset: Dataset, notes: list[str]) -> Dataset:
    """`dataset` with a notice listing the places passed over before it, so the user learns of them."""
    if notes:
        dataset.notice = f"Using {display_path(dataset.source)}; {'; '.join(notes)}."
    return dataset


def _looked(notes: list[str]) -> str:
    """The notes of the local search, appended to a download failure."""
    return f" (before downloading: {'; '.join(notes)})" if notes else ""


def read_located(spec: IdxDatasetSpec, located: Located, layout: str = "flat") -> Dataset:
    """Read and cross-check the four files found by `locate`.

    Every header is checked (against what the spec says the file holds, and images against labels)
    before any file's data are read, so a file that poses as another costs a few bytes of reading.
    """
    arrays = {}
    for split in ("train", "test"):
        images_path, labels_path = located.files[f"{split}_images"], located.files[f"{split}_labels"]
        images_content, labels_content = spec.content(f"{split}_images"), spec.content(f"{split}_labels")
        count = read_idx_header(images_path, content=images_content).shape[0]
        labels_count = read_idx_header(labels_path, content=labels_content).shape[0]
        if count != labels_count:
            raise DatasetError(f"{images_path} has {count} images but {labels_path} has {labels_count} labels")
        images = read_idx(images_path, content=replace(images_content, shape=(count, *spec.image_shape)))
        labels = read_idx(labels_path, content=replace(labels_content, shape=(count,)))
        if len(labels) and int(labels.max()) >= len(spec.class_names):
            raise DatasetError(f"{labels_path}: label {int(labels.max())} is outside 0-{len(spec.class_names) - 1}")
        arrays[split] = (images, labels.astype(np.int64))
    image_shape = (1, *spec.image_shape)
    return Dataset(
        name=spec.name, task="classification",
        x_train=to_layout(arrays["train"][0], layout, image_shape), y_train=arrays["train"][1],
        x_test=to_layout(arrays["test"][0], layout, image_shape), y_test=arrays["test"][1],
        class_names=spec.class_names, input_shape=_input_shape(layout, image_shape),
        source=str(located.folder), title=spec.title, image_shape=image_shape,
    )


def load_embedded_dataset(layout: str = "flat") -> Dataset:
    """The MNIST subset shipped in the package."""
    arrays = load_embedded()
    image_shape = (1, 28, 28)
    return Dataset(
        name=EMBEDDED_NAME, task="classification",
        x_train=to_layout(arrays["x_train"], layout, image_shape), y_train=arrays["y_train"].astype(np.int64),
        x_test=to_layout(arrays["x_test"], layout, image_shape), y_test=arrays["y_test"].astype(np.int64),
        class_names=MNIST.class_names, input_shape=_input_shape(layout, image_shape),
        source="embedded", title="MNIST subset shipped with nnstudio (500 train + 100 test per digit)",
        image_shape=image_shape,
    )


def _load_synthetic(name: str, **kwargs) -> Dataset:
    size = kwargs.pop("size")
    spec, (x_train, y_train, x_test, y_test) = generate(name, size=DEFAULT_SIZE if size is None else size, **kwargs)
    options = {key: value for key, value in kwargs.items() if key in spec.options}
    return Dataset(
        name=name, task=spec.task, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
        class_names=tuple(str(c) for c in range(spec.num_classes(options))),
        input_shape=(spec.input_dim,), source="synthetic", title=spec.title,
    )


def _input_shape(layout: str, image_shape: tuple[int, ...]) -> tuple[int, ...]:
    return (int(np.prod(image_shape)),) if layout == "flat" else image_shape


@dataclass(frozen=True)
class DatasetStatus:
    """One row of `nnstudio data list`: what a data set is and whether and where it is available."""

    name: str
    title: str
    task: str
    kind: str  # e.g. "10 classes", "K classes", "regression"
    input_shape: tuple[int, ...]
    train_size: int | None  # None where it depends on options
    test_size: int | None
    available: bool
    where: str
    size_bytes: int
    notes: tuple[str, ...] = ()  # why folders were passed over, e.g. an NNSTUDIO_DATA_DIR that is not a folder


def list_datasets(data_dir: str | os.PathLike | None = None) -> list[DatasetStatus]:
    """The status of every named data set; looks for files but reads none."""
    rows = []
    for spec in IDX_DATASETS.values():
        try:
            search = locate(spec, data_dir)
        except DatasetError:
            search = locate(spec)
        found = search.found
        where = f"{display_path(found.folder)} ({found.origin})" if found else "missing"
        rows.append(DatasetStatus(spec.name, spec.title, "classification", f"{len(spec.class_names)} classes",
                                  (784,), spec.train_size, spec.test_size, found is not None, where,
                                  found.size_bytes if found else 0, tuple(search.notes)))
    rows.append(DatasetStatus(EMBEDDED_NAME, "MNIST subset shipped with nnstudio", "classification", "10 classes",
                              (784,), 5000, 1000, EMBEDDED_PATH.exists(), "built in", embedded_size_bytes()))
    for spec in SYNTHETIC.values():
        kind = ("regression" if spec.task == "regression"
                else "K classes" if "classes" in spec.options else f"{spec.classes} classes")
        rows.append(DatasetStatus(spec.name, spec.title, spec.task, kind, (spec.input_dim,), None, None,
                                  True, "generated", 0))
    for name in imported_names():
        rows.append(_imported_status(name))
    return rows


def _imported_status(name: str) -> DatasetStatus:
    """The `data list` row of an imported set, from its record (a damaged one says so instead of failing)."""
    folder = imported_folder(name)
    try:
        record = read_record(name)
        classes = record["class_names"]
        kind = f"{len(classes)} classes" if record["task"] == "classification" else "regression"
        shape = tuple(record["image_shape"]) if record.get("image_shape") else (len(record["features"]),)
        rows = record["rows"]
        size = sum(path.stat().st_size for path in folder.glob("*.npy"))
        return DatasetStatus(name, imported_title(record),
                             record["task"], kind, shape, rows["train"], rows["test"], True,
                             f"{display_path(folder)} (imported)", size)
    except (DatasetError, OSError, KeyError, TypeError) as error:
        return DatasetStatus(name, "imported data set (damaged)", "?", "?", (), None, None, False,
                             display_path(folder), 0, (str(error),))
