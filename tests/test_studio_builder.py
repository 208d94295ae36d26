"""The model builder pane, driven by keys in a tiny host app: add, edit, reject, move, delete, presets.

Each test mounts the pane alone with a config for a small data set (2 features, 3 classes,
like `spirals`) and records every ConfigChanged the pane posts, so "nothing was posted" is
checked as carefully as what was.
"""

from __future__ import annotations

import pytest
from textual import on
from textual.widgets import DataTable, Input, Select, Static

from nnstudio.engine.presets import preset_spec
from nnstudio.engine.spec import validate_spec
from nnstudio.tui.run import Status
from nnstudio.tui.run.config import RunConfig
from nnstudio.tui.studio.builder_pane import BuilderPane
from nnstudio.tui.studio.layer_form import LayerForm, LayerTypePicker
from nnstudio.tui.studio.messages import ConfigChanged
from studio_host import PaneHost

SIZES = [(80, 24), (120, 40)]
OUTPUT_ONLY = {"input_shape": [2], "layers": [{"type": "linear", "out": 3}]}
MLP = {"input_shape": [2], "layers": [{"type": "linear", "out": 32}, {"type": "relu"}, {"type": "linear", "out": 3}]}
IMAGES = {"input_shape": [1, 28, 28], "layers": [{"type": "flatten"}, {"type": "linear", "out": 10}]}


def config_with(spec: dict, data: str | None = None) -> RunConfig:
    """The spec on spirals (2 features, 3 classes), or on MNIST for a spec that takes images."""
    data = data or ("mnist" if len(spec["input_shape"]) == 3 or spec["input_shape"] == [784] else "spirals")
    return RunConfig().replace(**{"data.name": data, "model.spec": spec})


class _Host(PaneHost):
    """The builder alone, with a footer; remembers every ConfigChanged it receives."""

    def __init__(self, config: RunConfig) -> None:
        super().__init__(BuilderPane(config, id="builder"))
        self.validity: list[bool] = []

    @on(ConfigChanged)
    def record(self, message: ConfigChanged) -> None:
        self.posted.append(message)

    @on(BuilderPane.ValidityChanged)
    def record_validity(self, message: BuilderPane.ValidityChanged) -> None:
        self.validity.append(message.valid)


def rows(app: _Host) -> list[list[str]]:
    return list(app.query_one(BuilderPane).iter_rows())


def types(app: _Host) -> list[str]:
    return [row[1] for row in rows(app)]


def last_spec(app: _Host) -> dict:
    return app.posted[-1].config.model.spec


async def add_layer(pilot, type_name: str, typed: str = "", *, above: bool = False) -> None:
    """a (or A), filter the picker to `type_name`, enter; then type into the form's first field and enter."""
    await pilot.press("A" if above else "a")
    await pilot.press(*type_name, "enter")
    await pilot.pause()
    if typed:
        assert isinstance(pilot.app.screen, LayerForm)
        await pilot.press(*typed, "enter")
        await pilot.pause()


# ====================================================================== building by keys
@pytest.mark.parametrize("size", SIZES)
async def test_build_a_two_layer_model_by_keys(size):
    app = _Host(config_with(OUTPUT_ONLY))
    async with app.run_test(size=size) as pilot:
        assert rows(app) == [["0", "linear", "out=3", "3", "9"]]
        await add_layer(pilot, "linear", "32", above=True)       # a hidden layer before the output layer
        assert types(app) == ["linear", "linear"]
        await add_layer(pilot, "relu")                            # no fields: added without a form
        assert types(app) == ["linear", "relu", "linear"]
        assert rows(app) == [["0", "linear", "out=32", "32", "96"], ["1", "relu", "", "32", "0"],
                             ["2", "linear", "out=3", "3", "99"]]
        assert len(app.posted) == 2
        assert last_spec(app) == validate_spec(MLP)
        assert "195 parameters" in str(app.query_one("#summary", Static).render())
        assert app.query_one(BuilderPane).valid


