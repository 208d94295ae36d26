"""What a checkpoint holds besides the weights, and putting it back so training continues exactly.

Exact resumption needs four things restored, not just the weights: the optimizer's moments
and step counts, the schedule's epoch, the engine's random stream (dropout masks) and the
data-order generator (which batches come next). The optimizer's arrays are tensors in the
file, named `optimizer.state.<parameter index>.<name>` (e.g. `optimizer.state.0.exp_avg`);
everything else is JSON in the checkpoint's metadata.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np

from nnstudio.engine import random as engine_random
from nnstudio.engine.optim import EarlyStopping

from .errors import SaveError
from .schema import OPTIMIZERS, SCHEDULERS, Metadata, check_rng_state

OPTIMIZER_PREFIX = "optimizer.state."
_TENSOR_NAME = re.compile(r"optimizer\.state\.(0|[1-9][0-9]{0,8})\.([A-Za-z_][A-Za-z0-9_]*)")

#: exceptions the engine's constructors and load_state_dict may raise on a bad value from a file
_ENGINE_ERRORS = (ValueError, TypeError, KeyError, OverflowError)


# ====================================================================== writing
def optimizer_parts(optimizer) -> tuple[dict, dict[str, np.ndarray]]:
    """An optimizer's state split into JSON (type, hyperparameters, step, shapes) and named tensors."""
    state = optimizer.state_dict()
    if state["type"] not in OPTIMIZERS:
        raise SaveError(f"cannot checkpoint a {state['type']} optimizer; supported: {', '.join(OPTIMIZERS)}")
    tensors = {f"{OPTIMIZER_PREFIX}{i}.{name}": np.asarray(value)
               for i, entry in state["state"].items() for name, value in entry.items()}
    described = {"type": state["type"], "hyper": state["hyper"], "step": state["step"], "params": state["params"]}
    return described, tensors


def early_stopping_part(early_stopping: EarlyStopping | None) -> dict | None:
    """Progress plus settings: with them a resumed run can rebuild its early stopping as it was."""
    if early_stopping is None:
        return None
    return {"state": early_stopping.state_dict(), "patience": early_stopping.patience,
            "min_delta": early_stopping.min_delta}


def rng_part(generator: np.random.Generator | Mapping | None) -> dict | None:
    """A data-order generator (or its bit generator's state) as a JSON-able state."""
    if generator is None:
        return None
    state = generator.bit_generator.state if isinstance(generator, np.random.Generator) else dict(generator)
    return state


# ====================================================================== reading
def check_optimizer_tensors(described: dict, tensors: Mapping[str, tuple[tuple[int, ...], str]],
                            param_shapes: list[tuple[int, ...]], param_dtype: str) -> None:
    """Check the optimizer tensors a header lists (name -> (shape, safetensors dtype)) before any data
    is read: against the optimizer's own table of state names and the model's parameter shapes."""
    cls = OPTIMIZERS[described["type"]]
    saved_shapes = [tuple(s) for s in described["params"]]
    if saved_shapes != [tuple(s) for s in param_shapes]:
        raise SaveError(f"checkpoint optimizer was built for {len(saved_shapes)} parameters of shapes "
                        f"{saved_shapes[:4]}{'...' if len(saved_shapes) > 4 else ''}, which do not match the model's")
    problems = []
    for name, (shape, dtype) in tensors.items():
        match = _TENSOR_NAME.fullmatch(name)
        index = int(match.group(1)) if match else -1
        if not match or index >= len(param_shapes) or match.group(2) not in cls.state_names:
            problems.append(f"unexpected tensor {name!r:.80} ({cls.__name__} keeps {', '.join(cls.state_names)} "
                            f"for parameters 0..{len(param_shapes) - 1})")
            continue
        scalar = match.group(2) in cls.scalar_state
        expected_shape = () if scalar else tuple(param_shapes[index])
        expected_dtype = "I64" if scalar else param_dtype
        if tuple(shape) != expected_shape:
            problems.append(f"{name} has shape {list(shape)}, expected {list(expected_shape)}")
        elif dtype != expected_dtype:
            problems.append(f"{name} has dtype {dtype}, expected {expected_dtype}")
    if problems:
        raise SaveError("checkpoint optimizer state does not fit: " + "; ".join(problems[:5])
                        + (f"; and {len(problems) - 5} more" if len(problems) > 5 else ""))


def optimizer_state_from(described: dict, tensors: Mapping[str, np.ndarray]) -> dict:
    """The engine's optimizer `state_dict` reassembled from a checkpoint whose tensors passed the check above."""
    cls = OPTIMIZERS[described["type"]]
    state: dict[str, dict] = {}
    for name, array in tensors.items():
        match = _TENSOR_NAME.fullmatch(name)
        assert match is not None
        entry = match.group(2)
        state.setdefault(match.group(1), {})[entry] = int(array) if entry in cls.scalar_state else array
    return {"type": described["type"], "hyper": described["hyper"], "step": described["step"],
            "params": described["params"], "state": state}


