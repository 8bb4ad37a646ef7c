"""Measurements behind lesson 07: what an RNN does well and where it struggles.

* :func:`sliding_windows` and :func:`window_forward` — a feedforward network that sees a fixed
  window of the last ``w`` inputs, the baseline an RNN is compared with;
* :func:`best_seconds` and :func:`median_seconds` — wall-clock timing after a warm-up run; the
  best (shortest) run is the one least disturbed by other work on a busy machine;
* :func:`input_sensitivity` — how strongly the final state still depends on each past input,
  ``‖∂(u · h_T)/∂x_t‖`` for a fixed unit vector ``u``, for any :class:`~rnn_tutor.cells.Cell`.
"""

from __future__ import annotations

import inspect
import time
from typing import Callable, Mapping

import numpy as np

from rnn_tutor.cells import Cell, check_cell, check_cell_params
from rnn_tutor.validation import (overflow_is_error, ArgumentError, ArgumentTypeError, NonFiniteArgumentError, check_array, check_callable,
                                  check_elements, check_int, check_shape, describe)

__all__ = ["sliding_windows", "window_forward", "best_seconds", "median_seconds", "input_sensitivity"]


def sliding_windows(xs, w: int) -> np.ndarray:
    """The last ``w`` inputs at every position, flattened: ``(T - w + 1, N, w d)``.

    Row ``t`` (0-based) holds ``[x_{t+1}; ...; x_{t+w}]`` (inputs numbered from 1), so the
    window ending at input ``x_s`` is row ``s - w``.  No copy of the data is made per
    window until the final reshape.
    """
    xs = check_array(xs, "xs", ndim=3, names=("T", "N", "d"), nonempty=True)
    T, N, d = xs.shape
    w = check_int(w, "w", None, None, f"a window length from 1 to T = {T}")  # a Python int (0-d arrays too)
    if not 1 <= w <= T:
        raise ArgumentError("w", f"w: expected a window length from 1 to T = {T}, received {w!r}.")
    check_elements((T - w + 1, N, w * d), "windows (T - w + 1, N, w d)", "w")
    view = np.lib.stride_tricks.sliding_window_view(xs, w, axis=0)  # (T-w+1, N, d, w)
    return np.ascontiguousarray(view.transpose(0, 1, 3, 2)).reshape(T - w + 1, N, w * d)


@overflow_is_error
def window_forward(xs, w_1, b_1, w_2, b_2, w: int) -> np.ndarray:
    """A one-hidden-layer feedforward net on every window: ``tanh(W_1 [x_{t-w+1}..x_t] + b_1)`` then ``W_2 · + b_2``.

    ``w_1 (m, w d)``, ``b_1 (m,)``, ``w_2 (q, m)``, ``b_2 (q,)``.  All positions are computed by
    one matrix product each: nothing is sequential.  Returns ``(T - w + 1, N, q)``.
    """
    X = sliding_windows(xs, w)  # (T-w+1, N, w d)
    w_1 = check_array(w_1, "w_1")
    if w_1.ndim != 2 or w_1.shape[1] != X.shape[-1] or w_1.shape[0] == 0:
        raise ArgumentError("w_1", f"w_1: expected shape (m, w d) = (m, {X.shape[-1]}), received shape {w_1.shape}")
    m = w_1.shape[0]
    b_1 = check_array(b_1, "b_1", shape=(m,), names=("m",))
    w_2 = check_array(w_2, "w_2", ndim=2, names=("q", "m"))
    check_shape(w_2, (None, m), "w_2", f"w_2 maps the m = {m} hidden units to the q outputs.")
    if w_2.shape[0] == 0:
        raise ArgumentError("w_2", f"w_2: expected at least one output row (q >= 1), received shape {w_2.shape}")
    b_2 = check_array(b_2, "b_2", shape=(w_2.shape[0],), names=("q",))
    with np.errstate(over="ignore"):  # a pre-activation beyond float64 is ±inf, and tanh(±inf) = ±1 is exact
        a = X @ w_1.T + b_1  # (T-w+1, N, w d) @ (w d, m) -> (T-w+1, N, m)
    if np.isnan(a).any():  # inf - inf: two huge terms of opposite sign, no answer in float64
        name = "xs" if np.abs(X).max() >= np.abs(w_1).max() else "w_1"
        raise NonFiniteArgumentError(name, f"{name}: expected values whose pre-activations w_1 x + b_1 fit in float64, "
                                           f"received entries up to {max(np.abs(X).max(), np.abs(w_1).max()):.3g}.")
    H = np.tanh(a)
    return H @ w_2.T + b_2  # (T-w+1, N, m) @ (m, q) -> (T-w+1, N, q); an overflow here is named (the decorator)


