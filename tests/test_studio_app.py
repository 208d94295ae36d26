"""The studio app driven by keys (Textual Pilot) on a tiny synthetic data set and a temporary saves folder.

Training runs for real in the app's thread worker; tests wait for the run's status to change
(polling with a generous timeout, never asserting how long anything takes).
"""

from __future__ import annotations

import time

import pytest
from textual.events import Resize
from textual.geometry import Size
from textual.widgets import Footer, Input
from textual.widgets._footer import FooterKey

from nnstudio import saves
from nnstudio.datasets import load_dataset
from nnstudio.engine import events
from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.run import Session, Status
from nnstudio.tui.studio.launch import create_app
from nnstudio.tui.studio.confirm_screen import ConfirmScreen
from nnstudio.tui.studio.footer import StudioFooter
from nnstudio.tui.studio.help_screen import HelpScreen
from nnstudio.tui.studio.messages import ConfigChanged, LiveSettingRequested, SessionEvent

from studio_host import WAIT, wait_for

SPEC = {"input_shape": [2], "layers": [{"type": "linear", "out": 16}, {"type": "relu"}, {"type": "linear", "out": 3}]}


@pytest.fixture(scope="module")
def blobs():
    return load_dataset("blobs", size=200, classes=3)


def config(tmp_path, **overrides) -> RunConfig:
    base = RunConfig.from_dict({
        "data": {"name": "blobs", "size": 200, "classes": 3}, "model": {"spec": SPEC}, "schedule": {"name": "none"},
        "optimizer": {"name": "adam", "lr": 0.01}, "training": {"epochs": 3, "batch_size": 16, "seed": 3},
        "checkpoints": {"folder": str(tmp_path / "saves")}})
    return base.with_overrides(overrides) if overrides else base


def studio(tmp_path, blobs, *, offer_resume=False, **overrides):
    app = create_app(config=config(tmp_path, **overrides), dataset=blobs, saves_dir=tmp_path / "saves",
                     offer_resume=offer_resume)
    app.seen_notifications, app.seen_titles = [], []
    notify = app.notify

    def recording_notify(message, **options):
        app.seen_notifications.append((str(message), options.get("severity", "information")))
        app.seen_titles.append((options.get("title", ""), options.get("severity", "information")))
        return notify(message, **options)

    app.notify = recording_notify
    return app


async def wait_status(pilot, *statuses: str) -> None:
    await wait_for(pilot, lambda: pilot.app.status in statuses, f"status in {statuses}")


async def press_while_training(pilot, *keys: str) -> None:
    """Press keys as `pilot.press` does, minus its wait for an idle CPU, which never comes while a
    training thread runs (each key would cost Textual's one-second idle timeout twice)."""
    for key in keys:
        pilot.app.simulate_key(key)
        await pilot.pause(0.02)


def status_line(app) -> str:
    return str(app.monitor.query_one("#run-status").render())


def progress_line(app) -> str:
    return str(app.monitor.query_one("#run-progress").render())


def an_epoch(epoch: int) -> events.EpochEnd:
    """A made-up epoch's figures, as the training thread reports them."""
    return events.EpochEnd(epoch=epoch, epochs=3, train_loss=0.5, train_accuracy=0.8, val_loss=0.6, val_accuracy=0.75,
                           lr=0.01, grad_norms={"0": 0.1}, weight_norms={"0": 1.0}, update_ratios={"0": 1e-3},
                           samples_per_s=1e4, seconds=0.1, elapsed=0.1, eta=0.2)


async def one_epoch_then_stopped(pilot) -> None:
    """Train one epoch with n, then stop with x: a run with unsaved trained work, its weights still."""
    await press_while_training(pilot, "n")
    await wait_status(pilot, "paused")
    await pilot.press("x")
    await wait_status(pilot, "stopped")


def errors(app) -> list[str]:
    return [text for text, severity in app.seen_notifications if severity == "error"]


