"""use_blas_threads (notebooks/mnist_lib.py) really changes the threads of NumPy's BLAS."""

import numpy as np
from threadpoolctl import threadpool_limits

from mnist_lib import use_blas_threads


def test_use_blas_threads_sets_and_reports_the_limit():
    with threadpool_limits(limits=None):  # puts the original limits back afterwards
        assert use_blas_threads(1) == 1
        assert use_blas_threads(None) == 1  # None changes nothing
        a = np.ones((64, 64), dtype=np.float32)
        assert np.array_equal(a @ a, np.full((64, 64), 64, dtype=np.float32))
