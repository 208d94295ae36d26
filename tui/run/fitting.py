"""A model fitted to its data set: what input and output a data set asks of a model, and how a model follows it.

One place for the rules, used by the session (`factory.fit_spec`), the model builder (the inline
"fix it to train" and the presets it offers) and the studio when the data set changes:

- the input is one sample, flat (784) or as an image (1x28x28) for image sets;
- the output is a score per class, one value for regression, or the input again for an autoencoder;
- a preset is a recipe, fitted to any data set it suits (`fit_preset`); one that only makes sense
  on images says so (`preset_problem`);
- a custom model follows a new data set by its ends: its input shape and its last linear layer
  (`refit`); the layers in between are the user's and stay as they are.
"""

from __future__ import annotations

import copy
from typing import Any

from nnstudio.datasets import DatasetError, DataShape, data_shape
from nnstudio.engine.layer_types import LAYER_TYPES, shape_text
from nnstudio.engine.presets import PRESETS, preset_spec
from nnstudio.engine.spec import SpecError, is_autoencoder, summarize, validate_spec

from .config import RunConfig, dataset_options


def data_shape_of(config: RunConfig) -> DataShape | None:
    """The shape of the config's data set, known without loading it; None for a name no loader knows."""
    options = {key: value for key, value in dataset_options(config).items() if key == "classes"}
    try:
        return data_shape(config.data.name, **options)
    except DatasetError:
        return None


def needed_output(spec: dict, shape: DataShape) -> tuple[int, ...]:
    """The output one sample must give: the input again for an autoencoder, else a score per class or one value."""
    return shape.features if is_autoencoder(spec) else (shape.targets,)


def _what(spec: dict, shape: DataShape) -> str:
    if is_autoencoder(spec):
        return "a reconstruction of each input"
    return "a score per class" if shape.task == "classification" else "a regression target"


def _output_layer(spec: dict) -> tuple[str, int] | None:
    """(section, index) of the layer that sets the model's output size: the last linear layer, when nothing but
    an autoencoder's output activation follows it. None when the model has no such layer (a plain stack that
    ends in an activation or dropout after its last linear layer, or in an image layer): it needs one added."""
    autoencoder = is_autoencoder(spec)
    section = "decoder" if autoencoder else "layers"
    layers = spec.get(section, [])
    for index in range(len(layers) - 1, -1, -1):
        layer = layers[index]
        kind = layer.get("type") if isinstance(layer, dict) else None
        if kind == "linear":
            return section, index
        if not autoencoder or LAYER_TYPES.get(kind) is None or LAYER_TYPES[kind].category != "activation":
            return None   # a classifier's scores come straight from a linear layer: a relu or dropout after it
    return None


def fit_problem(spec: dict, shape: DataShape) -> SpecError | None:
    """Why `spec` cannot train on the data set of `shape` (naming the layer to change), or None if it fits.

    An invalid spec's own SpecError comes first.
    """
    try:
        summary = summarize(spec)
    except SpecError as error:
        return error
    inputs = tuple(summary.input_shape)
    if inputs not in shape.layouts:
        has = " or ".join(shape_text(s) for s in shape.layouts)
        return SpecError(f"the model's input is {shape_text(inputs)}, but {shape.name} has {shape.describe()} "
                         f"(input {has})", field="input_shape")
    need = needed_output(spec, shape)
    if tuple(summary.output_shape) == need:
        return None
    gives = f"the model outputs {shape_text(tuple(summary.output_shape))} values per sample, but {shape.name} " \
            f"needs {shape_text(need)} ({_what(spec, shape)})"
    last = _output_layer(spec)
    if last is None:
        section = "decoder" if is_autoencoder(spec) else "layers"
        return SpecError(f"{gives}: end the model with a linear layer of out {shape_text(need)}",
                         section=section, index=len(spec[section]) - 1)
    section, index = last
    where = "layer" if section == "layers" else f"{section} layer"
    return SpecError(f"{where} {index} (linear): {gives}: set its out to {shape_text(need)}",
                     section=section, index=index, layer_type="linear", field="out")


