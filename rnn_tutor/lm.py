"""A character language model evaluated properly: vocabulary, held-out splits, perplexity, baselines.

Tokens are characters.  The vocabulary is built from the *training* text only; three special
tokens come first: ``<pad>`` (filler after a short sequence), ``<unk>`` (any character the
training text does not hold) and ``<bos>`` (read before the first character of a line).  Every
line of a sonnet is one sequence; its targets are its characters followed by the newline:

    inputs  = <bos> c_1 c_2 ... c_n          targets = c_1 c_2 ... c_n \\n

The model is an embedding, ``L`` stacked Elman layers and a dense head (all time-major):

    x_t = w_e[c_t]                      h^(1)_t = tanh(w_x^(1) D(x_t) + w_h^(1) h^(1)_{t-1} + b_h^(1))
    h^(l)_t = tanh(w_x^(l) D(h^(l-1)_t) + w_h^(l) h^(l)_{t-1} + b_h^(l))          l = 2 .. L
    o_t = w_y D(h^(L)_t) + b_y          P(c_{t+1} = j | c_<=t) = softmax(o_t)_j

where ``D`` is inverted dropout on the non-recurrent connections (Zaremba et al., 2014): each unit
is kept with probability ``1 - p`` and scaled by ``1 / (1 - p)`` while training; ``D`` is the identity
at evaluation.  The loss is the cross-entropy averaged over the *real* (unpadded) positions,

    CE = -(1/K) Σ_{t,n} mask_{t,n} log P(target_{t,n})      perplexity = exp(CE)

Parameters: ``w_e (V, e)``, ``w_x_l (m, e or m)``, ``w_h_l (m, m)``, ``b_h_l (m,)`` for
``l = 1 .. L``, ``w_y (V, m)``, ``b_y (V,)``.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass

import numpy as np

from rnn_tutor._blas import one_blas_thread
from rnn_tutor.cells import ELMAN
from rnn_tutor.clipping import clip_grad_norm
from rnn_tutor.embedding import check_ids, embedding_backward, embedding_forward, init_embedding
from rnn_tutor.heads import check_labels, check_mask, dense_backward, dense_forward, init_head, log_softmax, softmax_cross_entropy
from rnn_tutor.masking import pad_tokens
from rnn_tutor.optim import adam_init, adam_step
from rnn_tutor.validation import (MAX_ITERATIONS, ArgumentError, ArgumentTypeError, NonFiniteArgumentError, check_array,
                                  check_callable, check_elements, check_int, check_real, check_rng, check_token_ids, describe,
                                  check_mapping, check_shape, Cache, check_cache, check_training_step, NonFiniteError,
                                  overflow_is_error, training_advice, update_overflow)

__all__ = ["PAD", "UNK", "BOS", "SPECIALS", "Vocabulary", "build_vocabulary", "split_sonnets", "make_batch",
           "cross_entropy", "perplexity", "uniform_log_probs", "unigram_log_probs", "bigram_log_probs",
           "baseline_cross_entropy", "init_lm", "count_lm_params", "lm_forward", "lm_backward", "lm_loss",
           "lm_cross_entropy", "train_lm", "lm_step", "generate"]

PAD, UNK, BOS = 0, 1, 2
SPECIALS = ("<pad>", "<unk>", "<bos>")


@dataclass(frozen=True)
class Vocabulary:
    """Token strings, specials first; ``encode`` maps unknown characters to ``<unk>``."""

    tokens: tuple

    @property
    def V(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> np.ndarray:
        if not isinstance(text, str):
            raise ArgumentTypeError("text", f"text: expected a string, received {type(text).__name__}")
        index = {c: i for i, c in enumerate(self.tokens) if i >= len(SPECIALS)}
        return np.array([index.get(c, UNK) for c in text], dtype=np.int64)

    def decode(self, ids) -> str:
        ids = check_ids(ids, self.V).reshape(-1)
        return "".join(self.tokens[int(i)] if i >= len(SPECIALS) else ("" if i == PAD else self.tokens[int(i)])
                       for i in ids)


def build_vocabulary(text: str, min_count: int = 1) -> Vocabulary:
    """The specials, then every character of ``text`` seen at least ``min_count`` times (sorted)."""
    if not isinstance(text, str) or not text:
        raise ArgumentError("text", f"text: expected a non-empty string, received {text!r:.40}")
    min_count = check_int(min_count, "min_count")
    counts = Counter(text)
    return Vocabulary(SPECIALS + tuple(sorted(c for c, n in counts.items() if n >= min_count)))


def split_sonnets(text: str, n_val: int, n_test: int, rng: np.random.Generator) -> tuple[list, list, list]:
    """Hold out whole sonnets: ``(train, validation, test)`` lists of sonnets (blank-line separated).

    The held-out sonnets are drawn with ``rng``; each list keeps the order of the text.
    """
    if not isinstance(text, str) or not text.strip():
        raise ArgumentTypeError("text", f"text: expected a non-empty string of sonnets separated by blank lines, "
                                        f"received {describe(text)}")
    sonnets = [s.strip("\n") for s in text.strip().split("\n\n")]
    S = len(sonnets)
    n_val, n_test = check_int(n_val, "n_val", what="a positive number of sonnets"), check_int(n_test, "n_test", what="a positive number of sonnets")
    if n_val + n_test >= S:
        raise ArgumentError("n_test", f"n_test: expected n_val + n_test < {S} (the text holds {S} sonnets), "
                         f"received n_val = {n_val}, n_test = {n_test}")
    check_rng(rng)
    order = rng.permutation(S)
    val, test = set(order[:n_val].tolist()), set(order[n_val:n_val + n_test].tolist())
    pick = lambda chosen: [s for i, s in enumerate(sonnets) if i in chosen]  # noqa: E731
    return pick(set(range(S)) - val - test), pick(val), pick(test)


def make_batch(sonnets, vocab: Vocabulary) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every line of ``sonnets`` as one padded sequence: ``inputs, targets, mask``, each ``(T, N)``.

    ``inputs`` are ``<bos>`` and the line, ``targets`` the line and ``"\\n"``; padding holds ``<pad>``
    and has mask 0.  ``T`` is the longest line plus one.
    """
    if not isinstance(vocab, Vocabulary):
        raise ArgumentTypeError("vocab", f"vocab: expected a Vocabulary from build_vocabulary, received {describe(vocab)}")
    if sonnets is None or isinstance(sonnets, str) or not hasattr(sonnets, "__iter__") or \
            not all(isinstance(s, str) for s in sonnets):
        raise ArgumentError("sonnets", f"sonnets: expected a list of strings (e.g. from split_sonnets), received {type(sonnets).__name__}")
    if "\n" not in vocab.tokens:
        raise ArgumentError("vocab", "vocab: expected a vocabulary holding the newline (it ends every line); build it from text with line breaks")
    lines = [ln for s in sonnets for ln in s.split("\n") if ln]
    if not lines:
        raise ArgumentError("sonnets", "sonnets: expected at least one non-empty line, received none")
    newline = vocab.encode("\n")[0]
    seqs = [np.concatenate([[BOS], vocab.encode(ln), [newline]]) for ln in lines]
    ids, lengths = pad_tokens([s.tolist() for s in seqs], pad_id=PAD)  # (T + 1, N)
    mask = (np.arange(ids.shape[0] - 1)[:, None] < (lengths - 1)[None, :]).astype(float)
    return np.where(mask > 0, ids[:-1], PAD), np.where(mask > 0, ids[1:], PAD), mask


