"""Looking inside a network, as data: each view of issue 15 computed from a `Subject` (a model copy, its
data and its run's records), the same for the studio's Inside pane and `nnstudio inspect`. No drawing
here (`nnstudio.tui.render.inside` draws them); every view's numbers are JSON-able (`to_json`).

    look("boundary", subject, cols=60, rows=20)   -> Boundary (or Fit, for a regression)
    look("neurons", subject, layer=1, ...)        -> Neurons
    look("weights" | "distributions" | "gradient-flow" | "latent" | "confusion" | "gradcheck", subject, ...)

A view that does not apply to the model or its data raises `NotApplicable`, whose message says
what the view needs, in one line.
"""

from __future__ import annotations

from typing import Any, Callable

from .checking import GradCheck, gradcheck
from .pictures import Confusion, Latent, Weights, confusion, latent, weights
from .plane import Boundary, Fit, Neurons, boundary, neurons
from .records import Distributions, GradientFlow, distributions, gradient_flow
from .subject import Layer, NotApplicable, Subject

#: every view, in the order the studio's keys and `inspect --view` list them
VIEWS = ("boundary", "neurons", "weights", "distributions", "gradient-flow", "latent", "confusion", "gradcheck")
#: the view shown when none is chosen: the first of these that applies to the model and its data
DEFAULT_VIEWS = ("boundary", "latent", "weights", "gradient-flow", "distributions")
#: what each view shows, in a few words
DESCRIPTIONS = {
    "boundary": "the decision boundary (or the fitted curve) over the plane of a 2-D data set",
    "neurons": "what each unit of a layer responds to over the plane",
    "weights": "the first layer's units as images",
    "distributions": "a layer's weights, biases, activations and gradients, now and per epoch",
    "gradient-flow": "each layer's gradient norm and update-to-weight ratio, per epoch",
    "latent": "an autoencoder's 2-D codes of the test examples, and a walk decoded across them",
    "confusion": "the confusion matrix and the examples of one cell",
    "gradcheck": "backward pass against central differences, per layer (float64)",
}


def look(view: str, subject: Subject, *, layer: int | None = None, cols: int = 60, rows: int = 20,
         cell: tuple[int, int] | None = None, steps: int = 7) -> Any:
    """View `view` of `subject`; `cols` x `rows` is the grid of the plane views, `steps` the latent walk's."""
    if view == "boundary":
        return boundary(subject, cols, rows)
    if view == "neurons":
        return neurons(subject, layer, cols, rows)
    if view == "weights":
        return weights(subject)
    if view == "distributions":
        return distributions(subject, layer)
    if view == "gradient-flow":
        return gradient_flow(subject)
    if view == "latent":
        return latent(subject, steps)
    if view == "confusion":
        return confusion(subject, cell)
    if view == "gradcheck":
        return gradcheck(subject)
    raise NotApplicable(f"no view {view!r}; the views are {', '.join(VIEWS)}")


def first_view(subject: Subject, options: Callable[[str], dict] = lambda view: {}) -> tuple[str, Any]:
    """The first of DEFAULT_VIEWS that applies, and its result (`options(view)`: that view's `look` options);
    NotApplicable naming each view's reason when none does."""
    reasons = []
    for view in DEFAULT_VIEWS:
        try:
            return view, look(view, subject, **options(view))
        except NotApplicable as error:
            reasons.append(f"{view}: {error}")
    raise NotApplicable(f"no view applies to this model ({'; '.join(reasons)})")


__all__ = ["VIEWS", "DEFAULT_VIEWS", "DESCRIPTIONS", "look", "first_view", "Subject", "Layer", "NotApplicable", "Boundary", "Fit", "Neurons",
           "Weights", "Latent", "Confusion", "Distributions", "GradientFlow", "GradCheck"]
