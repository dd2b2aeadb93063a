"""use_blas_threads and adapt_blas_threads (notebooks/mnist_lib.py) set NumPy's BLAS threads."""

import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import mnist_lib
from mnist_lib import adapt_blas_threads, use_blas_threads


@pytest.fixture
def blas():
    """Put the original limits and mnist_lib's "auto" state back after the test."""
    with threadpool_limits(limits=None):
        yield
    use_blas_threads(None)
    mnist_lib._BLAS["auto"] = False


def test_use_blas_threads_sets_and_reports_the_limit(blas):
    assert use_blas_threads(1) == 1
    assert use_blas_threads(None) == 1  # None changes nothing
    assert adapt_blas_threads() == 1  # not "auto": adapt changes nothing either
    a = np.ones((64, 64), dtype=np.float32)
    assert np.array_equal(a @ a, np.full((64, 64), 64, dtype=np.float32))


def test_auto_gives_every_core_only_while_the_others_are_idle(blas, monkeypatch):
    # (wall seconds, CPU seconds of all processes, CPU seconds of this process)
    t = time.perf_counter()
    counters = iter([(t - 3, 0.0, 0.0), (t - 2, 1.1, 1.0), (t - 1, 3.1, 2.0), (t + 60, 3.2, 2.1)])
    monkeypatch.setattr(mnist_lib, "_cpu_counters", lambda: next(counters))
    assert use_blas_threads("auto") == 1  # starts measuring: the first counters
    most = mnist_lib._BLAS["most"]
    assert adapt_blas_threads() == most  # others used 0.1 cores: idle
    assert adapt_blas_threads() == 1  # others used 1 core: busy
    assert adapt_blas_threads() == most  # idle again (the last counters lie in the future)
    assert adapt_blas_threads(done=True) == 1  # done: back to one thread
    assert use_blas_threads(None) == 1
    # Too soon to measure again (no counters left to read): the last decision comes back.
    assert adapt_blas_threads() == most
    assert use_blas_threads(None) == most
