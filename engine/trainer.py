"""`Trainer`: the training loop of a session, observable and controllable from another thread.

It takes a model, an optimizer, a loss, a source of mini-batches and callbacks, and knows
nothing of files, data sets or user interfaces. Per batch it steps the optimizer and checks
the global gradient norm; per epoch it measures what a student wants to see (validation loss
and accuracy, per-layer gradient and weight norms, update-to-weight ratios, a confusion
matrix, outputs for a fixed probe set, each weight layer's distributions: `inside`) and reports
it as an `EpochEnd` event. Between batches it obeys a `Controller`: pause, step, stop, live
settings. A loss, gradient or weight that blows up, or a loss grown far past its best (the
rules: `divergence`), ends the run as `Diverged` with the last good weights restored; an epoch
that ends broken is never reported as a normal one.

`batches` is any object that yields one epoch of `(x, y)` arrays per iteration, has a
settable `batch_size` and a `len()` in batches, and continues an interrupted epoch on the
next iteration (nnstudio.datasets.BatchIterator is one).
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from . import divergence, events
from .control import Controller
from .evaluation import evaluate, predict
from .inside import layer_distributions
from .metrics import RunningMean, gradient_norms, layer_squares, softmax, weight_norms
from .nn.module import Module
from .optim.clip import clip_grad_norm_
from .divergence import DIVERGENCE_ADVICE, MAX_GRAD_NORM  # noqa: F401  (their names, also from here)
from .tensor import Tensor

#: per-layer figures are measured on about this many batches of each epoch (cost stays ~1%)
SAMPLED_BATCHES_PER_EPOCH = 16
#: probe examples whose activations make an epoch's distributions (and dead/saturated unit shares)
DISTRIBUTION_PROBE = 256


def _quiet():
    """NumPy's overflow warnings silenced: a blow-up is detected and reported as `Diverged` instead."""
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


@dataclass
class _EpochTally:
    """Running sums of the current epoch (saved with a checkpoint taken mid-epoch)."""

    batches: int = 0
    seen: int = 0
    loss_sum: float = 0.0
    correct: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return dict(batches=self.batches, seen=self.seen, loss_sum=self.loss_sum, correct=self.correct,
                    seconds=self.seconds)


@dataclass(frozen=True)
class _GoodState:
    """The last state known to be sound: where a diverged run goes back to."""

    model: dict
    optimizer: dict
    epoch: int  # epochs completed
    batch: int  # batches done in the next epoch (non-zero only where a run resumed mid-epoch)


