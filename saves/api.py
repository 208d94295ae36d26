"""Saving and loading models and checkpoints: the functions the rest of nnstudio calls.

    saves.save_model(path, model, dataset="mnist", history=history, metrics={"val_acc": 0.97})
    loaded = saves.load(path)          # loaded.model, loaded.metadata, loaded.checkpoint (or None)

A load rebuilds the model from the spec in the metadata, checks every tensor in the header
against that model (names, shapes, dtypes) and a checkpoint's training state before reading any
data, then checks that the weights are finite numbers and copies them in. The file never decides
what code runs: it names a spec, an optimizer class from a fixed table, and plain arrays.
`load_problem` makes the same checks (`tensors`, `ResumeState.check`) and keeps neither a model nor
the data, so that a listing marks a save that would not load with the reason `load` would give.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Mapping

import numpy as np

from nnstudio.engine import Tensor
from nnstudio.engine import random as engine_random
from nnstudio.engine.nn.module import Module

from . import format as fmt
from . import schema
from .atomic import atomic_writer, fsync_dir
from .errors import SaveError
from .naming import SUFFIX
from .resume import (OPTIMIZER_PREFIX, ResumeState, check_optimizer_tensors, early_stopping_part, optimizer_parts,
                     optimizer_state_from, rng_part)
from .schema import Metadata
from .tensors import (Expected, Signature, build, compare, expected_for, model_dtype, not_finite, refuse_mismatch,
                      refuse_not_finite, refuse_oversized_spec)


@dataclass
class Loaded:
    """A loaded save: the rebuilt model (in training mode, as built; call `.eval()` to predict),
    its metadata, and for checkpoints what is needed to resume."""

    model: Module
    metadata: Metadata
    checkpoint: ResumeState | None
    path: Path

    @property
    def spec(self) -> dict:
        return self.metadata.spec


# ====================================================================== writing
def _spec_of(model: Module, spec: dict | None) -> dict:
    spec = spec if spec is not None else getattr(model, "spec", None)
    if spec is None:
        raise SaveError("the model has no spec to save with it: give its spec (models made by build_model carry "
                        "theirs)")
    return spec


@contextlib.contextmanager
def _about(path: str | Path) -> Iterator[None]:
    """Make every SaveError raised inside name `path` (deep checks do not know the file)."""
    try:
        yield
    except SaveError as error:
        raise error.at(path) from None


def _write(path: str | Path, tensors: Mapping[str, np.ndarray], metadata: Metadata, overwrite: bool) -> Path:
    with atomic_writer(path, overwrite=overwrite) as file:
        fmt.write(file, tensors, {schema.METADATA_KEY: metadata.encode()})
    return Path(path)


def _model_tensors(model: Module, metadata: Metadata) -> dict[str, np.ndarray]:
    """The model's state, checked against the spec being saved with it: never write what load refuses."""
    tensors = model.state_dict()
    found = {name: (a.shape, fmt.dtype_name(a.dtype)) for name, a in tensors.items()}
    refuse_mismatch(compare(found, expected_for(metadata).tensors))
    problem = not_finite((name, [array]) for name, array in tensors.items())
    if problem is not None:
        raise SaveError(f"cannot save weights that are not finite: {problem}")
    return tensors


def save_model(path: str | Path, model: Module, *, spec: dict | None = None, config: Mapping | None = None,
               dataset: Mapping | str | None = None, history: list | None = None, metrics: Mapping | None = None,
               overwrite: bool = False) -> Path:
    """Save a trained model's weights and metadata atomically; refuses to replace a file unless `overwrite`.

    `spec` defaults to `model.spec`; `config` is the run configuration as its writer records it
    (any JSON object: saves store it and never read inside it), `dataset` a name or {"name",
    "normalisation"}, `history` the per-epoch records and `metrics` the final ones. Returns the
    path written.
    """
    with _about(path):
        metadata = schema.build("model", _spec_of(model, spec), model_dtype(model), config=config,
                                dataset=dataset, history=history, metrics=metrics)
        return _write(path, _model_tensors(model, metadata), metadata, overwrite)


