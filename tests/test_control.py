"""The mailbox between an interface and the training loop: a pause taken back and given again is told again.

The loop's thread is real; what matters is ordered by holding the controller's own lock, so that a
resume and a new pause land before the waiting loop can wake (as two quick key presses can).
"""

from __future__ import annotations

import threading

from nnstudio.engine.control import Controller

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
