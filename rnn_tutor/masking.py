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

from rnn_tutor.validation import as_float_array

__all__ = ["check_lengths", "lengths_to_mask", "mask_to_lengths", "resolve_lengths", "pad_sequences",
           "pad_tokens", "one_hot", "last_valid", "last_valid_backward", "state_take", "state_put",
           "masked_cell_forward", "masked_cell_backward"]


def check_lengths(lengths, T: int, N: int, name: str = "lengths") -> np.ndarray:
    """Return ``lengths (N,)`` as ints after checking ``1 <= lengths[n] <= T`` (an empty sequence is an error)."""
    arr = np.asarray(lengths)
    if arr.dtype.kind not in "iu":
        f = as_float_array(lengths, name)
        if not np.all(np.isfinite(f)) or not np.all(f == np.round(f)):
            raise ValueError(f"{name}: expected integer sequence lengths, received {arr!r}")
        arr = f
    arr = arr.astype(np.int64)
    if arr.shape != (N,):
        raise ValueError(f"{name}: expected shape ({N},) (one length per sequence in the batch, N = {N}), "
                         f"received shape {arr.shape}")
    bad = np.flatnonzero((arr < 1) | (arr > T))
    if bad.size:
        n = int(bad[0])
        why = " (an empty sequence)" if arr[n] == 0 else ""
        raise ValueError(f"{name}: expected every length in 1..{T} (T = {T} steps in the padded batch), "
                         f"received {int(arr[n])} for sequence {n}{why}")
    return arr


def lengths_to_mask(lengths, T: int | None = None) -> np.ndarray:
    """The ``(T, N)`` mask of 0s and 1s for right-padded sequences: ``mask[t-1, n] = [t <= lengths[n]]``.

    ``T`` defaults to ``max(lengths)``.
    """
    arr = np.asarray(lengths)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"lengths: expected a 1-D array (N,) with N >= 1, received shape {arr.shape}")
    T = int(np.max(arr)) if T is None else T
    lengths = check_lengths(arr, T, arr.size)
    return (np.arange(T)[:, None] < lengths[None, :]).astype(float)  # (T, 1) < (1, N) -> (T, N)


def mask_to_lengths(mask, shape: tuple | None = None, name: str = "mask") -> np.ndarray:
    """Lengths ``(N,)`` from a right-padding mask ``(T, N)``: each column must be 1s followed by 0s.

    ``shape`` is the ``(T, N)`` the mask must have (e.g. the first two axes of ``xs``).
    """
    m = as_float_array(mask, name)
    if shape is not None and m.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)} (T, N: the first two axes of the sequences), "
                         f"received shape {m.shape}")
    if m.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (T, N) array, received shape {m.shape}")
    if ((m != 0) & (m != 1)).any():
        raise ValueError(f"{name}: expected only 0 (padding) and 1 (a real step), received values {np.unique(m)}")
    lengths = m.sum(axis=0).astype(np.int64)
    expected = (np.arange(m.shape[0])[:, None] < lengths[None, :]).astype(float)
    bad = np.flatnonzero((expected != m).any(axis=0))
    if bad.size:
        n = int(bad[0])
        raise ValueError(f"{name}: expected right padding (1s then 0s) in every column, received "
                         f"{m[:, n].astype(int).tolist()} for sequence {n}")
    return check_lengths(lengths, m.shape[0], m.shape[1], name=f"{name} (lengths)")


def resolve_lengths(T: int, N: int, lengths=None, mask=None) -> np.ndarray:
    """The lengths of a ``(T, N, ...)`` batch given ``lengths`` or ``mask`` (not both); all ``T`` if neither."""
    if lengths is not None and mask is not None:
        raise ValueError("mask: expected either lengths or mask, received both")
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
    if len(seqs) == 0:
        raise ValueError("seqs: expected at least one sequence, received an empty list")
    arrs = []
    for n, s in enumerate(seqs):
        a = as_float_array(s, f"seqs[{n}]")
        a = a[:, None] if a.ndim == 1 else a
        if a.ndim != 2 or a.shape[0] == 0:
            raise ValueError(f"seqs[{n}]: expected a non-empty (T_n, d) or (T_n,) array, received shape {a.shape}"
                             + (" (an empty sequence)" if a.shape[0] == 0 else ""))
        if arrs and a.shape[1] != arrs[0].shape[1]:
            raise ValueError(f"seqs[{n}]: expected d = {arrs[0].shape[1]} features like seqs[0], received shape {a.shape}")
        arrs.append(a)
    lengths = np.array([a.shape[0] for a in arrs], dtype=np.int64)
    xs = np.full((int(lengths.max()), len(arrs), arrs[0].shape[1]), float(pad_value))
    for n, a in enumerate(arrs):
        xs[: a.shape[0], n] = a
    return xs, lengths