def save_checkpoint(path: str | Path, model: Module, optimizer, *, epoch: int, spec: dict | None = None,
                    scheduler=None, early_stopping=None, data_rng: np.random.Generator | Mapping | None = None,
                    data_state: Mapping | None = None, engine_rng_state: Mapping | None = None,
                    config: Mapping | None = None, dataset: Mapping | str | None = None, history: list | None = None,
                    metrics: Mapping | None = None, overwrite: bool = False) -> Path:
    """Save everything needed to continue training exactly: weights, optimizer, schedule, early stopping,
    the engine's random stream (taken now unless `engine_rng_state` is given) and the data order.

    `epoch` is the number of epochs completed. `data_rng` is the generator that shuffles the
    data (or its state); `data_state` any JSON the data pipeline needs (e.g. `BatchIterator.get_state()`).
    Like `save_model`, it refuses to replace a file unless `overwrite` (a run's manager passes it).
    """
    with _about(path):
        return _save_checkpoint(path, model, optimizer, epoch, spec, scheduler, early_stopping, data_rng, data_state,
                                engine_rng_state, config, dataset, history, metrics, overwrite)


def _save_checkpoint(path, model, optimizer, epoch, spec, scheduler, early_stopping, data_rng, data_state,
                     engine_rng_state, config, dataset, history, metrics, overwrite) -> Path:
    spec = _spec_of(model, spec)
    dtype = model_dtype(model)
    described, optimizer_tensors = optimizer_parts(optimizer)
    checkpoint = {
        "epoch": epoch, "optimizer": described,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "early_stopping": early_stopping_part(early_stopping),
        "rng": {"engine": dict(engine_rng_state) if engine_rng_state is not None else engine_random.get_rng_state(),
                "data": rng_part(data_rng)},
        "data_state": data_state,
    }
    metadata = schema.build("checkpoint", spec, dtype, config=config, dataset=dataset, history=history,
                            metrics=metrics, checkpoint=checkpoint)
    tensors = _model_tensors(model, metadata)
    clash = [name for name in tensors if name.startswith(OPTIMIZER_PREFIX)]
    if clash:
        raise SaveError(f"model tensor {clash[0]!r} clashes with the optimizer's names")
    check_optimizer_tensors(metadata.checkpoint["optimizer"],
                            {n: (a.shape, fmt.dtype_name(a.dtype)) for n, a in optimizer_tensors.items()},
                            [p.shape for p in model.parameters()], fmt.dtype_name(np.dtype(dtype)))
    return _write(path, {**tensors, **optimizer_tensors}, metadata, overwrite)


# ====================================================================== reading
@contextlib.contextmanager
def _open(path: Path) -> Iterator[tuple[BinaryIO, int]]:
    try:
        file = open(path, "rb")
        size = os.fstat(file.fileno()).st_size
    except FileNotFoundError:
        raise SaveError("no such file", path) from None
    except IsADirectoryError:
        raise SaveError("is a folder, not a save", path) from None
    except OSError as error:
        raise SaveError(f"cannot open: {error.strerror or error}", path) from None
    with file, _about(path):
        try:
            yield file, size
        except OSError as error:
            raise SaveError(f"cannot read: {error.strerror or error}") from None


def _read_header(file: BinaryIO, size: int) -> tuple[Metadata, fmt.Header]:
    """The checked header and its metadata; a newer format is refused before its tensor table is looked at.

    The metadata document is parsed once: its version is checked on the parsed document, which
    is then validated after the tensor table.
    """
    parsed: list[schema.Parsed] = []

    def refuse_newer(header_metadata: dict[str, str]) -> None:
        parsed.append(schema.parse(header_metadata))
        schema.refuse_newer(parsed[0])

    header = fmt.read_header(file, size, check_metadata=refuse_newer)
    return schema.decode(parsed[0]), header


