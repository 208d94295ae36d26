"""A recorded (made-up, fixed) run for the studio's tests: epoch events, batch losses and MNIST probe predictions.

Feeding these instead of training makes a screen identical on every run and every machine:
no thread, no timing figure, no random numbers.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from nnstudio.datasets import load_dataset
from nnstudio.engine import events
from nnstudio.tui.run import Status
from nnstudio.tui.studio.predictions_pane import ProbeSet

LAYERS = ("layers.1", "layers.3", "layers.5")
#: examples in an epoch of the recorded MNIST run (a tenth of the 60,000 held out)
MNIST_TRAIN = 54_000


def recorded_epochs(count: int = 6, planned: int = 10) -> list[events.EpochEnd]:
    """Epoch events of a made-up MNIST run: falling loss, rising accuracy, a decaying learning rate."""
    out = []
    for e in range(count):
        confusion = np.full((10, 10), 2, dtype=np.int64) + np.diag(np.full(10, 80 + 2 * e))
        out.append(events.EpochEnd(
            epoch=e, epochs=planned, train_loss=1.6 * 0.7 ** e, train_accuracy=0.6 + 0.05 * e,
            val_loss=1.7 * 0.72 ** e, val_accuracy=0.58 + 0.05 * e, lr=1e-3 * 0.8 ** e,
            grad_norms={name: 10.0 ** (-k - 0.3 * e) for k, name in enumerate(LAYERS)},
            weight_norms={name: 1.0 for name in LAYERS}, update_ratios={name: 1e-3 for name in LAYERS},
            samples_per_s=12_000.0, seconds=4.5, elapsed=4.5 * (e + 1), eta=4.5 * (planned - e - 1),
            confusion=confusion))
    return out


def recorded_batches(epochs: int = 6, batches: int = 50) -> list[tuple[int, int, int, float]]:
    return [(e, b, batches, 1.8 * 0.7 ** (e + b / batches) + 0.05 * ((b * 7) % 5)) for e in range(epochs)
            for b in range(batches)]


def mnist_probe() -> tuple[ProbeSet, np.ndarray]:
    """The embedded test digits as a probe set, and outputs that get every fifth one wrong."""
    data = load_dataset("mnist-embedded")
    index = np.arange(0, 1000, 2)
    probe = ProbeSet(data.y_test[index], tuple(data.class_names), images=data.x_test[index].reshape(-1, 28, 28))
    outputs = np.full((len(index), 10), 0.01)
    for i, label in enumerate(probe.labels):
        guess = (label + 1) % 10 if i % 5 == 2 else label
        outputs[i, guess] = 0.55 if i % 5 == 2 else 0.91
    return probe, outputs


def feed(app) -> None:
    """Show a paused run after six epochs, as if it had been trained."""
    epochs = recorded_epochs()
    app.monitor.train_size = MNIST_TRAIN   # (the app takes it from the prepared session)
    for event in epochs:
        app.monitor.on_session_event(event)
    app.monitor.tick(events.BatchEnd(5, 49, 50, 0.31, 0.9, 12_000.0), recorded_batches())
    app.monitor.redraw()
    probe, outputs = mnist_probe()
    app.predictions.show_probe(probe)
    app.predictions.show_outputs(outputs, epochs[-1].confusion)
    app.status = Status.PAUSED


def mnist_reconstructions() -> tuple[ProbeSet, np.ndarray]:
    """The embedded test digits as an autoencoder's probe set, and made-up reconstructions: each digit
    faded and shifted a pixel, every seventh one far off."""
    probe, _ = mnist_probe()
    targets = probe.images.reshape(len(probe), -1).astype(np.float32) / 255
    outputs = np.roll(targets.reshape(-1, 28, 28), 1, axis=2).reshape(len(probe), -1) * 0.8
    outputs[::7] = 1.0 - outputs[::7]
    return ProbeSet(probe.labels, probe.class_names, images=probe.images, task="reconstruction",
                    targets=targets), outputs


def feed_autoencoder(app) -> None:
    """Show a paused autoencoder run after six epochs: no accuracy, reconstructions for predictions."""
    app.monitor.train_size = MNIST_TRAIN
    for event in recorded_epochs():
        app.monitor.on_session_event(dataclasses.replace(event, train_accuracy=None, val_accuracy=None,
                                                         confusion=None))
    app.monitor.tick(events.BatchEnd(5, 49, 50, 0.31, None, 12_000.0), recorded_batches())
    app.monitor.task = "reconstruction"
    app.monitor.redraw()
    probe, outputs = mnist_reconstructions()
    app.predictions.show_probe(probe)
    app.predictions.show_outputs(outputs)
    app.status = Status.PAUSED
