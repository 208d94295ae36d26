"""Keeping Python's garbage collector out of the way of key presses.

The interface thread and the training thread share one interpreter, and the cycle collector runs
in whichever thread happens to allocate when a collection is due, holding the interpreter lock
throughout. The studio keeps some 150,000 objects alive (Textual's widgets, styles and caches,
the session); a full collection walks all of them, measured here at 50-170 ms during training,
and it came every few key presses: it made most of the slowest pane switches.

So once the studio is up, the objects it has are moved out of the collector's sight for good
(`gc.freeze`: they live as long as the app, and reference counting still frees whatever of them
goes), and full collections come ten times less often (OLD_THRESHOLD: after 100 collections of the
middle generation instead of 10). Young cycles are still collected as often as ever. Measured
with scripts/bench_studio.py's key presses: no full collection during 40 pane switches, where
there had been one in every few. When the studio closes, all is put back as it was (a program or a
test run that opens the studio again must not keep every earlier studio's objects forever).
"""

from __future__ import annotations

import gc

#: collections of the middle generation between two full collections (Python's default: 10)
OLD_THRESHOLD = 100


def spare_the_collector() -> tuple[int, int, int]:
    """Freeze the objects alive now and make full collections rarer (process-wide: call it once the app is
    up); returns the thresholds before, for `restore_the_collector`."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(before[0], before[1], max(before[2], OLD_THRESHOLD))
    return before


def restore_the_collector(thresholds: tuple[int, int, int]) -> None:
    """Undo `spare_the_collector` (when the studio closes): the frozen objects can be collected again."""
    gc.unfreeze()
    gc.set_threshold(*thresholds)
