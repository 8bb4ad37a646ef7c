"""Attention over encoder states: additive (Bahdanau) and dot-product (Luong) scores, forward and backward.

A decoder state ``g`` (the *query*) looks at every encoder state ``h_s`` (the *keys*, which are
also the *values* here, as in Bahdanau et al. 2015), scores each one, turns the scores into
weights with a softmax over the positions ``s``, and reads the weighted average, the *context*:

    e_s = score(g, h_s)                      s = 1 .. S
    α_s = exp(e_s) / Σ_{s'} exp(e_{s'})      (padded positions: α_s = 0, they are left out of the sum)
    c   = Σ_s α_s h_s

Scores (column-vector equations, as everywhere in the course):

    additive  (Bahdanau)   e_s = vᵀ tanh(w_q g + w_k h_s)     w_q : (a, m_g), w_k : (a, m), v : (a,)
    dot       (Luong)      e_s = gᵀ h_s                         needs m_g = m
    general   (Luong)      e_s = gᵀ w_a h_s                     w_a : (m_g, m)

(Bahdanau's ``W_a``, ``U_a``, ``v_a`` are our ``w_q``, ``w_k``, ``v``.)  Shapes follow the package
convention, time-major batches of rows:

    query g : (N, m_g)     hs : (S, N, m)     mask : (S, N)     weights α : (S, N)     context c : (N, m)

``mask[s, n] = 1`` marks a real encoder step and ``0`` padding; every sequence needs at least one
real step.  Each ``*_attention`` returns ``(context, weights, cache)``; each ``*_backward(dcontext,
cache, dweights=None)`` returns the gradients as a dict (``query``, ``hs`` and the parameters).
``dweights`` is an optional extra gradient on the weights (e.g. from a penalty on them).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from rnn_tutor.heads import check_mask
from rnn_tutor.validation import (overflow_is_error, check_probabilities, ArgumentError, Cache, all_finite, as_float_array, check_array, check_cache, check_finite,
                                  check_int, check_rng, check_shape)

__all__ = ["ADDITIVE_NAMES", "init_additive_params", "masked_softmax", "masked_softmax_backward",
           "additive_attention", "additive_attention_backward", "dot_attention", "dot_attention_backward"]

ADDITIVE_NAMES = ("w_q", "w_k", "v")


def init_additive_params(m_g: int, m: int, a: int, rng: np.random.Generator) -> dict:
    """Random additive-attention parameters ``w_q (a, m_g)``, ``w_k (a, m)``, ``v (a,)``, uniform in ``±1/sqrt(a)``."""
    check_rng(rng)
    m_g, m, a = (check_int(v, n, 1, 4096) for v, n in ((m_g, "m_g"), (m, "m"), (a, "a")))
    s = 1.0 / np.sqrt(a)
    return {"w_q": rng.uniform(-s, s, (a, m_g)), "w_k": rng.uniform(-s, s, (a, m)), "v": rng.uniform(-s, s, a)}


# ----------------------------------------------------------------------------- validation

def _check_states(query, hs) -> tuple[np.ndarray, np.ndarray]:
    hs = as_float_array(hs, "hs")
    if hs.ndim != 3 or 0 in hs.shape:
        raise ArgumentError("hs", f"hs: expected a 3-D array (S, N, m) of encoder states with S, N, m >= 1, received shape {hs.shape}")
    query = as_float_array(query, "query")
    N = hs.shape[1]
    if query.ndim not in (2, 3) or query.shape[-2] != N or 0 in query.shape:
        raise ArgumentError("query", f"query: expected shape (N, m_g) = ({N}, *), or (U, {N}, m_g) for U decoder steps at once, "
                         f"received shape {query.shape}. The query holds one decoder state per sequence (N = {N}).")
    check_finite(hs, "hs")
    check_finite(query, "query")
    return query, hs


def _check_attention_mask(mask, S: int, N: int):
    if mask is None:
        return None
    mask = check_mask(mask, (S, N), against="the first two axes of hs, (S, N)")
    empty = np.flatnonzero(mask.sum(axis=0) == 0)
    if empty.size:
        raise ArgumentError("mask", f"mask: expected at least one real step (a 1) in every column, received none in column {int(empty[0])} "
                         "(a sequence with nothing to attend to)")
    return mask


# ----------------------------------------------------------------------------- the masked softmax

def _masked_softmax(scores, mask):
    """Softmax over axis -2 (the positions) of ``scores (..., S, N)``; ``mask (S, N)`` or None.

    A gap to the largest score beyond float64 (``-1e308 - 1e308``) is ``-inf``: weight 0, the true weight.
    """
    with np.errstate(over="ignore"):
        if mask is None:
            w = np.exp(scores - scores.max(axis=-2, keepdims=True))
        else:
            shifted = np.where(mask > 0, scores, -np.inf)  # padding takes no part, not even in the max
            shifted = shifted - shifted.max(axis=-2, keepdims=True)
            w = np.where(mask > 0, np.exp(shifted), 0.0)
    return w / w.sum(axis=-2, keepdims=True)


# Scores beyond float64.  The plain computation is used whenever its scores are usable (no NaN, no
# +inf, a finite largest score per softmax): then nothing changes.  Otherwise the scores are computed
# again as mantissa · 2**exponent from copies scaled by powers of two (exact), and the softmax is
# taken on those pairs, so that huge scores give the true weights (a hard argmax) instead of NaN.

def _usable(scores, axis: int, mask=None) -> bool:
    """Whether a plain softmax along ``axis`` of ``scores`` (real positions only) is exact."""
    s = scores if mask is None else np.where(mask > 0, scores, -np.inf)
    return not (np.isnan(s).any() or np.isposinf(s).any()) and bool(np.isfinite(s.max(axis=axis)).all())


def _row_exponents(a: np.ndarray) -> np.ndarray:
    """For every row (last axis) the int ``e`` with all ``|entries| < 2**e`` (0 for a row of zeros), kept as an axis."""
    return np.frexp(np.abs(a).max(axis=-1, keepdims=True))[1].astype(np.int64)


def _scaled_rows(x: np.ndarray, w: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``x @ w.T`` (or ``x``) as ``mantissas · 2**exponents``, one exponent per row (mantissas below 1).

    ``x`` (per row) and ``w`` are scaled by powers of two first, which is exact, so no product or sum
    can overflow whatever the magnitudes.
    """
    e = _row_exponents(x)
    m = np.ldexp(x, -e)
    if w is not None:
        e_w = int(np.frexp(np.abs(w).max())[1]) if w.size else 0
        m = m @ np.ldexp(w, -e_w).T  # (..., k) @ (k, j) -> (..., j), entries below k
        e2 = _row_exponents(m)
        m, e = np.ldexp(m, -e2), e + e_w + e2
    return m, e