def _run_times(fn: Callable[[], object], repeats: int) -> list[float]:
    check_callable(fn, "fn")
    try:
        inspect.signature(fn).bind()
    except TypeError:
        raise ArgumentTypeError("fn", f"fn: expected a function called without arguments, fn(), received {describe(fn)} "
                                      f"with the signature {inspect.signature(fn)}. Wrap it: lambda: f(x).") from None
    except ValueError:  # a built-in without a signature: it is simply called
        pass
    repeats = check_int(repeats, "repeats", 1, 10_000)
    fn()  # warm-up: caches, lazy imports, first-call allocations
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_seconds(fn: Callable[[], object], repeats: int = 5) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs, after one warm-up run."""
    return float(np.median(_run_times(fn, repeats)))


def best_seconds(fn: Callable[[], object], repeats: int = 5) -> float:
    """Shortest wall time of ``fn()`` over ``repeats`` runs, after one warm-up run.

    Other programs can only make a run slower, never faster, so the best run is the closest
    to the cost of ``fn`` itself (the estimator that :mod:`timeit` recommends).
    """
    return float(min(_run_times(fn, repeats)))


@overflow_is_error
def input_sensitivity(cell: Cell, params: Mapping, xs, u=None) -> np.ndarray:
    """``‖∂(u · h_T)/∂x_t‖`` for ``t = 1 .. T``: how much the final state still "remembers" each input.

    One backward pass with the gradient ``u`` injected at the final hidden state gives every
    ``∂(u · h_T)/∂x_t`` at once.  ``u (N, m)`` defaults to ``1/sqrt(m)`` everywhere.  Norms are
    taken per time step over the batch and features.  Returns ``(T,)``; entry ``T - 1`` is the
    most recent input.
    """
    cell = check_cell(cell)
    d, _ = check_cell_params(cell, params)
    xs = check_array(xs, "xs", ndim=3, names=("T", "N", "d"), nonempty=True)
    if d is not None:
        check_shape(xs, (None, None, d), "xs", f"The last axis holds the d = {d} input features that the cell expects.")
    hs, state_T, cache = cell.forward(xs, params)
    T, N, m = hs.shape
    u = np.full((N, m), 1 / np.sqrt(m)) if u is None else check_array(u, "u", finite=False)
    if u.shape != (N, m):
        raise ArgumentError("u", f"u: expected shape (N, m) = {(N, m)}, received shape {u.shape}")
    check_array(u, "u")
    big = float(np.abs(u).max())
    e = int(np.frexp(big)[1]) if big > 0 else 0  # the backward pass is linear in u: run it on u / 2**e (exact)
    dhs = np.zeros((T, N, m))
    dhs[-1] = np.ldexp(u, -e)  # the gradient enters at h_T only
    _, dxs, _ = cell.backward(dhs, cache)
    norms = np.sqrt((dxs**2).sum(axis=(1, 2)))
    top = float(norms.max())
    if top > 0 and np.log2(top) + e >= 1024:
        raise NonFiniteArgumentError("u", f"u: expected values for which the norms fit in float64, received entries up to "
                                          f"{big:.3g} (the largest norm is about 2^{np.log2(top) + e:.0f}).")
    return np.ldexp(norms, e)
