"""Subjects for the inside views with known, fixed contents: seeded untrained models on fixed data sets,
and epoch records made up in the shape the trainer writes them. No training, no threads: the same
pictures on every machine (snapshots, the CLI's and the pane's drawings).
"""

from __future__ import annotations

import numpy as np

from nnstudio.datasets import load_dataset
from nnstudio.datasets.preprocess import prepare
from nnstudio.engine.inside import layer_distributions
from nnstudio.engine.nn import CrossEntropyLoss, MSELoss
from nnstudio.engine.optim import Adam
from nnstudio.engine.presets import preset_spec
from nnstudio.engine.random import manual_seed
from nnstudio.engine.spec import build_model
from nnstudio.engine.tensor import Tensor
from nnstudio.tui.run.inside import Subject

PLANE_SPEC = {"input_shape": [2], "layers": [{"type": "linear", "out": 8}, {"type": "tanh"},
                                             {"type": "linear", "out": 6}, {"type": "relu"},
                                             {"type": "linear", "out": 3}]}


def _records(model, probe: np.ndarray, epochs: int = 12) -> list[dict]:
    """Made-up epoch records: gradient norms shrinking toward the first layer, update ratios falling
    from too large to too small, and the model's own distributions (the same each epoch, spread a little)."""
    names = list(dict.fromkeys(name.rpartition(".")[0] for name, _ in model.named_parameters()))
    base = layer_distributions(model, probe)
    records = []
    for e in range(1, epochs + 1):
        spread = 1.0 + 0.1 * e
        records.append({
            "epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e,
            "grad_norms": {n: 10.0 ** (-3 + i) / e for i, n in enumerate(names)},
            "update_ratios": {n: 10.0 ** (-1 - 0.4 * e) * (i + 1) for i, n in enumerate(names)},
            "distributions": {layer: {kind: ([q * spread for q in values] if isinstance(values, list) else values)
                                      for kind, values in entry.items()} for layer, entry in base.items()},
        })
    return records


def fitted(model, x: np.ndarray, y: np.ndarray, steps: int, lr: float = 0.05):
    """`model` after `steps` full-batch Adam steps on (x, y): small arrays, so the same numbers everywhere."""
    optimizer, loss_fn = Adam(model.parameters(), lr=lr), CrossEntropyLoss()
    for _ in range(steps):
        loss = loss_fn(model(Tensor(x)), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def plane_subject(steps: int = 150) -> Subject:
    """Three blobs and a seeded 2-8-6-3 classifier (tanh, then relu) fitted by `steps` full-batch steps."""
    dataset = load_dataset("blobs", size=300, classes=3)
    data = prepare(dataset, val_fraction=0.0, seed=0, standardize=True)
    manual_seed(7)
    model = fitted(build_model(PLANE_SPEC), data.x_train, data.y_train, steps)
    return Subject(model=model, spec=model.spec, task="classification", dataset="blobs",
                   class_names=tuple(dataset.class_names), x_train=data.x_train, y_train=data.y_train,
                   x_test=data.x_test, y_test=data.y_test, image_shape=None, loss_fn=CrossEntropyLoss(),
                   history=_records(model, data.x_test[:128]))


def digits_subject(preset: str = "mlp", **options) -> Subject:
    """The embedded MNIST subset and a seeded model of `preset` (its `options`: bottleneck=2, say)."""
    dataset = load_dataset("mnist-embedded")
    image = preset == "cnn"
    data = prepare(dataset, val_fraction=0.0, seed=0, layout="image" if image else "flat")
    manual_seed(7)
    spec = preset_spec(preset, input_shape=(1, 28, 28) if image else (784,), **options)
    model = build_model(spec)
    reconstruct = preset == "autoencoder"
    return Subject(model=model, spec=model.spec, task="reconstruction" if reconstruct else "classification",
                   dataset=dataset.name, class_names=() if reconstruct else tuple(dataset.class_names),
                   x_train=data.x_train, y_train=data.y_train, x_test=data.x_test, y_test=data.y_test,
                   image_shape=dataset.image_shape, loss_fn=MSELoss() if reconstruct else CrossEntropyLoss(),
                   history=_records(model, data.x_test[:128]))

