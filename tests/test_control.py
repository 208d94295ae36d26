"""The mailbox between an interface and the training loop: a pause taken back and given again is told again;
a function handed to `between_batches` is called while the model is still, by a real training loop.

The loop's thread is real; what matters is ordered by holding the controller's own lock, so that a
resume and a new pause land before the waiting loop can wake (as two quick key presses can).
"""

from __future__ import annotations

import queue
import threading

import numpy as np
import pytest

from nnstudio.datasets import BatchIterator
from nnstudio.engine import events, manual_seed, nn
from nnstudio.engine.control import Controller
from nnstudio.engine.optim import SGD
from nnstudio.engine.trainer import Trainer

WAIT = 30.0  # seconds: only a bound for a hung test


def waiting_loop(controller: Controller):
    """A loop thread waiting between two batches, recording every pause and resume it announces."""
    told: list[str] = []
    announced = threading.Semaphore(0)

    def on_pause() -> None:
        told.append("paused")
        announced.release()

    thread = threading.Thread(target=controller.wait_while_paused,
                              args=(on_pause, lambda: told.append("resumed")), daemon=True)
    thread.start()
    return thread, told, announced


def test_a_resume_taken_back_by_a_pause_before_the_loop_wakes_is_announced_as_paused_again():
    controller = Controller()
    controller.pause()
    thread, told, announced = waiting_loop(controller)
    assert announced.acquire(timeout=WAIT) and told == ["paused"]
    with controller._cond:      # the loop cannot wake until both commands are in
        controller.resume()
        controller.pause()
    assert announced.acquire(timeout=WAIT) and told == ["paused", "paused"]   # the interface hears it again
    controller.resume()
    thread.join(WAIT)
    assert not thread.is_alive() and told == ["paused", "paused", "resumed"]


def test_a_step_taken_back_by_a_pause_is_announced_too():
    controller = Controller()
    controller.pause()
    thread, told, announced = waiting_loop(controller)
    assert announced.acquire(timeout=WAIT)
    with controller._cond:
        controller.step_batch()
        controller.pause()
    assert announced.acquire(timeout=WAIT) and told == ["paused", "paused"]
    controller.stop()
    thread.join(WAIT)
    assert not thread.is_alive() and told == ["paused", "paused"]


def test_a_wait_without_news_is_announced_once():
    controller = Controller()
    controller.pause()
    thread, told, announced = waiting_loop(controller)
    assert announced.acquire(timeout=WAIT)
    controller.set(lr=0.1)   # not a wake: no new announcement
    controller.stop()
    thread.join(WAIT)
    assert told == ["paused"]


def test_reset_forgets_commands_but_keeps_settings_not_yet_taken():
    controller = Controller()
    controller.pause()
    controller.step_epoch()
    controller.stop()
    controller.set(lr=0.5)
    controller.reset()
    assert not controller.paused and not controller.stepping and not controller.stop_requested
    assert controller.take_settings() == {"lr": 0.5}


# ====================================================================== between_batches: a moment of the still model
def tiny_trainer(controller: Controller, on_event, loss_fn=None, epochs: int = 1) -> Trainer:
    """A real Trainer on 32 examples in batches of 8 (4 batches an epoch)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))
    return Trainer(model, SGD(model.parameters(), lr=0.1), loss_fn or nn.CrossEntropyLoss(),
                   BatchIterator(x, y, 8, seed=0), epochs=epochs, classes=2, on_event=on_event, controller=controller)


def in_thread(target) -> tuple[threading.Thread, list]:
    """`target()` running in a new thread; its result (or exception) lands in the list."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(target())
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def wait_until_queued(controller: Controller, calls: int = 1) -> None:
    """Until `calls` functions handed to `between_batches` wait for the loop (it notifies as it queues one)."""
    with controller._cond:
        assert controller._cond.wait_for(lambda: len(controller._calls) >= calls, WAIT)


def counting(loss_fn, steps: list):
    """`loss_fn` that counts the batches it is asked about."""
    def counted(out, y):
        steps.append(threading.get_ident())
        return loss_fn(out, y)
    return counted


def test_with_no_loop_running_the_function_is_called_at_once_here():
    controller = Controller()
    assert controller.between_batches(threading.get_ident, timeout=WAIT) == threading.get_ident()
    trainer = tiny_trainer(controller, on_event=lambda event: None)
    assert trainer.run() == "finished"   # a loop that ran and ended leaves none running
    assert controller.between_batches(threading.get_ident, timeout=WAIT) == threading.get_ident()


