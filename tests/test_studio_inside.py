"""Pane 8, Inside, driven by keys while a real run trains (blobs, a tiny MLP), and at small terminal sizes.

Each view is drawn in a worker from a copy of the weights; tests wait for the pane's drawing to say
what they expect (never for a time).
"""

from __future__ import annotations

import pytest
from studio_host import screen_text
from test_studio_app import blobs, studio, wait_for, wait_status  # noqa: F401  (blobs: a fixture)

from nnstudio.engine import events
from nnstudio.engine.tensor import Tensor
from nnstudio.tui.run import Session, SessionError, Status
from nnstudio.tui.studio.inside_pane import InsidePane

DEEP_SPEC = {"input_shape": [2], "layers": [{"type": "linear", "out": 16}, {"type": "tanh"},
                                            {"type": "linear", "out": 8}, {"type": "relu"},
                                            {"type": "linear", "out": 3}]}


def pane(app):
    return app.panes["inside"]


def drawn(app) -> str:
    """The drawing as one line of words (a message may be wrapped anywhere)."""
    return " ".join(" ".join(line.plain.split()) for line in pane(app).drawn)


async def shows(pilot, text: str) -> str:
    """Wait until the pane's drawing contains `text`; return the drawing."""
    await wait_for(pilot, lambda: text in drawn(pilot.app) and not pane(pilot.app).busy, f"the Inside pane to show {text!r}")
    return drawn(pilot.app)


async def trained(pilot) -> None:
    await pilot.press("space")
    await wait_status(pilot, "finished")


async def test_before_training_the_pane_looks_at_the_model_space_would_train(tmp_path, blobs):
    app = studio(tmp_path, blobs, **{"model.spec": DEEP_SPEC})
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("8")   # no session yet: the pane prepares one, untrained
        await shows(pilot, "Decision boundary")
        await pilot.press("k")
        await shows(pilot, "passed: the backward pass agrees")
        await pilot.press("u")
        await shows(pilot, "layer 1/3 linear 2→16, after tanh")
        assert app.session is None   # nothing was trained, nothing replaced


async def test_a_model_that_cannot_be_built_is_one_line(tmp_path, blobs, monkeypatch):
    def broken(self):
        raise SessionError("blobs: the data set cannot be loaded (a test)")
    monkeypatch.setattr(Session, "prepare", broken)
    app = studio(tmp_path, blobs)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("8")
        await shows(pilot, "There is no model to look inside yet: blobs: the data set cannot be loaded (a test)")


async def test_the_boundary_is_redrawn_while_training_and_only_in_view(tmp_path, blobs):
    app = studio(tmp_path, blobs, **{"training.epochs": 400})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("8", "space")
        await wait_status(pilot, "running")
        first = pane(app).draws
        await wait_for(pilot, lambda: pane(app).draws >= first + 2 or app.status != "running",
                       "two live redraws of the boundary")
        assert "Decision boundary" in drawn(app) and "% right" in drawn(app)
        await pilot.press("3")   # out of view: no more drawing while it trains
        await pilot.pause(0.05)
        await wait_for(pilot, lambda: not pane(app).busy, "the drawing under way to end")
        hidden_from, epoch = pane(app).draws, app.session.epochs_done
        await wait_for(pilot, lambda: app.session.epochs_done >= epoch + 20 or app.status != "running",
                       "twenty more epochs")
        assert pane(app).draws == hidden_from
        await pilot.press("x")
        await wait_status(pilot, "stopped")
        await pilot.press("8")
        await wait_for(pilot, lambda: pane(app).draws > hidden_from, "a redraw once back in view")


async def test_every_view_key_shows_its_view_or_says_what_it_needs(tmp_path, blobs):
    app = studio(tmp_path, blobs, **{"model.spec": DEEP_SPEC, "training.epochs": 4})
    async with app.run_test(size=(100, 30)) as pilot:
        await trained(pilot)
        await pilot.press("8")
        await shows(pilot, "Decision boundary")
        expected = {"u": "Neurons · layer 1/3", "w": "weights as images need image inputs", "d": "Distributions",
                    "g": "Gradient flow", "a": "the latent view needs an autoencoder", "c": "Confusion",
                    "k": "passed", "b": "Decision boundary"}
        for key, text in expected.items():
            await pilot.press(key)
            await shows(pilot, text)
            assert pane(app).view is not None


