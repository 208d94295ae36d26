"""The run's state in the studio: epoch numbers after a resume or an open, the question before a change
discards trained weights, and what ctrl+s says when pressed twice.

Training runs for real in the app's thread worker on a tiny data set (see test_studio_app.py);
the ETA is checked on made-up epochs fed to the monitor, never on a measured time.
"""

from __future__ import annotations

from test_studio_app import (blobs, config, one_epoch_then_stopped, press_while_training, progress_line,  # noqa: F401
                             studio, wait_for, wait_status)

from nnstudio.engine import events
from nnstudio.tui.run import Session
from nnstudio.tui.studio.launch import create_app
from nnstudio.tui.studio.confirm_screen import ConfirmScreen
from nnstudio.tui.studio.messages import ConfigChanged


def notices(app) -> list[str]:
    return [text for text, _ in app.seen_notifications]


# ====================================================================== epochs counted one way
async def test_a_resumed_run_counts_up_to_its_planned_total(tmp_path, blobs):
    """Cut off after epoch 2 of 4, resumed: `epoch 2/4`, then 3 and 4 of 4 (it showed 2/6: the epochs done were
    added to the total once more)."""
    cut_off = Session(config(tmp_path, **{"training.epochs": 4}), dataset=blobs)
    cut_off.on_event = lambda event: cut_off.stop() if isinstance(event, events.EpochEnd) and event.epoch == 1 else None
    assert cut_off.run() == "stopped"

    app = studio(tmp_path, blobs, offer_resume=True, **{"training.epochs": 4})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await press_while_training(pilot, "y")
        await wait_status(pilot, "paused")
        assert progress_line(app).startswith("epoch 2/4 ")
        await press_while_training(pilot, "space")
        await wait_status(pilot, "finished")
        await wait_for(pilot, lambda: "epoch 4/4" in progress_line(app), "the last epoch shown")
        assert len(app.session.history) == 4


async def test_an_opened_save_that_has_all_its_epochs_says_how_to_train_more(tmp_path, blobs):
    trained = Session(config(tmp_path), dataset=blobs, checkpoints=False)
    trained.run()
    path = trained.save("three")
    app = create_app(config=config(tmp_path), dataset=blobs, saves_dir=tmp_path / "saves", open_path=path,
                     offer_resume=False)
    app.seen_notifications = []
    notify = app.notify
    app.notify = lambda message, **options: (app.seen_notifications.append((str(message), options)),
                                             notify(message, **options))[1]
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.session is not None and app.status == "idle", "the save to open")
        await wait_for(pilot, lambda: "epoch 3/3" in progress_line(app), "the progress line")  # not 3/6
        await pilot.press("space")
        assert app.status == "idle"
        assert "trained its 3 epochs" in notices(app)[-1] and "Settings (2)" in notices(app)[-1]
        app.panes["settings"].post_message(ConfigChanged(app.config.replace(**{"training.epochs": 5})))
        await pilot.pause()
        assert "epoch 3/5" in progress_line(app)
        await press_while_training(pilot, "space")
        await wait_status(pilot, "finished")
        assert len(app.session.history) == 5
        await wait_for(pilot, lambda: "epoch 5/5" in progress_line(app), "the poll after the last epoch")


def made_up_epoch(epoch: int, elapsed: float, planned: int = 40) -> events.EpochEnd:
    return events.EpochEnd(epoch=epoch, epochs=planned, train_loss=0.5, train_accuracy=0.8, val_loss=0.6,
                           val_accuracy=0.75, lr=0.01, grad_norms={}, weight_norms={}, update_ratios={},
                           samples_per_s=1e4, seconds=0.8, elapsed=elapsed, eta=0.0)


async def test_the_eta_is_the_epochs_left_at_this_session_s_pace(tmp_path, blobs):
    """35 epochs done at 60 s each elsewhere; here an epoch takes 1 s: 3 epochs left is 3 s, not minutes."""
    app = studio(tmp_path, blobs, **{"training.epochs": 40})
    async with app.run_test(size=(120, 40)) as pilot:
        app.monitor.show_history([made_up_epoch(e, 60.0 * (e + 1)).as_dict() for e in range(35)])
        for epoch, elapsed in ((35, 2101.0), (36, 2102.0)):
            app.monitor.on_session_event(made_up_epoch(epoch, elapsed))
        app.monitor.tick(None, [])
        await pilot.pause()
        assert progress_line(app).startswith("epoch 37/40 ") and "ETA 0:03" in progress_line(app)
        app.monitor.tick(events.BatchEnd(37, 24, 100, 0.3, 0.9, 1e4), [])   # a quarter into epoch 38
        await pilot.pause()
        assert progress_line(app).startswith("epoch 38/40 ") and "ETA 0:03" in progress_line(app)  # 2.75 epochs


