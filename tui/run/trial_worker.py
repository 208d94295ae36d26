"""The process a local sweep runs each trial in: `python -m nnstudio.tui.run.trial_worker`, its task on stdin.

It reads one JSON task (`TrialTask`'s fields) from stdin, trains it (`run_trial`), and writes JSON
lines to stdout as it goes: {"kind": "started", "run": NAME} once its run folder exists, one
{"kind": "epoch", ...} per epoch, {"kind": "notice", "text": ...} for what its user should read (the
embedded digits standing in for a missing MNIST), and last {"kind": "result", ...} (`TrialResult`'s fields). It
runs in a session of its own, so a Ctrl+C typed in the terminal reaches only the sweep, which
passes a SIGTERM on: the trial stops at the batch boundary with a checkpoint, as `nnstudio train`
does. If the sweep has gone (its end of the pipe closed), the trial trains on to its end all the
same; `nnstudio sweep --resume` finds its run.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

from nnstudio.engine import events

from .reports import Notice
from .trials import TrialTask, run_trial


class Reporter:
    """Writes the trial's news as JSON lines; a closed pipe ends the news, never the trial."""

    def __init__(self, out) -> None:
        self.out, self.open = out, True
        self.run_reported = False

    def say(self, record: dict[str, Any]) -> None:
        if not self.open:
            return
        try:
            self.out.write(json.dumps(record) + "\n")
            self.out.flush()
        except (BrokenPipeError, OSError, ValueError):
            self.open = False

    def on_event(self, event: Any) -> None:
        if isinstance(event, events.EpochEnd):
            self.say({"kind": "epoch", "epoch": event.epoch + 1, "epochs": event.epochs, "train_loss": event.train_loss,
                      "val_loss": event.val_loss, "val_acc": event.val_accuracy})
        elif isinstance(event, Notice):
            self.say({"kind": "notice", "text": event.text})

    def started(self, run: str) -> None:
        if not self.run_reported:
            self.run_reported = True
            self.say({"kind": "started", "run": run})


def main() -> int:
    task = TrialTask(**json.loads(sys.stdin.read()))
    reporter = Reporter(sys.stdout)
    result = run_trial(task, on_event=reporter.on_event, on_run=reporter.started)
    record = dataclasses.asdict(result)
    record.pop("files", None)
    reporter.say({"kind": "result", **record})
    return 0


if __name__ == "__main__":
    sys.exit(main())
