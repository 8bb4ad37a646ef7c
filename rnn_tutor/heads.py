"""Output layers on top of a recurrent layer: the dense head, softmax and cross-entropy.

The head turns a hidden state into scores for the ``q`` outputs (the *logits*):

    o_t = w_y h_t + b_y                     w_y : (q, m),  b_y : (q,)

For classification the scores become probabilities with the softmax,
``p_t = softmax(o_t)``, ``p_{t,k} = exp(o_{t,k}) / Σ_j exp(o_{t,j})``, and the loss of
one labelled position is the cross-entropy ``-log p_{t,c}`` for the true class ``c``.
Its gradient with respect to the logits is the famously simple ``p_t - onehot(c)``.

Everything works on any number of leading axes: ``hs (..., m) -> os (..., q)``,
so the same code serves one-to-one ``(N, m)``, many-to-one ``(N, m)`` and
many-to-many ``(T, N, m)`` models.
"""

from __future__ import annotations

import numpy as np

from rnn_tutor.validation import (check_probabilities, overflow_is_error, ArgumentError, ArgumentTypeError, NonFiniteArgumentError, as_float_array, check_finite, describe, check_array, check_choice, check_elements, check_int,
                                  check_mapping, check_rng, check_shape, check_token_ids)

__all__ = ["HEAD_NAMES", "init_head", "check_head", "dense_forward", "dense_backward", "log_softmax",
           "softmax", "softmax_vjp", "check_labels", "check_mask", "softmax_cross_entropy", "accuracy"]

HEAD_NAMES = ("w_y", "b_y")


def init_head(m: int, q: int, rng: np.random.Generator) -> dict:
    """Random head parameters ``w_y (q, m)``, ``b_y (q,)``, uniform in ``[-1/sqrt(m), 1/sqrt(m)]``."""
    check_rng(rng)
    m, q = check_int(m, "m"), check_int(q, "q")
    check_elements((q, m), "w_y (q, m)", "q")
    s = 1.0 / np.sqrt(m)
    return {"w_y": rng.uniform(-s, s, size=(q, m)), "b_y": rng.uniform(-s, s, size=(q,))}


def check_head(params, m: int | None = None, name: str = "params") -> tuple[np.ndarray, np.ndarray]:
    """Return ``(w_y, b_y)`` as float arrays after checking their keys, shapes and finiteness."""
    if m is not None:
        m = check_int(m, "m")
    check_mapping(params, name, (), "a parameter dict with an output layer")
    missing = [k for k in HEAD_NAMES if k not in params]
    if missing:
        raise ArgumentError(name, f"{name}: missing output-layer key(s) {missing}; expected {list(HEAD_NAMES)} "
                                  f"beside the cell's parameters, received {sorted(params)}")
    w_y = check_array(params["w_y"], f"{name}['w_y']", ndim=2, names=("q", "m"), nonempty=True)
    b_y = as_float_array(params["b_y"], f"{name}['b_y']")
    check_shape(w_y, (None, m), f"{name}['w_y']", "w_y maps the m hidden units to the q outputs.")
    check_shape(b_y, (w_y.shape[0],), f"{name}['b_y']", "b_y holds one bias per output (the rows of w_y).")
    check_array(b_y, f"{name}['b_y']")
    return w_y, b_y


def _check_layer(w_y, b_y=None, with_bias=False) -> tuple[np.ndarray, np.ndarray | None]:
    w_y = check_array(w_y, "w_y", ndim=2, names=("q", "m"), nonempty=True)
    if with_bias:
        b_y = check_array(b_y, "b_y", shape=(w_y.shape[0],), names=("q",),
                          hint="b_y holds one bias per output (the rows of w_y).")
    return w_y, b_y


@overflow_is_error
def dense_forward(hs, w_y, b_y) -> np.ndarray:
    """The output layer ``o = w_y h + b_y`` on rows: ``hs (..., m) -> os (..., q)``."""
    w_y, b_y = _check_layer(w_y, b_y, with_bias=True)
    hs = check_array(hs, "hs", ndim=tuple(range(1, 33)))
    check_shape(hs, (None,) * (hs.ndim - 1) + (w_y.shape[1],), "hs", "The last axis holds the m hidden units.")
    return _dense_forward(hs, w_y, b_y)


def _dense_forward(hs: np.ndarray, w_y: np.ndarray, b_y: np.ndarray) -> np.ndarray:
    """:func:`dense_forward` on checked float64 arrays (for passes that check once)."""
    return hs @ w_y.T + b_y  # (..., m) @ (m, q) -> (..., q)