def _pair_softmax(m: np.ndarray, e: np.ndarray, mask=None) -> np.ndarray:
    """Softmax over the last axis of the scores ``m · 2**e`` (mantissas ``m``, int exponents ``e``, broadcast
    together), exact where the scores lie beyond float64; ``mask`` (broadcast, 0 for padding) leaves positions out.

    Rows whose largest score is within float64 are ordinary (a score below ``-max`` is ``-inf``: weight 0).
    In a row with scores above float64's max only those can have weight; they are compared at the scale of
    the largest.  In a row whose every score is below ``-max`` the least negative ones are compared at their
    own scale.  The shifted scores are then scaled back: a gap that overflows is ``-inf``, weight 0.
    """
    f, de = np.frexp(m)
    e = e + de  # f in ±[0.5, 1), or 0
    real = np.ones(f.shape, bool) if mask is None else np.broadcast_to(mask > 0, f.shape)
    with np.errstate(over="ignore"):
        s = np.where(real, np.ldexp(f, e), -np.inf)  # ±inf beyond float64, never NaN
    top = s.max(axis=-1, keepdims=True)
    up, down = np.isposinf(top), np.isneginf(top)
    r = np.zeros(top.shape, np.int64)
    if up.any() or down.any():
        pos = np.isposinf(s)
        r = np.where(up, np.where(pos, e, np.iinfo(np.int64).min).max(axis=-1, keepdims=True), r)
        r = np.where(down, np.where(real, e, np.iinfo(np.int64).max).min(axis=-1, keepdims=True), r)
        with np.errstate(over="ignore"):
            rel = np.ldexp(f, e - r)  # at the row's own scale
        rel = np.where(real & ~(up & ~pos), rel, -np.inf)  # above float64, only the scores beyond +max count
        s = np.where(up | down, rel, s)
        top = s.max(axis=-1, keepdims=True)
    with np.errstate(over="ignore"):
        diff = s - top  # <= 0 (finite top in every row); -inf for a gap beyond float64
        if r.any():
            diff = np.ldexp(diff, np.broadcast_to(r, diff.shape))  # back to true gaps
    w = np.where(real, np.exp(diff), 0.0)
    return w / w.sum(axis=-1, keepdims=True)


