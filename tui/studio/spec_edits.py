"""A model spec edited as the builder edits it: layers by position, inserted, replaced, removed, moved.

Plain functions on spec dicts (no widgets), each returning a new spec and leaving its argument
as it was, so the builder keeps every draft for undo and tests check edits without an app.
An autoencoder's layers live in two lists (encoder, decoder); a position names the list.
"""

from __future__ import annotations

import copy
from typing import NamedTuple

from nnstudio.engine.spec import SpecError, Summary, is_autoencoder, summarize


class Position(NamedTuple):
    """Where a layer sits in a spec: its section ("layers", "encoder" or "decoder") and index there."""

    section: str
    index: int


def sections_of(spec: dict) -> tuple[str, ...]:
    """The layer lists of a spec, in the order data flows through them."""
    return ("encoder", "decoder") if is_autoencoder(spec) else ("layers",)


def positions(spec: dict) -> list[Position]:
    """Every layer's position, in order: one per table row."""
    return [Position(section, index) for section in sections_of(spec)
            for index in range(len(spec.get(section, [])))]


def row_name(position: Position) -> str:
    """The row label: "3" for a plain stack, "enc 1" / "dec 0" for an autoencoder's two halves."""
    if position.section == "layers":
        return str(position.index)
    return f"{position.section[:3]} {position.index}"


def check(spec: dict) -> tuple[Summary | None, SpecError | None]:
    """The spec's summary, or the SpecError saying why it is not a valid model."""
    try:
        return summarize(spec), None
    except SpecError as error:
        return None, error


def with_layer(spec: dict, position: Position, layer: dict, *, replace: bool = False) -> dict:
    """A copy of `spec` with `layer` inserted at `position` (or put in place of the layer there)."""
    draft = copy.deepcopy(spec)
    layers = draft.setdefault(position.section, [])
    if replace:
        layers[position.index] = layer
    else:
        layers.insert(position.index, layer)
    return draft


def without_layer(spec: dict, position: Position) -> dict:
    """A copy of `spec` without the layer at `position`."""
    draft = copy.deepcopy(spec)
    del draft[position.section][position.index]
    return draft


def moved(spec: dict, position: Position, step: int) -> tuple[dict, int] | None:
    """A copy of `spec` with the layer at `position` moved one place (`step` -1 or +1), and the row it is on
    now; in an autoencoder it crosses between encoder and decoder. None if it cannot move that way."""
    draft = copy.deepcopy(spec)
    section, index = position
    layers, target = draft[section], index + step
    if 0 <= target < len(layers):
        layers[index], layers[target] = layers[target], layers[index]
        return draft, positions(draft).index(Position(section, target))
    if section == "encoder" and step > 0:
        draft["decoder"].insert(0, layers.pop(index))   # the last encoder layer becomes the first decoder layer
        return draft, positions(draft).index(Position("decoder", 0))
    if section == "decoder" and step < 0:
        draft["encoder"].append(layers.pop(index))
        return draft, positions(draft).index(Position("encoder", len(draft["encoder"]) - 1))
    return None
