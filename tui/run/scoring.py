"""What a session's model makes of the test split, which training never sees: its outputs (the studio's
digit grid, `nnstudio predict`) and its figures (`nnstudio eval`, the studio's test-set line, `bench`).
`Session.predict_test` and `Session.evaluate_test` are these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from nnstudio.engine.evaluation import evaluate, predict
from nnstudio.engine.metrics import softmax
from nnstudio.engine.nn import Module

if TYPE_CHECKING:
    from .session import Session


def test_outputs(session: "Session", index: np.ndarray | None = None) -> np.ndarray:
    """Model outputs (class probabilities for classification) for test images (all, or `index`)."""
    x = session.data.x_test if index is None else session.data.x_test[index]
    out = predict(session.model, x)
    return softmax(out) if session.classes else out


def test_figures(session: "Session", model: Module | None = None) -> dict[str, Any]:
    """The session's model's (or `model`'s) figures on the test split, JSON-able: for classes the loss,
    accuracy, per-class accuracy and confusion matrix (rows = truth); otherwise the mean squared error
    (the loss of regression and reconstruction, `factory.make_loss`)."""
    data = session.data
    target = data.x_test if session.reconstruct else data.y_test
    result = evaluate(model or session.model, session.loss_fn, data.x_test, target, classes=session.classes)
    record: dict[str, Any] = {"dataset": session.dataset.name, "test_size": int(len(data.x_test))}
    if not session.classes:
        return {**record, "task": session.task, "test_mse": result.loss}
    confusion = result.confusion
    totals = confusion.sum(axis=1)
    per_class = [float(confusion[c, c] / totals[c]) if totals[c] else None for c in range(session.classes)]
    return {**record, "task": "classification", "test_loss": result.loss, "test_acc": result.accuracy,
            "class_names": list(session.dataset.class_names), "per_class_acc": per_class,
            "confusion": confusion.tolist()}
