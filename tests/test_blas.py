"""The studio's BLAS thread limit: one thread unless the user chose a number."""

from __future__ import annotations

from threadpoolctl import threadpool_info, threadpool_limits

from nnstudio.tui.run.blas import USER_SETTINGS, limit_blas_threads


def blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_one_thread_unless_the_user_chose(monkeypatch):
    with threadpool_limits(limits=2, user_api="blas"):  # as NumPy starts on two cores; put back afterwards
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
        assert not limit_blas_threads(1) and blas_threads() <= {2}  # the user's choice stands
        for name in USER_SETTINGS:
            monkeypatch.delenv(name, raising=False)
        assert limit_blas_threads(1) and blas_threads() == {1}
