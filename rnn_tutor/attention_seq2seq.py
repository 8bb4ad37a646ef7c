"""The encoder–decoder with attention: the decoder reads every encoder state, not only the last.

:mod:`rnn_tutor.seq2seq` hands the decoder one vector, the encoder's final state.  Here the
decoder also looks back at all encoder states ``h_1 .. h_S`` at every output step (Luong et al.
2015's global attention, without input feeding):

    h_s = encoder states,   g_0 = h_S (each sequence's last real step)
    g_u = cell(e(z_{u-1}), g_{u-1})                                  u = 1 .. U
    c_u, α_u = attention(g_u, h_1..h_S)                              (:mod:`rnn_tutor.attention`)
    o_u = w_y [g_u; c_u] + b_y                                       w_y : (q, 2m)

so the output at step ``u`` can copy information from whichever input position it needs,
however long the input.  ``score`` chooses the attention score: ``"additive"`` (Bahdanau,
parameters ``att_w_q (a, m)``, ``att_w_k (a, m)``, ``att_v (a,)``), ``"general"`` (Luong,
``att_w_a (m, m)``) or ``"dot"`` (no parameters).  The rest of the parameters are those of
:mod:`rnn_tutor.seq2seq`: ``enc_*`` and ``dec_*`` cell parameters, ``w_y``, ``b_y``, with the
same START token ``q`` for the decoder's one-hot inputs ``(q + 1)`` and teacher forcing.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from rnn_tutor.architectures import _check_batch, check_cell
from rnn_tutor.attention import (_additive_backward, _additive_forward, _dot_backward,
                                 _dot_forward, init_additive_params)
from rnn_tutor.cells import Cell
from rnn_tutor.heads import dense_backward, dense_forward, softmax_cross_entropy
from rnn_tutor.masking import (lengths_to_mask, masked_cell_backward, masked_cell_forward, one_hot,
                               resolve_lengths)
from rnn_tutor.seq2seq import _teacher_forced_batch, init_seq2seq_params, split_seq2seq_params
from rnn_tutor.validation import (ArgumentError, Cache, check_array, check_cache,
                                  check_elements, check_int, check_mapping, check_rng, check_shape, overflow_is_error)

__all__ = ["SCORES", "init_attention_seq2seq_params", "attention_seq2seq_forward", "attention_seq2seq_backward",
           "attention_seq2seq_loss", "attention_greedy_decode", "reverse_task"]

SCORES = ("additive", "general", "dot")
_ATT_KEYS = {"additive": ("att_w_q", "att_w_k", "att_v"), "general": ("att_w_a",), "dot": ()}


def _check_score(score: str) -> str:
    if score not in SCORES:
        raise ArgumentError("score", f"score: expected one of {SCORES}, received {score!r}")
    return score


def init_attention_seq2seq_params(cell: Cell, d: int, m: int, q: int, rng: np.random.Generator,
                                  score: str = "additive", a: int | None = None) -> dict:
    """Encoder, decoder, attention (``a`` units for the additive score, default ``m``) and output ``w_y (q, 2m)``."""
    d, m, q = check_int(d, "d"), check_int(m, "m"), check_int(q, "q")  # Python ints: NumPy scalars would change the arithmetic
    if a is not None:
        a = check_int(a, "a", 1, 4096)
    _check_score(score)
    p = init_seq2seq_params(cell, d, m, q, rng)
    s = 1.0 / np.sqrt(2 * m)
    p["w_y"], p["b_y"] = rng.uniform(-s, s, (q, 2 * m)), rng.uniform(-s, s, q)
    if score == "additive":
        att = init_additive_params(m, m, m if a is None else a, rng)
        p.update({"att_w_q": att["w_q"], "att_w_k": att["w_k"], "att_v": att["v"]})
    elif score == "general":
        p["att_w_a"] = rng.uniform(-1 / np.sqrt(m), 1 / np.sqrt(m), (m, m))
    return p


def _split(cell: Cell, params, score: str):
    _check_score(score)
    check_mapping(params, "params", (), "an attention encoder-decoder parameter dict")
    missing = [k for k in _ATT_KEYS[score] if k not in params]
    if missing:
        raise ArgumentError("params", f"params: missing key(s) {missing} of the {score!r} attention score; received {sorted(params)}")
    enc, dec, w_y, b_y = split_seq2seq_params(cell, params)
    att = {k[4:]: check_array(params[k], f"params['{k}']") for k in _ATT_KEYS[score]}
    return enc, dec, att, w_y, b_y


def _attend(score, g, hs, att, mask):
    if score == "additive":
        return _additive_forward(g, hs, att, mask)
    return _dot_forward(g, hs, att.get("w_a"), mask)


def _encode(cell, xs, enc, lengths, mask):
    xs = _check_batch(xs)
    S, N, _ = xs.shape
    lengths = resolve_lengths(S, N, lengths, mask)
    hs, state, c_enc = masked_cell_forward(cell, xs, enc, lengths)  # hs (S, N, m), 0 at padding
    return hs, state, c_enc, lengths_to_mask(lengths, S)


def _check_sizes(hs, att, w_y, score):
    m = hs.shape[2]
    check_shape(w_y, (None, 2 * m), "params['w_y']", f"w_y reads [g; c], 2m = {2 * m} features.")
    if score == "additive":
        check_shape(att["v"], (None,), "params['att_v']", "att_v holds one weight per attention unit, (a,).")
        a = att["v"].shape[0]
        check_shape(att["w_q"], (a, m), "params['att_w_q']")
        check_shape(att["w_k"], (a, m), "params['att_w_k']")
    elif score == "general":
        check_shape(att["w_a"], (m, m), "params['att_w_a']")


@overflow_is_error
def attention_seq2seq_forward(cell: Cell, xs, dec_xs, params: Mapping, score: str = "additive",
                              lengths=None, mask=None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Encode ``xs (S, N, d)``, decode ``dec_xs (U, N, q + 1)`` (teacher forcing) with attention.

    ``lengths (N,)`` or ``mask (S, N)`` describe the padding of the input; padded encoder
    steps get zero attention.  Returns the logits ``os (U, N, q)``, the attention weights
    ``alphas (U, S, N)`` (``alphas[u-1, s-1, n]`` = how much output ``u`` reads input ``s``) and a cache.
    """
    cell = check_cell(cell)
    enc, dec, att, w_y, b_y = _split(cell, params, score)
    dec_xs = _check_batch(dec_xs, "dec_xs")
    hs, state, c_enc, in_mask = _encode(cell, xs, enc, lengths, mask)
    _check_sizes(hs, att, w_y, score)
    S, N, m = hs.shape
    if dec_xs.shape[1] != N or dec_xs.shape[2] != w_y.shape[0] + 1:
        raise ArgumentError("dec_xs", f"dec_xs: expected shape (U, {N}, {w_y.shape[0] + 1}) (one-hot outputs and START), "
                         f"received shape {dec_xs.shape}")
    gs, _, c_dec = cell.forward(dec_xs, dec, state)  # (U, N, q+1) -> (U, N, m); teacher forcing: no feedback
    contexts, alphas, c_att = _attend(score, gs, hs, att, in_mask)  # all U queries at once: (U, N, m), (U, S, N)
    cat = np.concatenate([gs, contexts], axis=2)  # (U, N, 2m)
    cache = Cache("attention_seq2seq_forward", {"cell": cell, "score": score, "c_enc": c_enc, "c_dec": c_dec,
                                                "c_att": c_att, "cat": cat, "w_y": w_y, "shape": (S, N, m)})
    return dense_forward(cat, w_y, b_y), alphas, cache