def read_header(path: str | Path) -> tuple[Metadata, fmt.Header]:
    """The metadata and tensor table of a save, reading only its header (fast; no tensor data)."""
    path = Path(path)
    with _open(path) as (file, size):
        return _read_header(file, size)


def read_metadata(path: str | Path) -> Metadata:
    """The validated metadata of a save, reading only its header."""
    return read_header(path)[0]


def _split_tensors(metadata: Metadata, header: fmt.Header) -> tuple[Signature, Signature]:
    """The header's tensor table as (model tensors, optimizer tensors), each name -> (shape, dtype)."""
    found = {name: (info.shape, info.dtype) for name, info in header.tensors.items()}
    optimizer_found = {}
    if metadata.kind == "checkpoint":
        optimizer_found = {n: found.pop(n) for n in list(found) if n.startswith(OPTIMIZER_PREFIX)}
    return found, optimizer_found


def _check_tensor_table(metadata: Metadata, found: Signature, optimizer_found: Signature,
                        expected: Expected) -> None:
    """Refuse a tensor table that does not fit the spec's model (and, for a checkpoint, its optimizer)."""
    refuse_mismatch(compare(found, expected.tensors))
    if metadata.checkpoint is not None:
        check_optimizer_tensors(metadata.checkpoint["optimizer"], optimizer_found, list(expected.param_shapes),
                                fmt.dtype_name(np.dtype(metadata.dtype)))


def _check_training_state(metadata: Metadata, params: list[Tensor],
                          optimizer_arrays: Mapping[str, np.ndarray]) -> ResumeState | None:
    """A checkpoint's optimizer, schedule, early stopping and generators, each made and loaded as a resume
    makes them (`ResumeState.check`), so a bad hyperparameter (betas "x") is refused on opening, not mid-resume.
    `load` passes the model's parameters and the optimizer's arrays; `header_problem` stand-ins and none."""
    if metadata.checkpoint is None:
        return None
    state = optimizer_state_from(metadata.checkpoint["optimizer"], optimizer_arrays)
    resume = ResumeState.from_checkpoint(metadata, state)
    resume.check(params)
    return resume


def _stand_ins(shapes: Iterable[tuple[int, ...]], dtype: str) -> list[Tensor]:
    """Parameters of the given shapes for an optimizer to check a state against; their zeros are never
    touched, so the memory is not used."""
    return [Tensor(np.zeros(shape, dtype=dtype)) for shape in shapes]


def header_problem(metadata: Metadata, header: fmt.Header) -> str | None:
    """Why `load` would refuse a save whose header reads, judging from the header alone, or None.

    The checks `load` makes before reading data, by the same functions: the tensors fit the model
    its spec describes (names, shapes, dtypes), and a checkpoint's optimizer, schedule and early
    stopping load. The spec's expected tensors are cached, so checking a folder of saves of one
    model builds it once.
    """
    found, optimizer_found = _split_tensors(metadata, header)
    try:
        refuse_oversized_spec(metadata.spec, found)
        expected = expected_for(metadata)
        _check_tensor_table(metadata, found, optimizer_found, expected)
        _check_training_state(metadata, _stand_ins(expected.param_shapes, metadata.dtype), {})
    except SaveError as error:
        return error.problem
    return None