@dataclass
class ResumeState:
    """Everything a checkpoint holds besides the weights, ready to restore.

        loaded = saves.load(path)
        model, resume = loaded.model, loaded.checkpoint
        optimizer = resume.make_optimizer(model.parameters())
        scheduler = resume.make_scheduler(optimizer)       # None if the run had none
        resume.restore_rng()                               # dropout continues its stream
        data_rng = resume.data_generator()                 # batches continue their order
        ... train from epoch resume.epoch + 1
    """

    epoch: int                      # epochs completed when the checkpoint was written
    optimizer_state: dict = field(repr=False)   # the engine's Optimizer.state_dict() format, arrays included
    scheduler_state: dict | None
    early_stopping_state: dict | None   # {"state", "patience", "min_delta"}
    engine_rng_state: dict
    data_rng_state: dict | None
    data_state: dict | None         # e.g. a BatchIterator.get_state()
    metadata: Metadata = field(repr=False)

    @classmethod
    def from_checkpoint(cls, metadata: Metadata, optimizer_state: dict) -> "ResumeState":
        part = metadata.checkpoint
        assert part is not None
        return cls(part["epoch"], optimizer_state, part["scheduler"], part["early_stopping"],
                   check_rng_state(part["rng"]["engine"], "checkpoint.rng.engine"), part["rng"]["data"],
                   part["data_state"], metadata)

    @property
    def optimizer_type(self) -> str:
        return self.optimizer_state["type"]

    # ------------------------------------------------------------------ making fresh objects
    def make_optimizer(self, params: Iterable):
        """A new optimizer of the saved type over `params` (the loaded model's), in the saved state."""
        cls = OPTIMIZERS[self.optimizer_type]
        try:
            optimizer = cls(params)  # defaults; the saved hyperparameters are checked and set by load_state_dict
            optimizer.load_state_dict(self.optimizer_state)
        except _ENGINE_ERRORS as error:
            raise SaveError(f"checkpoint optimizer state is invalid: {error}") from None
        return optimizer

    def make_scheduler(self, optimizer):
        """A new schedule on `optimizer` at the saved epoch (it sets the optimizer's rate), or None."""
        if self.scheduler_state is None:
            return None
        cls = SCHEDULERS[self.scheduler_state["type"]]
        try:
            settings = {name: self.scheduler_state[name] for name in cls.settings}
            scheduler = cls(optimizer, **settings)
            scheduler.load_state_dict(copy.deepcopy(self.scheduler_state))
        except _ENGINE_ERRORS as error:
            raise SaveError(f"checkpoint schedule state is invalid: {error}") from None
        return scheduler

    def make_early_stopping(self) -> EarlyStopping | None:
        """Early stopping with the saved patience, threshold and progress, or None."""
        if self.early_stopping_state is None:
            return None
        part = self.early_stopping_state
        try:
            stopping = EarlyStopping(part["patience"], part["min_delta"], part["state"].get("mode", "min"))
            stopping.load_state_dict(part["state"])
        except _ENGINE_ERRORS as error:
            raise SaveError(f"checkpoint early-stopping state is invalid: {error}") from None
        return stopping

    def data_generator(self) -> np.random.Generator | None:
        """The data-order generator as it was at the checkpoint (None if none was saved)."""
        if self.data_rng_state is None:
            return None
        bit_generator = getattr(np.random, check_rng_state(self.data_rng_state, "checkpoint.rng.data")["bit_generator"])()
        bit_generator.state = self.data_rng_state
        return np.random.Generator(bit_generator)

    # ------------------------------------------------------------------ restoring existing objects
    def restore_rng(self) -> None:
        """Continue the engine's random stream (dropout, init) from where the checkpoint left it."""
        engine_random.set_rng_state(copy.deepcopy(self.engine_rng_state))

    def restore(self, optimizer=None, scheduler=None, early_stopping: EarlyStopping | None = None, *,
                rng: bool = True) -> None:
        """Load the saved states into existing objects (each optional) and, unless rng=False, the engine's generator.

        The objects must be of the saved kinds (an Adam checkpoint does not load into SGD). Each
        object checks its state before changing anything, and the states themselves were checked
        when the file was loaded.
        """
        if scheduler is not None and self.scheduler_state is None:
            raise SaveError("the checkpoint has no schedule to restore")
        if early_stopping is not None and self.early_stopping_state is None:
            raise SaveError("the checkpoint has no early-stopping state to restore")
        try:
            if optimizer is not None:
                optimizer.load_state_dict(self.optimizer_state)
            if scheduler is not None:
                scheduler.load_state_dict(copy.deepcopy(self.scheduler_state))
            if early_stopping is not None:
                early_stopping.load_state_dict(self.early_stopping_state["state"])
        except _ENGINE_ERRORS as error:
            raise SaveError(f"cannot restore the checkpoint: {error}") from None
        if rng:
            self.restore_rng()

    def check(self, params: Iterable) -> None:
        """Check that every saved state loads (done by `load`, so a bad checkpoint fails there, not mid-resume)."""
        optimizer = self.make_optimizer(params)
        self.make_scheduler(optimizer)
        self.make_early_stopping()
        self.data_generator()