async def test_the_picker_filters_as_you_type_and_escape_adds_nothing():
    app = _Host(config_with(OUTPUT_ONLY))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a", *"relu")
        picker = app.screen
        assert isinstance(picker, LayerTypePicker)
        shown = [picker.query_one("#types").get_option_at_index(i).id
                 for i in range(picker.query_one("#types").option_count)]
        assert shown[0] == "relu" and "leaky_relu" in shown and "linear" not in shown
        await pilot.press("escape")
        assert types(app) == ["linear"] and app.posted == []


async def test_edit_a_layer_through_its_form():
    app = _Host(config_with(MLP))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("e")                 # row 0: linear out=32
        form = app.screen
        assert isinstance(form, LayerForm)
        assert form.query_one("#out", Input).value == "32"
        await pilot.press(*"64")               # the text is selected on focus: typing replaces it
        assert "output 64 · 192 parameters" in str(form.query_one("#preview", Static).render())
        await pilot.press("enter")
        await pilot.pause()
        assert rows(app)[0] == ["0", "linear", "out=64", "64", "192"]
        assert last_spec(app)["layers"][0]["out"] == 64
        await pilot.press("enter")             # enter on a row edits it too
        assert isinstance(app.screen, LayerForm)
        await pilot.press("escape")            # cancel: nothing changes
        assert len(app.posted) == 1 and last_spec(app)["layers"][0]["out"] == 64


@pytest.mark.parametrize("typed, message", [
    ("0", "out must be a whole number >= 1, got '0'"),
    ("abc", "out must be a whole number >= 1, got 'abc'"),
    ("[2]", "out must be a whole number >= 1, got '[2]'"),   # shown as typed, never read as markup
])
async def test_an_invalid_field_is_explained_and_cannot_be_submitted(typed, message):
    app = _Host(config_with(MLP))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("e", *typed)
        form = app.screen
        assert str(form.query_one("#row-out .message", Static).render()) == message
        assert form.query_one("#ok").disabled
        await pilot.press("enter")             # refused: the form stays open
        assert app.screen is form
        await pilot.press("escape")
        assert app.posted == [] and rows(app)[0][2] == "out=32"


async def test_a_layer_form_is_generated_from_the_layer_table():
    app = _Host(config_with(IMAGES))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a", *"conv2d", "enter")
        form = app.screen
        names = [label.render().plain for label in form.query(".field-name")]
        assert names == ["out", "kernel", "stride", "padding", "bias", "init"]
        assert isinstance(form.query_one("#init"), Select)
        await pilot.press("escape")


# ====================================================================== invalid specs
@pytest.mark.parametrize("size", SIZES)
async def test_an_invalid_spec_is_shown_inline_and_never_posted(size):
    app = _Host(config_with(IMAGES))
    async with app.run_test(size=size) as pilot:
        pane = app.query_one(BuilderPane)
        await pilot.press("d")                 # delete the flatten: a linear layer now sits on an image
        assert types(app) == ["linear"]
        assert not pane.valid
        assert "linear needs a flat input" in pane.error_text and "add a flatten layer" in pane.error_text
        error_box = app.query_one("#spec-error", Static)
        assert error_box.display and "add a flatten layer" in str(error_box.render())
        assert rows(app)[0][3] == "?"          # no output shape for the offending layer
        assert "not a valid model" in str(app.query_one("#summary", Static).render())
        assert app.posted == []
        await pilot.press("e", "backspace", "backspace", "5", "enter")   # still invalid: still not posted
        assert rows(app)[0][:3] == ["✗ 0", "linear", "out=5"] and app.posted == []
        await add_layer(pilot, "flatten", above=True)       # it builds now, but gives 5 scores for 10 classes
        assert not pane.valid and app.posted == [] and rows(app)[1][0] == "✗ 1"
        assert "outputs 5 values per sample, but mnist needs 10 (a score per class): set its out to 10" \
            in str(error_box.render())
        assert "does not fit" in str(app.query_one("#summary", Static).render())
        app.query_one("#layers", DataTable).move_cursor(row=1)
        await pilot.press("e", "backspace", "7", "enter")   # out=7 ...
        await pilot.press("i")                               # ... and i fits the output to the data set
        assert pane.valid and not error_box.display
        assert app.validity == [False, True]
        assert app.posted == []               # back to the model the config holds: nothing to post


