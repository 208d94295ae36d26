"""Every data set trains in the studio: choosing one in the settings fits the model to it, and space trains it.

The studio is driven by keys as a newcomer would (settings -> data set, Model -> preset,
space), on the real data set implementations (synthetic sets are generated, MNIST is the
embedded subset), with short runs.
"""

from __future__ import annotations

import pytest
from textual.widgets import Select
from textual.widgets._select import SelectOverlay

from nnstudio.datasets import SYNTHETIC, data_shape
from nnstudio.engine.presets import PRESETS
from nnstudio.tui.run import Session
from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.run.fitting import fit_preset, follow_data, preset_problem
from nnstudio.tui.studio.launch import create_app
from nnstudio.tui.studio.builder_pane import BuilderPane
from test_studio_app import errors, press_while_training, wait_status

SETS = [*SYNTHETIC, "mnist-embedded"]


def small(config: RunConfig, tmp_path) -> RunConfig:
    return config.replace(**{"training.epochs": 1, "training.batch_size": 50,
                             "checkpoints.folder": str(tmp_path / "saves")})


def recording(app):
    app.seen_notifications = []
    notify = app.notify

    def record(message, **options):
        app.seen_notifications.append((str(message), options.get("severity", "information")))
        return notify(message, **options)

    app.notify = record
    return app


async def choose(pilot, select_id: str, value: str) -> None:
    """Open a list and move to `value` with the arrow keys, as a user does; then enter."""
    select = pilot.app.query_one(select_id, Select)
    select.focus()
    await pilot.press("enter")
    overlay = select.query_one(SelectOverlay)
    values = [v for _, v in select._options]   # as the list shows them (with the blank, if it has one)
    for _ in range(len(values) + 1):
        if overlay.highlighted is not None and values[overlay.highlighted] == value:
            break
        await pilot.press("down")
    await pilot.press("enter")
    await pilot.pause()
    assert select.value == value


@pytest.mark.parametrize("name", ["spirals", "moons", "xor", "sine"])
async def test_choosing_a_data_set_fits_the_model_and_space_trains_it(tmp_path, name):
    mlp = fit_preset("mlp", data_shape("mnist-embedded"))   # as the builder or a loaded save leaves it
    config = small(RunConfig().replace(**{"data.name": "mnist-embedded", "model.spec": mlp}), tmp_path)
    app = recording(create_app(config=config, offer_resume=False))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await choose(pilot, "#data-name", name)
        shape = data_shape(name)
        builder = app.query_one(BuilderPane)
        assert builder.valid and builder.spec == fit_preset("mlp", shape)
        assert app.config.model.spec["input_shape"] == [shape.features[0]]
        assert any(f"fitted to {name}" in text for text, _ in app.seen_notifications)
        assert f"{name} · mlp" in app.sub_title
        await pilot.press("escape")
        await press_while_training(pilot, "space")
        await wait_status(pilot, "finished")
        assert errors(app) == [] and len(app.session.history) == 1
        await app.runner.stop_and_wait()


async def test_a_custom_model_follows_the_data_set_by_its_ends(tmp_path):
    spec = {"input_shape": [2], "layers": [{"type": "linear", "out": 8}, {"type": "tanh"},
                                           {"type": "linear", "out": 3}]}
    before = RunConfig().replace(**{"data.name": "spirals", "model.spec": spec})
    after, note = follow_data(before, before.replace(**{"data.name": "mnist-embedded"}))
    assert after.model.spec["input_shape"] == [784] and after.model.spec["layers"][-1]["out"] == 10
    assert after.model.spec["layers"][1] == {"type": "tanh"}                     # the user's layers stay
    assert note == ("The model was fitted to mnist-embedded (images 1x28x28, 10 classes): "
                    "input 2 → 784, layer 2 (linear) out 3 → 10.")
    back, _ = follow_data(after, after.replace(**{"data.name": "sine"}))
    assert back.model.spec["input_shape"] == [1] and back.model.spec["layers"][-1]["out"] == 1


