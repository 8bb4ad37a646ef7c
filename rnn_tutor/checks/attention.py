"""Checks for exercise 09 (attention): the masked softmax, additive attention forward and backward.

Graded tasks of ``solutions/09_attention_solutions.ipynb`` (time-major rows, see :mod:`rnn_tutor`):

* ``masked_softmax(scores, mask)``  ->  ``weights (S, N)``: a softmax over the positions (axis 0) of
  ``scores (S, N)`` that leaves the padded positions (mask 0) out and gives them weight 0
* ``additive_attention(query, hs, w_q, w_k, v, mask)``  ->  ``(context, weights)``:
  ``e_s = vᵀ tanh(w_q g + w_k h_s)``, ``α = masked softmax``, ``c = Σ_s α_s h_s``
* ``additive_attention_backward(dcontext, query, hs, w_q, w_k, v, mask)``  ->
  ``(dquery, dhs, dw_q, dw_k, dv)``

The references are plain NumPy, written independently of :mod:`rnn_tutor.attention` (the tests
compare them).  The weight matrices are square (``a = m_g = m``) so that a transposed weight
gives a wrong number rather than a shape error, and every case has padding.
"""

from __future__ import annotations

import numpy as np

from rnn_tutor.checks.core import Check, mistakes, register, run_check

__all__ = ["check_masked_softmax", "check_additive_attention", "check_additive_attention_backward",
           "MASKED_SOFTMAX", "ADDITIVE_ATTENTION", "ADDITIVE_BACKWARD", "masked_softmax_reference",
           "additive_attention_reference", "additive_backward_reference"]

NOTEBOOK = "09_attention"

#: Library functions that compute a task's answer (``Check.forbidden``): an answer that calls one fails.
#: The masked softmax is reachable through any softmax (after masking the scores by hand) and through
#: the attention functions (``dot_attention`` of a one-feature query and ``hs = scores`` gives the weights).
_SOFTMAX_ROUTES = ("rnn_tutor.attention.masked_softmax", "rnn_tutor.attention._masked_softmax",
                   "rnn_tutor.attention._pair_softmax",  # dot attention and self-attention with scores beyond float64
                   "rnn_tutor.heads.softmax", "rnn_tutor.heads.log_softmax", "rnn_tutor.charlm.softmax_with_temperature",
                   "rnn_tutor.self_attention._softmax", "rnn_tutor.self_attention.Counted.softmax")
_FORWARD_ROUTES = ("rnn_tutor.attention.additive_attention", "rnn_tutor.attention._additive_forward",
                   "rnn_tutor.attention.dot_attention", "rnn_tutor.attention._dot_forward",
                   "rnn_tutor.attention_seq2seq._attend", "rnn_tutor.attention_seq2seq.attention_seq2seq_forward")
_BACKWARD_ROUTES = ("rnn_tutor.attention.additive_attention_backward", "rnn_tutor.attention._additive_backward",
                    "rnn_tutor.attention.dot_attention_backward", "rnn_tutor.attention._dot_backward",
                    "rnn_tutor.attention.masked_softmax_backward", "rnn_tutor.attention._softmax_back",
                    "rnn_tutor.heads.softmax_vjp", "rnn_tutor.attention_seq2seq.attention_seq2seq_backward")


def _padding_mask(rng, S: int, N: int) -> np.ndarray:
    """A right-padding mask (S, N): every sequence has 1..S real steps, one has all S, one is padded."""
    lengths = rng.integers(1, S + 1, size=N)
    full, short = rng.permutation(N)[:2]
    lengths[full], lengths[short] = S, int(rng.integers(1, S))
    return (np.arange(S)[:, None] < lengths[None, :]).astype(float)


# ============================================================================ task 1: the masked softmax

def masked_softmax_reference(scores, mask):
    """``α_s = mask_s exp(e_s - max) / Σ_s' mask_s' exp(e_s' - max)`` over axis 0; max over real steps only."""
    real = mask > 0
    shifted = np.where(real, scores, -np.inf)
    shifted = shifted - shifted.max(axis=0, keepdims=True)
    w = np.where(real, np.exp(shifted), 0.0)
    return w / w.sum(axis=0, keepdims=True)


def _softmax_inputs(rng) -> dict:
    S, N = int(rng.integers(3, 8)), int(rng.integers(2, 6))
    mask = _padding_mask(rng, S, N)
    scores = rng.normal(0.0, 2.0, size=(S, N))
    pads = np.argwhere(mask == 0)
    s, n = pads[int(rng.integers(len(pads)))]
    scores[s, n] = rng.uniform(750.0, 1000.0)  # a huge score at a padded step: it must take no part
    return {"scores": scores, "mask": mask}


