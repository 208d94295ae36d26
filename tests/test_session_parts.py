"""The session's parts stand on their own: its controls (status and commands) need no run, and the ways of
going on from a file build whatever session class they are called on."""

from __future__ import annotations

from nnstudio.engine import events
from nnstudio.tui.run import RunConfig, Session, Status, StatusChanged
from nnstudio.tui.run.controls import RunControls
from nnstudio.tui.run.reports import SessionError


def test_controls_move_the_status_without_a_run():
    seen = []
    controls = RunControls(seen.append)
    controls.pause()                                       # nothing under way: the status stays
    assert controls.status is Status.IDLE and seen == []
    controls.controller.reset()
    controls._status = Status.RUNNING                      # as if a loop were running
    controls.pause()
    controls.stop()
    assert [e.status for e in seen if isinstance(e, StatusChanged)] == ["pausing", "stopping"]
    controls._failed(SessionError("no data"))
    assert controls.status is Status.FAILED
    assert [e.message for e in seen if isinstance(e, events.Failed)] == ["no data"]


class _Traced(Session):
    """A session class of a front end's own."""


def test_a_session_subclass_continues_a_save_as_itself(tmp_path):
    config = RunConfig().replace(**{"data.name": "blobs", "training.epochs": 1,
                                    "checkpoints.folder": str(tmp_path)})
    first = Session(config, checkpoints=False)
    first.run()
    again = _Traced.from_save(first.save("first"))
    assert type(again) is _Traced and again.epochs_done == 1