def test_a_running_loop_calls_it_in_its_own_thread_at_a_batch_boundary():
    controller = Controller()
    steps: list[int] = []
    in_batch = threading.Event()      # set by the loss (a batch is under way), cleared when its BatchEnd is sent
    first_batch, go_on = threading.Event(), threading.Event()

    def on_event(event) -> None:
        if isinstance(event, events.BatchEnd):
            in_batch.clear()
            if event.batch == 0:
                first_batch.set()
                assert go_on.wait(WAIT)

    def loss_fn(out, y):
        in_batch.set()
        return counting(nn.CrossEntropyLoss(), steps)(out, y)

    trainer = tiny_trainer(controller, on_event, loss_fn)
    loop, finished = in_thread(trainer.run)
    assert first_batch.wait(WAIT)     # the loop is running, held after its first batch
    seen = {}

    def look() -> str:
        seen.update(thread=threading.get_ident(), batches=len(steps), in_batch=in_batch.is_set())
        return "looked"

    caller, answer = in_thread(lambda: controller.between_batches(look, timeout=WAIT))
    wait_until_queued(controller)
    assert not seen                   # queued for the loop, not called by the caller
    go_on.set()
    caller.join(WAIT)
    loop.join(WAIT)
    assert answer == ["looked"] and finished == ["finished"]
    assert seen == {"thread": loop.ident, "batches": 1, "in_batch": False}   # right after the first batch


def test_a_paused_loop_wakes_to_serve_the_call_and_stays_paused():
    controller = Controller()
    controller.pause()
    told: queue.Queue = queue.Queue()
    steps: list[int] = []
    trainer = tiny_trainer(controller, told.put, counting(nn.CrossEntropyLoss(), steps))
    loop, outcome = in_thread(trainer.run)
    assert isinstance(told.get(timeout=WAIT), events.Paused)
    assert controller.between_batches(lambda: (threading.get_ident(), len(steps)), timeout=WAIT) == (loop.ident, 0)
    # still waiting at the same boundary: a loop that had gone on would run a batch before serving this one
    assert controller.between_batches(lambda: (threading.get_ident(), len(steps)), timeout=WAIT) == (loop.ident, 0)
    assert controller.paused and told.empty()   # no batch, no second announcement
    controller.stop()
    loop.join(WAIT)
    assert outcome == ["stopped"] and steps == []
    assert isinstance(told.get_nowait(), events.Stopped)


def test_a_call_queued_as_the_loop_ends_is_served_by_the_loop_s_end():
    controller = Controller()
    callers: list = []

    def on_event(event) -> None:
        if isinstance(event, events.Finished):   # the loop's last event, just before it ends
            callers.append(in_thread(lambda: controller.between_batches(threading.get_ident, timeout=WAIT)))
            wait_until_queued(controller)

    trainer = tiny_trainer(controller, on_event)
    loop, outcome = in_thread(trainer.run)
    loop.join(WAIT)
    (caller, answer), = callers
    caller.join(WAIT)
    assert outcome == ["finished"] and answer == [loop.ident]   # served by the ending loop's thread


def test_an_exception_in_the_function_is_raised_in_the_caller():
    def fail():
        raise ValueError("cannot look")

    controller = Controller()
    with pytest.raises(ValueError, match="cannot look"):
        controller.between_batches(fail, timeout=WAIT)          # no loop: called here
    controller.pause()
    told: queue.Queue = queue.Queue()
    loop, outcome = in_thread(tiny_trainer(controller, told.put).run)
    assert isinstance(told.get(timeout=WAIT), events.Paused)
    with pytest.raises(ValueError, match="cannot look"):
        controller.between_batches(fail, timeout=WAIT)          # called by the loop, raised here
    controller.resume()                                         # the loop is none the worse for it
    loop.join(WAIT)
    assert outcome == ["finished"]


def test_a_loop_that_never_reaches_a_boundary_times_out_and_never_calls_it_late():
    controller = Controller()
    in_batch, release = threading.Event(), threading.Event()

    def on_event(event) -> None:   # the first batch does not end until the test says so
        if isinstance(event, events.BatchEnd) and event.batch == 0:
            in_batch.set()
            assert release.wait(WAIT)

    called: list[int] = []
    loop, outcome = in_thread(tiny_trainer(controller, on_event).run)
    assert in_batch.wait(WAIT)
    with pytest.raises(TimeoutError):   # the built-in one, as `hold` raises (Python 3.10's futures have their own)
        controller.between_batches(lambda: called.append(1), timeout=0.01)
    release.set()
    loop.join(WAIT)
    assert outcome == ["finished"]
    assert called == []   # the call given up on is dropped, not run later in the training thread
    assert controller.between_batches(lambda: 7, timeout=WAIT) == 7
