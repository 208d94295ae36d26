"""Snapshots of pane 8, Inside: every view at 80x24, and the boundary and weights at 120x40.

The pane looks at fixed subjects (tests/inside_subjects.py: seeded models on fixed data, made-up
epoch records), so no run trains and every picture is the same on every machine. Regenerate after
a deliberate change with `pytest tests/test_studio_inside_snapshots.py --snapshot-update`, and look.
"""

from __future__ import annotations

import time

import pytest
from inside_subjects import digits_subject, plane_subject

from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.studio.launch import create_app

WAIT = 60.0  # seconds: only a bound for a hung test


def studio(tmp_path, subject):
    config = RunConfig.from_dict({"data": {"name": "blobs"}, "training": {"epochs": 10}})
    app = create_app(config=config, saves_dir=tmp_path / "saves", offer_resume=False)
    app.inside_subject = subject   # put in the pane's place once it is composed (`showing`)
    return app


def showing(key: str):
    """Show pane 8, press `key`, and wait until the pane has drawn that view."""
    async def run_before(pilot) -> None:
        pane = pilot.app.panes["inside"]
        pane.subject_source = lambda: pilot.app.inside_subject
        await pilot.press("8", key)
        deadline = time.monotonic() + WAIT
        while pane.busy or pane.dirty or not pane.draws or (key == "k" and pane.checked is None):
            assert time.monotonic() < deadline, "the Inside pane never finished drawing"
            await pilot.pause(0.02)
        await pilot.pause()
    return run_before


@pytest.fixture(scope="module")
def plane():
    return plane_subject()


@pytest.fixture(scope="module")
def digits():
    return digits_subject()


@pytest.mark.parametrize("key", ["b", "u", "d", "g", "c", "k"])
def test_plane_views_80x24(snap_compare, tmp_path, plane, key):
    assert snap_compare(studio(tmp_path, plane), terminal_size=(80, 24), run_before=showing(key))


def test_boundary_120x40(snap_compare, tmp_path, plane):
    assert snap_compare(studio(tmp_path, plane), terminal_size=(120, 40), run_before=showing("b"))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_weights(snap_compare, tmp_path, digits, size):
    assert snap_compare(studio(tmp_path, digits), terminal_size=size, run_before=showing("w"))


def test_conv_filters_80x24(snap_compare, tmp_path):
    assert snap_compare(studio(tmp_path, digits_subject("cnn")), terminal_size=(80, 24), run_before=showing("w"))


@pytest.mark.parametrize("key", ["a", "t"])
def test_latent_scatter_and_walk_80x24(snap_compare, tmp_path, key):
    subject = digits_subject("autoencoder", bottleneck=2)
    async def run_before(pilot) -> None:
        await showing("a")(pilot)
        if key == "t":
            await showing("t")(pilot)
    assert snap_compare(studio(tmp_path, subject), terminal_size=(80, 24), run_before=run_before)


def test_digits_confusion_80x24(snap_compare, tmp_path, digits):
    assert snap_compare(studio(tmp_path, digits), terminal_size=(80, 24), run_before=showing("c"))


def test_a_view_that_does_not_apply_80x24(snap_compare, tmp_path, digits):
    assert snap_compare(studio(tmp_path, digits), terminal_size=(80, 24), run_before=showing("b"))
