"""The gradient check view: the model's backward pass against central differences, layer by layer, in float64."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnstudio.engine.gradcheck import MODEL_TOLERANCE, check_model, layer_errors

from .jsonable import numbers
from .subject import NotApplicable, Subject

#: training examples the check runs on
SAMPLES = 4
#: elements of each parameter checked (a whole MNIST layer would take a forward pass per weight)
PER_TENSOR = 12

@dataclass(frozen=True, eq=False)
class GradCheck:
    """The largest relative error of each layer's gradients, and whether it passes."""

    errors: dict[str, float]        # layer -> largest relative error
    labels: dict[str, str]          # layer -> how to name it
    tolerance: float
    samples: int
    per_tensor: int

    view = "gradcheck"

    @property
    def passed(self) -> bool:
        return all(error <= self.tolerance for error in self.errors.values())

    def failing(self) -> list[str]:
        return [layer for layer, error in self.errors.items() if not error <= self.tolerance]

    def to_json(self) -> dict:
        return {"view": self.view, "passed": self.passed, "tolerance": self.tolerance, "samples": self.samples,
                "elements_per_tensor": self.per_tensor,
                "layers": [{"layer": name, "label": self.labels[name], "max_relative_error": numbers(error),
                            "passed": error <= self.tolerance} for name, error in self.errors.items()]}

def gradcheck(subject: Subject, samples: int = SAMPLES, per_tensor: int = PER_TENSOR, seed: int = 0) -> GradCheck:
    """Check the model's gradients on a few training examples (the model is copied to float64 for it)."""
    if not list(subject.model.parameters()):
        raise NotApplicable("this model has no parameters to check")
    if not len(subject.x_train):
        raise NotApplicable("the gradient check needs training examples; this data set has none")
    x, y = subject.x_train[:samples], subject.targets[:samples]
    with np.errstate(all="ignore"):   # a diverged model's NaN reads as a failed check, not as warnings on stderr
        errors = layer_errors(check_model(subject.model, subject.loss_fn, x, y, per_tensor=per_tensor, seed=seed))
    labels = {name: subject.layer_label(name) for name in errors}
    return GradCheck(errors, labels, MODEL_TOLERANCE, int(len(x)), per_tensor)