# ====================================================================== training by keys
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_space_trains_the_model_and_the_monitor_follows(tmp_path, blobs, size):
    app = studio(tmp_path, blobs)
    async with app.run_test(size=size) as pilot:
        assert app.status == "idle" and "IDLE" in status_line(app)
        await press_while_training(pilot, "space")
        await wait_status(pilot, "finished")
        await wait_for(pilot, lambda: "epoch 3/3" in progress_line(app) and len(app.monitor.trace),
                       "the poll after the last epoch (the epoch's event may show it first)")
        assert len(app.session.history) == 3 and app.runner.unsaved_epochs == 3
        assert "FINISHED" in status_line(app)
        assert len(app.monitor.history) == 3 and len(app.monitor.trace)
        assert app.predictions.probe is not None
        assert app.predictions.outputs is None  # out of view: not drawn on the interface thread yet
        await pilot.press("4")
        await wait_for(pilot, lambda: app.predictions.outputs is not None, "the predictions, drawn once shown")
        await pilot.press("3")
        await pilot.press("space")  # all epochs done: says so, does not crash or retrain
        assert app.status == "finished" and any("trained its 3 epochs" in t for t, _ in app.seen_notifications)
        await pilot.press("x")  # nothing to stop
        await app.runner.stop_and_wait()


async def test_step_pause_resume_and_stop(tmp_path, blobs):
    app = studio(tmp_path, blobs, **{"training.epochs": 2000})
    async with app.run_test(size=(100, 30)) as pilot:
        await press_while_training(pilot, "n")  # from idle: train one epoch, then pause
        await wait_status(pilot, "paused")
        await wait_for(pilot, lambda: len(app.session.history) == 1, "one epoch")
        assert "PAUSED" in status_line(app)

        await press_while_training(pilot, "n")
        await wait_for(pilot, lambda: len(app.session.history) == 2 and app.status == "paused", "a second epoch")

        await press_while_training(pilot, "N")  # shift+n: one batch
        await wait_for(pilot, lambda: app.session.trainer.state_dict()["tally"]["batches"] == 1
                       and app.status == "paused", "one batch")
        assert len(app.session.history) == 2

        await press_while_training(pilot, "space")  # resume (the key is handled when the app gets to it)
        await wait_status(pilot, "running")
        await wait_for(pilot, lambda: len(app.session.history) >= 4, "more epochs")
        await press_while_training(pilot, "space")  # pause
        await wait_status(pilot, "paused")
        trained = len(app.session.history)
        await pilot.pause(0.2)
        assert len(app.session.history) == trained  # paused means paused

        await pilot.press("x")
        await wait_status(pilot, "stopped")
        assert "STOPPED" in status_line(app)
        assert app.session.status == "stopped" and list(app.session.run_dir.glob("epoch-*.safetensors"))

        await press_while_training(pilot, "space")  # a stopped run continues where it stopped
        await wait_for(pilot, lambda: len(app.session.history) > trained + 1, "training after the stop")
        await press_while_training(pilot, "x")
        await wait_status(pilot, "stopped")


@pytest.mark.parametrize("stop_first", [True, False])
async def test_leaving_while_a_run_is_live_is_clean(tmp_path, blobs, stop_first):
    """The run's last events (stopped, its checkpoint) may arrive while the app takes its widgets
    down: they must change nothing, and raise nothing."""
    app = studio(tmp_path, blobs, **{"training.epochs": 2000})
    async with app.run_test() as pilot:
        await press_while_training(pilot, "space")
        await wait_status(pilot, "running")
        if stop_first:
            app.runner.stop()  # the Stopped event is on its way as the app exits
    assert app.return_code in (None, 0) and app._exception is None
    deadline = time.monotonic() + WAIT  # the thread was told to stop, and ends on its own
    while app.session.status.busy and time.monotonic() < deadline:
        time.sleep(0.05)
    assert app.session.status == "stopped"
    assert saves.latest_interrupted_run(tmp_path / "saves") is not None  # offered for resuming next time


