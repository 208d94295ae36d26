"""How many threads NumPy's BLAS may use while something else needs a core too.

OpenBLAS starts one thread per core and lets them spin while they wait for work. When every
core is already busy (the studio's interface thread beside the training thread, or tests run
two at a time), those spinning threads take turns with the work that matters: measured on
2 cores, an MLP epoch went from 0.7 s to 3-9 s and a key press in the studio waited 3 s.
One BLAS thread loses little on this engine's matrices (the benchmark MLP trains as fast), so
the studio trains with one. Whoever sets OPENBLAS_NUM_THREADS, OMP_NUM_THREADS or
MKL_NUM_THREADS has chosen for themselves and is left alone.
"""

from __future__ import annotations

import os

from threadpoolctl import threadpool_limits

#: environment variables by which a user picks the BLAS thread count; any of them wins over ours
USER_SETTINGS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def limit_blas_threads(threads: int = 1) -> bool:
    """Let BLAS use at most `threads` threads from now on, unless the user chose; True if limited.

    For the life of the process: changing the pool while another thread is inside a BLAS
    call is not safe, and the studio's training thread may be.
    """
    if any(os.environ.get(name) for name in USER_SETTINGS):
        return False
    threadpool_limits(limits=threads, user_api="blas")
    return True