async def test_a_model_for_another_data_set_is_flagged_and_i_fits_its_ends():
    app = _Host(config_with(MLP))
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(BuilderPane)
        pane.config = pane.config.replace(**{"data.name": "mnist"})   # the data set changed, the model did not
        await pilot.pause()
        assert not pane.valid and "the model's input is 2, but mnist has images 1x28x28" in pane.error_text
        assert "i fits its ends" in str(app.query_one("#spec-error", Static).render())
        await pilot.press("i")
        assert pane.valid and app.posted[-1].config.model.spec["input_shape"] == [784]
        assert [row[2] for row in rows(app)] == ["out=32", "", "out=10"]
        assert "input 2 → 784, layer 2 (linear) out 3 → 10" in str(list(app._notifications)[-1].message)


async def test_undo_brings_back_a_deleted_layer():
    app = _Host(config_with(IMAGES))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d")
        assert not app.query_one(BuilderPane).valid
        await pilot.press("u")
        assert types(app) == ["flatten", "linear"] and app.query_one(BuilderPane).valid
        assert app.posted == []                # back to the model the config already has


async def test_a_settings_change_from_the_app_keeps_an_unfinished_model():
    app = _Host(config_with(IMAGES))
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(BuilderPane)
        await pilot.press("d")
        pane.config = pane.config.replace(**{"optimizer.lr": 0.05})   # same model, another setting
        await pilot.pause()
        assert types(app) == ["linear"] and not pane.valid
        pane.config = config_with(MLP)                                   # another model: it replaces the draft
        await pilot.pause()
        assert types(app) == ["linear", "relu", "linear"] and pane.valid


# ====================================================================== moving and deleting
async def test_move_and_delete_layers():
    app = _Host(config_with(MLP))
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one("#layers", DataTable)
        await pilot.press("down")              # relu
        await pilot.press("K")
        assert types(app) == ["relu", "linear", "linear"] and table.cursor_row == 0
        assert [layer["type"] for layer in last_spec(app)["layers"]] == ["relu", "linear", "linear"]
        await pilot.press("shift+down")
        assert types(app) == ["linear", "relu", "linear"] and table.cursor_row == 1
        await pilot.press("J")
        assert types(app) == ["linear", "linear", "relu"] and table.cursor_row == 2
        await pilot.press("J")                 # already last: nothing moves
        assert types(app) == ["linear", "linear", "relu"]
        await pilot.press("d")
        assert types(app) == ["linear", "linear"] and table.cursor_row == 1
        assert [layer["type"] for layer in last_spec(app)["layers"]] == ["linear", "linear"]
        assert len(app.posted) == 4


async def test_an_autoencoder_layer_moves_across_encoder_and_decoder():
    config = config_with(MLP).replace(**{"model.spec": preset_spec("autoencoder", input_shape=[2], hidden=[4],
                                                                     bottleneck=1)})
    app = _Host(config)
    async with app.run_test(size=(80, 24)) as pilot:
        assert [row[0] for row in rows(app)][:3] == ["enc 0", "enc 1", "enc 2"]
        await pilot.press("down", "down", "J")   # the code layer becomes the first decoder layer
        spec = last_spec(app)
        assert len(spec["encoder"]) == 2 and spec["decoder"][0] == {"type": "linear", "out": 1, "bias": True,
                                                                    "init": "auto"}
        assert rows(app)[2][0] == "dec 0"


# ====================================================================== presets
async def test_choose_a_preset_fitted_to_the_data():
    app = _Host(config_with(MLP))
    async with app.run_test(size=(80, 24)) as pilot:
        select = app.query_one("#preset", Select)
        assert select.value is Select.NULL      # a hand-made model is "custom"
        await pilot.press("p", "down", "down", "down", "enter")   # nothing highlighted yet; custom, logreg, mlp
        config = app.posted[-1].config
        assert config.model.preset == "mlp"
        assert config.model.spec == preset_spec("mlp", input_shape=[2], classes=3)
        assert select.value == "mlp"
        assert types(app)[:2] == ["linear", "relu"]
        assert app.focused is app.query_one("#layers")     # back to the table for editing