async def test_news_from_the_run_after_the_app_has_gone_changes_nothing(tmp_path, blobs):
    """What the training thread posts while (or after) the app takes its widgets down is dropped:
    no status changes, no pane is told, nothing is shown, nothing raises."""
    app = studio(tmp_path, blobs)
    async with app.run_test():
        pass

    def state():
        monitor, builder, settings = app.monitor, app.panes["builder"], app.panes["settings"]
        return (app.status, app.runner.status, app.runner.unsaved_epochs, monitor.status, monitor.history,
                monitor.progress_updates, builder.read_only, settings.run_active, list(app.seen_notifications))

    before = state()
    assert before[:4] == ("idle", "idle", 0, "idle")
    app.on_session_event(SessionEvent(events.Stopped(epoch=0, batch=3), app.runner.bridge))  # would restyle panes that are gone
    app.on_session_event(SessionEvent(an_epoch(0), app.runner.bridge))  # would count an unsaved epoch and plot it
    app.watch_status(Status.STOPPED)
    app.watch_status(Status.RUNNING)  # would lock the builder and the settings
    assert state() == before
    assert app._exception is None and app.return_code in (None, 0)


async def test_save_reinitialise_and_load_by_keys(tmp_path, blobs):
    app = studio(tmp_path, blobs, **{"training.epochs": 2})
    async with app.run_test(size=(120, 40)) as pilot:
        await press_while_training(pilot, "space")
        await wait_status(pilot, "finished")
        trained = {name: value.copy() for name, value in app.session.model.state_dict().items()}

        await pilot.press("ctrl+s")
        saved = sorted((tmp_path / "saves").glob("*.safetensors"))
        assert [p.name for p in saved] == ["blobs-custom.safetensors"] and app.runner.unsaved_epochs == 0

        await pilot.press("r")  # saved, so no question: the weights are discarded at once
        assert app.session is None and app.status == "idle" and app.monitor.history == []

        await pilot.press("5")  # the saves pane: its table has the focus, l loads the selected save
        await pilot.pause()
        await pilot.press("l")
        await wait_for(pilot, lambda: app.session is not None and app.status == "idle", "the save to load")
        assert len(app.session.history) == 2 and len(app.monitor.history) == 2
        for name, value in app.session.model.state_dict().items():
            assert (value == trained[name]).all()
        assert app.predictions.outputs is not None  # the loaded weights' predictions, before any training
        assert app.config.checkpoints.folder == str(tmp_path / "saves")

        assert "epoch 2/2" in progress_line(app)   # epochs counts those the save has: all done
        await pilot.press("space")
        assert app.status == "idle" and "raise epochs above 2" in app.seen_notifications[-1][0]
        app.panes["settings"].post_message(ConfigChanged(app.config.replace(**{"training.epochs": 4})))
        await pilot.pause()
        await press_while_training(pilot, "space")  # continue training the loaded model up to epoch 4
        await wait_status(pilot, "finished")
        assert len(app.session.history) == 4 and len(app.monitor.history) == 4


async def test_saving_needs_a_trained_and_still_model(tmp_path, blobs):
    app = studio(tmp_path, blobs)
    async with app.run_test() as pilot:
        await pilot.press("ctrl+s")
        assert any("Nothing trained" in t for t, _ in app.seen_notifications)
        assert not list((tmp_path / "saves").glob("*.safetensors"))


# ====================================================================== quitting
async def test_quit_with_unsaved_work_asks_first(tmp_path, blobs):
    app = studio(tmp_path, blobs, **{"training.epochs": 50})
    async with app.run_test() as pilot:
        await press_while_training(pilot, "n")
        await wait_status(pilot, "paused")
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # no: nothing happens
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen) and app.is_running

        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")  # yes: the run is stopped cleanly (a checkpoint is written), then the app exits
        await wait_for(pilot, lambda: not app.is_running, "the app to exit")
    assert app.session.status == "stopped"
    assert list(app.session.run_dir.glob("epoch-*.safetensors"))


async def test_quit_without_trained_work_exits_at_once(tmp_path, blobs):
    app = studio(tmp_path, blobs)
    async with app.run_test() as pilot:
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, "the app to exit")


