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
``state_0=None`` in ``forward`` means zeros; so does ``None`` for one part of a tuple
state (``(h, None)`` for the LSTM).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from rnn_tutor.activations import get_activation
from rnn_tutor.bptt import _rnn_backward, rnn_backward
from rnn_tutor.rnn import _rnn_forward, rnn_forward
from rnn_tutor.rnn import init_params as _rnn_init_params
from rnn_tutor.validation import (ArgumentError, ArgumentTypeError, as_float_array, check_array, check_cache, check_elements, check_int,
                                  check_mapping, check_params, describe)

__all__ = ["Cell", "elman_cell", "ELMAN", "check_cell", "check_cell_params", "check_cell_state"]


@dataclass(frozen=True)
class Cell:
    """A recurrent layer given by pure functions; see the module docstring for the contract."""

    name: str
    param_names: tuple
    init_params: Callable[[int, int, np.random.Generator], dict]
    init_state: Callable[[int, int], Any]
    forward: Callable[..., tuple]
    backward: Callable[..., tuple]
    check_params: Callable[..., tuple] | None = None
    """``check_params(params, name) -> (d, width)``: validate the cell's parameters, naming entries
    ``name['key']``; ``width`` is the last axis of ``hs``.  ``None`` for a cell without one."""
    _forward_unchecked: Callable[..., tuple] | None = None
    """``forward`` without argument checks, for the library's training loops, which check their
    arguments once and then call it on every update: float64 ``xs (T, N, d)``, float64 parameter
    arrays that passed ``check_params`` and ``state_0`` (``None`` or of the right shape).  ``None``:
    use ``forward``."""
    _backward_unchecked: Callable[..., tuple] | None = None
    """``backward`` without argument checks (``dhs (T, N, m)`` float64 or None, the cache of
    ``_forward_unchecked``); ``None``: use ``backward``."""
    _zero_state: Callable[[int, int], Any] | None = None
    """``_zero_state(N, width)``: the zero state for ``N`` sequences of a cell whose ``hs`` have
    ``width`` columns (the structure and shapes a ``state_0`` must have).  ``None``:
    ``init_state(N, width)``, right for every cell whose state is as wide as its output."""


def _unchecked(cell: Cell) -> tuple[Callable[..., tuple], Callable[..., tuple]]:
    """``(forward, backward)`` of ``cell`` without argument checks where the cell has them.

    For the library's training loops only: they validate every argument once, before the loop.
    """
    fwd = getattr(cell, "_forward_unchecked", None) or cell.forward
    bwd = getattr(cell, "_backward_unchecked", None) or cell.backward
    return fwd, bwd


def check_cell(cell, name: str = "cell") -> Cell:
    # ``name`` is the caller's argument name for the message
    """Return ``cell`` if it is a :class:`Cell`; otherwise an error that lists the cells to use."""
    if isinstance(cell, Cell):
        return cell
    if all(hasattr(cell, a) for a in ("param_names", "init_params", "init_state", "forward", "backward")) \
            and not isinstance(cell, type):
        return cell  # duck-typed: follows the interface
    hint = ""
    if isinstance(cell, str):
        hint = (f"Pass the cell object, e.g. rnn_tutor.cells.ELMAN or "
                f"rnn_tutor.architectures.available_cells()[{cell!r}], not its name.")
    raise ArgumentTypeError(name, f"{name}: expected a rnn_tutor.cells.Cell (ELMAN, rnn_tutor.gru.GRU, "
                                  f"rnn_tutor.lstm.LSTM), received {describe(cell)}.{' ' + hint if hint else ''}")


def _state_template(cell: Cell, N: int, width: int):
    """The zero state of ``cell`` for ``N`` sequences whose ``hs`` have ``width`` columns."""
    make = getattr(cell, "_zero_state", None)
    return make(N, width) if make is not None else cell.init_state(N, width)


