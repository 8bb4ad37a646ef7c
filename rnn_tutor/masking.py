"""Batches of sequences of different lengths: right padding, masks, and the last valid step.

A batch must be a rectangular array ``xs (T, N, d)``, but sequence ``n`` may hold only
``lengths[n] <= T`` real steps.  We *right-pad*: the real steps come first and the rest
is filler.  The ``mask`` records which entries are real:

    mask[t-1, n] = 1  if  t <= lengths[n]  else 0            mask : (T, N)

Because ``h_t`` depends only on ``x_1 .. x_t``, filler *after* the real steps cannot change
any real ``h_t``.  Padding therefore matters in exactly two places:

* the loss must skip padded positions (multiply by the mask), and
* a sequence's final state is its state at step ``lengths[n]``, not at step ``T``.

:func:`masked_cell_forward` runs any :class:`~rnn_tutor.cells.Cell` on a padded batch and
returns the state at each sequence's last valid step.  It does so by running every
group of equally long sequences over its own steps only, so it also works for cells
whose state holds more than ``h`` (the LSTM's ``(h, c)``), and it never reads the filler.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from rnn_tutor.validation import (overflow_is_error, MAX_SIZE, ArgumentError, ArgumentTypeError, Cache, NonFiniteArgumentError, as_float_array, check_array,
                                  check_cache, check_elements, check_finite, check_int, check_real, check_shape, check_token_ids,
                                  describe)

__all__ = ["check_real_steps", "check_lengths", "lengths_to_mask", "mask_to_lengths", "resolve_lengths", "pad_sequences",
           "pad_tokens", "one_hot", "last_valid", "last_valid_backward", "state_take", "state_put",
           "masked_cell_forward", "masked_cell_backward"]


def check_lengths(lengths, T: int, N: int, name: str = "lengths") -> np.ndarray:
    """Return ``lengths (N,)`` as ints after checking ``1 <= lengths[n] <= T`` (an empty sequence is an error)."""
    T, N = check_int(T, "T"), check_int(N, "N")
    arr = check_token_ids(lengths, name, None, what="integer sequence lengths")
    if arr.shape != (N,):
        raise ArgumentError(name, f"{name}: expected shape ({N},) (one length per sequence in the batch, N = {N}), "
                         f"received shape {arr.shape}")
    bad = np.flatnonzero((arr < 1) | (arr > T))
    if bad.size:
        n = int(bad[0])
        why = " (an empty sequence)" if arr[n] == 0 else ""
        raise ArgumentError(name, f"{name}: expected every length in 1..{T} (T = {T} steps in the padded batch), "
                         f"received {int(arr[n])} for sequence {n}{why}")
    return arr


def lengths_to_mask(lengths, T: int | None = None) -> np.ndarray:
    """The ``(T, N)`` mask of 0s and 1s for right-padded sequences: ``mask[t-1, n] = [t <= lengths[n]]``.

    ``T`` defaults to ``max(lengths)``.
    """
    arr = check_token_ids(lengths, "lengths", None, what="integer sequence lengths")
    if arr.ndim != 1 or arr.size == 0:
        raise ArgumentError("lengths", f"lengths: expected a 1-D array (N,) with N >= 1, received shape {arr.shape}")
    T = int(np.max(arr)) if T is None else check_int(T, "T")
    lengths = check_lengths(arr, T, arr.size)
    check_elements((T, arr.size), "mask (T, N)", "T")
    return (np.arange(T)[:, None] < lengths[None, :]).astype(float)  # (T, 1) < (1, N) -> (T, N)


def mask_to_lengths(mask, shape: tuple | None = None, name: str = "mask") -> np.ndarray:
    """Lengths ``(N,)`` from a right-padding mask ``(T, N)``: each column must be 1s followed by 0s.

    ``shape`` is the ``(T, N)`` the mask must have (e.g. the first two axes of ``xs``).
    """
    m = check_array(mask, name, allow_bool=True)
    if m.ndim == 2 and 0 in m.shape:
        raise ArgumentError(name, f"{name}: expected a (T, N) mask with T, N >= 1, received shape {m.shape}")
    if isinstance(shape, np.ndarray) and shape.ndim == 1 and shape.dtype.kind in "iu":
        shape = tuple(shape.tolist())
    if shape is not None and not (isinstance(shape, (tuple, list)) and len(shape) == 2 and all(
            isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_))
            or isinstance(s, np.ndarray) and s.ndim == 0 and s.dtype.kind in "iu" for s in shape)):
        raise ArgumentTypeError("shape", f"shape: expected a pair (T, N) of integers, received {describe(shape)}")
    shape = None if shape is None else tuple(int(s) for s in shape)
    if shape is not None and m.shape != tuple(shape):
        raise ArgumentError(name, f"{name}: expected shape {tuple(shape)} (T, N: the first two axes of the sequences), "
                         f"received shape {m.shape}")
    if m.ndim != 2:
        raise ArgumentError(name, f"{name}: expected a 2-D (T, N) array, received shape {m.shape}")
    if ((m != 0) & (m != 1)).any():
        raise ArgumentError(name, f"{name}: expected only 0 (padding) and 1 (a real step), received values {np.unique(m)}")
    lengths = m.sum(axis=0).astype(np.int64)
    expected = (np.arange(m.shape[0])[:, None] < lengths[None, :]).astype(float)
    bad = np.flatnonzero((expected != m).any(axis=0))
    if bad.size:
        n = int(bad[0])
        raise ArgumentError(name, f"{name}: expected right padding (1s then 0s) in every column, received "
                         f"{m[:, n].astype(int).tolist()} for sequence {n}")
    return check_lengths(lengths, m.shape[0], m.shape[1], name=f"{name} (lengths)")


def resolve_lengths(T: int, N: int, lengths=None, mask=None) -> np.ndarray:
    """The lengths of a ``(T, N, ...)`` batch given ``lengths`` or ``mask`` (not both); all ``T`` if neither."""
    T, N = check_int(T, "T"), check_int(N, "N")
    if lengths is not None and mask is not None:
        raise ArgumentError("mask", "mask: expected either lengths or mask, received both")
    if mask is not None:
        return mask_to_lengths(mask, (T, N))
    if lengths is None:
        return np.full(N, T, dtype=np.int64)
    return check_lengths(lengths, T, N)


def pad_sequences(seqs: Sequence, pad_value: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Stack sequences of different lengths into a right-padded batch.

    Parameters
    ----------
    seqs : list of N arrays, each ``(T_n, d)`` (or ``(T_n,)`` for ``d = 1``), ``T_n >= 1``
    pad_value : the filler written after each sequence's last step

    Returns
    -------
    xs : (T, N, d) with ``T = max T_n``
    lengths : (N,) ints
    """
    seqs = _check_seqs(seqs)
    pad_value = check_real(pad_value, "pad_value")
    arrs = []
    for n, s in enumerate(seqs):
        a = check_array(s, f"seqs[{n}]")
        a = a[:, None] if a.ndim == 1 else a
        if a.ndim != 2 or a.shape[0] == 0:
            raise ArgumentError("seqs", f"seqs[{n}]: expected a non-empty (T_n, d) or (T_n,) array, received shape {a.shape}"
                             + (" (an empty sequence)" if a.shape[0] == 0 else ""))
        if arrs and a.shape[1] != arrs[0].shape[1]:
            raise ArgumentError("seqs", f"seqs[{n}]: expected d = {arrs[0].shape[1]} features like seqs[0], received shape {a.shape}")
        arrs.append(a)
    lengths = np.array([a.shape[0] for a in arrs], dtype=np.int64)
    check_elements((int(lengths.max()), len(arrs), arrs[0].shape[1]), "padded batch (T, N, d)", "seqs")
    xs = np.full((int(lengths.max()), len(arrs), arrs[0].shape[1]), float(pad_value))
    for n, a in enumerate(arrs):
        xs[: a.shape[0], n] = a
    return xs, lengths