def _check_lm_batch(logits, targets, mask) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate ``logits (..., V)``, ``targets (...)`` and a 0/1 ``mask (...)``; padded targets may hold anything."""
    logits = check_array(logits, "logits", ndim=tuple(range(1, 33)))
    if logits.shape[-1] < 1:
        raise ArgumentError("logits", f"logits: expected (..., V) with V >= 1 tokens on the last axis, received shape {logits.shape}")
    mask = check_mask(mask, logits.shape[:-1], against="logits without its last axis")
    if mask.sum() == 0:
        raise ArgumentError("mask", "mask: expected at least one real position (a 1), received a mask of zeros only")
    targets = check_token_ids(targets, "targets", None, shape=logits.shape[:-1])
    V = logits.shape[-1]
    bad = (mask > 0) & ((targets < 0) | (targets >= V))
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ArgumentError("targets", f"targets: expected token ids in 0..{V - 1} at real positions, "
                                       f"received {int(targets[idx])} at index {idx}")
    return logits, np.where(mask > 0, targets, 0), mask


@overflow_is_error
def cross_entropy(logits, targets, mask) -> float:
    """Mean cross-entropy in nats over the real positions: ``-(1/K) Σ mask · log softmax(o)[target]``."""
    logits, targets, mask = _check_lm_batch(logits, targets, mask)
    return softmax_cross_entropy(logits, targets, mask=mask)[0]


def perplexity(logits, targets, mask) -> float:
    """``exp(cross-entropy)``: the model is as unsure as a uniform choice among this many tokens."""
    ce = cross_entropy(logits, targets, mask)
    if ce > np.log(np.finfo(float).max):
        raise NonFiniteArgumentError("logits", f"logits: expected logits whose perplexity fits in float64, received "
                                               f"logits with a cross-entropy of {ce:.3g} nats (exp overflows).")
    return float(np.exp(ce))


# ----------------------------------------------------------------------------- count baselines

def uniform_log_probs(V: int) -> np.ndarray:
    """``log P(j) = -log V`` for every token: a model that knows nothing.  ``(V,)``"""
    V = check_int(V, "V")
    return np.full(V, -np.log(V))


def _counts(targets, mask, V: int, inputs=None) -> np.ndarray:
    V = check_int(V, "V")
    targets = check_token_ids(targets, "targets", None, ndim=tuple(range(1, 33)))
    mask = check_mask(mask, np.shape(targets), against="targets") > 0
    if inputs is not None:
        inputs = check_token_ids(inputs, "inputs", None, ndim=tuple(range(1, 33)))
    if inputs is not None and np.shape(inputs) != np.shape(targets):
        raise ArgumentError("inputs", f"inputs: expected shape {np.shape(targets)} (the shape of targets), "
                         f"received shape {np.shape(inputs)}")
    t = check_ids(np.asarray(targets)[mask], V, "targets")
    if inputs is None:
        return np.bincount(t, minlength=V).astype(float)
    table = np.zeros((V, V))
    np.add.at(table, (check_ids(np.asarray(inputs)[mask], V, "inputs"), t), 1.0)
    return table


def _check_alpha(alpha) -> float:
    return check_real(alpha, "alpha", 0.0, None, low_open=True, what="a smoothing count")


def unigram_log_probs(targets, mask, V: int, alpha: float = 1.0) -> np.ndarray:
    """``log P(j) = log (n_j + α) / (K + α V)`` from the training targets (add-α smoothing).  ``(V,)``"""
    counts = _counts(targets, mask, V) + _check_alpha(alpha)
    return np.log(counts / counts.sum())


def bigram_log_probs(inputs, targets, mask, V: int, alpha: float = 1.0) -> np.ndarray:
    """``log P(j | i) = log (n_ij + α) / (n_i + α V)``: the next token given the current one.  ``(V, V)``"""
    if inputs is None:
        raise ArgumentTypeError("inputs", "inputs: expected the input tokens (T, N) that precede the targets, received None")
    counts = _counts(targets, mask, V, inputs) + _check_alpha(alpha)
    return np.log(counts / counts.sum(axis=1, keepdims=True))


@overflow_is_error
def baseline_cross_entropy(log_probs, inputs, targets, mask) -> float:
    """Mean cross-entropy (nats) of a count model: ``(V,)`` ignores the input, ``(V, V)`` reads it."""
    log_probs = check_array(log_probs, "log_probs")
    if log_probs.size == 0:
        raise ArgumentError("log_probs", f"log_probs: expected a unigram (V,) or a bigram table (V, V) with V >= 1, received shape {log_probs.shape}")
    targets = check_token_ids(targets, "targets", None, what="integer token ids")
    if inputs is not None:
        inputs = check_token_ids(inputs, "inputs", None, what="integer token ids")
    elif log_probs.ndim == 2:
        raise ArgumentTypeError("inputs", "inputs: expected the input tokens for a bigram table (V, V), received None")
    if log_probs.ndim not in (1, 2) or (log_probs.ndim == 2 and log_probs.shape[0] != log_probs.shape[1]):
        raise ArgumentError("log_probs", f"log_probs: expected a unigram (V,) or a bigram table (V, V), received shape {log_probs.shape}")
    mask = check_mask(mask, np.shape(targets), against="targets")
    if inputs is not None and np.shape(inputs) != np.shape(targets):
        raise ArgumentError("inputs", f"inputs: expected shape {np.shape(targets)} (the shape of targets), "
                         f"received shape {np.shape(inputs)}")
    keep = mask > 0
    if not keep.any():
        raise ArgumentError("mask", "mask: expected at least one real position (a 1), received a mask of zeros only.")
    V = log_probs.shape[-1]
    t = check_ids(np.asarray(targets)[keep], V, "targets")
    if log_probs.ndim == 1:
        return float(-log_probs[t].mean())
    return float(-log_probs[check_ids(np.asarray(inputs)[keep], V, "inputs"), t].mean())


# ----------------------------------------------------------------------------- the neural model

def init_lm(V: int, e: int, m: int, n_layers: int, rng: np.random.Generator) -> dict:
    """Parameters of the embedding + ``n_layers`` Elman layers + head model (see the module docstring)."""
    V, e, m = check_int(V, "V"), check_int(e, "e"), check_int(m, "m")  # Python ints, whatever integer type came in
    n_layers = check_int(n_layers, "n_layers", 1, 100)
    params = {"w_e": init_embedding(V, e, rng, scale=0.3)}
    for layer in range(1, n_layers + 1):
        cell = ELMAN.init_params(e if layer == 1 else m, m, rng)
        params.update({f"{k}_{layer}": v for k, v in cell.items()})
    return {**params, **init_head(m, V, rng)}


def count_lm_params(V: int, e: int, m: int, n_layers: int) -> int:
    """``V e + Σ_l (m d_l + m² + m) + V m + V`` with ``d_1 = e`` and ``d_l = m`` above."""
    V, e, m, n_layers = check_int(V, "V"), check_int(e, "e"), check_int(m, "m"), check_int(n_layers, "n_layers", 1, 100)
    return V * e + (m * e + m * m + m) + (n_layers - 1) * (2 * m * m + m) + V * m + V


def _n_layers(params) -> int:
    n = 0
    while f"w_h_{n + 1}" in params:
        n += 1
    if n == 0 or "w_e" not in params:
        raise ArgumentError("params", f"params: expected keys 'w_e', 'w_x_1', 'w_h_1', 'b_h_1', ..., 'w_y', 'b_y' from init_lm, "
                         f"received {sorted(params)}")
    return n


def _lm_params(params, name: str = "params") -> tuple[dict, int, int]:
    """Validate an :func:`init_lm` dict (keys, shapes, finite values); return ``(params, n_layers, V)``."""
    check_mapping(params, name, (), "a language-model parameter dict from init_lm")
    L = _n_layers(params)
    need = ["w_e", "w_y", "b_y"] + [f"{k}_{layer}" for layer in range(1, L + 1) for k in ("w_x", "w_h", "b_h")]
    check_mapping(params, name, need, "a language-model parameter dict from init_lm")
    p = {k: check_array(params[k], f"{name}[{k!r}]") for k in need}
    V, e = p["w_e"].shape if p["w_e"].ndim == 2 else (None, None)
    if V is None or V < 1 or e < 1:
        raise ArgumentError(name, f"{name}['w_e']: expected an embedding matrix (V, e), received shape {p['w_e'].shape}")
    d = e
    for layer in range(1, L + 1):
        m = p[f"w_h_{layer}"].shape[0] if p[f"w_h_{layer}"].ndim == 2 else 0
        check_shape(p[f"w_h_{layer}"], (m, m), f"{name}['w_h_{layer}']", "w_h is a square (m, m) matrix.")
        check_shape(p[f"w_x_{layer}"], (m, d), f"{name}['w_x_{layer}']", f"Layer {layer} reads d = {d} features.")
        check_shape(p[f"b_h_{layer}"], (m,), f"{name}['b_h_{layer}']")
        d = m
    check_shape(p["w_y"], (V, d), f"{name}['w_y']", f"w_y maps the m = {d} units of the top layer to V = {V} scores.")
    check_shape(p["b_y"], (V,), f"{name}['b_y']")
    return p, L, V


def _dropout(a, p: float, rng):
    if p == 0.0:
        return a, None
    keep = (rng.random(a.shape) >= p) / (1.0 - p)  # inverted dropout: the expectation is unchanged
    return a * keep, keep


@overflow_is_error
def lm_forward(params, inputs, dropout: float = 0.0, rng: np.random.Generator | None = None,
               states=None) -> tuple[np.ndarray, list, dict]:
    """Logits ``os (T, N, V)`` for ``inputs (T, N)``; also the last state of every layer and a cache.

    ``dropout`` in ``[0, 1)`` needs ``rng``.  ``states`` (a list of ``(N, m)``) continues a sequence.
    """
    params, L, V = _lm_params(params)
    dropout = check_real(dropout, "dropout", 0.0, 1.0, high_open=True, what="a probability")
    check_rng(rng, allow_none=dropout == 0)
    inputs = check_token_ids(inputs, "inputs", V, ndim=2, names=("T", "N"), nonempty=True, what="integer token ids")
    if states is not None:
        if not isinstance(states, (list, tuple)) or len(states) != L:
            raise ArgumentTypeError("states", f"states: expected None or a list of {L} states (N, m), one per layer, "
                                              f"received {describe(states)}")
        states = [check_array(st, f"states[{i}]", shape=(inputs.shape[1], params[f"w_h_{i + 1}"].shape[0]),
                              names=("N", "m")) for i, st in enumerate(states)]
    return _lm_forward(params, inputs, float(dropout), rng, states, L)


def _lm_forward(params, inputs, dropout: float, rng, states, L: int):
    """:func:`lm_forward` on checked arguments."""
    a, c_emb = embedding_forward(inputs, params["w_e"])  # (T, N) -> (T, N, e)
    caches, last, keeps = [], [], []
    for layer in range(1, L + 1):
        a, keep = _dropout(a, dropout, rng)
        keeps.append(keep)
        cell = {k: params[f"{k}_{layer}"] for k in ELMAN.param_names}
        a, h_T, c = ELMAN.forward(a, cell, None if states is None else states[layer - 1])  # -> (T, N, m)
        caches.append(c)
        last.append(h_T)
    top, keep = _dropout(a, dropout, rng)
    keeps.append(keep)
    os_ = dense_forward(top, params["w_y"], params["b_y"])  # (T, N, m) -> (T, N, V)
    return os_, last, Cache("lm_forward", {"emb": c_emb, "cells": caches, "keeps": keeps, "top": top, "w_y": params["w_y"]})


@overflow_is_error
def lm_backward(dos, cache) -> dict:
    """Gradients of every parameter of :func:`lm_forward` given ``dos = ∂L/∂os (T, N, V)``."""
    check_cache(cache, "lm_forward", ("emb", "cells", "keeps", "top", "w_y"))
    dos = check_array(dos, "dos", shape=cache["top"].shape[:2] + (cache["w_y"].shape[0],), names=("T", "N", "V"))
    dw_y, db_y, da = dense_backward(dos, cache["top"], cache["w_y"])
    grads = {"w_y": dw_y, "b_y": db_y}
    for layer in range(len(cache["cells"]), 0, -1):
        keep = cache["keeps"][layer]
        da = da if keep is None else da * keep
        g, da, _ = ELMAN.backward(da, cache["cells"][layer - 1])
        grads.update({f"{k}_{layer}": v for k, v in g.items()})
    keep = cache["keeps"][0]
    da = da if keep is None else da * keep
    grads["w_e"] = embedding_backward(da, cache["emb"])
    return grads


@overflow_is_error
def lm_loss(params, inputs, targets, mask, dropout: float = 0.0,
            rng: np.random.Generator | None = None) -> tuple[float, dict]:
    """Masked mean cross-entropy (nats) and its gradients, in one call."""
    os_, _, cache = lm_forward(params, inputs, dropout, rng)
    mask = check_mask(mask, os_.shape[:-1], against="inputs")
    targets = check_labels(targets, os_.shape[-1], os_.shape[:-1], mask, name="targets")
    L, dos = softmax_cross_entropy(os_, targets, mask=mask)
    return L, lm_backward(dos, cache)


@overflow_is_error
def lm_cross_entropy(params, inputs, targets, mask) -> float:
    """Evaluation: mean cross-entropy (nats per character) without dropout."""
    return cross_entropy(lm_forward(params, inputs)[0], targets, mask)


@one_blas_thread
def train_lm(params, train, val, steps: int, rng: np.random.Generator, batch_size: int = 32, lr: float = 1e-2,
             dropout: float = 0.0, clip: float = 5.0, eval_every: int = 25) -> tuple[dict, dict]:
    """Adam on random mini-batches of lines; ``train`` and ``val`` are ``(inputs, targets, mask)`` batches.

    Every ``eval_every`` updates (and at the end) the cross-entropy of the *whole* training and
    validation sets is measured without dropout.  Returns ``(params, history)`` with history keys
    ``"step"``, ``"train"``, ``"val"`` (arrays) and ``"loss"`` (one per update, with dropout).
    """
    steps, eval_every = check_int(steps, "steps", 1, MAX_ITERATIONS), check_int(eval_every, "eval_every", 1, MAX_ITERATIONS)
    check_rng(rng)
    lr = check_real(lr, "lr", 0.0, None, low_open=True)
    clip = check_real(clip, "clip", 0.0, None, low_open=True)
    dropout = check_real(dropout, "dropout", 0.0, 1.0, high_open=True, what="a probability")
    params, _, V = _lm_params(params)
    for name, batch in (("train", train), ("val", val)):
        if not isinstance(batch, tuple) or len(batch) != 3:
            raise ArgumentTypeError(name, f"{name}: expected (inputs, targets, mask) from make_batch, received {describe(batch)}")
        b_in = check_token_ids(batch[0], name, V, ndim=2, names=("T", "N"), nonempty=True, what="integer token ids")
        b_mask = check_mask(batch[2], b_in.shape, name=name, against="the inputs")
        check_labels(batch[1], V, b_in.shape, b_mask, name=name)
    x, y, mask = train
    N = x.shape[1]
    batch_size = check_int(batch_size, "batch_size", 1, N, "an integer number of training lines")
    state, hist = adam_init(params), {"step": [], "train": [], "val": [], "loss": []}
    for step in range(1, steps + 1):
        idx = rng.choice(N, size=batch_size, replace=False)
        T = int(mask[:, idx].sum(axis=0).max())  # drop the columns of padding no line in the batch needs
        # At update 1 an overflow is the caller's parameters' (named by lm_loss); later, a non-finite loss or
        # gradient is reported just below, naming the update.
        with contextlib.nullcontext() if step == 1 else np.errstate(over="ignore", invalid="ignore"):
            L, grads = lm_loss(params, x[:T, idx], y[:T, idx], mask[:T, idx], dropout, rng)
        check_training_step(step, loss=L, grads=grads, lr=lr, clip=clip, what="update")
        grads, _ = clip_grad_norm(grads, clip)
        try:
            params, state = adam_step(params, grads, state, lr)
        except NonFiniteError as exc:
            raise update_overflow(step, exc, lr, clip, "update") from None
        hist["loss"].append(L)
        if step % eval_every == 0 or step == steps:
            hist["step"].append(step)
            try:
                hist["train"].append(lm_cross_entropy(params, *train))
                hist["val"].append(lm_cross_entropy(params, *val))
            except NonFiniteArgumentError as exc:
                raise _forward_overflow(step, exc, lr, clip) from None
    return params, {k: np.array(v) for k, v in hist.items()}


def _forward_overflow(step: int, exc: NonFiniteArgumentError, lr, clip) -> NonFiniteError:
    """The error of train_lm when an evaluation's forward pass overflows (``exc`` names the largest parameter)."""
    where = str(exc).split(":", 1)[0]
    return NonFiniteError(f"training stopped at update {step}: the forward pass overflowed ({where} is too large). "
                          f"{training_advice(lr, clip)}", step, where[8:-2] if where.startswith("params[") else None)