@overflow_is_error
def dense_backward(dos, hs, w_y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of the output layer: ``∂L/∂w_y = Σ δo hᵀ``, ``∂L/∂b_y = Σ δo``, ``∂L/∂h = w_yᵀ δo``.

    Parameters
    ----------
    dos : (..., q)  ``∂L/∂o``
    hs : (..., m)   the hidden states the layer read
    w_y : (q, m)

    Returns
    -------
    dw_y : (q, m), db_y : (q,), dhs : (..., m)
    """
    w_y, _ = _check_layer(w_y)
    q, m = w_y.shape
    hs = check_array(hs, "hs", ndim=tuple(range(1, 33)))
    check_shape(hs, (None,) * (hs.ndim - 1) + (m,), "hs", "The last axis holds the m hidden units.")
    dos = check_array(dos, "dos")
    check_shape(dos, hs.shape[:-1] + (q,), "dos", "dos is ∂L/∂o, shaped like the outputs (hs with q on the last axis).")
    return _dense_backward(dos, hs, w_y)


def _dense_backward(dos: np.ndarray, hs: np.ndarray, w_y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`dense_backward` on checked float64 arrays (for training loops that check once)."""
    q, m = w_y.shape
    d2, h2 = dos.reshape(-1, q), hs.reshape(-1, m)
    return d2.T @ h2, d2.sum(axis=0), dos @ w_y  # (q, K)@(K, m) -> (q, m); (..., q)@(q, m) -> (..., m)


def _check_axis(axis, ndim: int) -> int:
    return check_int(axis, "axis", -ndim, ndim - 1, "an axis")


def log_softmax(os, axis: int = -1) -> np.ndarray:
    """``log softmax(o)_k = o_k - log Σ_j exp(o_j)``, computed stably with the log-sum-exp trick.

    Subtracting ``max_j o_j`` first changes nothing mathematically but keeps every
    ``exp`` at most 1, so logits of ``±1e4`` give finite results.  ``os`` may hold ``-inf`` (a class
    that is excluded, probability 0), but not NaN or ``+inf``.
    """
    os = check_array(os, "os", ndim=tuple(range(1, 33)), finite=False)
    axis = _check_axis(axis, os.ndim)
    if os.shape[axis] == 0:
        raise ArgumentError("os", f"os: expected at least one class on axis {axis}, received shape {os.shape}.")
    if not np.isfinite(os).all():  # -inf marks an excluded class (masked attention); NaN and +inf are errors
        if np.isnan(os).any() or np.isposinf(os).any():
            check_finite(np.where(np.isneginf(os), 0.0, os), "os", "Only -inf (an excluded class) is allowed.")
        if np.isneginf(os).all(axis=axis).any():
            raise NonFiniteArgumentError("os", f"os: expected at least one finite score along axis {axis}, "
                                               "received a slice of -inf only")
    return _log_softmax(os, axis)


def _log_softmax(os: np.ndarray, axis: int = -1) -> np.ndarray:
    """:func:`log_softmax` on a checked float64 array (no NaN or ``+inf``, at least one class)."""
    shifted = os - os.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(os, axis: int = -1) -> np.ndarray:
    """``softmax(o)_k = exp(o_k) / Σ_j exp(o_j)`` along ``axis`` (stable for large logits)."""
    return np.exp(log_softmax(os, axis))


@overflow_is_error
def softmax_vjp(ps, dps) -> np.ndarray:
    """Back through ``p = softmax(o)``: ``∂L/∂o = p ⊙ (∂L/∂p - Σ_k p_k ∂L/∂p_k)``; shapes ``(..., q)``."""
    ps = check_array(ps, "ps", ndim=tuple(range(1, 33)))
    dps = check_array(dps, "dps")
    check_shape(dps, ps.shape, "dps", "dps is ∂L/∂p, shaped like ps.")
    check_probabilities(ps, "ps", "probabilities in [0, 1] (the output of softmax)")
    return _softmax_vjp(ps, dps)


def _softmax_vjp(ps: np.ndarray, dps: np.ndarray) -> np.ndarray:
    """:func:`softmax_vjp` on checked arrays (probabilities ``ps``, finite ``dps`` of the same shape)."""
    return ps * (dps - (ps * dps).sum(axis=-1, keepdims=True))


def check_mask(mask, shape: tuple, name: str = "mask", against: str = "labels") -> np.ndarray:
    """Return ``mask`` as a float array of 0s and 1s with the given ``shape``, or raise ValueError."""
    mask_arr = check_array(mask, name, allow_bool=True)
    if not (isinstance(shape, (tuple, list)) and all(
            isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_)) and s >= 0 for s in shape)):
        raise ArgumentTypeError("shape", f"shape: expected a tuple of sizes, received {describe(shape)}")
    if mask_arr.shape != tuple(shape):
        raise ArgumentError(name, f"{name}: expected shape {tuple(shape)} (the shape of {against}), received shape {mask_arr.shape}")
    bad = (mask_arr != 0) & (mask_arr != 1)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ArgumentError(name, f"{name}: expected only 0 (padding) and 1 (a real step), received {float(mask_arr[idx]):g} at index {idx}")
    return mask_arr