def _is_state_tuple(state) -> bool:
    # A tuple or list of parts (arrays, tuples, None) is a multi-part state such as the LSTM's
    # (h, c); a tuple or list of rows of numbers is one (N, m) state written without NumPy.
    if not isinstance(state, (tuple, list)):
        return False
    if state and all(_is_number_row(s) for s in state):
        return False
    return isinstance(state, tuple) or bool(state) and all(
        s is None or isinstance(s, (np.ndarray, tuple, list)) for s in state)


def _is_number_row(s) -> bool:
    return isinstance(s, (tuple, list)) and not any(isinstance(v, (np.ndarray, tuple, list)) or v is None for v in s)


def _state_text(like) -> str:
    if isinstance(like, tuple):
        return f"a tuple of {len(like)} ({', '.join(_state_text(x) for x in like)})"
    return f"an array of shape {like.shape}"


def _received_state_text(state) -> str:
    if isinstance(state, (tuple, list)) and state and all(_is_number_row(s) for s in state):
        return f"one array of {len(state)} rows (a {type(state).__name__} of rows of numbers)"
    if isinstance(state, (tuple, list)):
        return f"a {type(state).__name__} of {len(state)}"
    return describe(state)


def _match_state(state, like, name: str, what: str, part: bool = False):
    expected = f"{_state_text(like)} (part of {what})" if part else f"{what}: {_state_text(like)}"
    if isinstance(like, tuple):
        if not (_is_state_tuple(state) and len(state) == len(like)):
            kind = ArgumentError if isinstance(state, (tuple, list, np.ndarray)) else ArgumentTypeError
            raise kind(name, f"{name}: expected {expected}, received {_received_state_text(state)}.")
        # None inside a tuple state means zeros for that part (as in LSTM.forward and rnn_tutor.lstm.lstm_forward)
        # (``like`` is a freshly made zero state, so its parts can be returned as they are.)
        return tuple(lk if s is None else _match_state(s, lk, f"{name}[{i}]", what, True)
                     for i, (s, lk) in enumerate(zip(state, like)))
    if _is_state_tuple(state):
        raise ArgumentError(name, f"{name}: expected {expected}, received {_received_state_text(state)}.")
    arr = check_array(state, name, ndim=2, names=("N", "m"))
    if arr.shape != like.shape:
        raise ArgumentError(name, f"{name}: expected shape (N, m) = {like.shape}, received shape {arr.shape}.")
    return arr


def check_cell_state(state, N: int, name: str = "state_0", *, cell: Cell | None = None, width: int | None = None):
    """``None``, an ``(N, m)`` array of finite numbers, or a tuple of them (the LSTM's ``(h, c)``).

    With ``cell`` and ``width`` (the width of the cell's ``hs``, as returned by
    :func:`check_cell_params`), the state must have exactly the structure and shapes of the
    cell's zero state (``cell.init_state(N, m)``: ``(N, m)`` for the Elman RNN and the GRU, the
    pair ``(h, c)`` for the LSTM); a ``None`` part of a tuple state is returned as zeros.
    Without them, any ``(N, ·)`` arrays are accepted.
    """
    N = check_int(N, "N")
    cell = None if cell is None else check_cell(cell)
    width = None if width is None else check_int(width, "width")
    if (cell is None) != (width is None):
        missing = "width" if width is None else "cell"
        raise ArgumentError(missing, f"{missing}: expected cell and width together (or neither), received only "
                                     f"{'cell' if width is None else 'width'}.")
    if state is None:
        return None
    if cell is not None:
        like = _state_template(cell, N, width)
        return _match_state(state, like, name, f"the {cell.name} cell's state for N = {N} sequences")
    if _is_state_tuple(state):
        if not state:
            raise ArgumentError(name, f"{name}: expected a state array (N, m) or a tuple of them, received an empty {type(state).__name__}.")
        return tuple(check_cell_state(s, N, f"{name}[{i}]") for i, s in enumerate(state))
    if isinstance(state, (tuple, list)) and not state:
        raise ArgumentError(name, f"{name}: expected a state array (N, m) or a tuple of them, received an empty {type(state).__name__}.")
    arr = check_array(state, name, ndim=2, names=("N", "m"))
    if arr.shape[0] != N:
        raise ArgumentError(name, f"{name}: expected one row per sequence (N = {N}), received shape {arr.shape}.")
    return arr