@overflow_is_error
def attention_seq2seq_backward(dos, cache: dict) -> dict:
    """Gradients of :func:`attention_seq2seq_forward` given ``dos (U, N, q)``.

    Each decoder state ``g_u`` gets gradient from the output layer and from its query; each
    encoder state ``h_s`` from every output step that read it, plus (the last one) through ``g_0``.
    """
    check_cache(cache, "attention_seq2seq_forward", ("cell", "score", "c_enc", "c_dec", "c_att", "cat", "w_y", "shape"))
    dos = check_array(dos, "dos", finite=False)
    check_shape(dos, cache["cat"].shape[:2] + (cache["w_y"].shape[0],), "dos", "It is the gradient of the logits os.")
    check_array(dos, "dos")
    return _attention_seq2seq_backward(dos, cache)


def _attention_seq2seq_backward(dos, cache) -> dict:
    """:func:`attention_seq2seq_backward` on checked arguments."""
    S, N, m = cache["shape"]
    dw_y, db_y, dcat = dense_backward(dos, cache["cat"], cache["w_y"])
    dgs = dcat[..., :m].copy()
    back = _additive_backward if cache["score"] == "additive" else _dot_backward
    datt = back(dcat[..., m:], cache["c_att"])
    dgs += datt.pop("query")
    dhs = datt.pop("hs")
    g_dec, _, dstate = cache["cell"].backward(dgs, cache["c_dec"], None)
    g_enc, _, _ = masked_cell_backward(dhs, cache["c_enc"], dstate)
    return {**{f"enc_{k}": v for k, v in g_enc.items()}, **{f"dec_{k}": v for k, v in g_dec.items()},
            **{f"att_{k}": v for k, v in datt.items()}, "w_y": dw_y, "b_y": db_y}