# ====================================================================== help and palette
async def test_help_lists_the_bindings_of_the_app_and_the_pane(tmp_path, blobs):
    app = studio(tmp_path, blobs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4", "question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        rows = {(keys, description) for _, keys, description in app.screen.rows}
        for binding in type(app).BINDINGS + type(app.predictions).BINDINGS:
            if binding.group is not None:   # the pane keys: one row
                continue
            for key in binding.key.split(","):
                assert any(app.get_key_display(binding.with_key(key)) in keys.split(" / ") and
                           (binding.tooltip or binding.description) == description for keys, description in rows), key
        assert ("1-9", "1 Model, 2 Settings, 3 Monitor, 4 Predict, 5 Saves, 6 Runs, 7 Sweep, 8 Inside, 9 Draw") in rows
        sections = list(dict.fromkeys(section for section, *_ in app.screen.rows))
        assert sections == ["Panes", "The run", "Studio", "Predictions pane"]
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


@pytest.mark.parametrize("pane", ["1", "2", "5"])
async def test_help_lists_only_the_studio_s_own_keys(tmp_path, blobs, pane):
    """A focused table or field brings Textual's generic keys (ctrl+pgup "Page Left", a field's cursor keys):
    they are not the studio's and are not listed; every row says what its key does."""
    app = studio(tmp_path, blobs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(pane)
        await pilot.pause()
        if pane == "2":   # a field has the focus (where ? is typed): the help lists its keys if they are the studio's
            app.query_one("#optimizer-lr", Input).focus()
            await pilot.pause()
            app.action_help()
        else:
            await pilot.press("question_mark")
        await pilot.pause()
        rows = app.screen.rows
        assert {section for section, *_ in rows} == {"Panes", "The run", "Studio", app.current_pane.HELP_TITLE}
        assert not any("Page" in description or "^pgup" in keys or "Cursor" in description for _, keys, description in rows)
        assert all(description for _, _, description in rows)


async def test_command_palette_offers_the_main_actions(tmp_path, blobs):
    from nnstudio.tui.studio.commands import palette_entries

    app = studio(tmp_path, blobs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await pilot.pause()
        names = [name for name, *_ in palette_entries(app, app.current_pane)]
        for word in ("Run/Pause", "Step", "Save", "Load", "Help", "Quit", "Predict", "Next"):
            assert any(word in name for name in names), word
        assert not any(name.startswith("Stop") for name in names)  # nothing to stop: not offered


# ====================================================================== settings reach the engine validated
async def test_a_bad_live_setting_never_reaches_the_engine(tmp_path, blobs):
    app = studio(tmp_path, blobs, **{"training.epochs": 50})
    async with app.run_test() as pilot:
        await pilot.press("n")
        await wait_status(pilot, "paused")
        controller = app.session.controller
        sent = []
        original_set = controller.set
        controller.set = lambda **settings: (sent.append(settings), original_set(**settings))

        for bad in (-1.0, "fast", float("nan"), float("inf")):
            app.panes["settings"].post_message(LiveSettingRequested("optimizer.lr", bad))
            await pilot.pause()
        app.panes["settings"].post_message(LiveSettingRequested("training.epochs", 5))  # not a live setting
        await pilot.pause()
        assert sent == [] and app.session.optimizer.lr == 0.01 and app.config.optimizer.lr == 0.01
        assert len(errors(app)) == 5 and all("optimizer.lr" in e for e in errors(app)[:4])

        app.panes["settings"].post_message(LiveSettingRequested("optimizer.lr", 0.05))
        await pilot.pause()
        assert sent == [{"lr": 0.05}] and app.config.optimizer.lr == 0.05
        await press_while_training(pilot, "n")  # applied before the next batch
        await wait_for(pilot, lambda: len(app.session.history) == 2 and app.status == "paused", "an epoch")
        assert app.session.optimizer.lr == 0.05
        await pilot.press("x")
        await wait_status(pilot, "stopped")


# ====================================================================== errors are messages, not crashes
async def test_divergence_is_a_message_and_a_status(tmp_path, blobs):
    app = studio(tmp_path, blobs, **{"optimizer.name": "sgd", "optimizer.lr": 1e9, "optimizer.momentum": 0.0})
    async with app.run_test() as pilot:
        await press_while_training(pilot, "space")
        await wait_status(pilot, "diverged")
        assert app.is_running and "DIVERGED" in status_line(app)
        assert any("diverged" in e.lower() for e in errors(app))
        await pilot.press("space")  # an ended run does not start again by itself
        assert app.status == "diverged"


async def test_a_failing_data_set_is_a_message_and_a_status(tmp_path, monkeypatch):
    from nnstudio.datasets import DatasetError
    from nnstudio.tui.run import training_data as run_data

    def broken(*args, **kwargs):
        raise DatasetError("train-images-idx3-ubyte.gz is damaged (checksum mismatch)")

    working = run_data.load_dataset
    monkeypatch.setattr(run_data, "load_dataset", broken)
    app = studio(tmp_path, None)
    async with app.run_test() as pilot:
        await press_while_training(pilot, "space")
        await wait_status(pilot, "failed")
        assert app.is_running and "FAILED" in status_line(app)
        assert any("damaged" in e for e in errors(app))
        assert ("Could not start training", "error") in [(t, s) for t, s in app.seen_titles]

        monkeypatch.setattr(run_data, "load_dataset", working)  # the data set is mended
        failed = app.session
        await press_while_training(pilot, "space")  # the next start builds the run again from the config
        await wait_status(pilot, "finished")
        assert app.session is not failed and len(app.session.history) == 3


async def test_without_mnist_or_network_the_embedded_digits_train_with_a_visible_notice(tmp_path):
    """The default run on a machine with no MNIST files and no network (NNSTUDIO_OFFLINE, set for
    every test) trains the embedded subset, and says so in a notification that stays readable."""
    app = create_app(config=RunConfig().replace(**{"training.epochs": 1, "checkpoints.folder": str(tmp_path)}),
                     saves_dir=tmp_path, offer_resume=False)
    app.seen_notifications = []
    notify = app.notify
    app.notify = lambda message, **options: (app.seen_notifications.append((str(message), options)),
                                             notify(message, **options))[1]
    async with app.run_test() as pilot:
        await press_while_training(pilot, "space")
        await wait_status(pilot, "finished")
        notices = [(text, options) for text, options in app.seen_notifications if "embedded" in text]
        assert notices, app.seen_notifications
        text, options = notices[0]
        assert "nnstudio data import" in text and options.get("severity") == "warning"
        assert app.session.dataset.name == "mnist-embedded"


async def test_a_failure_inside_the_run_is_shown(tmp_path, blobs, monkeypatch):
    from nnstudio.engine.trainer import Trainer

    def broken_step(self, *args):
        raise ValueError("a broken batch")

    monkeypatch.setattr(Trainer, "_step", broken_step)
    app = studio(tmp_path, blobs)
    async with app.run_test() as pilot:
        await press_while_training(pilot, "space")
        await wait_status(pilot, "failed")
        assert any("a broken batch" in e for e in errors(app)) and app.is_running
        assert ("Training failed", "error") in app.seen_titles and "FAILED" in status_line(app)
        await pilot.press("space")  # an ended run does not go on: it says what to do
        assert app.status == "failed" and any("press r" in text for text, _ in app.seen_notifications)


# ====================================================================== resuming an interrupted run
async def test_an_interrupted_run_is_offered_for_resuming(tmp_path, blobs):
    cut_off = Session(config(tmp_path, **{"training.epochs": 4}), dataset=blobs)
    cut_off.on_event = lambda event: cut_off.stop() if isinstance(event, events.EpochEnd) and event.epoch == 1 else None
    assert cut_off.run() == "stopped"  # as if the SSH connection had dropped after epoch 2

    app = studio(tmp_path, blobs, offer_resume=True, **{"training.epochs": 4})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert cut_off.run_dir.name in app.screen.question and "epoch 2" in app.screen.question
        await press_while_training(pilot, "y")
        await wait_status(pilot, "paused")  # shown paused: space continues it
        assert len(app.session.history) == 2 and len(app.monitor.history) == 2
        await press_while_training(pilot, "space")
        await wait_status(pilot, "finished")
        assert len(app.session.history) == 4 and app.session.run_dir == cut_off.run_dir


async def test_a_sweep_s_cut_off_trial_is_not_offered_its_sweep_is_named(tmp_path, blobs):
    from nnstudio.tui.run.origins import trial_origin
    cut_off = Session(config(tmp_path, **{"training.epochs": 4}), dataset=blobs)
    cut_off.origin = trial_origin("blobs-lr-1", 2, "lr 0.1")
    cut_off.on_event = lambda event: cut_off.stop() if isinstance(event, events.EpochEnd) else None
    assert cut_off.run() == "stopped"
    app = studio(tmp_path, blobs, offer_resume=True)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen) and app.session is None
        assert ("blobs-lr-1: nnstudio sweep --resume blobs-lr-1 finishes it", "information") in app.seen_notifications


async def test_declining_the_resume_offer_starts_fresh(tmp_path, blobs):
    cut_off = Session(config(tmp_path), dataset=blobs)
    cut_off.on_event = lambda event: cut_off.stop() if isinstance(event, events.EpochEnd) else None
    cut_off.run()
    app = studio(tmp_path, blobs, offer_resume=True)
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        assert app.session is None and app.status == "idle"


# ====================================================================== every pane by keys (and the mouse)
async def test_build_set_and_train_through_the_panes(tmp_path, blobs):
    output_only = {"input_shape": [2], "layers": [{"type": "linear", "out": 3}]}
    app = studio(tmp_path, blobs, **{"model.spec": output_only, "training.epochs": 2})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("1")  # the model builder; its layer table takes the focus
        await pilot.pause()
        await pilot.press("A", *"linear", "enter")  # a hidden layer above the output layer...
        await pilot.pause()
        await pilot.press(*"32", "enter")  # ...32 wide
        await pilot.pause()
        await pilot.press("a", *"relu", "enter")
        await pilot.pause()
        assert [layer["type"] for layer in app.config.model.spec["layers"]] == ["linear", "relu", "linear"]

        await pilot.press("2")  # the settings: a bad learning rate is refused, a good one applied
        await pilot.pause()
        lr = app.query_one("#optimizer-lr", Input)
        for typed in ("-1", "0.05"):
            lr.focus()
            await pilot.pause()
            lr.select_all()
            await pilot.press(*typed, "enter")
            await pilot.pause()
            if typed == "-1":
                assert app.config.optimizer.lr == 0.01
        assert app.config.optimizer.lr == 0.05

        await pilot.click("#--content-tab-monitor")  # the mouse works too
        await pilot.press("escape")  # and escape leaves any field: the run keys act again
        await press_while_training(pilot, "space")
        await wait_status(pilot, "finished")
        assert [layer["type"] for layer in app.session.spec["layers"]] == ["linear", "relu", "linear"]
        assert app.session.optimizer.lr == 0.05 and app.config.model.spec["layers"][0]["out"] == 32


async def test_a_terminal_resize_while_training_is_survived(tmp_path):
    bigger = load_dataset("blobs", size=3000, classes=3)  # long epochs: the test waits on few messages
    app = studio(tmp_path, bigger, **{"training.epochs": 1000, "checkpoints.every_epoch": False})
    async with app.run_test(size=(80, 24)) as pilot:
        await press_while_training(pilot, "space")
        for pane, size in (("3", (200, 60)), ("4", (80, 24)), ("4", (200, 60)), ("3", (60, 20))):
            await press_while_training(pilot, pane)
            app.post_message(Resize(Size(*size), Size(*size)))  # what pilot.resize_terminal sends, minus its idle wait
            app._driver._size = Size(*size)
            await pilot.pause(0.2)
            assert app.status == "running" and app.size == Size(*size)
        await press_while_training(pilot, "x")
        await wait_status(pilot, "stopped")
        assert app.is_running and app.monitor.history


async def test_config_changes_from_the_panes_keep_or_discard_the_session(tmp_path, blobs):
    app = studio(tmp_path, blobs)
    async with app.run_test() as pilot:
        await one_epoch_then_stopped(pilot)
        session = app.session
        app.panes["settings"].post_message(ConfigChanged(app.config.replace(**{"optimizer.lr": 0.02})))
        await pilot.pause()
        assert app.session is session and app.config.optimizer.lr == 0.02
        assert session.config.optimizer.lr == 0.02  # a live setting: the session takes it at the next batch

        wider = dict(SPEC, layers=[{"type": "linear", "out": 8}, *SPEC["layers"][1:]])
        app.panes["builder"].post_message(ConfigChanged(app.config.replace(**{"model.spec": wider})))
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)   # another model would lose the trained epoch: asked first
        await pilot.press("n")
        assert app.session is session and app.config.model.spec["layers"][0]["out"] == 16
        assert app.panes["builder"].config == app.config    # the panes are put back to the run's model

        app.panes["settings"].post_message(ConfigChanged(app.config.replace(**{"training.min_delta": 0.5})))
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)   # so would any setting the run was built with
        await pilot.press("y")
        assert app.session is None and app.status == "idle" and app.config.training.min_delta == 0.5
        assert any("discarded" in text for text, _ in app.seen_notifications)


