"""Bidirectional recurrent layers over any :class:`rnn_tutor.cells.Cell`, with per-sequence lengths.

A bidirectional layer runs two independent copies of a cell over the same
sequence: one reads ``x_1, ..., x_T`` (forward direction, states ``h→_t``), the
other reads ``x_T, ..., x_1`` (backward direction, states ``h←_t``).  The output at
step ``t`` concatenates both, so it summarises the whole sequence, past *and*
future::

    h→_t = cell(x_t, h→_{t-1};  params)              t = 1 .. T,   h→_0 given
    h←_t = cell(x_t, h←_{t+1};  params_reverse)      t = T .. 1,   h←_{T+1} given
    out_t = [h→_t ; h←_t]                            (T, N, 2m)

Parameters travel in one flat dict: the cell's keys for the forward direction
and the same keys with the suffix ``_reverse`` for the backward direction, as in
PyTorch (``weight_ih_l0`` and ``weight_ih_l0_reverse``).  For the Elman cell::

    w_x, w_h, b_h, w_x_reverse, w_h_reverse, b_h_reverse

PyTorch's ``nn.RNN(d, m, bidirectional=True)`` has two biases per direction;
copy ``b_h`` into ``bias_ih_l0`` and zeros into ``bias_hh_l0`` (same for ``_reverse``).

Sequences of different lengths share one padded batch ``xs (T, N, d)`` with
``lengths[n] <= T`` valid steps each.  Then, as with PyTorch's packed sequences,
each sequence's backward direction starts at its *own* last valid step
``x_{L_n}`` (not at the padding), outputs at padded steps are zero, and the final
states are taken at each sequence's last valid step.  This reuses
:func:`rnn_tutor.masking.masked_cell_forward`, which runs the layer separately on
every group of equally long sequences.
"""


from __future__ import annotations

from typing import Mapping

import numpy as np

from rnn_tutor.cells import ELMAN, Cell, _state_template, check_cell, check_cell_state
from rnn_tutor.masking import _masked_backward, check_lengths, masked_cell_forward
from rnn_tutor.validation import (overflow_is_error, ArgumentError, ArgumentTypeError, Cache, as_float_array, check_array, check_cache,
                                  check_elements, check_int, check_rng, check_shape, describe)

__all__ = ["SUFFIX", "CAUSAL_PEAK_CEILING", "peak_task", "reverse_sequences", "split_params", "init_bidirectional_params",
           "bidirectional_forward", "bidirectional_backward", "bidirectional", "BIDIRECTIONAL_ELMAN"]

SUFFIX = "_reverse"

CAUSAL_PEAK_CEILING = 7 / 8
"""The best accuracy of any model that reads only ``x_1 .. x_t`` on :func:`peak_task` (any ``T >= 2``)."""


def peak_task(N: int, T: int, rng: np.random.Generator):
    """A task that needs the future: label every step that is a *peak*, larger than both neighbours.

    ``x_t ~ U(0, 1)`` independently; ``label_t = 1`` if ``x_t > x_{t-1}`` and ``x_t > x_{t+1}``
    (a missing neighbour at ``t = 1`` or ``t = T`` counts as smaller).  Whether ``x_t`` is a
    peak depends on ``x_{t+1}``, which a left-to-right RNN has not read yet.  The best such
    model predicts "peak" when ``x_t > x_{t-1}`` and ``x_t > 1/2`` and is right with probability
    3/4 at ``t = 1``, 7/8 inside and 1 at ``t = T``: on average exactly
    :data:`CAUSAL_PEAK_CEILING` = 7/8 for every ``T >= 2``.

    Returns
    -------
    xs : (T, N, 1)
    labels : (T, N) ints in {0, 1}
    """
    N, T = check_int(N, "N"), check_int(T, "T", 2)
    check_rng(rng)
    check_elements((T + 2, N), "inputs (T, N)", "N")
    x = rng.uniform(size=(T, N))
    edge = np.full((1, N), -np.inf)
    padded = np.concatenate([edge, x, edge])  # (T + 2, N): neighbours beyond the ends count as smaller
    labels = ((x > padded[:-2]) & (x > padded[2:])).astype(int)
    return x[..., None], labels