def _softmax_all(scores, axis=0):
    w = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return w / w.sum(axis=axis, keepdims=True)


def _sm_wrong_axis(scores, mask):
    real = mask > 0
    shifted = np.where(real, scores, -np.inf)
    w = np.where(real, np.exp(shifted - shifted.max(axis=1, keepdims=True)), 0.0)
    return w / w.sum(axis=1, keepdims=True)


def _sm_padding_takes_part(scores, mask):
    with np.errstate(all="ignore"):
        w = _softmax_all(scores) * mask  # the max (and so the scale) includes the padded scores
        return w / w.sum(axis=0, keepdims=True)


_MASK_IGNORED = "the mask is not used: padded positions must get weight 0 (and take no part in the sum)."
_MASK_AFTER = ("the mask was applied after the softmax: the real weights then no longer sum to 1. Leave padded "
               "positions out before the softmax, e.g. s = np.where(mask == 1, scores, -np.inf).")
_WRONG_AXIS = ("the softmax must run over the positions s of each sequence (axis=0, down each column), "
               "not over the sequences of the batch (axis=1).")

MASKED_SOFTMAX = register(Check(
    notebook=NOTEBOOK, grade_id="check_masked_softmax", target="masked_softmax", points=2,
    make_inputs=_softmax_inputs, reference=masked_softmax_reference, forbidden=_SOFTMAX_ROUTES + _FORWARD_ROUTES,
    mistakes=mistakes(
        (_WRONG_AXIS, _sm_wrong_axis),
        (_MASK_IGNORED, lambda scores, mask: _softmax_all(scores)),
        (_MASK_AFTER, lambda scores, mask: _softmax_all(scores) * mask),
        ("a huge score at a padded position still took part (NaN: 0/0 or inf/inf): leave padded positions out "
         "*before* the max and the exp, e.g. s = np.where(mask == 1, scores, -np.inf); then s - s.max(axis=0) "
         "and np.exp give 0 at padding.", _sm_padding_takes_part),
    ),
))


def check_masked_softmax(fn, hidden: bool = False) -> None:
    """Check your ``masked_softmax(scores, mask) -> weights`` (``hidden=True``: fresh cases)."""
    return run_check(MASKED_SOFTMAX, fn, hidden=hidden)


# ============================================================================ task 2: additive attention, forward

def _additive(query, hs, w_q, w_k, v, mask, softmax=masked_softmax_reference, act=np.tanh, transpose=False):
    """The forward pass with switchable parts (the mistake models change one of them)."""
    W_q, W_k = (w_q, w_k) if transpose else (w_q.T, w_k.T)
    u = act(hs @ W_k + query @ W_q)  # (S, N, m)@(m, a) + (N, m_g)@(m_g, a) -> (S, N, a)
    weights = softmax(u @ v, mask)  # (S, N)
    return (weights[:, :, None] * hs).sum(axis=0), weights, u


def additive_attention_reference(query, hs, w_q, w_k, v, mask):
    """``e_s = vᵀ tanh(w_q g + w_k h_s)``, ``α`` = masked softmax over s, ``c = Σ_s α_s h_s``; returns ``(c, α)``."""
    context, weights, _ = _additive(query, hs, w_q, w_k, v, mask)
    return context, weights


def _attention_inputs(rng) -> dict:
    k = int(rng.integers(2, 6))  # a = m_g = m: a transposed weight must give a wrong number, not an error
    S, N = int(rng.integers(3, 8)), int(rng.integers(2, 6))
    mask = _padding_mask(rng, S, N)
    hs = rng.normal(size=(S, N, k))
    hs[mask == 0] *= 10.0  # padded encoder states hold large filler
    return {"query": rng.normal(size=(N, k)), "hs": hs, "w_q": rng.normal(size=(k, k)),
            "w_k": rng.normal(size=(k, k)), "v": rng.normal(0.0, 1.5, size=k), "mask": mask}


def _forward_mistake(**change):
    def wrong(query, hs, w_q, w_k, v, mask):
        context, weights, _ = _additive(query, hs, w_q, w_k, v, mask, **change)
        return context, weights
    return wrong


ADDITIVE_ATTENTION = register(Check(
    notebook=NOTEBOOK, grade_id="check_additive_attention", target="additive_attention", points=3,
    make_inputs=_attention_inputs, reference=additive_attention_reference, output_names=("context", "weights"),
    forbidden=_SOFTMAX_ROUTES + _FORWARD_ROUTES,
    mistakes=mistakes(
        (_WRONG_AXIS, _forward_mistake(softmax=_sm_wrong_axis)),
        (_MASK_IGNORED, _forward_mistake(softmax=lambda e, mask: _softmax_all(e))),
        (_MASK_AFTER, _forward_mistake(softmax=lambda e, mask: _softmax_all(e) * mask)),
        ("a weight matrix is transposed: with row vectors, w_q g is query @ w_q.T and w_k h_s is hs @ w_k.T.",
         _forward_mistake(transpose=True)),
        ("the score is vᵀ tanh(w_q g + w_k h_s): the tanh is missing.", _forward_mistake(act=lambda x: x)),
    ),
))