def pad_tokens(seqs: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad lists of integer tokens into ``tokens (T, N)`` and ``lengths (N,)``."""
    if len(seqs) == 0:
        raise ValueError("seqs: expected at least one sequence, received an empty list")
    for n, s in enumerate(seqs):
        if len(s) == 0:
            raise ValueError(f"seqs[{n}]: expected a non-empty sequence of tokens, received an empty sequence")
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    tokens = np.full((int(lengths.max()), len(seqs)), int(pad_id), dtype=np.int64)
    for n, s in enumerate(seqs):
        tokens[: len(s), n] = np.asarray(s, dtype=np.int64)
    return tokens, lengths


def one_hot(tokens, V: int, name: str = "tokens") -> np.ndarray:
    """One-hot vectors ``(..., V)`` for integer ``tokens (...)`` in ``0 .. V-1``."""
    arr = np.asarray(tokens)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected integer token ids, received dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= V):
        bad = int(arr.min() if arr.min() < 0 else arr.max())
        raise ValueError(f"{name}: expected token ids in 0..{V - 1} (V = {V}), received {bad}")
    return (arr[..., None] == np.arange(V)).astype(float)


def last_valid(hs, lengths) -> np.ndarray:
    """Each sequence's hidden state at its last real step: ``h_last[n] = hs[lengths[n] - 1, n]``.

    ``hs (T, N, m)``, ``lengths (N,)`` -> ``(N, m)``.  With no padding this is ``hs[-1]``.
    """
    hs = as_float_array(hs, "hs")
    if hs.ndim != 3:
        raise ValueError(f"hs: expected a 3-D array (T, N, m), received shape {hs.shape}")
    lengths = check_lengths(lengths, hs.shape[0], hs.shape[1])
    return hs[lengths - 1, np.arange(hs.shape[1])]  # pairs (t_n, n) -> (N, m)


def last_valid_backward(dh_last, lengths, T: int) -> np.ndarray:
    """Gradient of :func:`last_valid`: ``dh_last (N, m)`` placed at step ``lengths[n]`` of ``dhs (T, N, m)``, zeros elsewhere."""
    dh_last = as_float_array(dh_last, "dh_last")
    if dh_last.ndim != 2:
        raise ValueError(f"dh_last: expected a 2-D array (N, m), received shape {dh_last.shape}")
    N, m = dh_last.shape
    lengths = check_lengths(lengths, T, N)
    dhs = np.zeros((T, N, m))
    dhs[lengths - 1, np.arange(N)] = dh_last
    return dhs


# ---------------------------------------------------------------- states: an array or a tuple of arrays

def state_take(state: Any, idx) -> Any:
    """Rows ``idx`` of a state (an ``(N, m)`` array or a tuple of them, like the LSTM's ``(h, c)``)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(state_take(s, idx) for s in state)
    return np.asarray(state)[idx]


def state_put(full: Any, idx, part: Any, N: int) -> Any:
    """Write ``part`` into rows ``idx`` of ``full`` (created as zeros with ``N`` rows when ``None``)."""
    if isinstance(part, tuple):
        full = (None,) * len(part) if full is None else full
        return tuple(state_put(f, idx, p, N) for f, p in zip(full, part))
    part = np.asarray(part, dtype=float)
    if full is None:
        full = np.zeros((N,) + part.shape[1:])
    full[idx] = part
    return full


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
    xs = as_float_array(xs, "xs")
    if xs.ndim != 3:
        raise ValueError(f"xs: expected a 3-D array (T, N, d), received shape {xs.shape}")
    T, N, _ = xs.shape
    if T == 0 or N == 0:
        raise ValueError(f"xs: expected at least one step and one sequence (T, N >= 1), received shape {xs.shape} (an empty sequence)")
    lengths = resolve_lengths(T, N, lengths, mask)
    cell_params = {k: params[k] for k in cell.param_names}
    hs, state_last, groups = None, None, []
    for L in np.unique(lengths):  # one vectorised run per group of equally long sequences
        idx = np.flatnonzero(lengths == L)
        hs_g, state_g, cache_g = cell.forward(xs[:L, idx], cell_params, state_take(state_0, idx))
        if hs is None:
            hs = np.zeros((T, N, hs_g.shape[2]))
        hs[:L, idx] = hs_g
        state_last = state_put(state_last, idx, state_g, N)
        groups.append((int(L), idx, cache_g))
    cache = {"cell": cell, "groups": groups, "shape": (T, N, xs.shape[2]), "lengths": lengths, "m": hs.shape[2]}
    return hs, state_last, cache


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
    cell, (T, N, d), m = cache["cell"], cache["shape"], cache["m"]
    if dhs is None:
        dhs = np.zeros((T, N, m))
    dhs = as_float_array(dhs, "dhs")
    if dhs.shape != (T, N, m):
        raise ValueError(f"dhs: expected shape {(T, N, m)} (the shape of hs), received shape {dhs.shape}")
    grads, dxs, dstate_0 = None, np.zeros((T, N, d)), None
    for L, idx, cache_g in cache["groups"]:
        g, dxs_g, ds0_g = cell.backward(dhs[:L, idx], cache_g, state_take(dstate_last, idx))
        grads = {k: np.array(v, dtype=float) for k, v in g.items()} if grads is None else {k: grads[k] + g[k] for k in grads}
        dxs[:L, idx] = dxs_g
        dstate_0 = state_put(dstate_0, idx, ds0_g, N)
    return grads, dxs, dstate_0