async def test_ctrl_o_shows_the_saves_pane(tmp_path, blobs):
    app = studio(tmp_path, blobs)
    async with app.run_test() as pilot:
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert app.query_one("#panes").active == "saves"


# ====================================================================== the command line (and test_studio_command.py)
def test_the_studio_opens_on_the_embedded_digits_unless_the_full_mnist_is_here(tmp_path, monkeypatch, mnist_dir):
    """A first start trains at once: no download behind the first key press."""
    app = create_app(saves_dir=tmp_path, offer_resume=False)
    assert app.config.data.name == "mnist-embedded" and app.embedded_default
    monkeypatch.setenv("NNSTUDIO_DATA_DIR", str(mnist_dir))
    app = create_app(saves_dir=tmp_path, offer_resume=False)
    assert app.config.data.name == "mnist" and not app.embedded_default


@pytest.mark.parametrize("offline", [False, True])
async def test_the_embedded_default_says_how_to_get_the_full_set(tmp_path, monkeypatch, offline):
    """On the first screen, not in a toast over the plots; offline, it does not suggest a download."""
    monkeypatch.setenv("NNSTUDIO_OFFLINE", "1" if offline else "0")
    app = studio(tmp_path, None, **{"data.name": "mnist-embedded", "model.spec": None})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = welcome_text(app)
        assert "mnist-embedded is the 6,000-digit MNIST subset" in text
        assert ("data.name mnist in 2 Settings" in text) is not offline
        assert ("nnstudio data import mnist DIR" in text) is offline
        assert app.seen_notifications == []


