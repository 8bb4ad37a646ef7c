"""The Elman RNN forward pass, in the notation of the course's tutorial (see :mod:`rnn_tutor`).

    h_0 = 0
    h_t = f(a_t),  a_t = w_x x_t + w_h h_{t-1} + b_h
    y_t = g(o_t),  o_t = w_y h_t + b_y

Shapes follow the package convention (see :mod:`rnn_tutor`): parameters in
PyTorch's ``nn.RNN`` layout, data as time-major batches of rows
``xs (T, N, d)``, ``hs (T, N, m)``, ``ys (T, N, q)``.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from rnn_tutor.activations import Activation, get_activation
from rnn_tutor.validation import (overflow_is_error, ArgumentError, Cache, as_float_array, check_array, check_elements, check_finite,
                                  check_int, check_params, check_real, check_rng, check_shape)

__all__ = ["init_params", "as_sequence", "rnn_step", "rnn_forward", "count_params"]


def init_params(d: int, m: int, q: int, rng: np.random.Generator, scale: float | None = None) -> dict[str, np.ndarray]:
    """Random parameters for an Elman RNN with ``d`` inputs, ``m`` hidden units and ``q`` outputs.

    Weights are drawn uniformly from ``[-s, s]`` with ``s = scale`` or, by
    default, ``s = 1/sqrt(m)`` (PyTorch's ``nn.RNN`` initialisation).  Biases
    use the same distribution.  All randomness comes from ``rng``, so the same
    seed gives the same parameters.

    Parameters
    ----------
    d, m, q : positive int
        Input features, hidden units, outputs.
    rng : numpy.random.Generator
        e.g. ``np.random.default_rng(0)``.
    scale : float, optional
        Half-width ``s >= 0`` of the uniform distribution.

    Returns
    -------
    dict with ``w_x (m, d)``, ``w_h (m, m)``, ``b_h (m,)``, ``w_y (q, m)``, ``b_y (q,)``.
    """
    check_rng(rng)
    d, m, q = check_int(d, "d"), check_int(m, "m"), check_int(q, "q")
    check_elements((m, max(d, m, q)), "largest weight matrix", "m")
    s = 1.0 / np.sqrt(m) if scale is None else check_real(scale, "scale", 0.0, None, what="a half-width >= 0")
    shapes = {"w_x": (m, d), "w_h": (m, m), "b_h": (m,), "w_y": (q, m), "b_y": (q,)}
    return {k: rng.uniform(-s, s, size=shape) for k, shape in shapes.items()}


def count_params(d: int, m: int, q: int) -> int:
    """Number of scalars in an Elman RNN: ``m d + m m + m + q m + q``, whatever the sequence length.

    ``d, m, q`` are positive integers up to :data:`~rnn_tutor.validation.MAX_SIZE`.
    """
    d, m, q = check_int(d, "d"), check_int(m, "m"), check_int(q, "q")
    return m * d + m * m + m + q * m + q


def as_sequence(values) -> np.ndarray:
    """Turn a scalar sequence ``[x_1, ..., x_T]`` into a ``(T, 1, 1)`` batch of one sequence.

    A 2-D array ``(T, d)`` becomes ``(T, 1, d)``; a 3-D array is returned as float64.
    """
    xs = check_array(values, "values")
    if xs.ndim == 1:
        return xs[:, None, None]
    if xs.ndim == 2:
        return xs[:, None, :]
    if xs.ndim == 3:
        return xs
    raise ArgumentError("values", f"values: expected a 1-D (T,), 2-D (T, d) or 3-D (T, N, d) array, received shape {xs.shape}")


def _check_inputs(xs, params, h_0, xs_name: str = "xs", h_name: str = "h_0", params_name: str = "params"):
    """Validate ``xs (T, N, d)``, ``params`` and ``h_0 (N, m)``; return float64 arrays (zeros for ``h_0=None``).

    ``xs_name``/``h_name`` name the caller's arguments in the error messages.
    """
    p = check_params(params, name=params_name)
    m, d = p["w_x"].shape
    xs = as_float_array(xs, xs_name)
    if xs.ndim != 3:
        raise ArgumentError(
            xs_name, f"{xs_name}: expected a 3-D array (T, N, d) = (*, *, {d}), received shape {xs.shape}; "
            "use rnn_tutor.rnn.as_sequence for a plain list of numbers"
        )
    if xs.shape[0] == 0:
        raise ArgumentError(xs_name, f"{xs_name}: expected at least one time step (T >= 1), received an empty sequence (T = 0)")
    if xs.shape[1] == 0:
        raise ArgumentError(xs_name, f"{xs_name}: expected at least one sequence in the batch (N >= 1), received shape {xs.shape}")
    check_shape(xs, (None, None, d), xs_name, f"The last axis holds the d = {d} input features that w_x expects.")
    check_finite(xs, xs_name)
    N = xs.shape[1]
    check_elements((xs.shape[0], N, max(m, p["w_y"].shape[0])), "hidden states (T, N, m)", xs_name)
    if h_0 is None:
        h_0 = np.zeros((N, m))
    else:
        h_0 = as_float_array(h_0, h_name)
        check_shape(h_0, (N, m), h_name, f"{h_name} holds one hidden state (m = {m} values) for each of the N = {N} sequences.")
        check_finite(h_0, h_name)
    return xs, p, h_0


@overflow_is_error
def rnn_step(x_t, h_prev, params: Mapping, f: str | Activation = "tanh", g: str | Activation = "identity"):
    """One time step of the Elman RNN.

    ``h_t = f(w_x x_t + w_h h_prev + b_h)`` and ``y_t = g(w_y h_t + b_y)``.

    Parameters
    ----------
    x_t : (N, d)
    h_prev : (N, m), or None for zeros (``h_0 = 0``)
    params : dict of ``w_x (m, d)``, ``w_h (m, m)``, ``b_h (m,)``, ``w_y (q, m)``, ``b_y (q,)``
    f, g : activation names (``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"identity"``)

    Returns
    -------
    h_t : (N, m)
    y_t : (N, q)
    cache : dict with ``x_t, h_prev, a_t, h_t, o_t, params, f, g`` for the backward step
    """
    f, g = get_activation(f, "f"), get_activation(g, "g")
    x_t = as_float_array(x_t, "x_t")
    if x_t.ndim != 2:
        raise ArgumentError("x_t", f"x_t: expected a 2-D array (N, d) (one row per sequence), received shape {x_t.shape}")
    p = check_params(params)
    check_shape(x_t, (None, p["w_x"].shape[1]), "x_t", f"The last axis holds the d = {p['w_x'].shape[1]} input features that w_x expects.")
    _, p, h_prev = _check_inputs(x_t[None], p, h_prev, xs_name="x_t", h_name="h_prev")
    a_t = x_t @ p["w_x"].T + h_prev @ p["w_h"].T + p["b_h"]  # (N, d)@(d, m) + (N, m)@(m, m) -> (N, m)
    h_t = f.fn(a_t)
    o_t = h_t @ p["w_y"].T + p["b_y"]  # (N, m) @ (m, q) -> (N, q)
    y_t = g.fn(o_t)
    cache = Cache("rnn_step", {"x_t": x_t, "h_prev": h_prev, "a_t": a_t, "h_t": h_t, "o_t": o_t, "params": p,
                               "f": f, "g": g})
    return h_t, y_t, cache


@overflow_is_error
def rnn_forward(xs, params: Mapping, h_0=None, f: str | Activation = "tanh", g: str | Activation = "identity"):
    """Run the Elman RNN over a batch of sequences.

    Parameters
    ----------
    xs : (T, N, d)
    params : dict of ``w_x (m, d)``, ``w_h (m, m)``, ``b_h (m,)``, ``w_y (q, m)``, ``b_y (q,)``
    h_0 : (N, m), optional; zeros by default (the tutorial's ``h_0 = 0``)
    f, g : activation names for the hidden and output layers

    Returns
    -------
    hs : (T, N, m)   ``hs[t-1]`` is ``h_t``
    ys : (T, N, q)   ``ys[t-1]`` is ``y_t``
    cache : dict with ``xs, h_0, as_ (pre-activations a_t), hs, os (o_t), params, f, g``
    """
    f, g = get_activation(f, "f"), get_activation(g, "g")
    xs, p, h_0 = _check_inputs(xs, params, h_0)
    return _rnn_forward(xs, p, h_0, f, g)


def _rnn_forward(xs: np.ndarray, p: dict, h_0: np.ndarray, f: Activation, g: Activation):
    """:func:`rnn_forward` on arguments that are already checked (float64 arrays of matching shapes).

    The library's training loops validate once and then call this on every update.
    """
    T, N, _ = xs.shape
    m = p["w_h"].shape[0]
    # The input term does not depend on h, so all T steps share one matmul:
    # (T, N, d) @ (d, m) -> (T, N, m).  Only the recurrence below is sequential.
    as_ = xs @ p["w_x"].T + p["b_h"]
    hs = np.empty((T, N, m))
    h_prev = h_0
    for t in range(T):
        as_[t] += h_prev @ p["w_h"].T  # (N, m) @ (m, m) -> (N, m)
        hs[t] = h_prev = f.fn(as_[t])
    os_ = hs @ p["w_y"].T + p["b_y"]  # (T, N, m) @ (m, q) -> (T, N, q)
    ys = g.fn(os_)
    cache = Cache("rnn_forward", {"xs": xs, "h_0": h_0, "as_": as_, "hs": hs, "os": os_, "params": p, "f": f, "g": g})
    return hs, ys, cache