_INT64_MIN, _INT64_MAX = -2 ** 63, 2 ** 63 - 1


def pad_tokens(seqs: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad lists of integer tokens into ``tokens (T, N)`` and ``lengths (N,)``.

    ``pad_id`` is any integer that fits in int64 (the dtype of ``tokens``); booleans are not tokens.
    """
    seqs = _check_seqs(seqs)
    pad_id = check_int(pad_id, "pad_id", None, None)
    if not _INT64_MIN <= pad_id <= _INT64_MAX:
        raise ArgumentError("pad_id", f"pad_id: expected an integer id that fits in int64 (-2**63 .. 2**63 - 1, the "
                                      f"dtype of tokens), received {pad_id}.")
    ids = []
    for n, s in enumerate(seqs):
        _refuse_bools(s, f"seqs[{n}]", "integer tokens")
        arr = check_token_ids(s, f"seqs[{n}]", None, ndim=1, what="integer tokens")
        if arr.size == 0:
            raise ArgumentError(f"seqs[{n}]", f"seqs[{n}]: expected a non-empty sequence of tokens, received an empty sequence")
        ids.append(arr)
    lengths = np.array([len(s) for s in ids], dtype=np.int64)
    check_elements((int(lengths.max()), len(ids)), "padded tokens (T, N)", "seqs")
    tokens = np.full((int(lengths.max()), len(ids)), pad_id, dtype=np.int64)
    for n, s in enumerate(ids):
        tokens[: len(s), n] = s
    return tokens, lengths


def _refuse_bools(values, name: str, what: str) -> None:
    """A list or tuple of ids holding ``True``/``False`` is an error, as a boolean array is."""
    if isinstance(values, (list, tuple)) and any(isinstance(v, (bool, np.bool_)) for v in values):
        raise ArgumentTypeError(name, f"{name}: expected {what}, received a {type(values).__name__} holding booleans "
                                      f"({list(values)[:8]}). Use int ids.")


def one_hot(tokens, V: int, name: str = "tokens") -> np.ndarray:
    """One-hot vectors ``(..., V)`` for integer ``tokens (...)`` in ``0 .. V-1``.

    Like every id argument (:func:`rnn_tutor.validation.check_token_ids`), integral floats such as
    ``3.0`` are accepted and ``1.7`` is not.
    """
    V = check_int(V, "V")
    arr = check_token_ids(tokens, name, V, what="integer token ids")
    check_elements((arr.size, V), "one-hot array (..., V)", name)
    return (arr[..., None] == np.arange(V)).astype(float)


def last_valid(hs, lengths) -> np.ndarray:
    """Each sequence's hidden state at its last real step: ``h_last[n] = hs[lengths[n] - 1, n]``.

    ``hs (T, N, m)``, ``lengths (N,)`` -> ``(N, m)``.  With no padding this is ``hs[-1]``.
    """
    hs = check_array(hs, "hs", ndim=3, names=("T", "N", "m"), nonempty=True)
    lengths = check_lengths(lengths, hs.shape[0], hs.shape[1])
    return _last_valid(hs, lengths)


def _last_valid(hs: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """:func:`last_valid` on checked arguments."""
    return hs[lengths - 1, np.arange(hs.shape[1])]  # pairs (t_n, n) -> (N, m)


def last_valid_backward(dh_last, lengths, T: int) -> np.ndarray:
    """Gradient of :func:`last_valid`: ``dh_last (N, m)`` placed at step ``lengths[n]`` of ``dhs (T, N, m)``, zeros elsewhere."""
    dh_last = check_array(dh_last, "dh_last", ndim=2, names=("N", "m"), nonempty=True)
    N, m = dh_last.shape
    T = check_int(T, "T")
    lengths = check_lengths(lengths, T, N)
    check_elements((T, N, m), "dhs (T, N, m)", "T")
    return _last_valid_backward(dh_last, lengths, T)


def _last_valid_backward(dh_last: np.ndarray, lengths: np.ndarray, T: int) -> np.ndarray:
    """:func:`last_valid_backward` on checked arguments."""
    N, m = dh_last.shape
    dhs = np.zeros((T, N, m))
    dhs[lengths - 1, np.arange(N)] = dh_last
    return dhs


# ---------------------------------------------------------------- states: an array or a tuple of arrays

def state_take(state: Any, idx) -> Any:
    """Rows ``idx`` of a state (an ``(N, m)`` array or a tuple of them, like the LSTM's ``(h, c)``).

    ``None`` (the zero state that a cell makes itself) gives ``None``, as does a ``None`` part of a tuple.
    """
    return _take(state, idx, "state")


def _take(state, idx, name):
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(_take(s, idx, f"{name}[{i}]") for i, s in enumerate(state))
    arr = check_array(state, name, ndim=tuple(range(1, 8)))
    rows = check_token_ids(idx, "idx", arr.shape[0], ndim=1, what="integer row indices")
    return arr[rows]


def state_put(full: Any, idx, part: Any, N: int) -> Any:
    """Write ``part`` into rows ``idx`` of ``full`` (created as zeros with ``N`` rows when ``None``).

    ``full`` is changed in place when it is given (an array, or a tuple of arrays like ``part``),
    so it must be a writeable float array of finite numbers (not a read-only or
    ``np.broadcast_to`` view).  The new ``full`` is returned either way.
    """
    N = check_int(N, "N")
    _check_full(full, "full")
    return _put(full, idx, part, N, "full", "part")


def _check_full(full, name):
    if isinstance(full, tuple):
        for i, f in enumerate(full):
            _check_full(f, f"{name}[{i}]")
    elif isinstance(full, np.ndarray) and full.dtype.kind == "f":
        if not full.flags.writeable:
            raise ArgumentError(name, f"{name}: expected a writeable array (state_put writes into it in place), "
                                      f"received a read-only array of shape {full.shape}. Pass a copy, e.g. np.array({name}).")
        check_finite(full, name)


def _put(full, idx, part, N, fname, pname):
    if isinstance(part, tuple):
        if full is not None and not (isinstance(full, tuple) and len(full) == len(part)):
            raise ArgumentError(fname, f"{fname}: expected None or a tuple of {len(part)} arrays like {pname}, "
                                       f"received {describe(full)}")
        full = (None,) * len(part) if full is None else full
        return tuple(_put(f, idx, p, N, f"{fname}[{i}]", f"{pname}[{i}]") for i, (f, p) in enumerate(zip(full, part)))
    part = check_array(part, pname, ndim=tuple(range(1, 8)))
    rows = check_token_ids(idx, "idx", N, ndim=1, what="integer row indices")
    if part.shape[0] != rows.size:
        raise ArgumentError(pname, f"{pname}: expected one row per index (len(idx) = {rows.size}), received shape {part.shape}")
    if full is None:
        check_elements((N,) + part.shape[1:], "state", "N")
        full = np.zeros((N,) + part.shape[1:])
    elif not (isinstance(full, np.ndarray) and full.dtype.kind == "f" and full.shape == (N,) + part.shape[1:]):
        raise ArgumentError(fname, f"{fname}: expected None or a float array of shape {(N,) + part.shape[1:]}, "
                                   f"received {describe(full)}")
    full[rows] = part
    return full


def check_real_steps(xs, lengths, name: str = "xs") -> None:
    """NaN or ``inf`` at a real step of ``xs (T, N, ...)`` is an error; padding may hold anything."""
    xs = check_array(xs, name, finite=False)
    if xs.ndim < 2 or 0 in xs.shape[:2]:
        raise ArgumentError(name, f"{name}: expected an array (T, N, ...) with time on axis 0 and T, N >= 1, "
                                  f"received shape {xs.shape}")
    lengths = check_lengths(lengths, xs.shape[0], xs.shape[1])
    if np.isfinite(xs).all():
        return
    valid = np.arange(xs.shape[0])[:, None] < np.asarray(lengths)[None, :]  # (T, N)
    bad = ~np.isfinite(xs) & valid.reshape(valid.shape + (1,) * (xs.ndim - 2))
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise NonFiniteArgumentError(name, f"{name}: expected finite numbers at the real steps, received {xs[idx]} "
                                           f"at index {idx} (step {idx[0] + 1} of sequence {idx[1]}).")


def _check_seqs(seqs):
    if seqs is None or isinstance(seqs, (str, bytes, dict)) or not hasattr(seqs, "__len__"):
        raise ArgumentTypeError("seqs", f"seqs: expected a list of sequences, received {describe(seqs)}")
    if len(seqs) == 0:
        raise ArgumentError("seqs", "seqs: expected at least one sequence, received an empty list")
    if len(seqs) > MAX_SIZE:
        raise ArgumentError("seqs", f"seqs: expected at most MAX_SIZE = {MAX_SIZE} sequences, received {len(seqs)}")
    return list(seqs)


@overflow_is_error
def masked_cell_forward(cell, xs, params: Mapping, lengths=None, state_0: Any = None, mask=None) -> tuple[np.ndarray, Any, dict]:
    """Run ``cell`` over a right-padded batch, stopping each sequence at its last real step.

    Parameters
    ----------
    cell : rnn_tutor.cells.Cell
    xs : (T, N, d)    padded inputs (the filler is never read)
    params : dict with the cell's parameters
    lengths : (N,) ints in 1..T, or ``mask (T, N)`` of right-padding 0s and 1s (default: no padding)
    state_0 : initial state (``(N, m)`` or a tuple of them), ``None`` for zeros

    Returns
    -------
    hs : (T, N, m)     ``h_t`` for real steps, 0 at padding
    state_last         each sequence's state at step ``lengths[n]``, shaped like ``state_T``
    cache              for :func:`masked_cell_backward`
    """
    from rnn_tutor.cells import check_cell, check_cell_params, check_cell_state

    cell = check_cell(cell)
    d, width = check_cell_params(cell, params)
    xs = check_array(xs, "xs", ndim=3, names=("T", "N", "d"), nonempty=True, finite=False)
    if d is not None:
        check_shape(xs, (None, None, d), "xs", f"The last axis holds the d = {d} input features that the cell expects.")
    T, N, _ = xs.shape
    lengths = resolve_lengths(T, N, lengths, mask)
    check_real_steps(xs, lengths)
    # Against the cell's own zero state where the cell declares its width: (N, m) for the Elman
    # RNN and the GRU, the pair (h, c) for the LSTM (a None part becomes zeros).
    state_0 = check_cell_state(state_0, N, cell=cell if width is not None else None, width=width)
    cell_params = {k: as_float_array(params[k], f"params[{k!r}]") for k in cell.param_names}
    return _masked_cell_forward(cell, xs, cell_params, lengths, state_0)


def _masked_cell_forward(cell, xs: np.ndarray, cell_params: dict, lengths: np.ndarray, state_0):
    """:func:`masked_cell_forward` on checked arguments (float64 ``xs`` and parameters, checked lengths and state)."""
    from rnn_tutor.cells import _unchecked

    T, N, _ = xs.shape
    # Everything is checked (the cell's parameters by its own check): run the cell unchecked.
    forward = _unchecked(cell)[0] if getattr(cell, "check_params", None) else cell.forward
    hs, state_last, groups = None, None, []
    for L in np.unique(lengths):  # one vectorised run per group of equally long sequences
        idx = np.flatnonzero(lengths == L)
        hs_g, state_g, cache_g = forward(xs[:L, idx], cell_params, state_take(state_0, idx))
        if hs is None:
            hs = np.zeros((T, N, hs_g.shape[2]))
        hs[:L, idx] = hs_g
        state_last = _put(state_last, idx, state_g, N, "state_last", "state_last")
        groups.append((int(L), idx, cache_g))
    cache = Cache("masked_cell_forward", {"cell": cell, "groups": groups, "shape": (T, N, xs.shape[2]),
                                          "lengths": lengths, "m": hs.shape[2], "unchecked": forward is not cell.forward})
    return hs, state_last, cache


@overflow_is_error
def masked_cell_backward(dhs, cache: dict, dstate_last: Any = None) -> tuple[dict, np.ndarray, Any]:
    """Backward pass of :func:`masked_cell_forward`.

    Parameters
    ----------
    dhs : (T, N, m) or None   ``∂L/∂h_t`` from the layers above (entries at padding are ignored)
    cache : from :func:`masked_cell_forward`
    dstate_last : gradient on ``state_last`` (shaped like it), or ``None``

    Returns
    -------
    grads : dict with the cell's parameter names
    dxs : (T, N, d)   zeros at padding
    dstate_0 : shaped like ``state_0``
    """
    return _masked_backward(dhs, cache, dstate_last, "dstate_last")


def _masked_backward(dhs, cache, dstate_last, state_name: str):
    """:func:`masked_cell_backward`, naming the final-state gradient ``state_name`` (the caller's argument)."""
    check_cache(cache, "masked_cell_forward", ("cell", "groups", "shape", "lengths", "m", "unchecked"))
    cell, (T, N, _), m = cache["cell"], cache["shape"], cache["m"]
    if dhs is None:
        dhs = np.zeros((T, N, m))
    dhs = check_array(dhs, "dhs", shape=(T, N, m), names=("T", "N", "m"), hint="dhs is shaped like hs.")
    if dstate_last is not None:  # shaped like state_last: the cell's zero state where the cell declares it
        from rnn_tutor.cells import check_cell_state
        declared = getattr(cell, "check_params", None) is not None
        dstate_last = check_cell_state(dstate_last, N, state_name, cell=cell if declared else None,
                                       width=m if declared else None)
    return _masked_cell_backward(dhs, cache, dstate_last)


def _masked_cell_backward(dhs: np.ndarray, cache, dstate_last):
    """:func:`masked_cell_backward` on checked arguments (float64 ``dhs (T, N, m)``, a checked state gradient)."""
    from rnn_tutor.cells import _unchecked

    cell, (T, N, d) = cache["cell"], cache["shape"]
    backward = _unchecked(cell)[1] if cache.get("unchecked") else cell.backward
    grads, dxs, dstate_0 = None, np.zeros((T, N, d)), None
    for L, idx, cache_g in cache["groups"]:
        g, dxs_g, ds0_g = backward(dhs[:L, idx], cache_g, state_take(dstate_last, idx))
        grads = {k: np.asarray(v, dtype=float) for k, v in g.items()} if grads is None else {k: grads[k] + g[k] for k in grads}
        dxs[:L, idx] = dxs_g
        dstate_0 = _put(dstate_0, idx, ds0_g, N, "dstate_0", "dstate_0")
    return grads, dxs, dstate_0