def welcome_text(app) -> str:
    """The first screen's words, as drawn (wrapped to its width)."""
    return " ".join(line.text for line in app.welcome.query_one("#welcome-text").render_lines(
        app.welcome.query_one("#welcome-text").region.reset_offset)).replace("  ", " ")


async def test_the_studio_opens_on_what_to_do_which_gives_way_to_the_plots(tmp_path, blobs):
    app = studio(tmp_path, blobs, **{"training.epochs": 1})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.query_one("#panes").active == "monitor"
        assert app.welcome.display and not app.monitor.display   # no empty plots
        text = " ".join(welcome_text(app).split())
        for words in ("space train the model shown in 1 Model on the data set in 2 Settings", "p a preset in 1 Model",
                      "? every key", "Now space trains a custom model on blobs, adam lr 0.01, 1 epoch."):
            assert words in text, words
        assert app.welcome.region.bottom <= 23   # one screen at 80x24: above the footer, nothing to scroll to
        assert app.welcome.max_scroll_y == 0
        await press_while_training(pilot, "space")
        await wait_status(pilot, "finished")
        assert app.monitor.display and not app.welcome.display
        await pilot.press("r", "y")   # re-initialised: nothing to watch any more
        await wait_for(pilot, lambda: app.session is None, "the re-initialise")
        await pilot.pause()
        assert app.welcome.display and not app.monitor.display