class Trainer:
    """Runs planned epochs of mini-batches and reports events through `on_event`.

    `chance_loss` is the loss of a model that has learnt nothing (`divergence.chance_loss`; by
    default ln K for `classes` K, else unknown, and the growth rule off). `best_loss` is the best
    epoch's mean training loss so far: a caller continuing a save's weights sets it from the save's
    history, so that a loss grown far past it in the first epoch already counts as divergence.
    """

    def __init__(self, model: Module, optimizer, loss_fn: Callable, batches, *, epochs: int,
                 val_data: tuple[np.ndarray, np.ndarray] | None = None, classes: int | None = None,
                 scheduler=None, clip_norm: float | None = None, early_stopping=None,
                 probe: np.ndarray | None = None, on_event: Callable[[Any], None] | None = None,
                 controller: Controller | None = None, chance_loss: float | None = None) -> None:
        self.model, self.optimizer, self.loss_fn, self.batches = model, optimizer, loss_fn, batches
        self.epochs = int(epochs)
        self.val_data = val_data
        self.classes = classes
        self.scheduler = scheduler
        self.clip_norm = clip_norm
        self.early_stopping = early_stopping
        self.probe = probe
        self.on_event = on_event or (lambda event: None)
        self.controller = controller or Controller()
        self.chance_loss = chance_loss if chance_loss is not None else divergence.chance_loss(classes=classes)
        self.best_loss: float | None = None  # the best epoch's mean training loss (see the class docstring)
        self.epoch = 0  # epochs completed
        self.elapsed = 0.0  # seconds spent training and evaluating (pauses excluded)
        self._run_start = (0, 0.0)  # (epoch, elapsed) when `run` was last called
        self._tally = _EpochTally()
        self._params = model.parameters()
        self._named = list(model.named_parameters())
        self._good: _GoodState | None = None
        self._last_loss = float("nan")
        self._last_graph: Tensor | None = None  # the last step's loss and graph, kept until the next step's (see _step)

    # ------------------------------------------------------------------ running
    def run(self) -> str:
        """Train until the planned epochs are done; return "finished", "early-stopped",
        "stopped", "diverged" or "failed" (the matching event has been sent)."""
        self._run_start = (self.epoch, self.elapsed)   # the pace of this call's epochs makes the ETA
        self.controller.loop_started()
        try:
            self._keep_good_state()
            while self.epoch < self.epochs:
                outcome = self._run_epoch()
                if outcome is not None:
                    return outcome
            self.on_event(events.Finished(self.epoch, "completed"))
            return "finished"
        except Exception as error:  # reported, not raised: the caller is often a worker thread
            self.on_event(events.Failed(f"{type(error).__name__}: {error}", traceback.format_exc()))
            return "failed"
        finally:
            self._last_graph = None  # a run that stopped or diverged mid-epoch holds no batch's graph after it
            self.controller.loop_ended()

    def _run_epoch(self) -> str | None:
        tally = self._tally
        stride = max(1, len(self.batches) // SAMPLED_BATCHES_PER_EPOCH)
        grad_means, ratio_means = RunningMean(), RunningMean()
        iterator = iter(self.batches)
        while True:
            if not self._between_batches():
                self.on_event(events.Stopped(self.epoch, tally.batches))
                return "stopped"
            try:
                xb, yb = next(iterator)
            except StopIteration:
                break
            start = time.perf_counter()
            measures = (grad_means, ratio_means) if tally.batches % stride == 0 else None
            problem = self._step(xb, yb, tally, measures)
            took = time.perf_counter() - start
            tally.seconds += took
            self.elapsed += took
            if problem:
                return self._diverge(problem, batch=tally.batches)
            problem = self._running_loss_growth()
            if problem:
                return self._diverge(problem, batch=tally.batches - 1)   # (the batch was counted)
            self.on_event(self._batch_event())
            self.controller.batch_done(epoch_ended=False)
        return self._end_epoch(grad_means, ratio_means)

    def _running_loss_growth(self) -> str | None:
        """The growth rule (`divergence`) on the epoch's running mean loss, once it covers enough samples."""
        t = self._tally
        if t.seen < divergence.RUNNING_MEAN_SAMPLES:
            return None
        return divergence.loss_growth(t.loss_sum / t.seen, self.best_loss, self.chance_loss)

    def _batch_event(self) -> events.BatchEnd:
        """The batch just done, with the epoch's running figures from the tally."""
        t = self._tally
        return events.BatchEnd(
            self.epoch, t.batches - 1, max(len(self.batches), t.batches), self._last_loss,
            t.correct / t.seen if self.classes else None, t.seen / t.seconds if t.seconds > 0 else 0.0,
            mean_loss=t.loss_sum / t.seen, seen=t.seen)

    def _step(self, xb, yb, tally: _EpochTally, measures: tuple[RunningMean, RunningMean] | None) -> str | None:
        """One optimizer step; returns a description of the problem if the run diverged.

        The global gradient norm is checked on every batch, so a blow-up is caught before the
        step that would spread it into the weights. On sampled batches (`measures` given) it
        also records per-layer gradient norms (from the same sums) and update-to-weight
        ratios, which needs a copy of the weights before the step.

        The step's graph is kept until the next step replaces it, as a plain loop keeps its `loss`
        variable: freeing every buffer of a batch at once lets the C allocator hand the memory
        back to the system and fault it in again for the next batch (measured on the CNN: about a
        million page faults and 2 s of system time per MNIST epoch).
        """
        with _quiet():
            out = self.model(Tensor(xb))
            loss = self.loss_fn(out, yb)
            value = loss.item()
            if not math.isfinite(value):
                return f"the loss became {value}"
            self.optimizer.zero_grad()
            loss.backward()
            total, squares = self._gradient_norm()
            if not math.isfinite(total) or total > MAX_GRAD_NORM:
                return f"the gradient norm reached {total:.3g}"
            if measures is None:
                self.optimizer.step()
            else:
                grad_means, ratio_means = measures
                grad_means.add(self._layer_gradient_norms(squares))
                before = {name: p.data.copy() for name, p in self._named}
                self.optimizer.step()
                ratio_means.add(self._update_ratios(before))
        self._count(value, out, yb, tally)
        self._last_graph = loss
        return None

    def _gradient_norm(self) -> tuple[float, dict[str, float] | None]:
        """The global gradient norm, and each layer's sum of squared gradients when that came for free.

        Without clipping it is one pass of squared sums, reused for the per-layer figures;
        with clipping, `clip_grad_norm_` measures (and reports the norm before clipping).
        """
        if self.clip_norm:
            return clip_grad_norm_(self._params, self.clip_norm), None
        squares = layer_squares((name, p.grad) for name, p in self._named if p.grad is not None)
        return math.sqrt(sum(squares.values())), squares

    def _layer_gradient_norms(self, squares: dict[str, float] | None) -> dict[str, float]:
        """Per-layer norms of the gradients the step uses (measured after clipping when it is on)."""
        if squares is None:
            return gradient_norms(self._named)
        return {layer: math.sqrt(total) for layer, total in squares.items()}

    def _count(self, value: float, out: Tensor, yb, tally: _EpochTally) -> None:
        """Add a finished batch to the epoch's running sums."""
        self._last_loss = value
        n = len(yb)
        tally.batches += 1
        tally.seen += n
        tally.loss_sum += value * n
        if self.classes:
            tally.correct += int(np.count_nonzero(out.data.argmax(axis=1) == yb))

    def _update_ratios(self, before: dict[str, np.ndarray]) -> dict[str, float]:
        """|Δw| / |w| per layer for the step just taken (about 1e-3 is healthy)."""
        steps = layer_squares((name, p.data - before[name]) for name, p in self._named)
        sizes = layer_squares(before.items())
        return {layer: math.sqrt(steps[layer]) / math.sqrt(sizes[layer]) if sizes[layer] > 0 else 0.0
                for layer in steps}

    def _end_epoch(self, grad_means: RunningMean, ratio_means: RunningMean) -> str | None:
        """Measure the epoch; report it, or diverge if it left the model broken (then nothing is kept)."""
        self._last_graph = None  # not held through validation, nor while the run waits after its last epoch
        tally = self._tally
        start = time.perf_counter()
        train_loss = tally.loss_sum / max(tally.seen, 1)
        val_loss = val_accuracy = confusion = probe_outputs = None
        distributions: dict = {}
        with _quiet():
            if self.val_data is not None and len(self.val_data[0]):
                validation = evaluate(self.model, self.loss_fn, *self.val_data, classes=self.classes)
                val_loss, val_accuracy, confusion = validation.loss, validation.accuracy, validation.confusion
            norms = weight_norms(self._named)
            problem = self._broken(val_loss, norms) or divergence.loss_growth(train_loss, self.best_loss,
                                                                               self.chance_loss)
            if problem is None and self.probe is not None and len(self.probe):
                probe_outputs = predict(self.model, self.probe)
                if self.classes:
                    probe_outputs = softmax(probe_outputs)
                distributions = layer_distributions(self.model, self.probe[:DISTRIBUTION_PROBE])
        self.elapsed += time.perf_counter() - start
        if problem is not None:
            return self._diverge(problem, batch=None)
        lr = float(self.optimizer.lr)
        self.epoch += 1
        first_epoch, elapsed_before = self._run_start   # a resumed run's earlier epochs ran at another pace
        epochs_this_run = max(self.epoch - first_epoch, 1)
        event = events.EpochEnd(
            epoch=self.epoch - 1, epochs=self.epochs, train_loss=train_loss,
            train_accuracy=tally.correct / tally.seen if self.classes and tally.seen else None,
            val_loss=val_loss, val_accuracy=val_accuracy, lr=lr,
            grad_norms=grad_means.means(), weight_norms=norms, update_ratios=ratio_means.means(),
            samples_per_s=tally.seen / tally.seconds if tally.seconds > 0 else 0.0,
            seconds=tally.seconds, elapsed=self.elapsed,
            eta=(self.elapsed - elapsed_before) / epochs_this_run * (self.epochs - self.epoch),
            confusion=confusion, probe_outputs=probe_outputs, distributions=distributions,
        )
        self._tally = _EpochTally()
        self.best_loss = train_loss if self.best_loss is None else min(self.best_loss, train_loss)
        if self.scheduler is not None:
            self.scheduler.step()
        stop = False
        if self.early_stopping is not None:  # stepped before the event, so a checkpoint taken then is current
            stop = self.early_stopping.step(event.val_loss if event.val_loss is not None else event.train_loss)
        self._keep_good_state()
        self.on_event(event)
        self.controller.batch_done(epoch_ended=True)
        if stop:
            self.on_event(events.Finished(self.epoch, "early-stopped", self._early_stop_message(event)))
            return "early-stopped"
        return None

    def _early_stop_message(self, event: events.EpochEnd) -> str:
        stopping = self.early_stopping
        which = "validation" if event.val_loss is not None else "training"
        return (f"{which} loss has not improved for {stopping.patience} epochs "
                f"(best {stopping.best:.4f} after epoch {(stopping.best_epoch or 0) + 1})")

    @staticmethod
    def _broken(val_loss: float | None, norms: dict[str, float]) -> str | None:
        """Why the model at an epoch's end cannot be trusted (None if it can): the state kept as good
        must have a finite validation loss and finite weights, or a later divergence would restore a
        broken one. (Every batch's training loss was already checked finite.) A NaN or infinite weight
        makes its layer's norm NaN or infinite, so the epoch's weight norms tell without another pass."""
        if val_loss is not None and not math.isfinite(val_loss):
            return f"the validation loss became {val_loss}"
        if not all(math.isfinite(norm) for norm in norms.values()):
            return "some weights are no longer finite numbers"
        return None

    # ------------------------------------------------------------------ control
    def _between_batches(self) -> bool:
        """Apply live settings, wait while paused; False when the run must stop."""
        if not self.controller.wait_while_paused(
                lambda: self.on_event(events.Paused(self.epoch, self._tally.batches)),
                lambda: self.on_event(events.Resumed(self.epoch, self._tally.batches))):
            return False
        settings = self.controller.take_settings()
        if settings:
            self.apply_settings(settings)
        return True

    def apply_settings(self, settings: dict[str, float]) -> None:
        """Set live hyperparameters; a learning rate set by hand retargets the schedule (`retarget`)."""
        opt = self.optimizer
        if "lr" in settings:
            new_lr = float(settings["lr"])
            if self.scheduler is not None:
                self.scheduler.retarget(new_lr)
            opt.lr = new_lr
        if "momentum" in settings:
            if hasattr(opt, "momentum"):
                opt.momentum = float(settings["momentum"])
            elif hasattr(opt, "betas"):  # Adam's momentum is its first beta
                opt.betas = (float(settings["momentum"]), opt.betas[1])
        if "weight_decay" in settings and hasattr(opt, "weight_decay"):
            opt.weight_decay = float(settings["weight_decay"])
        if "batch_size" in settings:
            self.batches.batch_size = int(settings["batch_size"])

    # ------------------------------------------------------------------ divergence
    def _keep_good_state(self) -> None:
        """Remember the weights and optimizer state as sound: at the run's start, and after an epoch
        that `_broken` passed (the only callers)."""
        self._good = _GoodState(self.model.state_dict(), self.optimizer.state_dict(), self.epoch,
                                self._tally.batches)

    def _diverge(self, problem: str, batch: int | None) -> str:
        """Put the last good state back and report why the run ended (at `batch`, 0-based; None: at the epoch's end)."""
        good = self._good
        self.model.load_state_dict(good.model)
        self.optimizer.load_state_dict(good.optimizer)
        self.on_event(events.Diverged(self.epoch, batch, problem, good.epoch, good.batch, clipped=bool(self.clip_norm)))
        return "diverged"

    # ------------------------------------------------------------------ persistence
    def state_dict(self) -> dict:
        """Where the run is: epochs done, time spent, the sums of an unfinished epoch and the best epoch's
        loss (JSON-able)."""
        return {"epoch": self.epoch, "elapsed": self.elapsed, "tally": self._tally.as_dict(),
                "best_loss": self.best_loss}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state["epoch"])
        self.elapsed = float(state["elapsed"])
        self._tally = _EpochTally(**state["tally"])
        best = state.get("best_loss")   # (absent from older checkpoints: the next epoch sets it)
        if best is not None and divergence.best_loss([best]) is None:
            raise ValueError(f"best_loss must be a number >= 0, got {best!r:.40}")
        self.best_loss = None if best is None else float(best)
