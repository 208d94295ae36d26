"""How many threads NumPy's BLAS uses for training: one, in the studio and on the command line alike.

OpenBLAS starts one thread per core and lets them spin while they wait for work. When every
core is already busy (the studio's interface thread beside the training thread, tests run two
at a time, or anyone else's job on a shared machine), those spinning threads take turns with the
work that matters: measured on 2 cores with one other busy process, an MLP epoch took 2.36 s with
the default threads against 0.90 s with one (and a studio key press waited 3 s). Alone, one
thread is as fast on this engine's matrices (MLP 0.75 s against 0.80 s; CNN 4.58 s against 4.62 s).

One count everywhere also keeps resuming exact: a matrix product summed by two threads rounds
differently from one summed by one, so a run resumed under another count drifts from the
uninterrupted one (by up to 0.39 in the weights after a few epochs). A run records its count in
its checkpoints (`Session`), and resuming it uses that count again (`continue_with`).

Whoever sets OPENBLAS_NUM_THREADS, OMP_NUM_THREADS or MKL_NUM_THREADS has chosen for themselves
and is left alone; resuming under a count other than the run's then says that the result will
not be bit-identical.
"""

from __future__ import annotations

import os

from threadpoolctl import threadpool_info, threadpool_limits

#: the BLAS thread count of every run unless the user chose one
DEFAULT_THREADS = 1
#: environment variables by which a user picks the BLAS thread count; any of them wins over ours
USER_SETTINGS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def users_choice() -> str | None:
    """The user's setting of the thread count, as `NAME=value`, if they made one."""
    return next((f"{name}={os.environ[name]}" for name in USER_SETTINGS if os.environ.get(name)), None)


def blas_threads() -> int | None:
    """The threads BLAS uses now (None: NumPy runs without a BLAS that threadpoolctl knows)."""
    counts = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    return max(counts) if counts else None


def limit_blas_threads(threads: int = DEFAULT_THREADS) -> bool:
    """Let BLAS use `threads` threads from now on, unless the user chose; True if set.

    Call it before training starts (at program start; `continue_with` when a run resumes):
    changing the pool while another thread is inside a BLAS call is not safe.
    """
    if users_choice():
        return False
    threadpool_limits(limits=threads, user_api="blas")
    return True


def continue_with(recorded: int | None) -> str | None:
    """Before a run resumes: use the thread count it trained with (`recorded`; None if its checkpoint is
    older than the record). Returns what to tell the user when the count differs all the same."""
    now = blas_threads()
    if recorded is None or now is None or recorded == now:
        return None
    if limit_blas_threads(recorded) and blas_threads() == recorded:
        return None
    chosen = users_choice()
    why = f" ({chosen})" if chosen else ""
    return (f"this run trained with {recorded} BLAS thread(s) and continues with {blas_threads()}{why}, so its "
            f"results will not be bit-identical to an uninterrupted run's; set OPENBLAS_NUM_THREADS={recorded} "
            f"to continue it exactly")