async def test_an_image_preset_takes_the_image_layout_of_flat_pixels():
    app = _Host(config_with({"input_shape": [784], "layers": [{"type": "linear", "out": 10}]}))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p", "down", "down", "down", "enter")   # from logreg (the model): mlp, deep-mlp, cnn
        spec = last_spec(app)
        assert spec["input_shape"] == [1, 28, 28] and spec == preset_spec("cnn", input_shape=[1, 28, 28], classes=10)


async def test_a_preset_that_cannot_fit_the_data_is_unavailable_with_the_reason():
    app = _Host(config_with(OUTPUT_ONLY))
    async with app.run_test(size=(80, 24)) as pilot:
        select = app.query_one("#preset", Select)
        labels = [str(prompt) for prompt, _ in select._options]
        assert labels[1:] == ["logreg", "mlp", "deep-mlp", "cnn (needs images)", "autoencoder (needs images)"]
        assert "unavailable: needs images; spirals has 2 features" in str(select.tooltip)
        await pilot.press("p", "down", "down", "down", "enter")   # from logreg (the model): mlp, deep-mlp, cnn
        await pilot.pause()
        assert app.posted == [] and select.value == "logreg" and types(app) == ["linear"]
        assert any("needs images" in str(n.message) for n in app._notifications)
        assert app.focused is app.query_one("#layers")          # back where the keys act
        await pilot.press("p", "down", "down", "enter")
        await pilot.pause()
        assert app.posted[-1].config.model.preset == "deep-mlp"


async def test_a_preset_by_name_is_shown_fitted_to_the_data_set_of_the_config():
    app = _Host(RunConfig().replace(**{"data.name": "spirals", "model.preset": "logreg"}))   # no spec
    async with app.run_test(size=(80, 24)):
        pane = app.query_one(BuilderPane)
        assert pane.spec == preset_spec("logreg", input_shape=[2], classes=3)
        assert app.query_one("#preset", Select).value == "logreg" and app.posted == []


# ====================================================================== during a run
async def test_the_model_is_read_only_while_a_run_exists():
    app = _Host(config_with(MLP))
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(BuilderPane)
        pane.set_running(Status.RUNNING)
        await pilot.pause()
        assert app.query_one("#read-only").display and app.query_one("#preset", Select).disabled
        await pilot.press("a")
        await pilot.press("d", "K", "e")
        assert app.screen is app.screen_stack[0]     # no form or picker opened
        assert types(app) == ["linear", "relu", "linear"] and app.posted == []
        pane.set_running(Status.FINISHED)
        await pilot.pause()
        await pilot.press("d")
        assert types(app) == ["relu", "linear"] and len(app.posted) == 1


# ====================================================================== snapshots
class TestBuilderSnapshots:
    """The builder as a user sees it: a preset MLP on MNIST-sized inputs, and an invalid model."""

    def test_mlp_preset_80x24(self, snap_compare):
        config = RunConfig().replace(**{"model.spec": preset_spec("mlp")})
        assert snap_compare(_Host(config), terminal_size=(80, 24))

    def test_invalid_model_120x40(self, snap_compare):
        spec = {"input_shape": [1, 28, 28], "layers": [
            {"type": "conv2d", "out": 8, "kernel": 3, "padding": 1}, {"type": "relu"},
            {"type": "maxpool2d", "kernel": 2}, {"type": "flatten"}, {"type": "linear", "out": 10}]}

        async def delete_flatten(pilot):
            await pilot.press("down", "down", "down", "d")

        assert snap_compare(_Host(RunConfig().replace(**{"model.spec": spec})), terminal_size=(120, 40),
                            run_before=delete_flatten)

    def test_layer_form_80x24(self, snap_compare):
        async def open_form(pilot):
            await pilot.press("e", *"0")

        assert snap_compare(_Host(config_with(MLP)), terminal_size=(80, 24), run_before=open_form)