def _exp2_above(threshold: int, *arrays) -> int:
    """How many powers of two the largest ``|entry|`` of ``arrays`` lies above ``2**threshold`` (0 if below)."""
    big = max((float(np.abs(a).max()) for a in arrays if a is not None and a.size), default=0.0)
    return max(0, int(np.frexp(big)[1]) - threshold) if big > 0 else 0


def _softmax_back(dweights, weights):
    return weights * (dweights - (weights * dweights).sum(axis=-2, keepdims=True))


def masked_softmax(scores, mask=None) -> np.ndarray:
    """Attention weights from scores, over the positions (axis 0), with padding left out.

        α_s = mask_s exp(e_s - max) / Σ_{s'} mask_{s'} exp(e_{s'} - max)          (max over real steps)

    Subtracting the largest real score keeps every ``exp`` at most 1.  Padded positions get
    exactly 0 whatever their score; it is not enough to zero them *after* a softmax over all
    positions, which would leave the real weights summing to less than 1.

    Parameters
    ----------
    scores : (S, N)   one score per encoder step and sequence
    mask : (S, N), optional   1 for a real step, 0 for padding (default: all real)

    Returns
    -------
    weights : (S, N), each column sums to 1
    """
    scores = check_array(scores, "scores")
    if scores.ndim != 2 or 0 in scores.shape:
        raise ArgumentError("scores", f"scores: expected a 2-D array (S, N) with S, N >= 1, received shape {scores.shape}")
    return _masked_softmax(scores, _check_attention_mask(mask, *scores.shape))


@overflow_is_error
def masked_softmax_backward(dweights, weights) -> np.ndarray:
    """Back through :func:`masked_softmax`: ``∂L/∂e_s = α_s (∂L/∂α_s - Σ_{s'} α_{s'} ∂L/∂α_{s'})``.

    This is the softmax's Jacobian ``diag(α) - α αᵀ`` applied column by column; padded positions
    have ``α_s = 0`` and so get exactly zero gradient.  Shapes: ``(S, N)`` in and out.
    """
    dweights, weights = check_array(dweights, "dweights"), check_array(weights, "weights")
    if weights.ndim != 2:
        raise ArgumentError("weights", f"weights: expected a 2-D array (S, N), received shape {weights.shape}")
    check_shape(dweights, weights.shape, "dweights", "It is the gradient of the weights and has their shape.")
    check_probabilities(weights, "weights", "attention weights in [0, 1] (the output of masked_softmax)")
    e = _exp2_above(512, dweights)  # the backward pass is linear in dweights: scale huge ones (exactly) so that no product overflows
    return _softmax_back(dweights, weights) if e == 0 else np.ldexp(_softmax_back(np.ldexp(dweights, -e), weights), e)


# The cores below work on U queries at once: query (U, N, m_g), weights (U, S, N), context (U, N, m).
# Sums over s (or u) for each sequence n are batched matrix products with n as the batch axis.

def _read(weights, hs):
    """``c_u = Σ_s α_us h_s``: (N, U, S) @ (N, S, m) -> (N, U, m) -> (U, N, m)."""
    return (weights.transpose(2, 0, 1) @ hs.transpose(1, 0, 2)).transpose(1, 0, 2)


def _spread(dscores, rows):
    """``Σ_u dscores[u, s, n] rows[u, n]``: (N, S, U) @ (N, U, k) -> (N, S, k) -> (S, N, k)."""
    return (dscores.transpose(2, 1, 0) @ rows.transpose(1, 0, 2)).transpose(1, 0, 2)


def _back_read(dcontext, weights, hs, dweights):
    """Gradients of ``c = Σ_s α_s h_s``: ``∂L/∂α_s = h_s · ∂L/∂c`` (plus ``dweights``) and ``∂L/∂h_s = Σ_u α_us ∂L/∂c_u``."""
    dalpha = (hs.transpose(1, 0, 2) @ dcontext.transpose(1, 2, 0)).transpose(2, 1, 0)  # (N, S, m)@(N, m, U) -> (U, S, N)
    if dweights is not None:
        dalpha = dalpha + dweights
    return dalpha, _spread(weights, dcontext)