def refit(spec: dict, shape: DataShape) -> tuple[dict, list[str]]:
    """A copy of `spec` whose input and last linear layer fit `shape`, and what changed, in words.

    The input takes the data's flat or image layout, whichever the model's input has (a CNN keeps
    images); a model whose output is set by an image layer keeps it (`fit_problem` then says why).
    """
    draft, changes = copy.deepcopy(spec), []
    old_input = list(draft.get("input_shape") or [])
    if tuple(old_input) not in shape.layouts:
        new_input = list(shape.image_shape) if len(old_input) == 3 and shape.image_shape else list(shape.features)
        draft["input_shape"] = new_input
        changes.append(f"input {shape_text(tuple(old_input)) if old_input else '?'} → {shape_text(tuple(new_input))}")
    need = needed_output(draft, shape)
    try:
        gives = summarize(draft).output_shape
    except SpecError:
        gives = None
    if gives is None or tuple(gives) == need or len(need) != 1:
        return draft, changes
    last = _output_layer(draft)
    if last is None:   # no output layer (e.g. the last linear layer was deleted): add one at the end
        section = "decoder" if is_autoencoder(draft) else "layers"
        draft[section].append({"type": "linear", "out": need[0]})
        where = "layer" if section == "layers" else section
        changes.append(f"a linear layer of out {need[0]} added at the end ({where} {len(draft[section]) - 1})")
        return draft, changes
    section, index = last
    layer = draft[section][index]
    changes.append(f"{'layer' if section == 'layers' else section} {index} (linear) out {layer.get('out')} → {need[0]}")
    layer["out"] = need[0]
    return draft, changes


def preset_problem(name: str, shape: DataShape) -> str | None:
    """Why preset `name` cannot be fitted to the data set of `shape` ("needs images: ..."), or None."""
    if PRESETS[name].needs_images and not shape.image_shape:
        return f"needs images; {shape.name} has {shape.describe()}"
    try:
        fit_preset(name, shape)
    except (SpecError, ValueError) as error:
        return str(error)
    return None


def fit_preset(name: str, shape: DataShape) -> dict:
    """Preset `name` fitted to the data set: its inputs (as images for a recipe made for images) and outputs."""
    preset = PRESETS[name]
    options = preset.options()
    default = options.get("input_shape")
    image = shape.image_shape and default is not None and len(default) == 3
    fitted: dict[str, Any] = {"input_shape": list(shape.image_shape if image else shape.features)}
    if "classes" in options:
        fitted["classes"] = shape.targets
    return preset_spec(name, **fitted)


def preset_of(spec: dict, shape: DataShape) -> str | None:
    """The preset `spec` is, fitted to the data set of `shape`, or None for a custom model (names aside)."""
    try:
        layers = _unnamed(validate_spec(spec))
    except SpecError:
        return None
    for name in PRESETS:
        try:
            if _unnamed(fit_preset(name, shape)) == layers:
                return name
        except (SpecError, ValueError):
            continue
    return None


def model_name(config: RunConfig) -> str:
    """What to call the config's model in a title or a save's name: its preset, else "custom"."""
    spec = config.model.spec
    if spec is None:
        return config.model.preset
    data = data_shape_of(config)
    return (preset_of(spec, data) if data is not None else None) or "custom"


def _unnamed(spec: dict) -> dict:
    return {key: value for key, value in spec.items() if key != "name"}


def follow_data(old: RunConfig, new: RunConfig) -> tuple[RunConfig, str | None]:
    """`new` with its model fitted to its data set when the data set's shape differs from `old`'s, and a
    sentence saying what changed (None if nothing did).

    A preset by name follows by itself; a spec that was a preset fitted to the old data becomes
    that preset fitted to the new data; any other spec is refitted by its ends (`refit`).
    """
    spec = new.model.spec
    before, after = data_shape_of(old), data_shape_of(new)
    if before is None or after is None or before == after:
        return new, None
    if spec is None:
        problem = preset_problem(new.model.preset, after)
        return new, (f"The {new.model.preset} preset is fitted to {after.name} ({after.describe()})."
                     if problem is None else f"The {new.model.preset} preset does not fit {after.name}: {problem}; "
                     "choose another in 1 Model (p).")
    preset = preset_of(spec, before)
    if preset is not None and (problem := preset_problem(preset, after)) is not None:
        return new, f"The {preset} preset does not fit {after.name}: {problem}; choose another in 1 Model (p)."
    if preset is not None:
        fitted = fit_preset(preset, after)
        if fitted == validate_spec(spec):
            return new, None
        return (new.replace(**{"model.spec": fitted, "model.preset": preset}),
                f"The {preset} preset was fitted to {after.name} ({after.describe()}).")
    draft, changes = refit(spec, after)
    if not changes:
        return new, None
    problem = fit_problem(draft, after)
    if problem is not None:
        return new, f"The model does not fit {after.name} ({after.describe()}): {problem}."
    return (new.replace(**{"model.spec": draft}),
            f"The model was fitted to {after.name} ({after.describe()}): {', '.join(changes)}.")
