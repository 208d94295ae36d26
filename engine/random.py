"""The engine's one random generator: weight initialisation and dropout draw from it.

Seeding it (`manual_seed`) makes a run repeatable; its state can be captured and restored
(`get_rng_state` / `set_rng_state`) so that a resumed run continues the same random stream.
"""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Restart the engine's random stream from `seed` (as `torch.manual_seed`)."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def generator() -> np.random.Generator:
    """The generator the engine draws from."""
    return _generator


def get_rng_state() -> dict:
    """A JSON-able snapshot of the generator's state."""
    return _generator.bit_generator.state


#: the bit generators a snapshot may name (a snapshot can come from a file: never look up anything else)
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


def set_rng_state(state: dict) -> None:
    """Continue the random stream from a snapshot taken by `get_rng_state`."""
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in BIT_GENERATORS:
        raise ValueError(f"not a random generator state: bit_generator must be one of {', '.join(BIT_GENERATORS)}, "
                         f"got {name!r}")
    bit_generator = getattr(np.random, name)()
    bit_generator.state = state
    global _generator
    _generator = np.random.Generator(bit_generator)