def check_additive_attention(fn, hidden: bool = False) -> None:
    """Check your ``additive_attention(query, hs, w_q, w_k, v, mask) -> (context, weights)``."""
    return run_check(ADDITIVE_ATTENTION, fn, hidden=hidden)


# ============================================================================ task 3: additive attention, backward

def _backward(dcontext, query, hs, w_q, w_k, v, mask, jacobian="full", key_path=True, value_path=True,
              tanh_deriv=True, transpose=False):
    """The backward pass with switchable parts (the mistake models change one of them)."""
    _, weights, u = _additive(query, hs, w_q, w_k, v, mask)
    dalpha = (hs * dcontext[None]).sum(axis=2)  # ∂L/∂α_s = h_s · ∂L/∂c: (S, N)
    if jacobian == "full":
        de = weights * (dalpha - (weights * dalpha).sum(axis=0, keepdims=True))
    elif jacobian == "diagonal":
        de = weights * dalpha
    else:
        de = dalpha
    du = de[:, :, None] * v * ((1.0 - u**2) if tanh_deriv else 1.0)  # (S, N, a)
    dq_sum = du.sum(axis=0)  # (N, a)
    dhs = np.zeros_like(hs)
    if value_path:
        dhs = dhs + weights[:, :, None] * dcontext[None]
    if key_path:
        dhs = dhs + du @ w_k  # (S, N, a) @ (a, m)
    dw_q = dq_sum.T @ query  # (a, N) @ (N, m_g)
    dw_k = np.einsum("sna,snm->am", du, hs)
    if transpose:
        dw_q, dw_k = dw_q.T, dw_k.T
    dv = np.einsum("sn,sna->a", de, u)
    return dq_sum @ w_q, dhs, dw_q, dw_k, dv


def additive_backward_reference(dcontext, query, hs, w_q, w_k, v, mask):
    """Gradients of :func:`additive_attention_reference`'s context: ``(dquery, dhs, dw_q, dw_k, dv)``."""
    return _backward(dcontext, query, hs, w_q, w_k, v, mask)


def _backward_inputs(rng) -> dict:
    inputs = _attention_inputs(rng)
    return {"dcontext": rng.normal(size=(inputs["query"].shape[0], inputs["hs"].shape[2])), **inputs}


def _backward_mistake(**change):
    return lambda dcontext, query, hs, w_q, w_k, v, mask: _backward(dcontext, query, hs, w_q, w_k, v, mask, **change)


ADDITIVE_BACKWARD = register(Check(
    notebook=NOTEBOOK, grade_id="check_additive_attention_backward", target="additive_attention_backward", points=4,
    make_inputs=_backward_inputs, reference=additive_backward_reference,
    output_names=("dquery", "dhs", "dw_q", "dw_k", "dv"), forbidden=_SOFTMAX_ROUTES + _FORWARD_ROUTES + _BACKWARD_ROUTES,
    mistakes=mistakes(
        ("the softmax Jacobian is missing: go back through α = softmax(e) with "
         "de = α * (dα - (α * dα).sum(axis=0)), not de = dα.", _backward_mistake(jacobian="none")),
        ("only the diagonal of the softmax Jacobian was used (de = α * dα): every weight depends on every "
         "score, so subtract α * (α * dα).sum(axis=0) as well.", _backward_mistake(jacobian="diagonal")),
        ("dhs misses the path through the scores: each h_s is also a key, so add the w_k part, du @ w_k.",
         _backward_mistake(key_path=False)),
        ("dhs misses the path through the weighted sum c = Σ_s α_s h_s: add α_s * dcontext.",
         _backward_mistake(value_path=False)),
        ("the derivative of tanh is missing: du = de * v * (1 - u**2) with u = tanh(w_q g + w_k h_s).",
         _backward_mistake(tanh_deriv=False)),
        ("dw_q and dw_k are transposed: a gradient has the shape and layout of its weight, "
         "dw_q = du_sum.T @ query (a, m_g).", _backward_mistake(transpose=True)),
    ),
))


def check_additive_attention_backward(fn, hidden: bool = False) -> None:
    """Check your ``additive_attention_backward(dcontext, query, hs, w_q, w_k, v, mask) -> (dquery, dhs, dw_q, dw_k, dv)``."""
    return run_check(ADDITIVE_BACKWARD, fn, hidden=hidden)