async def test_layer_keys_walk_the_layers_and_stop_at_the_ends(tmp_path, blobs):
    app = studio(tmp_path, blobs, **{"model.spec": DEEP_SPEC, "training.epochs": 2})
    async with app.run_test(size=(100, 30)) as pilot:
        await trained(pilot)
        await pilot.press("8", "u")
        await shows(pilot, "layer 1/3 linear 2→16, after tanh")
        await pilot.press("right_square_bracket")
        await shows(pilot, "layer 2/3 linear 16→8, after relu")
        await pilot.press("right_square_bracket", "right_square_bracket")
        await shows(pilot, "layer 3/3 linear 8→3")
        await pilot.press("left_square_bracket", "left_square_bracket", "left_square_bracket")
        await shows(pilot, "layer 1/3")
        await pilot.press("d")
        await shows(pilot, "Distributions · layer 1/3")


async def test_t_shows_the_test_points(tmp_path, blobs):
    app = studio(tmp_path, blobs)
    async with app.run_test(size=(80, 24)) as pilot:
        await trained(pilot)
        await pilot.press("8")
        await shows(pilot, "training points")
        await pilot.press("t")
        await shows(pilot, "· test points")


async def test_arrows_choose_the_confusion_cell(tmp_path, blobs):
    app = studio(tmp_path, blobs, **{"training.epochs": 1})
    async with app.run_test(size=(100, 30)) as pilot:
        await trained(pilot)
        await pilot.press("8", "c")
        await shows(pilot, "Confusion")
        pane(app).cell = (0, 0)
        await pilot.press("right")
        await shows(pilot, "true 0 read as 1")
        await pilot.press("down", "down", "down", "down")   # stops at the last class
        await shows(pilot, "true 2 read as 1")


async def test_the_gradient_check_flags_a_broken_backward(tmp_path, blobs, monkeypatch):
    app = studio(tmp_path, blobs, **{"model.spec": DEEP_SPEC, "training.epochs": 1})
    async with app.run_test(size=(100, 30)) as pilot:
        await trained(pilot)
        await pilot.press("8", "k")
        await shows(pilot, "passed: the backward pass agrees")
        real = Tensor.tanh

        def broken(self):   # the right values, a backward half as steep again as it should be
            out = real(self)
            if out._backward is not None:
                inner = out._backward
                out._backward = lambda g: inner(g * 1.5)
            return out
        monkeypatch.setattr(Tensor, "tanh", broken)
        await pilot.press("k")
        text = await shows(pilot, "FAILED")
        assert "1 linear 2→16" in text