def reverse_sequences(xs, lengths=None) -> np.ndarray:
    """Reverse every sequence of ``xs (T, N, ...)`` in time, within its own length.

    Without ``lengths`` this is ``xs[::-1]``.  With ``lengths (N,)``, sequence ``n``
    becomes ``x_{L_n}, ..., x_1`` followed by its padding, which stays at the end.
    Applying the function twice gives back ``xs``.
    """
    xs = check_array(xs, "xs")
    if xs.ndim < 2 or 0 in xs.shape[:2]:
        raise ArgumentError("xs", f"xs: expected an array (T, N, ...) with time on axis 0 and T, N >= 1, "
                                  f"received shape {xs.shape}")
    if lengths is None:
        return xs[::-1]
    T, N = xs.shape[:2]
    L = check_lengths(lengths, T, N)
    t = np.arange(T)[:, None]
    src = np.where(t < L, L - 1 - t, t)  # (T, N): the step each output step is read from
    return xs[src, np.arange(N)]


def split_params(params: Mapping, cell: Cell = ELMAN) -> tuple[dict, dict]:
    """Split a bidirectional parameter dict into ``(forward, backward)`` dicts with the cell's keys."""
    cell = check_cell(cell)
    names = [*cell.param_names, *(k + SUFFIX for k in cell.param_names)]
    if not isinstance(params, Mapping):
        raise ArgumentTypeError("params", f"params: expected a dict with keys {names}, received {describe(params)}")
    missing = [k for k in names if k not in params]
    if missing:
        raise ArgumentError("params", f"params: missing key(s) {missing} for a bidirectional {cell.name} layer; "
                         f"expected keys {names}, received {sorted(params)}")
    if getattr(cell, "check_params", None) is not None:
        cell.check_params({k: params[k] for k in cell.param_names}, "params")
        cell.check_params({k: params[k + SUFFIX] for k in cell.param_names}, "params (the _reverse direction)")
    return {k: params[k] for k in cell.param_names}, {k: params[k + SUFFIX] for k in cell.param_names}


def init_bidirectional_params(d: int, m: int, rng: np.random.Generator, cell: Cell = ELMAN) -> dict:
    """Independent random parameters for both directions (the cell's own initialisation, forward first)."""
    cell = check_cell(cell)
    fwd, bwd = cell.init_params(d, m, rng), cell.init_params(d, m, rng)
    return {**fwd, **{k + SUFFIX: v for k, v in bwd.items()}}


def _pair(value, name: str):
    if value is None:
        return None, None
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return value
    kind = ArgumentError if isinstance(value, (tuple, list)) else ArgumentTypeError
    raise kind(name, f"{name}: expected a pair (forward direction, backward direction), or None for zeros, "
                     f"received {describe(value)}")


def _forward_full(xs, params, cell, state_0):
    """Both directions over all ``T`` steps of every sequence."""
    p_f, p_b = split_params(params, cell)
    xs = check_array(xs, "xs", ndim=3, names=("T", "N", "d"), nonempty=True)
    _pair(state_0, "state_0")
    s_f, s_b = _check_pair_state(state_0, cell, p_f, xs.shape[1], "state_0")
    hs_f, sT_f, cache_f = cell.forward(xs, p_f, s_f)  # reads x_1 .. x_T
    hs_r, sT_b, cache_b = cell.forward(xs[::-1], p_b, s_b)  # reads x_T .. x_1; hs_r[0] is h←_T
    hs = np.concatenate([hs_f, hs_r[::-1]], axis=2)  # (T, N, m) ++ (T, N, m) -> (T, N, 2m), aligned in time
    return hs, (sT_f, sT_b), Cache("bidirectional_forward", {"cell": cell, "fwd": cache_f, "bwd": cache_b,
                                                            "m": hs_f.shape[2], "T": xs.shape[0], "N": xs.shape[1]})


def _check_pair_state(state, cell, p_f, N, name):
    """A pair of states checked against the cell's own zero state (when the cell declares its width)."""
    if state is None:
        return None, None
    if getattr(cell, "check_params", None) is None:
        return state
    width = cell.check_params(p_f, "params")[1]
    return check_cell_state(tuple(state), N, name, cell=bidirectional(cell), width=2 * width)


def _backward_full(dhs, cache, dstate_T=None):
    check_cache(cache, "bidirectional_forward", ("cell", "fwd", "bwd", "m", "T", "N"))
    cell, m, T, N = cache["cell"], cache["m"], cache["T"], cache["N"]
    if dhs is None:
        dh_f = dh_r = None
    else:
        dhs = as_float_array(dhs, "dhs")
        check_shape(dhs, (T, N, 2 * m), "dhs", "dhs is ∂L/∂out_t for the concatenated outputs [h→_t ; h←_t].")
        dh_f, dh_r = dhs[..., :m], dhs[::-1, :, m:]  # the backward direction saw time reversed
    _pair(dstate_T, "dstate_T")
    if dstate_T is not None and getattr(cell, "check_params", None) is not None:
        dstate_T = check_cell_state(tuple(dstate_T), N, "dstate_T", cell=bidirectional(cell), width=2 * m)
    ds_f, ds_b = (None, None) if dstate_T is None else dstate_T
    g_f, dxs_f, d0_f = cell.backward(dh_f, cache["fwd"], ds_f)
    g_b, dxs_r, d0_b = cell.backward(dh_r, cache["bwd"], ds_b)
    grads = {**g_f, **{k + SUFFIX: v for k, v in g_b.items()}}
    return grads, dxs_f + dxs_r[::-1], (d0_f, d0_b)