def _linear_backward(core, dcontext, cache, dweights):
    """``core(dcontext, cache, dweights)`` computed on copies scaled by a power of two (exact): the gradients are
    linear in ``(dcontext, dweights)``, so huge incoming gradients cannot overflow an intermediate product."""
    e = _exp2_above(512, dcontext, dweights)  # entries beyond 2**512 are brought down to it
    if e == 0:
        return core(dcontext, cache, dweights)
    grads = core(np.ldexp(dcontext, -e), cache, None if dweights is None else np.ldexp(dweights, -e))
    return {k: np.ldexp(v, e) for k, v in grads.items()}


def _as_steps(query, dweights=None):
    return (query[None], None if dweights is None else dweights[None]) if query.ndim == 2 else (query, dweights)


def _unstep(cache, *arrays):
    return tuple(a[0] for a in arrays) if cache["single"] else arrays


def _check_backward(dcontext, dweights, cache):
    U, S, N = cache["weights"].shape
    m = cache["hs"].shape[2]
    lead = () if cache["single"] else (U,)
    dcontext = check_array(dcontext, "dcontext", finite=False)
    check_shape(dcontext, lead + (N, m), "dcontext", "It is the gradient of the context and has its shape.")
    check_finite(dcontext, "dcontext")
    if dweights is not None:
        dweights = check_array(dweights, "dweights", finite=False)
        check_shape(dweights, lead + (S, N), "dweights", "It is the gradient of the weights and has their shape.")
        check_finite(dweights, "dweights")
    return _as_steps(dcontext, dweights)


# ----------------------------------------------------------------------------- additive (Bahdanau)

def _additive_forward(query, hs, params, mask):
    """Core of :func:`additive_attention` for ``query (U, N, m_g)``; no validation."""
    w_q, w_k, v = params["w_q"], params["w_k"], params["v"]
    keys = hs @ w_k.T  # w_k h_s for every s, computed once: (S, N, m) @ (m, a) -> (S, N, a)
    u = np.tanh(keys[None] + (query @ w_q.T)[:, None])  # (1, S, N, a) + (U, 1, N, a) -> (U, S, N, a)
    weights = _masked_softmax(u @ v, mask)  # scores (U, S, N, a) @ (a,) -> (U, S, N)
    cache = {"query": query, "hs": hs, "u": u, "weights": weights, "w_q": w_q, "w_k": w_k, "v": v, "single": False}
    return _read(weights, hs), weights, cache


def _additive_backward(dcontext, cache, dweights=None):
    """Core of :func:`additive_attention_backward` for ``dcontext (U, N, m)``; no validation."""
    query, hs, u, weights = cache["query"], cache["hs"], cache["u"], cache["weights"]
    a, m_g, m = cache["v"].shape[0], query.shape[-1], hs.shape[-1]
    dalpha, dhs = _back_read(dcontext, weights, hs, dweights)
    de = _softmax_back(dalpha, weights)  # the softmax Jacobian: (U, S, N)
    du = de[..., None] * cache["v"] * (1.0 - u**2)  # through vᵀ and tanh: (U, S, N, a)
    dq = du.sum(axis=1)  # w_q g_u is the same for every s: (U, N, a)
    dk = du.sum(axis=0)  # w_k h_s is the same for every u: (S, N, a)
    return {"query": dq @ cache["w_q"],  # (U, N, a) @ (a, m_g) -> (U, N, m_g)
            "hs": dhs + dk @ cache["w_k"],  # (S, N, a) @ (a, m) -> (S, N, m)
            "w_q": dq.reshape(-1, a).T @ query.reshape(-1, m_g),  # (a, UN) @ (UN, m_g) -> (a, m_g)
            "w_k": dk.reshape(-1, a).T @ hs.reshape(-1, m),  # (a, SN) @ (SN, m) -> (a, m)
            "v": u.reshape(-1, a).T @ de.reshape(-1)}  # (a, USN) @ (USN,) -> (a,)


