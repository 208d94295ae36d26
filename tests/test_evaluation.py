"""The engine's one evaluation: its figures against hand-computed ones, and the trainer validating with it."""

from __future__ import annotations

import numpy as np
import pytest

from nnstudio.datasets import BatchIterator
from nnstudio.engine import Tensor, events, manual_seed, nn, no_grad
from nnstudio.engine.evaluation import evaluate, predict
from nnstudio.engine.optim import SGD
from nnstudio.engine.trainer import Trainer


def classifier():
    manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))


def points(n=50, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)).astype(np.float32), rng.integers(0, 3, n)


def test_class_figures_agree_with_a_hand_computation():
    model, (x, y) = classifier(), points()
    result = evaluate(model, nn.CrossEntropyLoss(), x, y, classes=3, batch_size=16)  # batches of 16, 16, 16, 2
    model.eval()
    with no_grad():
        outputs = model(Tensor(x)).data
    assert result.loss == pytest.approx(float(nn.CrossEntropyLoss()(Tensor(outputs), y).item()), rel=1e-6)
    predicted = outputs.argmax(axis=1)
    assert result.accuracy == np.mean(predicted == y)
    expected = [[np.sum((y == t) & (predicted == p)) for p in range(3)] for t in range(3)]
    np.testing.assert_array_equal(result.confusion, expected)


def test_without_classes_the_loss_is_the_only_figure():
    manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 2))
    x, _ = points()
    target = np.random.default_rng(1).normal(size=(50, 2)).astype(np.float32)
    result = evaluate(model, nn.MSELoss(), x, target)
    assert result.accuracy is None and result.confusion is None
    assert result.loss == float(np.mean((predict(model, x) - target) ** 2))


@pytest.mark.parametrize("training", [True, False])
def test_prediction_leaves_the_mode_and_records_no_graph(training):
    model, (x, _) = classifier(), points()
    model.train(training)
    outputs = predict(model, x, batch_size=7)
    assert model.training is training and all(m.training is training for m in model.modules())
    np.testing.assert_allclose(outputs, predict(model, x), rtol=1e-6)  # eval mode: no dropout, batches or not
    assert all(p.grad is None for p in model.parameters())


def test_the_trainer_validates_with_evaluate():
    model, (x, y) = classifier(), points(96)
    val = points(40, seed=1)
    seen = []
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), BatchIterator(x, y, 32),
                      epochs=1, val_data=val, classes=3, on_event=seen.append)
    assert trainer.run() == "finished"
    end = next(e for e in seen if isinstance(e, events.EpochEnd))
    result = evaluate(model, nn.CrossEntropyLoss(), *val, classes=3)
    assert (end.val_loss, end.val_accuracy) == (result.loss, result.accuracy)
    np.testing.assert_array_equal(end.confusion, result.confusion)
