"""rnn_tutor._blas: the training loops run on one BLAS thread, and the limit is lifted afterwards."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from rnn_tutor._blas import one_blas_thread


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_one_blas_thread_limits_inside_and_restores_after_return_and_error():
    np.ones((2, 2)) @ np.ones((2, 2))  # make sure NumPy's BLAS is loaded
    if not _blas_threads():
        pytest.skip("no BLAS library that threadpoolctl can control")
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()

        @one_blas_thread
        def inside(x):
            """Docstring kept."""
            return _blas_threads(), x

        @one_blas_thread
        def fails():
            raise RuntimeError("boom")

        seen, x = inside(7)
        assert seen == [1] * len(before) and x == 7 and inside.__doc__ == "Docstring kept."
        assert _blas_threads() == before
        with pytest.raises(RuntimeError, match="boom"):
            fails()
        assert _blas_threads() == before


def test_training_entry_points_are_limited():
    from rnn_tutor import architectures, charlm, longlag, truncated

    for fn in (architectures.fit, charlm.train_charlm, longlag.train_last_step, truncated.train_tbptt,
               truncated.train_tbptt_carried):
        assert fn.__wrapped__ is not None, fn.__name__