def _slices(file: BinaryIO, header: fmt.Header, info: fmt.TensorInfo) -> Iterator[np.ndarray]:
    """One tensor's values read from the file in slices of at most `fmt.CHUNK_BYTES`."""
    dtype = info.numpy_dtype
    step = max(fmt.CHUNK_BYTES // dtype.itemsize, 1) * dtype.itemsize
    file.seek(header.data_start + info.begin)
    for start in range(info.begin, info.end, step):
        wanted = min(step, info.end - start)
        data = file.read(wanted)
        if len(data) != wanted:
            raise SaveError("truncated file: its tensor data end early")
        yield np.frombuffer(data, dtype=dtype)


def _whole(file: BinaryIO, header: fmt.Header, info: fmt.TensorInfo) -> np.ndarray:
    """One tensor read whole (an optimizer's, to check as `load` does), in its shape."""
    parts = list(_slices(file, header, info)) or [np.zeros(0, dtype=info.numpy_dtype)]
    return np.concatenate(parts).reshape(info.shape)


def load_problem(path: str | Path) -> tuple[Metadata, fmt.Header, str | None]:
    """A save's metadata and header (SaveError if they cannot be read) and why `load` would refuse it, or None.

    `header_problem`, then the weights read in slices and checked finite as `load` checks them, and a
    checkpoint's optimizer state (its step counts, its averages) checked as `load` checks it: nothing is
    built or kept, so a listing can tell a save that lists from one that loads.
    """
    path = Path(path)
    with _open(path) as (file, size):
        metadata, header = _read_header(file, size)
        problem = header_problem(metadata, header)
        if problem is None:
            model_tensors, optimizer_tensors = _split_tensors(metadata, header)
            try:
                refuse_not_finite((name, _slices(file, header, header.tensors[name])) for name in model_tensors)
                if metadata.checkpoint is not None:
                    arrays = {name: _whole(file, header, header.tensors[name]) for name in optimizer_tensors}
                    _check_training_state(metadata, _stand_ins(expected_for(metadata).param_shapes, metadata.dtype),
                                          arrays)
            except SaveError as error:
                problem = error.problem
    return metadata, header, problem


def identify(path: str | Path) -> None:
    """Refuse (SaveError) anything that is not an nnstudio save: a ".safetensors" file whose header holds
    an nnstudio metadata document with a format version. What destroys files (`saves rm`) asks this first.

    Damage beyond that (a bad field, mismatched tensors, a newer format's tensor table) still
    counts as a save, so it can be deleted.
    """
    path = Path(path)
    if path.suffix != SUFFIX:
        raise SaveError(f"not an nnstudio save: the name does not end in {SUFFIX}", path)
    with _open(path) as (file, size):
        text = fmt.read_metadata_strings(file, size).get(schema.METADATA_KEY)
        if text is None:
            raise SaveError(f"not an nnstudio save: a safetensors file without {schema.METADATA_KEY!r} metadata")
        document = fmt.parse_json(text, "metadata")
        if not isinstance(document, dict) or type(document.get("format_version")) is not int:
            raise SaveError("not an nnstudio save: its metadata has no format version")


def delete(path: str | Path) -> None:
    """Delete one nnstudio save, durably (the folder is synced); anything else (`identify`) is refused.

    The one way the command line and the studio remove a save, so neither can delete a file it
    never wrote. A file that cannot be removed is a SaveError naming it.
    """
    path = Path(path)
    identify(path)
    try:
        path.unlink()
    except OSError as error:
        raise SaveError(f"cannot delete it: {error.strerror or error}", path) from None
    fsync_dir(path.parent)


def load(path: str | Path) -> Loaded:
    """Load a save: rebuild the model from its spec, check and copy the weights, and for a checkpoint
    check and prepare the training state. Raises SaveError naming the file and the problem."""
    path = Path(path)
    with _open(path) as (file, size):
        metadata, header = _read_header(file, size)
        found, optimizer_found = _split_tensors(metadata, header)
        refuse_oversized_spec(metadata.spec, found)
        model = build(metadata.spec, metadata.dtype)
        expected = Expected.of(model)
        _check_tensor_table(metadata, found, optimizer_found, expected)
        arrays = fmt.read_tensors(file, header)
        weights = {name: arrays[name] for name in expected.tensors}
        refuse_not_finite((name, [array]) for name, array in weights.items())
        try:
            model.load_state_dict(weights)
        except ValueError as error:
            raise SaveError(f"weights do not load: {error}") from None
        resume = _check_training_state(metadata, model.parameters(), {n: arrays[n] for n in optimizer_found})
    return Loaded(model, metadata, resume, path)
