"""A data set downloaded before a run: the session reports it, and `nnstudio train` and the studio show it.

The download itself is the fetcher's (tested against a local HTTP server in test_fetch); here the
loader is replaced by one that reports progress as the fetcher does, then hands back a data set.
"""

from __future__ import annotations

import io

from rich.console import Console

from nnstudio.datasets import DownloadProgress, load_dataset
from nnstudio.tui import session as session_module
from nnstudio.tui.config import RunConfig
from nnstudio.tui.session import Session
from nnstudio.tui.studio.app import create_app
from nnstudio.tui.studio.messages import SessionEvent
from nnstudio.tui.studio.runner import TrainingBridge
from nnstudio.tui.train_cmd import Reporter

MB = 1_000_000
STEPS = [DownloadProgress("train-images-idx3-ubyte.gz", "http://127.0.0.1/x", done, 10 * MB)
         for done in (0, 2 * MB, 5 * MB, 10 * MB)]


def downloading_loader(monkeypatch):
    def load(name, *, progress=None, **options):
        for step in STEPS:
            progress(step)
        return load_dataset("blobs", size=60, classes=3)

    monkeypatch.setattr(session_module, "load_dataset", load)


def test_the_session_reports_a_download_as_events(tmp_path, monkeypatch):
    downloading_loader(monkeypatch)
    seen = []
    config = RunConfig.from_dict({"model": {"spec": {"input_shape": [2], "layers": [{"type": "linear", "out": 3}]}},
                                  "checkpoints": {"folder": str(tmp_path)}})
    Session(config, on_event=seen.append).prepare()
    assert [e for e in seen if isinstance(e, DownloadProgress)] == STEPS


def test_train_shows_download_bars_on_a_terminal_until_the_run_starts():
    out = io.StringIO()
    reporter = Reporter(Console(file=out, force_terminal=True, width=100))
    for step in STEPS:
        reporter(step)
    assert reporter.downloads is not None and "train-images-idx3-ubyte.gz" in out.getvalue()
    quiet = Reporter(Console(file=io.StringIO(), force_terminal=False))
    quiet(STEPS[0])
    assert quiet.downloads is None  # a pipe or a log gets no bars


def test_the_studio_bridge_passes_a_download_on_a_few_times_a_second():
    posted = []
    bridge = TrainingBridge(posted.append)
    for done in range(0, 10 * MB, 10_000):  # a thousand chunks in a moment
        bridge.on_event(DownloadProgress("f.gz", "u", done, 10 * MB))
    bridge.on_event(STEPS[-1])  # the last one always arrives
    assert 2 <= len(posted) <= 5 and posted[-1].event == STEPS[-1]


async def test_the_monitor_shows_how_far_the_download_is(tmp_path):
    app = create_app(config=RunConfig(), saves_dir=tmp_path, offer_resume=False)
    async with app.run_test() as pilot:
        app.post_message(SessionEvent(STEPS[2]))
        await pilot.pause()
        line = str(app.monitor.query_one("#run-progress").render())
        assert "downloading train-images-idx3-ubyte.gz" in line and "5.0 MB of 10.0 MB (50%)" in line