def test_a_preset_follows_as_a_preset_and_an_image_model_that_cannot_follow_says_why():
    mnist = RunConfig().replace(**{"data.name": "mnist", "model.preset": "cnn",
                                   "model.spec": fit_preset("cnn", data_shape("mnist"))})
    kept, note = follow_data(mnist, mnist.replace(**{"data.name": "spirals"}))
    assert kept.model.spec == mnist.model.spec                                  # not silently broken
    assert note == ("The cnn preset does not fit spirals: needs images; spirals has 2 features, 3 classes; "
                    "choose another in 1 Model (p).")
    auto = mnist.replace(**{"model.preset": "autoencoder",
                            "model.spec": fit_preset("autoencoder", data_shape("mnist"))})
    kept, note = follow_data(auto, auto.replace(**{"data.name": "moons"}))      # it would build, but makes no sense
    assert kept.model.spec == auto.model.spec and note.startswith("The autoencoder preset does not fit moons")
    deep = mnist.replace(**{"model.preset": "deep-mlp", "model.spec": fit_preset("deep-mlp", data_shape("mnist"))})
    moved, note = follow_data(deep, deep.replace(**{"data.name": "moons"}))
    assert moved.model.spec == fit_preset("deep-mlp", data_shape("moons"))
    assert note == "The deep-mlp preset was fitted to moons (2 features, 2 classes)."


@pytest.mark.parametrize("name", SETS)
def test_every_data_set_trains_with_every_preset_that_fits_it(tmp_path, name):
    """What the studio offers is what trains: each preset that fits trains an epoch; the others say why not."""
    shape = data_shape(name)
    for preset in PRESETS:
        problem = preset_problem(preset, shape)
        if problem is not None:
            assert PRESETS[preset].needs_images and not shape.image_shape and "needs images" in problem
            continue
        sized = {"data.size": 200} if name in SYNTHETIC else {}
        config = small(RunConfig().replace(**{"data.name": name, "model.preset": preset, **sized}), tmp_path / preset)
        session = Session(config, checkpoints=False)
        session.run()
        assert session.status == "finished", (preset, session.status)


async def test_the_title_says_custom_once_a_preset_is_edited(tmp_path):
    mlp = fit_preset("mlp", data_shape("spirals"))
    app = create_app(config=small(RunConfig().replace(**{"data.name": "spirals", "model.spec": mlp}), tmp_path),
                     offer_resume=False)
    async with app.run_test(size=(80, 24)) as pilot:
        assert "spirals · mlp" in app.sub_title
        await pilot.press("1", "down", "down", "d")          # the second relu goes: a valid custom model
        assert app.query_one(BuilderPane).valid and "name" not in app.config.model.spec
        assert "spirals · custom" in app.sub_title
        await pilot.press("u")                               # back to the preset: named again
        assert "spirals · mlp" in app.sub_title and app.config.model.spec["name"] == "mlp"


async def test_space_never_trains_another_model_than_the_one_shown(tmp_path):
    """A model that does not fit stays on the Model pane; space says why instead of training the last valid one."""
    mlp = fit_preset("mlp", data_shape("spirals"))
    app = recording(create_app(config=small(RunConfig().replace(**{"data.name": "spirals", "model.spec": mlp}),
                                            tmp_path), offer_resume=False))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("1")
        builder = app.query_one(BuilderPane)
        builder.query_one("#layers").move_cursor(row=len(mlp["layers"]) - 1)
        await pilot.press("d")                                # the output layer goes: linear 64, relu, dropout remain
        assert not builder.valid and "end the model with a linear layer of out 3" in builder.error_text
        await pilot.press("space")
        await pilot.pause()
        assert app.session is None and app.status == "idle"
        assert any("The model in 1 Model cannot be trained" in text for text, _ in app.seen_notifications)
        await pilot.press("i")                                # fits it: a linear layer of out 3 at the end
        assert builder.valid and builder.spec["layers"][-1] == {"type": "linear", "out": 3}
        await press_while_training(pilot, "space")
        await wait_status(pilot, "finished")
        assert app.session.spec["layers"][-1]["out"] == 3 and len(app.session.spec["layers"]) == len(mlp["layers"])
        await app.runner.stop_and_wait()


def test_a_preset_by_name_says_it_follows_the_data_set():
    before = RunConfig().replace(**{"data.name": "moons"})
    after, note = follow_data(before, before.replace(**{"data.name": "spirals"}))
    assert after.model.spec is None and note == "The mlp preset is fitted to spirals (2 features, 3 classes)."
    cnn = before.replace(**{"data.name": "mnist", "model.preset": "cnn"})
    _, note = follow_data(cnn, cnn.replace(**{"data.name": "xor"}))
    assert note.startswith("The cnn preset does not fit xor: needs images")