def test_a_data_dir_given_to_the_studio_is_the_run_s(tmp_path):
    app = create_app(saves_dir=tmp_path / "saves", data_dir=tmp_path / "idx", offer_resume=False)
    assert app.config.data.data_dir == str(tmp_path / "idx")


def test_nnstudio_help_and_the_subcommands_still_work(capsys):
    from nnstudio.tui import main as cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "studio" in out and "train" in out and "saves" in out
    assert cli.studio_arguments(["train", "--epochs", "1"]) == ["train", "--epochs", "1"]
    assert cli.studio_arguments(["trian"]) == ["trian"]  # a typo stays an error, not a missing save


def test_a_file_named_like_a_command_does_not_take_the_command_over(tmp_path, monkeypatch):
    from nnstudio.tui import main as cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "train").write_text("notes")
    names = cli.commands(cli.build_parser())
    assert cli.studio_arguments(["train", "--epochs", "1"], names) == ["train", "--epochs", "1"]
    assert cli.studio_arguments(["notes.txt"], names) == ["notes.txt"]  # no such file: left to the parser
    (tmp_path / "notes.txt").write_text("x")
    assert cli.studio_arguments(["notes.txt"], names) == ["studio", "notes.txt"]


#: pane key -> (keys of that pane the footer shows, keys of the other panes it must not show then)
FOOTER_AFTER_SWITCH = {
    "1": ({"Add layer", "Preset"}, {"Next", "Save as", "Default", "Import data"}),
    "2": ({"Import data", "Revert"}, {"Add layer", "Next", "Save as"}),
    "4": ({"Next", "Mistakes"}, {"Add layer", "Default", "Save as"}),
    "5": ({"Load", "Save as", "Refresh"}, {"Add layer", "Next", "Default"}),
    "6": ({"Filter"}, {"Add layer", "Next", "Save as"}),
}