@overflow_is_error
def lm_step(params, tokens, states=None) -> tuple[np.ndarray, list]:
    """One step for ``N`` sequences: ``tokens (N,)`` -> log-probabilities ``(N, V)`` and the new states."""
    _, _, V = _lm_params(params)
    tokens = check_token_ids(tokens, "tokens", V, ndim=1, names=("N",), nonempty=True, what="integer token ids")
    os_, states, _ = lm_forward(params, tokens[None], states=states)
    return log_softmax(os_[0]), states


def generate(params, vocab: Vocabulary, n_lines: int, max_len: int, choose, rng: np.random.Generator) -> list[str]:
    """``n_lines`` lines generated side by side from ``<bos>``; each ends at its first newline or ``max_len``.

    ``choose(log_probs (N, V), rng) -> tokens (N,)`` is the decoding rule (e.g. greedy, nucleus); what it
    returns must be ``N`` integer token ids in ``0 .. V-1``.
    """
    n_lines, max_len = check_int(n_lines, "n_lines"), check_int(max_len, "max_len")
    check_callable(choose, "choose")
    if not isinstance(vocab, Vocabulary):
        raise ArgumentTypeError("vocab", f"vocab: expected a Vocabulary from build_vocabulary, received {describe(vocab)}")
    check_rng(rng)
    _, _, V = _lm_params(params)
    check_elements((max_len, n_lines), "generated tokens (max_len, n_lines)", "max_len")
    check_elements((n_lines, V), "log-probabilities (n_lines, V)", "n_lines")
    newline = int(vocab.encode("\n")[0])
    tokens, states = np.full(n_lines, BOS), None
    out = np.full((max_len, n_lines), PAD)
    done = np.zeros(n_lines, bool)
    for t in range(max_len):
        log_probs, states = lm_step(params, tokens, states)
        tokens = _chosen(choose(log_probs, rng), n_lines, V)
        out[t] = np.where(done, PAD, tokens)
        done |= tokens == newline
        if done.all():
            break
    return [vocab.decode(out[:, n]).split("\n")[0] for n in range(n_lines)]


def _chosen(tokens, N: int, V: int) -> np.ndarray:
    """What ``choose`` returned, as ``(N,)`` ids in ``0 .. V-1``; any problem is blamed on ``choose``."""
    expected = f"it to return (N,) = ({N},) token ids in 0..{V - 1}"
    if tokens is None or isinstance(tokens, (str, bytes, dict)):
        raise ArgumentTypeError("choose", f"choose: expected {expected}, received {describe(tokens)}.")
    try:
        shape = np.shape(tokens)
    except (TypeError, ValueError):  # a ragged list
        raise ArgumentError("choose", f"choose: expected {expected}, received {describe(tokens)} of uneven length.") from None
    if shape != (N,):
        raise ArgumentError("choose", f"choose: expected {expected}, received shape {shape}.")
    try:
        return check_token_ids(tokens, "choose", V, shape=(N,), what="integer token ids")
    except ArgumentError as exc:
        text = str(exc).replace("choose: expected ", "choose: expected it to return ", 1)
        raise type(exc)("choose", text) from None
