"""Run the library's training loops on one BLAS thread.

The course's matrices are tiny (tens to a few hundred rows).  For such sizes a multithreaded
BLAS (OpenBLAS, which NumPy wheels ship, uses every core by default) spends more time waking
and synchronising its threads than multiplying, and its idle threads spin and steal the CPU
from everything else.  Measured on the 2-core CI machine, training lesson 07's character
model took 1.0 s of CPU on one thread and up to 7 s of wall time with two threads on a busy
machine.  So the functions that loop over many small products (``fit``, ``train_*``) run under
:func:`one_blas_thread`; the limit is lifted when they return, so a learner's own NumPy code
is not affected.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from threadpoolctl import threadpool_limits

__all__ = ["one_blas_thread"]

F = TypeVar("F", bound=Callable)


def one_blas_thread(fn: F) -> F:
    """Decorate ``fn`` so that its BLAS calls use one thread (restored on return or error)."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        with threadpool_limits(limits=1, user_api="blas"):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