async def test_after_a_pane_switch_the_footer_shows_that_pane_s_keys(tmp_path, blobs):
    """A pane switch changes the focus and the bindings several times; the footer folds those
    changes into as few rebuilds as the refreshes allow (counted deterministically in
    test_studio_footer.py) and ends up showing the keys of the pane shown, not the last one's."""
    app = studio(tmp_path, blobs)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert isinstance(app.query_one(Footer), StudioFooter)
        for key, (shown, gone) in FOOTER_AFTER_SWITCH.items():
            await pilot.press(key)
            shows_the_pane = lambda: shown <= footer_keys(app) and not gone & footer_keys(app)  # noqa: E731, B023
            await wait_for(pilot, shows_the_pane, f"the footer to show {sorted(shown)} after key {key}")
            await pilot.pause()
            assert shows_the_pane(), sorted(footer_keys(app))  # and it stays so: no stale rebuild comes after


def footer_keys(app) -> set[str]:
    """The descriptions of the keys the footer shows."""
    return {key.description for key in app.query_one(Footer).query(FooterKey)}


async def test_news_from_a_session_let_go_is_dropped(tmp_path, blobs):
    """Events of a run that was re-initialised may still be queued: they must not count or plot as the new one's."""
    app = studio(tmp_path, blobs)
    async with app.run_test() as pilot:
        await one_epoch_then_stopped(pilot)
        old = app.runner.bridge
        await pilot.press("r")
        await pilot.press("y")                              # one trained epoch: asked first
        await wait_for(pilot, lambda: app.session is None, "the re-initialise")
        app.post_message(SessionEvent(an_epoch(1), old))
        app.post_message(SessionEvent(events.Finished(2, "completed"), old))
        await pilot.pause()
        assert app.runner.unsaved_epochs == 0 and app.monitor.history == [] and app.status == "idle"
        assert not any("Trained" in text for text, _ in app.seen_notifications)
