"""The tensors a save holds: what the model its spec describes has, and whether a file's tensors fit it.

One set of checks for writing (never write what would be refused), loading and listing: names,
shapes and dtypes against the spec's model (`compare`, `refuse_mismatch`), a spec far bigger than
the file's weights refused before it is built (`refuse_oversized_spec`), and weights that are not
finite numbers (`not_finite`), which a model cannot predict with nor a run resume from.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from nnstudio.engine import random as engine_random
from nnstudio.engine.nn.module import Module
from nnstudio.engine.spec import build_model, count_parameters

from . import format as fmt
from . import schema
from .errors import SaveError
from .schema import Metadata

Signature = dict[str, tuple[tuple[int, ...], str]]  # tensor name -> (shape, safetensors dtype)
#: models up to this many parameters are built even when the file lacks weights (cheap, and gives named errors)
_BUILD_BEFORE_CHECKING = 1_000_000


@contextlib.contextmanager
def _engine_rng_untouched() -> Iterator[None]:
    """Building a model draws initial weights from the engine's generator; loading must not move
    the stream of a session that is training (its dropout masks would change), so put it back.

    The generator is global: a build in one thread while another trains is still visible to it.
    """
    state = engine_random.get_rng_state()
    try:
        yield
    finally:
        engine_random.set_rng_state(state)


def build(spec: dict, dtype: str) -> Module:
    """The model a spec describes, in the save's precision, the engine's random stream left where it was."""
    try:
        with _engine_rng_untouched():
            model = build_model(spec)
    except (AttributeError, ValueError, TypeError, NotImplementedError) as error:  # e.g. a layer this engine lacks
        raise SaveError(f"cannot build the model its spec describes: {error}") from None
    if model_dtype(model) != dtype:
        model.to(np.dtype(dtype))
    return model


def model_dtype(model: Module) -> str:
    """The one floating-point precision of a model's parameters (mixed precision is not supported)."""
    kinds = {p.data.dtype for p in model.parameters() if p.data.dtype.kind == "f"}
    names = sorted(str(k) for k in kinds)
    if len(names) > 1 or (names and names[0] not in schema.PRECISIONS):
        raise SaveError(f"model parameters are {', '.join(names)}; a save holds one of {', '.join(schema.PRECISIONS)}")
    return names[0] if names else "float32"


def _signature(model: Module) -> Signature:
    entries = [*((n, p.data) for n, p in model.named_parameters()), *model.named_buffers()]
    return {name: (tuple(np.shape(a)), fmt.dtype_name(np.asarray(a).dtype)) for name, a in entries}


@dataclass(frozen=True)
class Expected:
    """What a spec's model holds: its tensors (parameters and buffers) and its parameters' shapes in order."""

    tensors: Signature
    param_shapes: tuple[tuple[int, ...], ...]

    @classmethod
    def of(cls, model: Module) -> "Expected":
        return cls(_signature(model), tuple(tuple(p.shape) for p in model.parameters()))


@functools.lru_cache(maxsize=64)
def spec_expected(spec_json: str, dtype: str) -> Expected:
    """Cached by spec: a listing checks many headers of the same few models, and building one allocates its weights."""
    return Expected.of(build(json.loads(spec_json), dtype))


def expected_for(metadata: Metadata) -> Expected:
    return spec_expected(json.dumps(metadata.spec, sort_keys=True), metadata.dtype)


def compare(found: Signature, expected: Signature) -> list[str]:
    """Every way the tensors differ from what the spec's model has, by name."""
    problems = []
    missing = [k for k in expected if k not in found]
    if missing:
        problems.append(f"missing {', '.join(_first(missing))}")
    extra = [k for k in found if k not in expected]
    if extra:
        problems.append(f"unexpected {', '.join(_first(repr(k)[:80] for k in extra))}")
    for name, (shape, dtype) in expected.items():
        if name in found:
            got_shape, got_dtype = found[name]
            if tuple(got_shape) != shape:
                problems.append(f"{name} has shape {list(got_shape)}, the spec gives {list(shape)}")
            elif got_dtype != dtype:
                problems.append(f"{name} has dtype {got_dtype}, expected {dtype}")
    return problems


def _first(items, limit: int = 5) -> list[str]:
    items = list(items)
    return items[:limit] + ([f"and {len(items) - limit} more"] if len(items) > limit else [])


def refuse_oversized_spec(spec: dict, found: Signature) -> None:
    """Refuse a spec far bigger than the weights the file holds before building it: a tiny file must
    not make us allocate and initialise a model of hundreds of megabytes just to find it lacking.
    (Small models are built, so that the mismatch is reported tensor by tensor.)"""
    expected = count_parameters(spec)
    held = sum(math.prod(shape) for shape, _ in found.values())
    if held < expected and expected > _BUILD_BEFORE_CHECKING:
        raise SaveError(f"tensors do not match the model spec: the file holds {held:,} model values, "
                        f"the spec's model has {expected:,} parameters")


def not_finite(tensors: Iterable[tuple[str, Iterable[np.ndarray]]]) -> str | None:
    """Which model tensors hold NaN or infinite values ("2 of 6 tensors (0.weight, 0.bias) hold NaN or
    infinite values"), or None if all are finite. Each tensor comes in parts (its slices, as read from a
    file), so a listing never holds a whole model's data; a model with such weights predicts nothing
    (every output NaN), and resuming it trains nothing."""
    total, bad = 0, []
    for name, parts in tensors:
        total += 1
        if not all(np.isfinite(part).all() for part in parts if part.dtype.kind == "f"):
            bad.append(name)
    if not bad:
        return None
    return (f"{len(bad)} of {total} tensors ({', '.join(_first(bad, 3))}) "
            f"{'holds' if len(bad) == 1 else 'hold'} NaN or infinite values")


def refuse_not_finite(tensors: Iterable[tuple[str, Iterable[np.ndarray]]]) -> None:
    problem = not_finite(tensors)
    if problem is not None:
        raise SaveError(f"its weights are not finite: {problem}; retrain it, or open an earlier checkpoint")


def refuse_mismatch(problems: list[str]) -> None:
    if problems:
        raise SaveError("tensors do not match the model spec: " + "; ".join(problems[:6])
                        + (f"; and {len(problems) - 6} more problems" if len(problems) > 6 else ""))
