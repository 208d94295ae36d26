"""The metadata document of a save: one versioned JSON object, checked field by field.

It travels in the safetensors header under the key "nnstudio" (safetensors metadata values
are strings, so the whole document is one JSON string):

    {"format_version": 1, "kind": "model" | "checkpoint", "created_at": "2025-01-31T12:00:00.000Z",
     "nnstudio_version": "0.1.0",
     "model":    {"spec": <engine model spec>, "dtype": "float32"},
     "config":   {...} (the run configuration as its writer made it: any JSON object),
     "dataset":  {"name": "mnist", "normalisation": {...} | null, ...} | null,
     "history":  [{"epoch": 1, "train_loss": ..., "val_acc": ..., "lr": ..., "grad_norms": {...},
                   "seconds": ...}, ...],
     "metrics":  {"val_acc": 0.97, ...},
     "checkpoint": null | {"epoch": 10,
                   "optimizer": {"type": "Adam", "hyper": {...}, "step": 9380, "params": [[128, 784], ...]},
                   "scheduler": {...} | null, "early_stopping": {"state": {...}, "patience": 5, "min_delta": 0} | null,
                   "rng": {"engine": <bit generator state>, "data": <bit generator state> | null},
                   "data_state": {...} | null}}

Known fields have fixed types, checked with the engine's `Field` (the rules a run setting and a
layer field follow too); `dataset` and history entries may carry extra keys (a session records
more than nnstudio reads), and `config` is the writer's own: saves check that it is a JSON
object and never read a setting from it (what goes in it, and what a reader makes of it, is the
session's business). Every generator state, in `data_state` too, names one of NumPy's bit
generators. `created_at` must convert to UTC within MIN_YEAR..MAX_YEAR.
Numbers must also make sense together, so that a hand-edited or damaged file is refused here, in one
place, rather than echoed: a history lists epochs 1, 2, 3... in order, with accuracies in 0..1 and
no negative rate, time or norm; a checkpoint's epoch is not past the end of its history; and the
counts a resume reads from `data_state` are never negative and add up to the checkpoint's epoch.
Non-finite numbers are written as null: JSON has no NaN, and a diverged epoch's loss is
"no value", not a number to compare.
Every document is validated before it is written, so nnstudio never writes what it would refuse to read.
"""

from __future__ import annotations

import functools
import json
import math
import numbers
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import PurePath
from typing import Any

import numpy as np

from nnstudio.engine import optim
from nnstudio.engine.fields import Field, FieldError, is_whole_number, kind_of
from nnstudio.engine.spec import validate_spec

from .errors import SaveError
from .format import parse_json

#: the newest format this code writes and reads; bump it whenever the schema changes
FORMAT_VERSION = 1
#: the safetensors metadata key holding the document
METADATA_KEY = "nnstudio"
KINDS = ("model", "checkpoint")
#: the years a created_at may lie in: nnstudio did not exist before 1970, and a year short of
#: datetime's limits leaves room for converting to any local zone
MIN_YEAR, MAX_YEAR = 1970, 9998
#: the longest history a save holds: one entry per epoch, and a run trains at most this many epochs
#: (`training.epochs` is capped here). Its header then stays within `format.MAX_HEADER_BYTES`.
MAX_HISTORY_ENTRIES = 5_000
#: floating-point precisions a model may be stored in (`Module.to(dtype)`)
PRECISIONS = ("float32", "float64")

#: the classes a checkpoint may name; nothing else is ever instantiated from a file
OPTIMIZERS: dict[str, type] = {cls.__name__: cls for cls in (optim.SGD, optim.RMSprop, optim.Adam, optim.AdamW)}
SCHEDULERS: dict[str, type] = {cls.__name__: cls for cls in (optim.StepLR, optim.CosineAnnealingLR)}
#: NumPy bit generators whose state a checkpoint may restore
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")

_TOP_LEVEL = ("format_version", "kind", "created_at", "nnstudio_version", "model", "config", "dataset",
              "history", "metrics", "checkpoint")
