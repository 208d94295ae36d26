"""Where a run came from, in words and as data: new, a save it continued, a checkpoint it resumed, or the run and
epoch it forked from and the settings it changed there (`forking.fork` records that origin; the fork's history
starts with its parent's config, so what each setting was before the fork is known too).

    describe_origin(history.origin, history.runs[0]["config"])   # "forked from mnist-mlp-...@5 (lr 0.1 → 0.01)"
    fork = fork_of(history.origin, history.runs[0]["config"])   # Fork: parent, epoch, {path: (before, after)}
    str(fork)                                                    # "fork of mnist-mlp-...@5 (lr 0.1 → 0.01)"
    trial_of(history.origin)                                     # SweepTrial("lr-sweep", 3, "lr 0.1"), or None

A sweep's trial is a new run whose origin also names its sweep, its number there and its label (`trial_origin`),
so that the run says where it came from and an overlay of a sweep's trials names each by what the sweep varied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nnstudio.engine.fields import number_text

from .config import setting_in
from .settings import NAMED_BY_VALUE, SHORT_NAMES

#: what a fork's `changed` may hold that is not a change of how it trains (where its checkpoints go)
NOT_CHANGES = ("checkpoints.folder",)


@dataclass(frozen=True)
class Fork:
    """A fork's branch point: its parent run, the epoch it branched after, and each setting it changed there."""

    parent: str
    epoch: int | None
    changed: dict[str, tuple[Any, Any]]   # dotted path -> (the parent's value, the fork's)

    @property
    def point(self) -> str:
        """"PARENT@EPOCH", as `nnstudio train --fork` takes it."""
        return self.parent if self.epoch is None else f"{self.parent}@{self.epoch}"

    def changes_text(self) -> str:
        """"lr 0.1 → 0.01, wd 0 → 0.0001", or "no setting changed"."""
        return ", ".join(change_text(path, before, after) for path, (before, after) in self.changed.items()) \
            or "no setting changed"

    def __str__(self) -> str:
        return f"fork of {self.point} ({self.changes_text()})"

    def as_record(self) -> dict:
        """As `--json` writes it: {"run", "epoch", "changed": {path: {"from": before, "to": after}}}."""
        return {"run": self.parent, "epoch": self.epoch,
                "changed": {path: {"from": before, "to": after} for path, (before, after) in self.changed.items()}}


def change_text(path: str, before, after) -> str:
    """"lr 0.1 → 0.01", "adam → sgd" (a setting whose value names itself), "nesterov false → true"."""
    name = "" if path in NAMED_BY_VALUE else SHORT_NAMES.get(path, path)
    return f"{name} {value_text(before)} → {value_text(after)}".strip()


def value_text(value) -> str:
    """A setting's value as a config file writes it (true, 0.001, 1e-08); "-" when it is not known."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return number_text(value)
    return str(value)


def fork_of(origin: dict, parent_config: dict | None = None) -> Fork | None:
    """The branch point of a run whose origin is a fork (None for any other run). `parent_config` is the
    config the parent trained with there (the fork's first run record), for what each setting was before."""
    if not isinstance(origin, dict) or origin.get("kind") != "fork":
        return None
    changed = origin.get("changed") if isinstance(origin.get("changed"), dict) else {}
    epoch = origin.get("epoch")
    parent = origin.get("run") or origin.get("path") or "?"
    return Fork(str(parent), epoch if type(epoch) is int else None,
                {path: (setting_in(parent_config, path), after) for path, after in changed.items() if path not in NOT_CHANGES})


@dataclass(frozen=True)
class SweepTrial:
    """The sweep a run was a trial of, its number there and its label ("sigmoid ×8, He", "lr 0.1")."""

    sweep: str
    number: int
    label: str

    def __str__(self) -> str:
        return f"trial {self.number} of the sweep {self.sweep}" + (f" ({self.label})" if self.label else "")


def trial_origin(sweep: str, number: int, label: str) -> dict:
    """The origin a sweep's trial records for its run."""
    return {"kind": "new", "sweep": sweep, "trial": number, "label": label}


def trial_of(origin: dict) -> SweepTrial | None:
    """The sweep trial a run was (None for a run started any other way, or one a sweep did not name)."""
    if not isinstance(origin, dict) or not isinstance(origin.get("sweep"), str) or type(origin.get("trial")) is not int:
        return None
    label = origin.get("label")
    return SweepTrial(origin["sweep"], origin["trial"], label if isinstance(label, str) else "")


def describe_origin(origin: dict, parent_config: dict | None = None) -> str:
    """Where a run came from, in words: "new", "continued from the save X (5 epochs)",
    "forked from R@3 (lr 0.1 → 0.01)"."""
    kind = origin.get("kind")
    if (trial := trial_of(origin)) is not None:
        return f"new: {trial}"
    if kind in (None, "new"):
        return "new" if kind else "not recorded"
    if kind == "save":
        if origin.get("reinitialised"):
            return f"the settings of the save {origin.get('path')}, with fresh weights"
        epochs = origin.get("epochs")
        return f"continued from the save {origin.get('path')}" + (f" ({epochs} epochs)" if epochs else "")
    if kind == "checkpoint":
        return f"resumed from the checkpoint {origin.get('path')}"
    fork = fork_of(origin, parent_config)
    if fork is not None:
        return f"forked from {fork.point} ({fork.changes_text()})"
    return str(kind)