@pytest.mark.parametrize("size", [(50, 15), (80, 24), (200, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_no_view_breaks_at_any_size(tmp_path, blobs, size):
    app = studio(tmp_path, blobs, **{"model.spec": DEEP_SPEC, "training.epochs": 2})
    async with app.run_test(size=size) as pilot:
        await trained(pilot)
        await pilot.press("8")
        for key in "buwdgack":
            await pilot.press(key)
            await wait_for(pilot, lambda: pane(app).view is not None and not pane(app).busy
                           and pane(app).draws > 0, "a drawing")
            lines = pane(app).drawn
            width = pane(app).query_one("#inside-view").size.width
            assert all(line.cell_len <= width for line in lines), (key, [line.plain for line in lines])
            assert "Could not draw" not in drawn(app)


def an_epoch_end() -> events.EpochEnd:
    return events.EpochEnd(epoch=0, epochs=3, train_loss=1.0, train_accuracy=0.5, val_loss=None, val_accuracy=None,
                           lr=0.01, grad_norms={}, weight_norms={}, update_ratios={}, samples_per_s=1.0, seconds=0.01,
                           elapsed=0.01, eta=0.0)


def test_while_it_runs_epochs_do_not_hurry_the_redraws_but_a_still_run_is_drawn_at_once():
    """A 2-D set's epoch takes milliseconds: redrawing on each would take the training thread's time."""
    inside = InsidePane()
    inside.set_running(Status.RUNNING)
    inside.dirty = False
    inside.on_session_event(an_epoch_end())
    assert not inside.dirty
    inside.on_session_event(events.Finished(1, "completed"))
    assert inside.dirty
    inside.set_running(Status.PAUSED)
    inside.dirty = False
    inside.on_session_event(an_epoch_end())   # a step taken while paused
    assert inside.dirty


def test_the_live_pace_follows_the_drawing_s_cost(monkeypatch):
    """At least REFRESH seconds between live redraws, and longer when a drawing costs more (a fake clock)."""
    import nnstudio.tui.studio.inside_pane as module
    now = [100.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: now[0])
    inside = InsidePane()
    inside.subject_source = lambda: None
    monkeypatch.setattr(InsidePane, "is_on_screen", property(lambda self: True))
    inside.set_running(Status.RUNNING)
    inside.dirty, inside.view = False, "boundary"
    inside._started, inside._cost = now[0], 0.01
    now[0] += module.REFRESH * 0.9
    assert not inside._due()
    now[0] += module.REFRESH * 0.2
    assert inside._due()
    inside._started, inside._cost = now[0], 0.2   # a drawing of 0.2 s: at most COST_SHARE of the time
    now[0] += 0.2 / module.COST_SHARE * 0.9
    assert not inside._due()
    now[0] += 0.2 / module.COST_SHARE * 0.2
    assert inside._due()


async def test_keys_of_another_view_say_which_view_they_belong_to(tmp_path, blobs):
    app = studio(tmp_path, blobs, **{"model.spec": DEEP_SPEC, "training.epochs": 1})
    async with app.run_test(size=(100, 30)) as pilot:
        await trained(pilot)
        await pilot.press("8", "g")
        await shows(pilot, "Gradient flow")
        for key, words in (("right_square_bracket", "choose the layer of the units view"),
                           ("t", "shows the test points in the boundary view"),
                           ("pagedown", "turn the pages of the units view")):
            await pilot.press(key)
            await wait_for(pilot, lambda: any(words in text for text, _ in app.seen_notifications),
                           f"the refusal of {key}")
        assert pane(app).chosen_layer is None and not pane(app).other and pane(app).page == 0


async def test_a_drawing_that_comes_back_late_keeps_the_cell_chosen_meanwhile(tmp_path, blobs):
    app = studio(tmp_path, blobs)
    async with app.run_test(size=(80, 24)):
        inside = pane(app)
        inside.view, inside.cell = "confusion", (2, 2)   # chosen after the request below went out
        request = dict(view="confusion", generation=inside._generation)
        inside._drawn(request, [], {"view": "confusion", "cell": (0, 1), "classes": 3}, 0.0)
        assert inside.cell == (2, 2)


async def test_a_narrow_pane_keeps_every_view_key_in_its_bar(tmp_path, blobs):
    app = studio(tmp_path, blobs)
    async with app.run_test(size=(50, 15)) as pilot:
        await pilot.press("8")
        await shows(pilot, "Decision boundary")
        bar = pane(app).query_one("#inside-bar").render()
        text = str(bar)
        assert text.split(" · ")[0].split() == list("buwdgacko") and text.endswith("· boundary")


async def test_a_slow_drawing_says_it_is_under_way(tmp_path, blobs):
    app = studio(tmp_path, blobs)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("8")
        await shows(pilot, "Decision boundary")
        inside = pane(app)
        inside.busy, inside.view = True, "confusion"   # as while a drawing is out
        inside.requests += 1
        inside._say_slow(inside.requests, "confusion")
        await pilot.pause()
        assert "Drawing the confusion view…" in screen_text(app)
        inside._say_slow(inside.requests - 1, "confusion")   # an older drawing's timer: nothing


async def test_training_a_new_model_forgets_the_untrained_one_s_cell_and_check(tmp_path, blobs):
    """The pane looked at the untrained model before space; the session that trains is another model."""
    app = studio(tmp_path, blobs, **{"training.epochs": 1})
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("8", "c")
        await shows(pilot, "Confusion")
        pane(app).cell = (2, 1)
        before = pane(app)._generation
        await trained(pilot)
        assert pane(app)._generation > before
        await shows(pilot, "Confusion")
        assert pane(app).cell != (2, 1) or "true 2 read as 1" in drawn(app)