# ====================================================================== a change that discards trained weights asks
async def test_editing_the_model_after_a_finished_unsaved_run_asks_first(tmp_path, blobs):
    """As r and q do. The dialog's no has the focus, so the enter that ended an edit cannot say yes."""
    app = studio(tmp_path, blobs, **{"training.epochs": 1})
    async with app.run_test(size=(120, 40)) as pilot:
        await press_while_training(pilot, "space")
        await wait_status(pilot, "finished")
        session, weights = app.session, {k: v.copy() for k, v in app.session.model.state_dict().items()}
        builder = app.panes["builder"]
        layers = list(builder.iter_rows())
        await pilot.press("1")
        await pilot.pause()
        await pilot.press("d")   # delete the selected layer: another model
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and "model" in app.screen.question
        await pilot.press("enter")   # the focused button: no
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.session is session and list(builder.iter_rows()) == layers   # the model pane as it was
        assert all((v == weights[k]).all() for k, v in app.session.model.state_dict().items())

        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert app.session is None and len(list(builder.iter_rows())) == len(layers) - 1
        assert any("discarded" in text for text in notices(app))


async def test_a_data_set_change_after_a_finished_unsaved_run_asks_first(tmp_path, blobs):
    app = studio(tmp_path, blobs, **{"training.epochs": 1})
    async with app.run_test(size=(120, 40)) as pilot:
        await press_while_training(pilot, "space")
        await wait_status(pilot, "finished")
        session = app.session
        app.panes["settings"].post_message(ConfigChanged(app.config.replace(**{"data.name": "moons"})))
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and "settings" in app.screen.question
        await pilot.press("n")
        await pilot.pause()
        assert app.session is session and app.config.data.name == "blobs"
        assert app.panes["settings"].config.data.name == "blobs"   # the settings pane put back


# ====================================================================== ctrl+s twice
async def test_ctrl_s_twice_says_already_saved_and_a_changed_run_gets_the_next_name(tmp_path, blobs):
    app = studio(tmp_path, blobs, **{"training.epochs": 5})
    async with app.run_test(size=(120, 40)) as pilot:
        await one_epoch_then_stopped(pilot)
        folder = tmp_path / "saves"
        await pilot.press("ctrl+s")
        assert sorted(p.stem for p in folder.glob("*.safetensors")) == ["blobs-custom"]
        assert notices(app)[-1].startswith("Saved as blobs-custom.")

        await pilot.press("ctrl+s")   # nothing changed: nothing new
        assert sorted(p.stem for p in folder.glob("*.safetensors")) == ["blobs-custom"]
        assert notices(app)[-1] == "Already saved as blobs-custom: nothing has changed since."

        await press_while_training(pilot, "n")   # one more epoch: the run changed
        await wait_status(pilot, "paused")
        await pilot.press("ctrl+s")
        assert sorted(p.stem for p in folder.glob("*.safetensors")) == ["blobs-custom", "blobs-custom-2"]
        assert notices(app)[-1].startswith("Saved as blobs-custom-2; blobs-custom holds this run's earlier state.")
        await pilot.press("x")
        await wait_status(pilot, "stopped")


async def test_ctrl_s_says_when_the_plain_name_was_another_save_s(tmp_path, blobs):
    (tmp_path / "saves").mkdir()
    other = Session(config(tmp_path), dataset=blobs, checkpoints=False)
    other.run()
    other.save("blobs-custom")
    app = studio(tmp_path, blobs)
    async with app.run_test(size=(120, 40)) as pilot:
        await one_epoch_then_stopped(pilot)
        await pilot.press("ctrl+s")
        assert notices(app)[-1].startswith("Saved as blobs-custom-2 (blobs-custom was taken by another save).")