@overflow_is_error
def bidirectional_forward(xs, params: Mapping, cell: Cell = ELMAN, state_0=None, lengths=None):
    """Run a bidirectional layer (equations in the module docstring).

    Parameters
    ----------
    xs : (T, N, d)
    params : dict with the cell's keys (forward direction) and the same keys + ``"_reverse"``
    cell : a :class:`rnn_tutor.cells.Cell` (default: the tanh Elman RNN)
    state_0 : pair ``(forward state, backward state)``, optional (zeros).  The backward
        direction starts from its state before reading ``x_{L_n}``.
    lengths : (N,) ints in ``1..T``, optional (every sequence has ``T`` steps)

    Returns
    -------
    hs : (T, N, 2m)     ``hs[t-1] = [h→_t ; h←_t]``; zeros at padded steps
    state_T : pair      (forward state after ``x_{L_n}``, backward state after ``x_1``), like PyTorch's ``h_n``
    cache : dict for :func:`bidirectional_backward`
    """
    cell = check_cell(cell)
    if lengths is None:
        return _forward_full(xs, params, cell, state_0)
    split_params(params, cell)  # name missing keys before anything runs
    xs = check_array(xs, "xs", ndim=3, names=("T", "N", "d"), nonempty=True)
    _pair(state_0, "state_0")
    lengths = check_lengths(lengths, xs.shape[0], xs.shape[1])
    hs, state_T, cache = masked_cell_forward(bidirectional(cell), xs, params, lengths, state_0)
    return hs, state_T, Cache("bidirectional_forward", {"masked": cache})


@overflow_is_error
def bidirectional_backward(dhs, cache, dstate_T=None):
    """Backward pass of :func:`bidirectional_forward`.

    Parameters
    ----------
    dhs : (T, N, 2m) or None       ``∂L/∂out_t`` (entries at padded steps are ignored)
    cache : the cache of :func:`bidirectional_forward`
    dstate_T : pair, optional      gradients on the two final states

    Returns
    -------
    grads : dict with the keys of ``params``
    dxs : (T, N, d)
    dstate_0 : pair (forward direction, backward direction)
    """
    check_cache(cache, "bidirectional_forward")
    if "masked" in cache:
        _pair(dstate_T, "dstate_T")
        return _masked_backward(dhs, cache["masked"], dstate_T, "dstate_T")
    return _backward_full(dhs, cache, dstate_T)


def bidirectional(cell: Cell = ELMAN) -> Cell:
    """A bidirectional layer as a :class:`rnn_tutor.cells.Cell`.

    Note the width: ``forward`` returns ``hs (T, N, 2m)`` (``m`` units per direction), so an
    output layer on top needs ``w_y (q, 2m)``.  The state is the pair (forward state,
    backward state).  With :func:`rnn_tutor.masking.masked_cell_forward` (which the
    architectures use for ``lengths``) each sequence's backward direction starts at its
    last valid step.
    """
    cell = check_cell(cell)
    names = (*cell.param_names, *(k + SUFFIX for k in cell.param_names))

    def init_params(d, m, rng):
        return init_bidirectional_params(d, m, rng, cell)

    def init_state(N, m):
        return cell.init_state(N, m), cell.init_state(N, m)

    def forward(xs, params, state_0=None):
        return _forward_full(xs, params, cell, state_0)

    def check(params, name="params"):
        if getattr(cell, "check_params", None) is None:
            return None, None
        d, m = cell.check_params({k: params[k] for k in cell.param_names}, name)
        cell.check_params({k: params[k + SUFFIX] for k in cell.param_names}, f"{name} (the _reverse direction)")
        return d, 2 * m

    def zero_state(N, width):  # hs holds both directions: each direction's state is half as wide
        return _state_template(cell, N, width // 2), _state_template(cell, N, width // 2)

    return Cell(f"bi-{cell.name}", names, init_params, init_state, forward, _backward_full, check,
                _zero_state=zero_state)


BIDIRECTIONAL_ELMAN = bidirectional(ELMAN)
"""The bidirectional tanh Elman RNN as a Cell (outputs ``(T, N, 2m)``)."""
