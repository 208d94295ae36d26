"""End-to-end learning: the engine, optimizers and the trainer's loop actually fit real problems."""

from __future__ import annotations

import numpy as np

from nnstudio.datasets import BatchIterator
from nnstudio.engine import manual_seed, nn
from nnstudio.engine.evaluation import evaluate
from nnstudio.engine.optim import SGD, Adam
from nnstudio.engine.trainer import Trainer


def spirals(n_per_class: int, classes: int, rng: np.random.Generator):
    """The classic K-armed spiral (CS231n), a problem no linear model can solve."""
    t = np.linspace(0.0, 1.0, n_per_class)
    xs, ys = [], []
    for k in range(classes):
        angle = np.linspace(k * 4.0, (k + 1) * 4.0, n_per_class) + rng.normal(0, 0.2, n_per_class)
        xs.append(np.c_[t * np.sin(angle), t * np.cos(angle)])
        ys.append(np.full(n_per_class, k))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


def fit(model, optimizer, x, y, epochs, batch_size, loss_fn=None, classes=None):
    """Train with the engine's Trainer (a seeded shuffle each epoch); the loss and accuracy on (x, y) after."""
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    classes = classes or int(y.max()) + 1
    batches = BatchIterator(x, y, batch_size, seed=0)
    assert Trainer(model, optimizer, loss_fn, batches, epochs=epochs, classes=classes).run() == "finished"
    result = evaluate(model, loss_fn, x, y, classes=classes)
    return result.loss, result.accuracy


def test_xor_is_learned_by_a_tiny_tanh_network():
    manual_seed(0)
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 8, np.float32)
    y = np.array([0, 1, 1, 0] * 8)
    model = nn.Sequential(nn.Linear(2, 8, init="xavier", activation="tanh"), nn.Tanh(), nn.Linear(8, 2, init="lecun"))
    loss, accuracy = fit(model, SGD(model.parameters(), lr=0.5, momentum=0.9), x, y, epochs=150, batch_size=8)
    assert accuracy >= 0.97
    assert loss < 0.05


def test_three_class_spirals_reach_97_percent():
    manual_seed(0)
    x, y = spirals(100, 3, np.random.default_rng(0))
    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3, init="lecun"))
    _, accuracy = fit(model, Adam(model.parameters(), lr=0.01), x, y, epochs=150, batch_size=32)
    assert accuracy >= 0.97


def test_logistic_regression_cannot_solve_spirals():
    """The control: the same data defeats a linear model, so the test above measures depth."""
    manual_seed(0)
    x, y = spirals(100, 3, np.random.default_rng(0))
    model = nn.Sequential(nn.Linear(2, 3, init="lecun"))
    _, accuracy = fit(model, Adam(model.parameters(), lr=0.01), x, y, epochs=50, batch_size=32)
    assert accuracy < 0.7


def test_mlp_reaches_95_percent_on_real_mnist_in_two_epochs(mnist_dir):
    from nnstudio.datasets import load_dataset, prepare
    from nnstudio.engine import build_model
    from nnstudio.engine.presets import preset_spec

    data = prepare(load_dataset("mnist", data_dir=mnist_dir), val_fraction=0.0)
    assert data.x_train.shape == (60000, 784)
    manual_seed(0)
    model = build_model(preset_spec("mlp"))
    optimizer = Adam(model.parameters(), lr=1e-3)
    fit(model, optimizer, data.x_train, data.y_train, epochs=2, batch_size=64, classes=10)
    test = evaluate(model, nn.CrossEntropyLoss(), data.x_test, data.y_test, classes=10)
    assert test.accuracy >= 0.95
    assert test.confusion.sum() == 10000 and np.trace(test.confusion) == round(test.accuracy * 10000)