def _check_sizes(N, m) -> tuple[int, int]:
    N, m = check_int(N, "N"), check_int(m, "m")
    check_elements((N, m), "state (N, m)", "N")
    return N, m


def check_cell_params(cell: Cell, params, name: str = "params", d: int | None = None,
                      extra: tuple = ()) -> tuple[int | None, int | None]:
    """Check that ``params`` holds the cell's parameters (and the keys ``extra``); return ``(d, width)``.

    ``d`` (optional) is the number of input features the parameters must accept.  Missing keys
    are named; wrong shapes, NaN and ``inf`` are reported by the cell's own check.
    """
    cell = check_cell(cell)
    if not isinstance(extra, (tuple, list)) or not all(isinstance(k, str) for k in extra):
        raise ArgumentTypeError("extra", f"extra: expected a tuple of key names, received {describe(extra)}")
    check_mapping(params, name, [*cell.param_names, *extra], f"a parameter dict of the {cell.name} cell")
    if d is not None:
        d = check_int(d, "d")
    if getattr(cell, "check_params", None) is None:
        return None, None
    d_got, width = cell.check_params({k: params[k] for k in cell.param_names}, name)
    if d is not None and d_got != d:
        raise ArgumentError(name, f"{name}: expected the {cell.name} cell's input weights to read d = {d} features, "
                                  f"received weights for d = {d_got}.")
    return d_got, width


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
        return np.zeros(_check_sizes(N, m))

    def forward(xs, params, state_0=None):
        check_mapping(params, "params", names, "an Elman cell parameter dict")
        if state_0 is None:  # rnn_forward validates every entry; this only sizes the zero head
            w_h_shape = np.shape(params["w_h"])
            m = w_h_shape[0] if len(w_h_shape) >= 1 else 1
        else:  # the parameters give state_0's width: check them (and xs) before state_0
            m = check(params)[1]
        # The recurrent layer alone: a zero output layer (q = 1) satisfies rnn_forward.
        full = {**{k: params[k] for k in names}, "w_y": np.zeros((1, m)), "b_y": np.zeros(1)}
        if state_0 is not None:  # name the Cell interface's argument, not rnn_forward's h_0
            xs = as_float_array(xs, "xs")
            n_rows = xs.shape[1] if xs.ndim == 3 else None
            state_0 = check_array(state_0, "state_0", shape=(n_rows, m), names=("N", "m"))
        hs, _, cache = rnn_forward(xs, full, h_0=state_0, f=act, g="identity")
        return hs, hs[-1], cache

    def backward(dhs, cache, dstate_T=None):
        check_cache(cache, "rnn_forward", ("hs",))
        if dstate_T is not None:
            dstate_T = check_array(dstate_T, "dstate_T", shape=cache["hs"].shape[1:], names=("N", "m"))
        g = rnn_backward(None, cache, dh_T=dstate_T, dhs=dhs)
        return {k: g[k] for k in names}, g["xs"], g["h_0"]

    def check(params, name="params"):
        p = check_params(params, names=names, name=name)
        return p["w_x"].shape[1], p["w_h"].shape[0]

    identity = get_activation("identity")

    def forward_unchecked(xs, params, state_0=None):
        m = params["w_h"].shape[0]
        full = {**{k: params[k] for k in names}, "w_y": np.zeros((1, m)), "b_y": np.zeros(1)}
        h_0 = np.zeros((xs.shape[1], m)) if state_0 is None else state_0
        hs, _, cache = _rnn_forward(xs, full, h_0, act, identity)
        return hs, hs[-1], cache

    def backward_unchecked(dhs, cache, dstate_T=None):
        g = _rnn_backward(None, cache, dstate_T, dhs)
        return {k: g[k] for k in names}, g["xs"], g["h_0"]

    return Cell(f"elman-{act.name}", names, init_params, init_state, forward, backward, check,
                forward_unchecked, backward_unchecked)


ELMAN = elman_cell("tanh")
