"""Pluggable recurrent cells: one interface for the Elman RNN, the GRU and the LSTM.

Architectures (:mod:`rnn_tutor.architectures`) are written against :class:`Cell`,
so the same many-to-one or encoder–decoder code runs with any cell.  A cell is
only the recurrent layer; output layers (``w_y``, ``b_y``) belong to the architecture.

The interface (all pure functions)::

    params            = cell.init_params(d, m, rng)          # dict of arrays
    state_0           = cell.init_state(N, m)                # zeros; an (N, m) array,
                                                             # or a tuple (h, c) for the LSTM
    hs, state_T, cache = cell.forward(xs, params, state_0)   # xs (T, N, d) -> hs (T, N, m)
    grads, dxs, dstate_0 = cell.backward(dhs, cache, dstate_T=None)

``dhs (T, N, m)`` is ``∂L/∂h_t`` from outside the recurrence (output layers);
``dstate_T`` is an extra gradient on the final state (e.g. from a decoder), shaped
like ``state_T`` (``None`` means zero).  ``grads`` has the keys of ``params``.
``state_0=None`` in ``forward`` means zeros.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from rnn_tutor.activations import get_activation
from rnn_tutor.bptt import rnn_backward
from rnn_tutor.rnn import init_params as _rnn_init_params
from rnn_tutor.rnn import rnn_forward

__all__ = ["Cell", "elman_cell", "ELMAN"]


@dataclass(frozen=True)
class Cell:
    """A recurrent layer given by pure functions; see the module docstring for the contract."""

    name: str
    param_names: tuple
    init_params: Callable[[int, int, np.random.Generator], dict]
    init_state: Callable[[int, int], Any]
    forward: Callable[..., tuple]
    backward: Callable[..., tuple]


def elman_cell(f: str = "tanh") -> Cell:
    """The Elman RNN layer ``h_t = f(w_x x_t + w_h h_{t-1} + b_h)`` as a :class:`Cell`.

    Parameters ``w_x (m, d)``, ``w_h (m, m)``, ``b_h (m,)``; state ``h (N, m)``.
    """
    act = get_activation(f, "f")
    names = ("w_x", "w_h", "b_h")

    def init_params(d: int, m: int, rng: np.random.Generator) -> dict:
        p = _rnn_init_params(d, m, 1, rng)
        return {k: p[k] for k in names}

    def init_state(N: int, m: int) -> np.ndarray:
        return np.zeros((N, m))

    def forward(xs, params, state_0=None):
        m = np.shape(params["w_h"])[0]
        # The recurrent layer alone: a zero output layer (q = 1) satisfies rnn_forward.
        full = {**{k: params[k] for k in names}, "w_y": np.zeros((1, m)), "b_y": np.zeros(1)}
        hs, _, cache = rnn_forward(xs, full, h_0=state_0, f=act, g="identity")
        return hs, hs[-1], cache

    def backward(dhs, cache, dstate_T=None):
        g = rnn_backward(None, cache, dh_T=dstate_T, dhs=dhs)
        return {k: g[k] for k in names}, g["xs"], g["h_0"]

    return Cell(f"elman-{act.name}", names, init_params, init_state, forward, backward)


ELMAN = elman_cell("tanh")