def check_labels(labels, q: int, shape: tuple | None = None, mask=None, name: str = "labels") -> np.ndarray:
    """Return ``labels`` as an int array after checking it holds class indices ``0 .. q-1``.

    Positions where ``mask`` is 0 (padding) may hold any integer.
    """
    q = check_int(q, "q")
    arr = check_token_ids(labels, name, None, what=f"integer class indices in 0..{q - 1}")
    if shape is not None and not (isinstance(shape, (tuple, list)) and all(
            isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_)) and s >= 0 for s in shape)):
        raise ArgumentTypeError("shape", f"shape: expected a tuple of sizes, received {describe(shape)}")
    if shape is not None and arr.shape != tuple(shape):
        raise ArgumentError(name, f"{name}: expected shape {tuple(shape)} (one label per output position), received shape {arr.shape}")
    if mask is not None:
        mask = check_mask(mask, arr.shape, against=name)
    valid = np.ones(arr.shape, bool) if mask is None else mask != 0
    bad = valid & ((arr < 0) | (arr >= q))
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ArgumentError(name, f"{name}: expected class indices in 0..{q - 1} (q = {q} classes), "
                                  f"received {int(arr[idx])} at index {idx}")
    return arr


def _check_logits(logits) -> np.ndarray:
    logits = check_array(logits, "logits", ndim=tuple(range(1, 33)))
    if logits.shape[-1] < 1:
        raise ArgumentError("logits", f"logits: expected an array (..., q) with q >= 1 classes on the last axis, "
                                      f"received shape {logits.shape}")
    return logits


@overflow_is_error
def softmax_cross_entropy(logits, labels, mask=None, reduction: str = "mean") -> tuple[float, np.ndarray]:
    """Cross-entropy of softmax probabilities and its gradient with respect to the logits.

        L = -(1/K) Σ_positions mask · log softmax(o)_c          ∂L/∂o = mask · (softmax(o) - onehot(c)) / K

    Parameters
    ----------
    logits : (..., q)   scores ``o``; e.g. ``(N, q)`` or ``(T, N, q)``
    labels : (...)      integer classes ``c`` in ``0 .. q-1``
    mask : (...), optional
        1 for a real position, 0 for padding (padding adds nothing to the loss or
        the gradient, and its label is not checked).
    reduction : ``"mean"`` (``K`` = number of positions with mask 1) or ``"sum"`` (``K = 1``)

    Returns
    -------
    L : float
    dlogits : array like ``logits``
    """
    logits = _check_logits(logits)
    check_choice(reduction, "reduction", ("mean", "sum"))
    q = logits.shape[-1]
    mask_arr = np.ones(logits.shape[:-1]) if mask is None else check_mask(mask, logits.shape[:-1], against="logits without its last axis")
    labels = check_labels(labels, q, logits.shape[:-1], mask_arr)
    count = float(mask_arr.sum())
    if count == 0:
        raise ArgumentError("mask" if mask is not None else "logits",
                            ("mask: expected at least one real position (a 1), received a mask of zeros only"
                             if mask is not None else f"logits: expected at least one position, received shape {logits.shape}"))
    return _softmax_cross_entropy(logits, labels, mask_arr, 1.0 / count if reduction == "mean" else 1.0)


def _softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray, mask_arr: np.ndarray,
                           scale: float) -> tuple[float, np.ndarray]:
    """:func:`softmax_cross_entropy` on checked arrays: finite ``logits (..., q)``, int ``labels (...)``
    in ``0 .. q-1`` where ``mask_arr (...)`` is 1, and the reduction as a factor ``scale``."""
    logp = _log_softmax(logits)
    safe = np.where(mask_arr != 0, labels, 0)  # padding may carry any label; read class 0 there, then mask it
    picked = np.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]  # log p_c at every position
    L = -scale * float(np.sum(mask_arr * picked))
    dlogits = np.exp(logp)
    np.put_along_axis(dlogits, safe[..., None], np.take_along_axis(dlogits, safe[..., None], axis=-1) - 1.0, axis=-1)
    return L, dlogits * (scale * mask_arr)[..., None]


def accuracy(logits, labels, mask=None) -> float:
    """Fraction of (unmasked) positions whose largest logit is the true class (NaN logits are refused)."""
    logits = _check_logits(logits)
    mask_arr = np.ones(logits.shape[:-1]) if mask is None else check_mask(mask, logits.shape[:-1], against="logits without its last axis")
    labels = check_labels(labels, logits.shape[-1], logits.shape[:-1], mask_arr)
    if mask_arr.sum() == 0:
        raise ArgumentError("mask" if mask is not None else "logits",
                            ("mask: expected at least one real position (a 1), received a mask of zeros only"
                             if mask is not None else f"logits: expected at least one position, received shape {logits.shape}"))
    hits = (logits.argmax(axis=-1) == labels) * mask_arr
    return float(hits.sum() / mask_arr.sum())