@overflow_is_error
def attention_seq2seq_loss(cell: Cell, xs, targets, params, score: str = "additive", lengths=None,
                           target_lengths=None, reduction: str = "mean") -> tuple[float, dict]:
    """Teacher-forced, masked cross-entropy of ``targets (U, N)`` and its gradients (like :func:`rnn_tutor.seq2seq.encoder_decoder_loss`)."""
    _, _, _, w_y, _ = _split(check_cell(cell), params, score)
    xs, targets, out_mask, ins = _teacher_forced_batch(xs, targets, w_y.shape[0], target_lengths)
    os, _, cache = attention_seq2seq_forward(cell, xs, ins, params, score, lengths)
    L, dos = softmax_cross_entropy(os, targets, mask=out_mask, reduction=reduction)
    return L, _attention_seq2seq_backward(dos, cache)


@overflow_is_error
def attention_greedy_decode(cell: Cell, xs, params: Mapping, eos: int, max_len: int, score: str = "additive",
                            lengths=None, mask=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encode ``xs (S, N, d)``, then generate greedily with attention until EOS or ``max_len`` tokens.

        z_0 = START,  g_u = cell(e(z_{u-1}), g_{u-1}),  c_u, α_u = attention(g_u, hs),  z_u = argmax (w_y [g_u; c_u] + b_y)

    Returns ``tokens (max_len, N)`` (``eos`` after a sequence's end), ``lengths (N,)`` (up to and
    including EOS, ``max_len`` if none came) and the attention weights ``alphas (max_len, S, N)``.
    """
    cell = check_cell(cell)
    enc, dec, att, w_y, b_y = _split(cell, params, score)
    q = w_y.shape[0]
    eos = check_int(eos, "eos", 0, q - 1, "a class index")  # a Python int: np.uint64 would turn the tokens into floats
    max_len = check_int(max_len, "max_len", 1, 10_000, "a number of tokens")
    hs, state, _, in_mask = _encode(cell, xs, enc, lengths, mask)
    _check_sizes(hs, att, w_y, score)
    S, N, _ = hs.shape
    check_elements((max_len, S, N), "attention weights (max_len, S, N)", "max_len")
    tokens, alphas = np.full((max_len, N), eos, dtype=np.int64), np.zeros((max_len, S, N))
    z, done = np.full(N, q, dtype=np.int64), np.zeros(N, bool)
    for u in range(max_len):
        g, state, _ = cell.forward(one_hot(z, q + 1)[None], dec, state)  # one step: (1, N, q+1) -> (1, N, m)
        c, alpha, _ = _attend(score, g, hs, att, in_mask)  # one query: (1, N, m), (1, S, N)
        alphas[u] = alpha[0]
        z = np.where(done, eos, dense_forward(np.concatenate([g[0], c[0]], axis=1), w_y, b_y).argmax(axis=1))
        tokens[u] = z
        done |= z == eos
        if done.all():
            break
    has_eos = (tokens == eos).any(axis=0)
    out_lengths = np.where(has_eos, (tokens == eos).argmax(axis=0) + 1, max_len)
    return tokens, out_lengths, alphas


def reverse_task(rng: np.random.Generator, n: int, min_len: int, max_len: int, K: int = 8
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``n`` random sequences of ``K`` symbols, lengths uniform in ``min_len .. max_len``, and their reversals.

    The output is the input backwards followed by the end token ``EOS = K`` (so ``q = K + 1``):
    ``[3, 0, 5] -> [5, 0, 3, EOS]``.  Output ``u`` needs input ``S + 1 - u``: the first output
    needs the *last* input and the last output the *first*.

    Returns
    -------
    tokens : (max_len, n) right-padded inputs (padding 0),  lengths : (n,)
    targets : (max_len + 1, n) outputs (padding EOS),       target_lengths : (n,) = lengths + 1
    """
    check_rng(rng)
    n, min_len, max_len = check_int(n, "n"), check_int(min_len, "min_len", 1, 1000), check_int(max_len, "max_len", 1, 1000)
    K = check_int(K, "K", 1, 1000)
    check_elements((max_len + 1, n), "targets (max_len + 1, n)", "n")
    if min_len > max_len:
        raise ArgumentError("max_len", f"max_len: expected at least min_len = {min_len}, received {max_len}")
    lengths = rng.integers(min_len, max_len + 1, size=n)
    tokens = np.zeros((max_len, n), dtype=np.int64)
    targets = np.full((max_len + 1, n), K, dtype=np.int64)
    for i, S in enumerate(lengths):
        seq = rng.integers(0, K, size=S)
        tokens[:S, i] = seq
        targets[:S, i] = seq[::-1]
    return tokens, lengths, targets, lengths + 1
