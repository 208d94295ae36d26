"""A data set downloaded before a run: the session reports it, and `nnstudio train` and the studio show it.

The download itself is the fetcher's (tested against a local HTTP server in test_fetch); here the
loader is replaced by one that reports progress as the fetcher does, then hands back a data set.
"""

from __future__ import annotations

import io
import itertools
import sys
import types

import pytest
from rich.console import Console

from nnstudio.datasets import DatasetError, DownloadProgress, load_dataset
from nnstudio.tui.run import training_data as run_data
from nnstudio.tui.cli import report as report_module
from nnstudio.tui.cli import train as train_cmd
from nnstudio.tui.main import main
from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.run import Session
from nnstudio.tui.studio import runner
from nnstudio.tui.studio.launch import create_app
from nnstudio.tui.studio.messages import SessionEvent
from nnstudio.tui.studio.runner import TrainingBridge
from nnstudio.tui.cli.report import Reporter

MB = 1_000_000
STEPS = [DownloadProgress("train-images-idx3-ubyte.gz", "http://127.0.0.1/x", done, 10 * MB)
         for done in (0, 2 * MB, 5 * MB, 10 * MB)]


SPEC = {"input_shape": [2], "layers": [{"type": "linear", "out": 3}]}


def downloading_loader(monkeypatch, failure: BaseException | None = None):
    """The loader reports the download's steps, then hands back a data set (or fails, e.g. a checksum)."""
    def load(name, *, progress=None, **options):
        for step in STEPS:
            progress(step)
        if failure is not None:
            raise failure
        return load_dataset("blobs", size=60, classes=3)

    monkeypatch.setattr(run_data, "load_dataset", load)


def test_the_session_reports_a_download_as_events(tmp_path, monkeypatch):
    downloading_loader(monkeypatch)
    seen = []
    config = RunConfig.from_dict({"model": {"spec": SPEC}, "checkpoints": {"folder": str(tmp_path)}})
    Session(config, on_event=seen.append).prepare()
    assert [e for e in seen if isinstance(e, DownloadProgress)] == STEPS


def test_train_shows_download_bars_on_a_terminal_until_the_run_starts(tmp_path, monkeypatch):
    downloading_loader(monkeypatch)
    out = io.StringIO()
    reporter = Reporter(Console(file=out, force_terminal=True, width=100))
    config = RunConfig.from_dict({"model": {"spec": SPEC}, "checkpoints": {"folder": str(tmp_path)}})
    session = Session(config, on_event=reporter)
    session.prepare()
    bars = reporter.downloads
    assert bars is not None and bars.live.is_started and "train-images-idx3-ubyte.gz" in out.getvalue()
    reporter.header(session, session.epochs_planned, resumed=False)
    assert reporter.downloads is None and not bars.live.is_started  # gone: the run's display takes over
    quiet = Reporter(Console(file=io.StringIO(), force_terminal=False))
    quiet(STEPS[0])
    assert quiet.downloads is None  # a pipe or a log gets no bars


@pytest.mark.parametrize("failure, status, line", [
    (DatasetError("train-images-idx3-ubyte.gz: sha256 does not match"), 1,
     "nnstudio train: error: train-images-idx3-ubyte.gz: sha256 does not match"),
    (KeyboardInterrupt(), 130, "interrupted"),
])
def test_a_load_that_fails_after_the_download_started_takes_the_bars_down(tmp_path, monkeypatch, capsys, failure,
                                                                          status, line):
    monkeypatch.chdir(tmp_path)
    downloading_loader(monkeypatch, failure)
    shown, made, download_bars = io.StringIO(), [], report_module.download_bars

    def bars(console):
        made.append(download_bars(console))
        return made[-1]

    monkeypatch.setattr(train_cmd, "Console", lambda **options: Console(file=shown, force_terminal=True, width=100))
    monkeypatch.setattr(report_module, "download_bars", bars)
    stderr = sys.stderr
    assert main(["train", "--dataset", "blobs"]) == status
    assert len(made) == 1 and not made[0].live.is_started and sys.stderr is stderr  # stopped, nothing redirected
    assert shown.getvalue().rstrip().endswith("\x1b[?25h")  # the cursor shows again
    assert capsys.readouterr().err == line + "\n"  # one line on stderr itself, not drawn into a bar's display


def test_the_studio_bridge_passes_a_download_on_a_few_times_a_second(monkeypatch):
    clock = itertools.count(1000 * 1024)
    monkeypatch.setattr(runner, "time", types.SimpleNamespace(monotonic=lambda: next(clock) / 1024))  # 1/1024 s a call
    posted = []
    bridge = TrainingBridge(posted.append)
    for done in range(0, 10 * MB, 10_000):  # a thousand chunks in a moment (just under a second)
        bridge.on_event(DownloadProgress("f.gz", "u", done, 10 * MB))
    bridge.on_event(STEPS[-1])  # the last one always arrives
    assert 2 <= len(posted) <= 5 and posted[-1].event == STEPS[-1]
    assert [message.event.done for message in posted] == [0, 2_560_000, 5_120_000, 7_680_000, 10 * MB]  # 4 a second


async def test_the_monitor_shows_how_far_the_download_is(tmp_path):
    app = create_app(config=RunConfig(), saves_dir=tmp_path, offer_resume=False)
    async with app.run_test() as pilot:
        app.post_message(SessionEvent(STEPS[2], app.runner.bridge))
        await pilot.pause()
        line = str(app.monitor.query_one("#run-progress").render())
        assert "downloading train-images-idx3-ubyte.gz" in line and "5.0 MB of 10.0 MB (50%)" in line