_CHECKPOINT_KEYS = ("epoch", "optimizer", "scheduler", "early_stopping", "rng", "data_state")


@functools.lru_cache(maxsize=1)
def nnstudio_version() -> str:
    try:
        return version("nnstudio")
    except PackageNotFoundError:
        return "0+unknown"


def utc_now() -> str:
    """The current time as ISO-8601 UTC with milliseconds, e.g. "2025-01-31T12:00:00.000Z"."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_time(text: Any, where: str) -> datetime:
    """An ISO-8601 time with a zone, as an aware UTC datetime that is safe to show in any local zone.

    A hand-edited "0001-01-01T00:00:00+14:00" parses, but lies before year 1 in UTC, and
    `astimezone()` then raises OverflowError wherever it is displayed; so the value is converted
    here, once, and years outside MIN_YEAR..MAX_YEAR (room for any zone's offset) are refused.
    """
    if not isinstance(text, str):
        raise _fail(where, "an ISO-8601 time with a zone", text)
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        raise SaveError(f"metadata {where} must be an ISO-8601 time with a zone, got {text!r:.60}")
    try:
        moment = moment.astimezone(timezone.utc)
    except OverflowError:  # before year 1 or after 9999 once in UTC
        moment = None
    if moment is None or not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise SaveError(f"metadata {where} must be a time between the years {MIN_YEAR} and {MAX_YEAR}, "
                        f"got {text!r:.60}")
    return moment


def parse_time(text: Any) -> datetime | None:
    """`check_time`'s UTC datetime, or None for anything it refuses (for optional times, e.g. a run's marker)."""
    try:
        return check_time(text, "time")
    except SaveError:
        return None


# ====================================================================== Python values -> JSON
def to_json(value: Any, where: str) -> Any:
    """`value` as plain JSON data: NumPy scalars and arrays become numbers and lists, tuples lists,
    non-finite floats None. Anything else that JSON cannot hold is a SaveError naming `where`."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, np.ndarray):
        return to_json(value.tolist(), where)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise SaveError(f"cannot store {where}: key {key!r} is not text")
            out[key] = to_json(item, f"{where}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [to_json(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise SaveError(f"cannot store {where}: a {type(value).__name__} is not JSON data")


# ====================================================================== checks
def _fail(where: str, expected: str, value: Any) -> SaveError:
    return SaveError(f"metadata {where} must be {expected}, got {kind_of(value)}")


def _check(field: Field, value: Any, where: str) -> Any:
    """`field.check(value)`, its problem reported as a SaveError naming where in the document the value is."""
    try:
        return field.check(value)
    except FieldError as error:
        raise SaveError(f"metadata {where} {error.problem}") from None


def _one_of(value: Any, names) -> bool:
    """Whether `value` is one of the names (a list or object from a file is not hashable: no `in` on a dict)."""
    return isinstance(value, str) and value in names


_OBJECT = Field("", dict, words="an object")
_TEXT = Field("", str)
_COUNT = Field("", int, low=0)
_NUMBER = Field("", float)
_PATIENCE = Field("", int, low=1)
_FORMAT_VERSION = Field("", int, low=1)
_KIND = Field("", str, choices=KINDS)
_PRECISION = Field("", str, choices=PRECISIONS)
_OPTIMIZER_TYPE = Field("", str, choices=tuple(OPTIMIZERS))
_SCHEDULER_TYPE = Field("", str, choices=tuple(SCHEDULERS))


def _object(value: Any, where: str) -> dict:
    return _check(_OBJECT, value, where)


def _optional_object(value: Any, where: str) -> dict | None:
    return None if value is None else _object(value, where)


def _check_keys(value: dict, where: str, required: tuple[str, ...], allowed: tuple[str, ...] | None = None) -> None:
    what = f"metadata {where}" if where else "metadata"
    missing = [k for k in required if k not in value]
    if missing:
        raise SaveError(f"{what} is missing {', '.join(missing)}")
    if allowed is not None:
        unknown = [k for k in value if k not in allowed]
        if unknown:
            raise SaveError(f"{what} has unknown key {unknown[0]!r:.60}; it has: {', '.join(allowed)}")


#: the typed fields of a history entry (one epoch, numbered from 1); others are free-form JSON. Accuracies
#: are fractions, rates, times and speeds are never negative: a value outside its range is damage, not a record
_HISTORY_FIELDS: tuple[Field, ...] = (
    Field("epoch", int, low=1),
    *(Field(name, float, nullable=True) for name in ("train_loss", "val_loss")),
    *(Field(name, float, nullable=True, low=0.0, high=1.0) for name in ("train_acc", "val_acc")),
    *(Field(name, float, nullable=True, low=0.0) for name in ("lr", "seconds", "elapsed", "samples_per_second")),
)
#: per-layer figures of a history entry: non-negative numbers (or null), by layer
_HISTORY_BY_LAYER = ("grad_norms", "weight_norms", "update_ratios")
#: metrics that are accuracies, when they are numbers (a metric may also be text or null)
_ACCURACY_METRICS = ("train_acc", "val_acc", "best_val_acc", "test_acc")
_FRACTION = Field("", float, low=0.0, high=1.0)
_NON_NEGATIVE = Field("", float, nullable=True, low=0.0)


def _check_history_entry(entry: Any, where: str) -> None:
    entry = _object(entry, where)
    for field in _HISTORY_FIELDS:
        if field.name in entry:
            _check(field, entry[field.name], f"{where}.{field.name}")
    for figure in _HISTORY_BY_LAYER:
        if figure in entry:
            for layer, value in _object(entry[figure], f"{where}.{figure}").items():
                _check(_NON_NEGATIVE, value, f"{where}.{figure}.{layer[:40]}")


def _check_history(history: Any) -> list:
    """A list of per-epoch objects in order: the epochs they number go up (1, 2, 3...: one entry per epoch)."""
    if not isinstance(history, list):
        raise _fail("history", "a list of per-epoch objects", history)
    if len(history) > MAX_HISTORY_ENTRIES:
        raise SaveError(f"metadata history has {len(history):,} entries, over the limit of {MAX_HISTORY_ENTRIES:,} "
                        f"(one per epoch) of a save")
    for i, entry in enumerate(history):
        _check_history_entry(entry, f"history[{i}]")
        epoch = entry.get("epoch")
        if epoch is not None and epoch != i + 1:
            raise SaveError(f"metadata history[{i}].epoch is {epoch!r:.40}, but it is entry {i + 1}: a history lists "
                            f"each epoch once, in order, from epoch 1")
    return history


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_rng_state(state: Any, where: str) -> dict:
    """A NumPy bit generator's state, checked by actually restoring it into a fresh generator.

    Only the bit generators NumPy ships are allowed by name: a file never chooses what to call.
    """
    if not isinstance(state, dict) or not _one_of(state.get("bit_generator"), BIT_GENERATORS):
        raise SaveError(f"metadata {where} is not a random generator state "
                        f"(expected an object with bit_generator one of {', '.join(BIT_GENERATORS)})")
    try:
        getattr(np.random, state["bit_generator"])().state = state
    except (TypeError, ValueError, KeyError, IndexError, OverflowError, AttributeError) as error:
        raise SaveError(f"metadata {where} is not a valid {state['bit_generator']} state ({error})") from None
    return state


def _check_shapes(value: Any, where: str) -> list[list[int]]:
    if not isinstance(value, list) or not all(isinstance(s, list) and all(is_whole_number(d) and d >= 0 for d in s)
                                               for s in value):
        raise _fail(where, "a list of shapes (lists of whole numbers)", value)
    return value


def _check_checkpoint(value: Any, history: list) -> dict:
    checkpoint = _object(value, "checkpoint")
    _check_keys(checkpoint, "checkpoint", _CHECKPOINT_KEYS, _CHECKPOINT_KEYS)
    epoch = _check(_COUNT, checkpoint["epoch"], "checkpoint.epoch")
    recorded = _last_epoch(history)
    if recorded is not None and epoch > recorded:
        raise SaveError(f"metadata checkpoint.epoch is {epoch}, but its history ends at epoch {recorded}: "
                        f"a checkpoint is written after the epochs it records")

    opt = _object(checkpoint["optimizer"], "checkpoint.optimizer")
    _check_keys(opt, "checkpoint.optimizer", ("type", "hyper", "step", "params"), ("type", "hyper", "step", "params"))
    _check(_OPTIMIZER_TYPE, opt["type"], "checkpoint.optimizer.type")
    _object(opt["hyper"], "checkpoint.optimizer.hyper")
    _check(_COUNT, opt["step"], "checkpoint.optimizer.step")
    _check_shapes(opt["params"], "checkpoint.optimizer.params")

    scheduler = _optional_object(checkpoint["scheduler"], "checkpoint.scheduler")
    if scheduler is not None:
        _check(_SCHEDULER_TYPE, scheduler.get("type"), "checkpoint.scheduler.type")
    stopping = _optional_object(checkpoint["early_stopping"], "checkpoint.early_stopping")
    if stopping is not None:
        keys = ("state", "patience", "min_delta")
        _check_keys(stopping, "checkpoint.early_stopping", keys, keys)
        _object(stopping["state"], "checkpoint.early_stopping.state")
        _check(_PATIENCE, stopping["patience"], "checkpoint.early_stopping.patience")
        _check(_NUMBER, stopping["min_delta"], "checkpoint.early_stopping.min_delta")

    rng = _object(checkpoint["rng"], "checkpoint.rng")
    _check_keys(rng, "checkpoint.rng", ("engine", "data"), ("engine", "data"))
    check_rng_state(rng["engine"], "checkpoint.rng.engine")
    if rng["data"] is not None:
        check_rng_state(rng["data"], "checkpoint.rng.data")
    _check_data_state(_optional_object(checkpoint["data_state"], "checkpoint.data_state"), epoch)
    return checkpoint


def _last_epoch(history: list) -> int | None:
    """The epoch a history ends at: its last numbered entry's, else its length (one entry per epoch); None if empty."""
    if not history:
        return None
    numbered = [entry["epoch"] for entry in history if entry.get("epoch") is not None]
    return numbered[-1] if numbered else len(history)


#: the parts of a session's data_state that a resume reads as numbers (the rest is free-form): where the batches
#: stand, the trainer's epochs and time, the sums of an unfinished epoch, and the epochs before this run's
_DATA_STATE_FIELDS: dict[str, tuple[Field, ...]] = {
    "": (Field("epoch_offset", int, low=0), Field("epochs_planned", int, low=1)),
    "batches": (Field("epoch", int, low=0), Field("position", int, low=0)),
    "trainer": (Field("epoch", int, low=0), Field("elapsed", float, low=0.0)),
    "trainer.tally": (*(Field(name, int, low=0) for name in ("batches", "seen", "correct")),
                      Field("loss_sum", float), Field("seconds", float, low=0.0)),
}


def _data_state_part(data_state: dict, part: str) -> dict | None:
    node: Any = data_state
    for key in filter(None, part.split(".")):
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def _check_data_state(data_state: dict | None, epoch: int) -> None:
    """The data pipeline's state is free-form, but what a resume reads from it is checked here, with the rest
    of the document: its counts and times (`_DATA_STATE_FIELDS`: never negative, and the trainer's epochs
    after `epoch_offset` add up to the checkpoint's epoch), and its generator states, since a resume calls
    `getattr(np.random, <bit_generator>)`: a file naming "seed" would make it call np.random.seed.

    The batch iterator's generator (data_state.batches.rng) must be a valid state, and so must any
    object anywhere in the state that names a bit_generator.
    """
    if data_state is None:
        return
    for part, fields in _DATA_STATE_FIELDS.items():
        values = _data_state_part(data_state, part)
        for field in fields if values is not None else ():
            if field.name in values:
                _check(field, values[field.name], ".".join(filter(None, ("checkpoint.data_state", part, field.name))))
    trainer = _data_state_part(data_state, "trainer")
    if trainer is not None and "epoch" in trainer and "epoch_offset" in data_state:
        if data_state["epoch_offset"] + trainer["epoch"] != epoch:
            raise SaveError(f"metadata checkpoint.data_state says {data_state['epoch_offset']} epochs before this run "
                            f"and {trainer['epoch']} in it, but checkpoint.epoch is {epoch}")
    batches = data_state.get("batches")
    if isinstance(batches, dict) and "rng" in batches:
        check_rng_state(batches["rng"], "checkpoint.data_state.batches.rng")
    pending: list[tuple[Any, str]] = [(data_state, "checkpoint.data_state")]
    while pending:  # iterative: a deeply nested state must not overflow the stack
        node, where = pending.pop()
        if isinstance(node, dict):
            if "bit_generator" in node:
                check_rng_state(node, where)
            pending.extend((child, f"{where}.{key[:40]}") for key, child in node.items()
                           if isinstance(child, (dict, list)))
        elif isinstance(node, list):
            pending.extend((child, f"{where}[{i}]") for i, child in enumerate(node) if isinstance(child, (dict, list)))


# ====================================================================== the document
@dataclass(frozen=True)
class Metadata:
    """A validated metadata document; `spec` is the engine's normalised model spec."""

    kind: str
    created_at: str
    nnstudio_version: str
    spec: dict
    dtype: str
    config: dict
    dataset: dict | None
    history: list
    metrics: dict
    checkpoint: dict | None
    format_version: int = FORMAT_VERSION

    @property
    def created(self) -> datetime:
        """`created_at` as an aware datetime (UTC)."""
        moment = parse_time(self.created_at)
        assert moment is not None  # checked by validate()
        return moment

    @property
    def dataset_name(self) -> str | None:
        return (self.dataset or {}).get("name")

    @property
    def epochs(self) -> int:
        """Epochs trained: the checkpoint's epoch, else the history's length (one entry per epoch)."""
        if self.checkpoint is not None:
            return self.checkpoint["epoch"]
        return len(self.history)

    @property
    def best_val_accuracy(self) -> float | None:
        """The best validation accuracy in the history (or the metrics' "val_acc"), if any was recorded."""
        values = [e["val_acc"] for e in self.history if isinstance(e, dict) and _is_number(e.get("val_acc"))]
        if values:
            return float(max(values))
        for key in ("best_val_acc", "val_acc"):
            if _is_number(self.metrics.get(key)):
                return float(self.metrics[key])
        return None

    def to_document(self) -> dict:
        return {"format_version": self.format_version, "kind": self.kind, "created_at": self.created_at,
                "nnstudio_version": self.nnstudio_version, "model": {"spec": self.spec, "dtype": self.dtype},
                "config": self.config, "dataset": self.dataset, "history": self.history,
                "metrics": self.metrics, "checkpoint": self.checkpoint}

    def encode(self) -> str:
        """The document as the JSON string stored in the header."""
        return json.dumps(self.to_document(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def check_version(document: Any) -> int:
    """The document's format version, refusing one this code cannot read (before any other check,
    so a newer file gets "upgrade nnstudio" rather than a list of unknown fields)."""
    if not isinstance(document, dict):
        raise SaveError(f"metadata must be a JSON object, got {kind_of(document)}")
    if "format_version" not in document:
        raise SaveError("metadata is missing format_version")
    found = _check(_FORMAT_VERSION, document["format_version"], "format_version")
    if found > FORMAT_VERSION:
        raise SaveError(f"written by a newer nnstudio (format {found}, this one reads up to {FORMAT_VERSION}); "
                        f"upgrade nnstudio to open it")
    return found


@dataclass(frozen=True)
class Parsed:
    """A header's metadata document, parsed once: the JSON value, or why there is none (`error`, raised by
    `decode` after the tensor table has been checked, so that a damaged file reports its worst problem)."""

    document: Any = None
    error: SaveError | None = None


def parse(header_metadata: dict[str, str]) -> Parsed:
    """Parse the nnstudio document in a safetensors header's `__metadata__` (once; see `refuse_newer`, `decode`)."""
    if METADATA_KEY not in header_metadata:
        return Parsed(error=SaveError(f"not an nnstudio save: a safetensors file without {METADATA_KEY!r} metadata "
                                      f"(weights written by another program)"))
    try:
        return Parsed(parse_json(header_metadata[METADATA_KEY], "metadata"))
    except SaveError as error:
        return Parsed(error=error)


def refuse_newer(parsed: Parsed) -> None:
    """Refuse a file of a newer format as soon as its header's metadata is read, before its tensor
    table (which may use dtypes or layouts this code does not know); other problems are left to `decode`."""
    document = parsed.document
    if parsed.error is None and isinstance(document, dict) and "format_version" in document:
        check_version(document)


def validate(document: Any) -> Metadata:
    """Check a parsed document against the schema; return it as `Metadata` or raise SaveError naming the field."""
    format_version = check_version(document)
    _check_keys(document, "", _TOP_LEVEL, _TOP_LEVEL)
    kind = _check(_KIND, document["kind"], "kind")
    check_time(document["created_at"], "created_at")
    _check(_TEXT, document["nnstudio_version"], "nnstudio_version")

    model = _object(document["model"], "model")
    _check_keys(model, "model", ("spec", "dtype"), ("spec", "dtype"))
    _check(_PRECISION, model["dtype"], "model.dtype")
    try:
        spec = validate_spec(model["spec"])
    except (ValueError, TypeError, RecursionError) as error:
        raise SaveError(f"metadata model.spec is not a valid model spec: {error}") from None

    config = _object(document["config"], "config")
    dataset = _optional_object(document["dataset"], "dataset")
    if dataset is not None:
        _check_keys(dataset, "dataset", ("name",))
        if dataset["name"] is not None:
            _check(_TEXT, dataset["name"], "dataset.name")
        _optional_object(dataset.get("normalisation"), "dataset.normalisation")
    history = _check_history(document["history"])
    metrics = _object(document["metrics"], "metrics")
    for key, value in metrics.items():
        if value is not None and not isinstance(value, (int, float, str)):  # bool is an int
            raise _fail(f"metrics.{key}", "a number, text, true/false or null", value)
        if key in _ACCURACY_METRICS and _is_number(value):
            _check(_FRACTION, value, f"metrics.{key}")

    checkpoint = document["checkpoint"]
    if kind == "checkpoint":
        checkpoint = _check_checkpoint(checkpoint, history)
    elif checkpoint is not None:
        raise SaveError("metadata of a model save must have checkpoint null; only checkpoints carry training state")
    return Metadata(kind, document["created_at"], document["nnstudio_version"], spec, model["dtype"], config,
                    dataset, history, metrics, checkpoint, format_version)


def decode(parsed: Parsed) -> Metadata:
    """The Metadata of a header's parsed document (`parse`), or SaveError (e.g. for another program's file)."""
    if parsed.error is not None:
        raise parsed.error
    return validate(parsed.document)


def build(kind: str, spec: dict, dtype: str, *, config: Any = None, dataset: Any = None, history: Any = None,
          metrics: Any = None, checkpoint: Any = None) -> Metadata:
    """A new, validated document stamped with the time and nnstudio's version."""
    if isinstance(dataset, str):
        dataset = {"name": dataset, "normalisation": None}
    document = to_json({
        "format_version": FORMAT_VERSION, "kind": kind, "created_at": utc_now(),
        "nnstudio_version": nnstudio_version(), "model": {"spec": spec, "dtype": dtype},
        "config": config if config is not None else {}, "dataset": dataset,
        "history": list(history) if history is not None else [], "metrics": metrics if metrics is not None else {},
        "checkpoint": checkpoint,
    }, "metadata")
    if isinstance(document["dataset"], dict):
        document["dataset"].setdefault("normalisation", None)
    return validate(document)
