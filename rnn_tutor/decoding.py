"""Decoding: turning a model's next-token scores into a sequence.

A language model (or a decoder) gives, at every step, logits ``o (V,)`` for the next token.
A *decoding rule* decides which token to emit:

* **greedy**: ``argmax_j o_j``, deterministic;
* **temperature** ``τ``: sample from ``softmax(o / τ)``;
* **top-k** (Fan et al., 2018): keep the ``k`` most likely tokens, renormalise, sample;
* **nucleus / top-p** (Holtzman et al., 2020): keep the smallest set of most likely tokens whose
  probabilities add up to at least ``p``, renormalise, sample;
* **beam search**: keep the ``B`` prefixes with the highest total log-probability
  ``Σ_t log P(z_t | z_<t)`` and extend all of them at every step.

The filters work on probabilities ``(..., V)`` along the last axis and never change their input.
A model is seen through a *step function* ``step(tokens (B,), state) -> (log_probs (B, V), state)``,
where ``state`` is an ``(B, m)`` array or a tuple of them (LSTM).  :func:`seq2seq_step` builds one
for the encoder–decoder of :mod:`rnn_tutor.seq2seq`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from rnn_tutor.charlm import softmax_with_temperature
from rnn_tutor.heads import log_softmax
from rnn_tutor.masking import check_lengths, one_hot
from rnn_tutor.validation import (overflow_is_error, MAX_SIZE, ArgumentError, ArgumentTypeError, NonFiniteArgumentError, as_float_array,
                                  check_array, check_callable, check_choice, check_finite, check_int, check_probability,
                                  check_real, check_rng, check_token_ids, describe)

__all__ = ["STRATEGIES", "check_probs", "greedy", "top_k_filter", "nucleus_filter", "decoding_probs",
           "sample_from", "beam_search", "seq2seq_step", "progression_task", "exposure_bias",
           "scheduled_sampling_inputs", "scheduled_sampling_loss"]

STRATEGIES = ("greedy", "temperature", "top_k", "nucleus")


def check_probs(probs, name: str = "probs") -> np.ndarray:
    """Return ``probs (..., V)`` as floats after checking they are non-negative rows summing to one."""
    p = as_float_array(probs, name)
    if p.ndim < 1 or p.shape[-1] < 1:
        raise ArgumentError(name, f"{name}: expected probabilities (..., V) with V >= 1, received shape {p.shape}.")
    check_finite(p, name, "Probabilities must be finite numbers in [0, 1].")
    if (p < 0).any():
        idx = tuple(int(i) for i in np.argwhere(p < 0)[0])
        raise ArgumentError(name, f"{name}: expected non-negative probabilities, received {float(p[idx]):g} at index {idx}.")
    sums = p.sum(axis=-1)
    if not np.allclose(sums, 1.0, atol=1e-6):
        worst = np.unravel_index(int(np.argmax(np.abs(sums - 1))), sums.shape)
        raise ArgumentError(name, f"{name}: expected each row to sum to 1, received a row summing to {float(sums[worst]):.6g}.")
    return p


def greedy(logits) -> np.ndarray:
    """The most likely token of every row, ``argmax_j o_j``: ``(..., V) -> (...)`` ints (ties: the smaller id)."""
    logits = check_array(logits, "logits", ndim=tuple(range(1, 33)))
    if logits.shape[-1] < 1:
        raise ArgumentError("logits", f"logits: expected an array (..., V) with V >= 1, received shape {logits.shape}")
    return logits.argmax(axis=-1)


def _check_count(value, name: str, low: int, high: int) -> int:
    return check_int(value, name, low, high)


def top_k_filter(probs, k: int) -> np.ndarray:
    """Keep the ``k`` largest probabilities of every row, set the others to 0 and renormalise.

    ``p'_j = p_j [j ∈ top_k] / Σ_{i ∈ top_k} p_i``.  Ties at the boundary go to the smaller id,
    so exactly ``k`` entries stay.  ``k = 1`` is greedy decoding, ``k = V`` changes nothing.
    """
    p = check_probs(probs)
    k = _check_count(k, "k", 1, p.shape[-1])
    order = np.argsort(-p, axis=-1, kind="stable")  # most likely first
    keep = np.zeros(p.shape, bool)
    np.put_along_axis(keep, order[..., :k], True, axis=-1)
    kept = np.where(keep, p, 0.0)
    return kept / kept.sum(axis=-1, keepdims=True)  # (..., V) / (..., 1)


def nucleus_filter(probs, top_p: float) -> np.ndarray:
    """Nucleus (top-p) filter: keep the smallest set of most likely tokens with mass ``>= top_p``, renormalise.

    Sort a row's probabilities in decreasing order, ``p_(1) >= p_(2) >= ...``; token ``(i)`` is kept
    when the mass *before* it is still below ``top_p``, ``Σ_{j<i} p_(j) < top_p``.  So the token that
    crosses ``top_p`` is kept, and the most likely token always is.  ``top_p = 1`` keeps every token
    with non-zero probability.
    """
    p = check_probs(probs)
    top_p = check_real(top_p, "top_p", 0.0, 1.0, low_open=True)
    order = np.argsort(-p, axis=-1, kind="stable")
    sorted_p = np.take_along_axis(p, order, axis=-1)
    cum = np.cumsum(sorted_p, axis=-1)
    before = np.concatenate([np.zeros(cum.shape[:-1] + (1,)), cum[..., :-1]], axis=-1)  # mass of the more likely tokens
    keep_sorted = (before < top_p) & (sorted_p > 0)
    keep_sorted[..., 0] = True
    keep = np.zeros(p.shape, bool)
    np.put_along_axis(keep, order, keep_sorted, axis=-1)
    kept = np.where(keep, p, 0.0)
    return kept / kept.sum(axis=-1, keepdims=True)


def decoding_probs(logits, strategy: str, temperature: float = 1.0, k: int | None = None,
                   top_p: float | None = None) -> np.ndarray:
    """The distribution a decoding rule samples from, ``(..., V)``; greedy is a one-hot of the argmax.

    ``temperature`` rescales the logits first for every rule except greedy.
    """
    check_choice(strategy, "strategy", STRATEGIES)
    logits = check_array(logits, "logits", ndim=tuple(range(1, 33)))
    temperature = check_real(temperature, "temperature", 0.0, None, low_open=True, what="a temperature")
    if k is not None:
        k = check_int(k, "k", 1, logits.shape[-1])
    if top_p is not None:
        top_p = check_real(top_p, "top_p", 0.0, 1.0, low_open=True)
    if strategy == "greedy":
        return np.eye(logits.shape[-1])[greedy(logits)]
    probs = softmax_with_temperature(logits, temperature)
    if strategy == "top_k":
        if k is None:
            raise ArgumentError("k", "k: expected the number of tokens to keep for strategy 'top_k', received None")
        return top_k_filter(probs, k)
    if strategy == "nucleus":
        if top_p is None:
            raise ArgumentError("top_p", "top_p: expected the probability mass to keep for strategy 'nucleus', received None")
        return nucleus_filter(probs, top_p)
    return probs


def sample_from(probs, rng: np.random.Generator) -> np.ndarray:
    """Draw one token per row of ``probs (..., V)`` by inverse-CDF sampling: ``(...)`` ints.

    With ``u ~ U[0, 1)``, the token is the first ``j`` with ``u < p_0 + ... + p_j``.
    """
    check_rng(rng)
    p = check_probs(probs)
    u = rng.random(p.shape[:-1])
    cdf = np.cumsum(p, axis=-1)
    idx = (u[..., None] >= cdf).sum(axis=-1)
    # round-off: never pick past the last token with non-zero probability
    last = p.shape[-1] - 1 - np.argmax((p > 0)[..., ::-1], axis=-1)
    return np.minimum(idx, last)


def _take_state(state, idx):
    if state is None:  # a step function that keeps no state
        return None
    return tuple(s[idx] for s in state) if isinstance(state, tuple) else state[idx]


def _step_output(out, B: int, V: int | None) -> np.ndarray:
    """The log-probabilities ``(B, V)`` a beam-search ``step`` returned, checked; blames ``step``."""
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        got = f"{len(out)} values" if isinstance(out, (tuple, list)) else describe(out)
        raise ArgumentTypeError("step", f"step: expected it to return a pair (log_probs (B, V), state), received {got}.")
    try:
        log_probs = as_float_array(out[0], "log_probs")
    except ArgumentError as exc:
        raise type(exc)("step", f"step: expected it to return real log-probabilities (B, V) first, received "
                                f"{describe(out[0])}.") from None
    want = f"({B}, {'V' if V is None else V})"
    if log_probs.ndim != 2 or log_probs.shape[0] != B or log_probs.shape[1] < 1 or (V is not None and log_probs.shape[1] != V):
        raise ArgumentError("step", f"step: expected log-probabilities (B, V) = {want} for the {B} prefixes, "
                                    f"received shape {log_probs.shape}.")
    bad = np.isnan(log_probs) | (log_probs > 1e-9)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = NonFiniteArgumentError if np.isnan(log_probs[idx]) or np.isinf(log_probs[idx]) else ArgumentError
        raise kind("step", f"step: expected log-probabilities (<= 0, no NaN), received {log_probs[idx]} at index {idx}.")
    if np.isneginf(log_probs).all(axis=1).any():
        row = int(np.flatnonzero(np.isneginf(log_probs).all(axis=1))[0])
        raise NonFiniteArgumentError("step", f"step: expected at least one possible token (a finite log-probability) per "
                                             f"prefix, received only -inf in row {row}.")
    return log_probs


def _first_step(step, start: int, state):
    """The first call of ``step``: an error about the tokens it reads is about ``start``."""
    try:
        return step(np.array([start]), state)
    except ArgumentError as exc:
        if exc.argument in ("tokens", "ids"):
            raise ArgumentError("start", f"start: expected a token the step function reads, received {start} "
                                         f"(step said: {exc})") from None
        raise


def beam_search(step: Callable, state_0, start: int, eos: int, beam_width: int,
                max_len: int) -> tuple[list[int], float]:
    """The most likely output found by a beam of ``beam_width`` prefixes.

    Scores are total log-probabilities, ``s(z_1 .. z_t) = Σ_{i<=t} log P(z_i | z_<i)``.  At each step
    every live prefix is extended by every token; the ``beam_width`` best extensions overall survive.
    An extension ending in ``eos`` is finished and leaves the beam.  The search stops when no live
    prefix can beat the best finished one (scores only fall as a prefix grows), or after ``max_len``
    tokens.  ``beam_width = 1`` is greedy decoding.

    Parameters
    ----------
    step : ``step(tokens (B,), state) -> (log_probs (B, V), state)``, batched over prefixes; the
        log-probabilities must be ``<= 0`` and not NaN (``-inf``: an impossible token)
    state_0 : the state before the first token, ``(1, m)`` or a tuple of them; it is handed to
        ``step`` unchanged (for :func:`seq2seq_step`, ``None`` means zeros)
    start : the token read at the first step (START / BOS); it may lie outside ``0 .. V-1``
        (:func:`seq2seq_step` reads START = ``q``)
    eos : the end token, in ``0 .. V-1``
    beam_width, max_len : positive ints

    Returns
    -------
    tokens : list of ints (ending with ``eos`` unless ``max_len`` was reached)
    score : its total log-probability
    """
    beam_width = _check_count(beam_width, "beam_width", 1, 10_000)
    max_len = _check_count(max_len, "max_len", 1, 100_000)
    check_callable(step, "step")
    start = check_int(start, "start", 0, MAX_SIZE, "a token id")
    eos = check_int(eos, "eos", 0, MAX_SIZE - 1, "a token id")
    prefixes, scores = [[]], np.zeros(1)
    tokens, state = np.array([start]), state_0
    finished: list[tuple[float, list[int]]] = []
    V = None
    for t in range(max_len):
        out = _first_step(step, start, state) if t == 0 else step(tokens, state)
        log_probs, state = _step_output(out, tokens.size, V), out[1]
        if V is None:
            V = log_probs.shape[1]
            if eos >= V:
                raise ArgumentError("eos", f"eos: expected a token id in 0..{V - 1} (V = {V} log-probabilities from step), "
                                           f"received {eos}.")
        total = (scores[:, None] + log_probs).reshape(-1)  # (B, V) -> (B V,): sums of log-probabilities
        best = np.argsort(-total, kind="stable")[:beam_width]
        keep_rows, keep_tokens, keep_scores = [], [], []
        for flat in best:
            row, tok = divmod(int(flat), V)
            if not np.isfinite(total[flat]):
                continue  # an impossible extension (log-probability -inf) never survives
            if tok == eos:
                finished.append((float(total[flat]), prefixes[row] + [tok]))
            else:
                keep_rows.append(row)
                keep_tokens.append(tok)
                keep_scores.append(float(total[flat]))
        best_done = max((s for s, _ in finished), default=-np.inf)
        if not keep_rows or max(keep_scores) <= best_done:
            break
        prefixes = [prefixes[r] + [t] for r, t in zip(keep_rows, keep_tokens)]
        scores, tokens = np.array(keep_scores), np.array(keep_tokens)
        state = _take_state(state, np.array(keep_rows))
    else:
        finished += [(float(s), p) for s, p in zip(scores, prefixes)]  # max_len reached: unfinished prefixes compete
    score, out = max(finished, key=lambda sp: sp[0])
    return out, score


def seq2seq_step(cell, params) -> Callable:
    """A step function for :func:`beam_search` from an encoder–decoder of :mod:`rnn_tutor.seq2seq`.

    ``step(tokens (B,), g (B, m)) -> (log softmax(w_y g' + b_y) (B, q), g')`` with
    ``g' = cell(e(token), g)``; tokens are in ``0 .. q`` (``q`` is START).  ``params`` is checked
    here, once (keys, shapes: ``w_y`` must read the decoder's ``m`` units, finite values).
    """
    from rnn_tutor.seq2seq import _split
    _, dec, w_y, b_y, _ = _split(cell, params)
    q = w_y.shape[0]

    def step(tokens, state):
        g, state, _ = cell.forward(one_hot(np.asarray(tokens), q + 1)[None], dec, state)  # (1, B, q+1) -> (1, B, m)
        return log_softmax(g[0] @ w_y.T + b_y), state  # (B, m) @ (m, q) -> (B, q)

    return step


def progression_task(rng: np.random.Generator, n: int, U: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """A small encoder–decoder task whose outputs build on each other: count from ``a`` in steps of ``b``.

    The input is two one-hot digits, ``a`` in ``0 .. 9`` and ``b`` in ``1 .. 9``; the output is
    ``a, a + b, a + 2b, ... (mod 10)``, ``U`` digits, then EOS (token 10).  A decoder that learns
    "previous digit + b" is right under teacher forcing, but when it runs free, one wrong digit
    makes the following ones wrong too.

    Returns
    -------
    xs : (2, n, 10) one-hot inputs;  targets : (U + 1, n) tokens in ``0 .. 10``
    """
    check_rng(rng)
    n, U = check_int(n, "n"), check_int(U, "U", 1, 1000)
    a, b = rng.integers(0, 10, n), rng.integers(1, 10, n)
    xs = np.stack([one_hot(a, 10), one_hot(b, 10)])  # (2, n, 10)
    digits = (a[None] + b[None] * np.arange(U)[:, None]) % 10  # (U, 1) * (1, n) -> (U, n)
    return xs, np.concatenate([digits, np.full((1, n), 10)])


def _check_targets(xs, targets, q: int) -> np.ndarray:
    """``targets (U, N)`` as ids in ``0 .. q-1``, with as many sequences as ``xs (S, N, d)``."""
    xs = check_array(xs, "xs", ndim=3, names=("S", "N", "d"), nonempty=True)
    targets = check_token_ids(targets, "targets", q, ndim=2, names=("U", "N"), nonempty=True)
    if targets.shape[1] != xs.shape[1]:
        raise ArgumentError("targets", f"targets: expected N = {xs.shape[1]} sequences (like xs), "
                                       f"received shape {targets.shape}")
    return targets


@overflow_is_error
def exposure_bias(cell, xs, targets, params, eos: int, lengths=None, target_lengths=None) -> tuple[np.ndarray, np.ndarray]:
    """Per-position accuracy of an encoder–decoder reading the true previous tokens against its own.

    *Teacher forced*: position ``t`` predicts ``argmax P(z_t | true z_<t)``, as in training.
    *Free running*: position ``t`` is the ``t``-th token of greedy decoding, which read the model's
    own earlier choices.  The gap between the two is the exposure bias: errors the model makes
    because it never saw its own mistakes during training.

    Parameters
    ----------
    xs : (S, N, d) inputs;  targets : (U, N) output tokens (EOS included), ``target_lengths (N,)``

    Returns
    -------
    teacher_forced, free_running : (U,) fractions of right tokens among the sequences that reach position ``t``
    """
    from rnn_tutor.seq2seq import encoder_decoder_forward, greedy_decode, split_seq2seq_params, teacher_forcing_inputs
    _, _, w_y, _ = split_seq2seq_params(cell, params)
    eos = check_int(eos, "eos", 0, w_y.shape[0] - 1)
    targets = _check_targets(xs, targets, w_y.shape[0])
    U, N = targets.shape
    tl = np.full(N, U) if target_lengths is None else check_lengths(target_lengths, U, N, "target_lengths")
    real = np.arange(U)[:, None] < tl[None, :]  # (U, N)
    safe = np.where(real, targets, 0)
    os_, _ = encoder_decoder_forward(cell, xs, teacher_forcing_inputs(safe, w_y.shape[0]), params, lengths)
    free, _ = greedy_decode(cell, xs, params, eos, U, lengths)
    tf_right = (os_.argmax(axis=-1) == targets) & real
    fr_right = (free == targets) & real
    return tf_right.sum(axis=1) / real.sum(axis=1), fr_right.sum(axis=1) / real.sum(axis=1)


@overflow_is_error
def scheduled_sampling_inputs(cell, xs, targets, params, eps: float, rng: np.random.Generator,
                              lengths=None) -> np.ndarray:
    """Decoder inputs for scheduled sampling (Bengio et al., 2015): ``(U, N, q + 1)`` one-hot tokens.

    The decoder runs step by step.  The token it reads at step ``t + 1`` is the true ``z_t`` with
    probability ``eps`` and its own ``argmax`` prediction otherwise, drawn independently for every
    sequence and step (``eps = 1`` is teacher forcing, ``eps = 0`` free running).  The choice is
    treated as data: no gradient flows through it.
    """
    from rnn_tutor.seq2seq import encode, split_seq2seq_params
    _, dec, w_y, b_y = split_seq2seq_params(cell, params)
    q = w_y.shape[0]
    eps = check_probability(eps, "eps")
    check_rng(rng)
    targets = _check_targets(xs, targets, q)
    state, _ = encode(cell, xs, params, lengths)
    U, N = targets.shape
    prev, read = np.full(N, q), []
    for t in range(U):
        read.append(prev)
        g, state, _ = cell.forward(one_hot(prev, q + 1)[None], dec, state)  # (1, N, q+1) -> (1, N, m)
        own = (g[0] @ w_y.T + b_y).argmax(axis=1)  # (N, m) @ (m, q) -> (N, q) -> (N,)
        prev = np.where(rng.random(N) < eps, targets[t], own)
    return one_hot(np.stack(read), q + 1)  # (U, N) -> (U, N, q+1)


@overflow_is_error
def scheduled_sampling_loss(cell, xs, targets, params, eps: float, rng: np.random.Generator,
                            lengths=None) -> tuple[float, dict]:
    """Mean cross-entropy of ``targets (U, N)`` when the decoder reads :func:`scheduled_sampling_inputs`,
    and its gradients (the inputs held fixed).  ``eps = 1`` equals teacher forcing."""
    from rnn_tutor.heads import softmax_cross_entropy
    from rnn_tutor.seq2seq import encoder_decoder_backward, encoder_decoder_forward
    dec_xs = scheduled_sampling_inputs(cell, xs, targets, params, eps, rng, lengths)
    os_, cache = encoder_decoder_forward(cell, xs, dec_xs, params, lengths)
    L, dos = softmax_cross_entropy(os_, targets)
    return L, encoder_decoder_backward(dos, cache)