@overflow_is_error
def additive_attention(query, hs, params: Mapping, mask=None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Additive (Bahdanau) attention of the decoder states ``query`` over the encoder states ``hs``.

        e_s = vᵀ tanh(w_q g + w_k h_s),   α = masked_softmax(e),   c = Σ_s α_s h_s

    Parameters
    ----------
    query : (N, m_g)   decoder states ``g``; or ``(U, N, m_g)``, U decoder steps at once
    hs : (S, N, m)     encoder states ``h_s``
    params : dict with ``w_q (a, m_g)``, ``w_k (a, m)``, ``v (a,)``
    mask : (S, N), optional   1 for a real encoder step, 0 for padding

    Returns
    -------
    context : (N, m)   (``(U, N, m)`` for U queries)
    weights : (S, N)   ``α``, each column sums to 1 (0 at padding); ``(U, S, N)`` for U queries
    cache : for :func:`additive_attention_backward`
    """
    query, hs = _check_states(query, hs)
    if not isinstance(params, Mapping):
        raise ArgumentError("params", f"params: expected a dict with keys {list(ADDITIVE_NAMES)}, received {type(params).__name__}")
    missing = [k for k in ADDITIVE_NAMES if k not in params]
    if missing:
        raise ArgumentError("params", f"params: missing key(s) {missing}; expected keys {list(ADDITIVE_NAMES)}, received {sorted(params)}")
    p = {k: check_array(params[k], f"params['{k}']") for k in ADDITIVE_NAMES}
    check_shape(p["v"], (None,), "params['v']", "v holds one weight per attention unit, (a,).")
    a, m_g = p["v"].shape[0], query.shape[-1]
    check_shape(p["w_q"], (a, m_g), "params['w_q']", f"w_q maps the m_g = {m_g} query features to a = {a} units.")
    check_shape(p["w_k"], (a, hs.shape[2]), "params['w_k']", f"w_k maps the m = {hs.shape[2]} features of hs to a = {a} units.")
    context, weights, cache = _additive_forward(_as_steps(query)[0], hs, p, _check_attention_mask(mask, *hs.shape[:2]))
    cache["single"] = query.ndim == 2
    return (*_unstep(cache, context, weights), Cache("additive_attention", cache))


@overflow_is_error
def additive_attention_backward(dcontext, cache: dict, dweights=None) -> dict:
    """Gradients of :func:`additive_attention` given ``dcontext`` (and optionally ``dweights``), shaped like its outputs.

        ∂L/∂α_s = h_s · ∂L/∂c             ∂L/∂e = α ⊙ (∂L/∂α - Σ_s α_s ∂L/∂α_s)
        δu_s = (∂L/∂e_s) v ⊙ (1 - u_s²)    with u_s = tanh(w_q g + w_k h_s)
        ∂L/∂g = w_qᵀ Σ_s δu_s             ∂L/∂h_s = α_s ∂L/∂c + w_kᵀ δu_s
        ∂L/∂w_q = Σ_n (Σ_s δu_s) gᵀ       ∂L/∂w_k = Σ_{s,n} δu_s h_sᵀ       ∂L/∂v = Σ_{s,n} (∂L/∂e_s) u_s

    (with U queries, every sum also runs over u).  Returns a dict with ``query`` (shaped like the
    query), ``hs (S, N, m)``, ``w_q``, ``w_k``, ``v``.
    """
    check_cache(cache, "additive_attention", ("query", "hs", "u", "weights", "w_q", "w_k", "v", "single"))
    dcontext, dweights = _check_backward(dcontext, dweights, cache)
    grads = _linear_backward(_additive_backward, dcontext, cache, dweights)
    grads["query"] = _unstep(cache, grads["query"])[0]
    return grads


# ----------------------------------------------------------------------------- dot product (Luong)

def _dot_forward(query, hs, w_a, mask):
    """Core of :func:`dot_attention` for ``query (U, N, m_g)``; no validation.

    Scores beyond float64 are handled exactly (:func:`_pair_softmax`); the cache then holds the keys
    scaled by ``2**-keys_exp``, one power of two per sequence (``keys_exp`` is 0 otherwise).
    """
    with np.errstate(over="ignore", invalid="ignore"):  # a plain pass that overflows is redone below
        keys = hs if w_a is None else hs @ w_a.T  # general: w_a h_s, (S, N, m) @ (m, m_g) -> (S, N, m_g)
        scores = (keys.transpose(1, 0, 2) @ query.transpose(1, 2, 0)).transpose(2, 1, 0)  # gᵀ w_a h_s: (N, S, g)@(N, g, U) -> (U, S, N)
    keys_exp = 0
    if _usable(scores, -2, mask) and (w_a is None or all_finite(keys)):  # the backward pass reads the keys
        weights = _masked_softmax(scores, mask)
    else:
        q_m, q_e = _scaled_rows(query)  # (U, N, m_g), (U, N, 1)
        k_m, k_e = _scaled_rows(hs, w_a)  # (S, N, m_g), (S, N, 1)
        m = q_m.transpose(1, 0, 2) @ k_m.transpose(1, 2, 0)  # (N, U, g) @ (N, g, S) -> (N, U, S)
        e = q_e.transpose(1, 0, 2) + k_e.transpose(1, 2, 0)  # (N, U, 1) + (N, 1, S) -> (N, U, S)
        weights = _pair_softmax(m, e, None if mask is None else mask.T[:, None, :]).transpose(1, 2, 0)  # (U, S, N)
        keys_exp = k_e.max(axis=0, keepdims=True)  # (1, N, 1): one scale per sequence
        keys = np.ldexp(k_m, k_e - keys_exp)
    cache = {"query": query, "hs": hs, "keys": keys, "keys_exp": keys_exp, "weights": weights, "w_a": w_a, "single": False}
    return _read(weights, hs), weights, cache


def _dot_backward(dcontext, cache, dweights=None):
    """Core of :func:`dot_attention_backward` for ``dcontext (U, N, m)``; no validation."""
    query, hs, keys, weights, w_a = cache["query"], cache["hs"], cache["keys"], cache["weights"], cache["w_a"]
    dalpha, dhs = _back_read(dcontext, weights, hs, dweights)
    de = _softmax_back(dalpha, weights)  # (U, S, N)
    dkeys = _spread(de, query)  # Σ_u (∂L/∂e_us) g_u: (S, N, m_g)
    grads = {"query": np.ldexp(_read(de, keys), cache["keys_exp"])}  # Σ_s (∂L/∂e_us) w_a h_s: (U, N, m_g)
    if w_a is None:
        grads["hs"] = dhs + dkeys
    else:
        grads["hs"] = dhs + dkeys @ w_a  # (S, N, m_g) @ (m_g, m) -> (S, N, m)
        grads["w_a"] = dkeys.reshape(-1, w_a.shape[0]).T @ hs.reshape(-1, w_a.shape[1])  # (m_g, SN) @ (SN, m)
    return grads


@overflow_is_error
def dot_attention(query, hs, mask=None, w_a=None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Dot-product (Luong) attention: ``e_s = gᵀ h_s``, or the "general" form ``e_s = gᵀ w_a h_s``.

        α = masked_softmax(e),   c = Σ_s α_s h_s

    Parameters
    ----------
    query : (N, m_g)   decoder states ``g``; or ``(U, N, m_g)``, U decoder steps at once
    hs : (S, N, m)     encoder states; without ``w_a``, ``m_g`` must equal ``m``
    mask : (S, N), optional   1 for a real encoder step, 0 for padding
    w_a : (m_g, m), optional   the bilinear matrix of the general score

    Returns
    -------
    context : (N, m), weights : (S, N) (with a leading U for U queries), cache (for :func:`dot_attention_backward`)
    """
    query, hs = _check_states(query, hs)
    m_g, m = query.shape[-1], hs.shape[2]
    if w_a is None:
        if m_g != m:
            raise ArgumentError("query", f"query: expected m_g = m = {m} features for the dot score gᵀh (or pass w_a for the "
                             f"general score), received shape {query.shape}")
    else:
        w_a = check_array(w_a, "w_a")
        check_shape(w_a, (m_g, m), "w_a", f"w_a maps the m = {m} features of hs to the m_g = {m_g} of the query.")
    context, weights, cache = _dot_forward(_as_steps(query)[0], hs, w_a, _check_attention_mask(mask, *hs.shape[:2]))
    cache["single"] = query.ndim == 2
    return (*_unstep(cache, context, weights), Cache("dot_attention", cache))


@overflow_is_error
def dot_attention_backward(dcontext, cache: dict, dweights=None) -> dict:
    """Gradients of :func:`dot_attention` given ``dcontext`` (and optionally ``dweights``), shaped like its outputs.

        ∂L/∂e = α ⊙ (∂L/∂α - Σ_s α_s ∂L/∂α_s)   with ∂L/∂α_s = h_s · ∂L/∂c
        ∂L/∂g = Σ_s (∂L/∂e_s) w_a h_s          ∂L/∂h_s = α_s ∂L/∂c + (∂L/∂e_s) w_aᵀ g
        ∂L/∂w_a = Σ_{s,n} (∂L/∂e_s) g h_sᵀ      (``w_a`` = identity for the plain dot score)

    Returns a dict with ``query``, ``hs`` and, for the general score, ``w_a``.
    """
    check_cache(cache, "dot_attention", ("query", "hs", "keys", "keys_exp", "weights", "w_a", "single"))
    dcontext, dweights = _check_backward(dcontext, dweights, cache)
    grads = _linear_backward(_dot_backward, dcontext, cache, dweights)
    grads["query"] = _unstep(cache, grads["query"])[0]
    return grads
