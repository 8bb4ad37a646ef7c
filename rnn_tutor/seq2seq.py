"""The encoder–decoder: many-to-many when the output length differs from the input length.

An *encoder* cell reads the whole input; its state at each sequence's last real step is
the only thing handed to a *decoder* cell, which then writes the output one token at a
time, reading the previous output token:

    s = encoder state after x_1 .. x_S                      (S = input length)
    g_0 = s,   g_t = cell(e(z_{t-1}), g_{t-1}),   o_t = w_y g_t + b_y      t = 1 .. U

``e(z)`` is the one-hot vector of token ``z``.  The decoder's vocabulary is the ``q``
output classes plus one extra token, START (id ``q``), that opens every output; one of
the ``q`` classes is the end token EOS.  Training uses *teacher forcing* (the decoder
reads the true previous token, ``z_0 = START``); generation feeds back its own
``argmax`` (:func:`greedy_decode`).

Parameters form one dict: the encoder's cell parameters with the prefix ``enc_``, the
decoder's with ``dec_``, and the output layer ``w_y (q, m)``, ``b_y (q,)``.  Encoder and
decoder use the same kind of cell (their states must match), with separate weights.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from rnn_tutor.cells import _is_state_tuple, check_cell_state
from rnn_tutor.masking import check_real_steps
from rnn_tutor.validation import (overflow_is_error, MAX_SIZE, ArgumentError, ArgumentTypeError, Cache, check_array, check_cache, check_choice,
                                  check_elements, check_int, check_mapping, check_rng, check_token_ids, describe)

from rnn_tutor.architectures import _check_batch, check_cell
from rnn_tutor.cells import Cell
from rnn_tutor.heads import (check_head, check_labels, dense_backward, dense_forward, init_head,
                             softmax_cross_entropy)
from rnn_tutor.masking import (check_lengths, masked_cell_backward, masked_cell_forward, one_hot,
                               resolve_lengths)

__all__ = ["init_seq2seq_params", "split_seq2seq_params", "teacher_forcing_inputs", "encode",
           "encoder_decoder_forward", "encoder_decoder_backward", "encoder_decoder_loss",
           "decode_greedy", "greedy_decode"]


def init_seq2seq_params(cell: Cell, d: int, m: int, q: int, rng: np.random.Generator) -> dict:
    """Encoder (``d`` inputs), decoder (``q + 1`` one-hot inputs: the outputs and START) and output layer."""
    check_cell(cell)
    check_rng(rng)
    d, m, q = check_int(d, "d"), check_int(m, "m"), check_int(q, "q")
    enc = cell.init_params(d, m, rng)
    dec = cell.init_params(q + 1, m, rng)
    return {**{f"enc_{k}": v for k, v in enc.items()}, **{f"dec_{k}": v for k, v in dec.items()}, **init_head(m, q, rng)}


def split_seq2seq_params(cell: Cell, params) -> tuple[dict, dict, np.ndarray, np.ndarray]:
    """``(encoder params, decoder params, w_y, b_y)`` with the prefixes removed."""
    enc, dec, w_y, b_y, _ = _split(cell, params, head_width=False)
    return enc, dec, w_y, b_y


def _split(cell, params, name="params", head_width=True):
    """Encoder params, decoder params, ``w_y``, ``b_y`` and the encoder's input size ``d`` (or None)."""
    check_cell(cell)
    expected = [f"{p}{k}" for p in ("enc_", "dec_") for k in cell.param_names]
    check_mapping(params, name, expected, "an encoder-decoder parameter dict")
    enc = {k: params[f"enc_{k}"] for k in cell.param_names}
    dec = {k: params[f"dec_{k}"] for k in cell.param_names}
    d = width = None
    if getattr(cell, "check_params", None) is not None:
        d, width = cell.check_params(enc, f"{name} (enc_)")
        d_dec, width_dec = cell.check_params(dec, f"{name} (dec_)")
        if width_dec != width:
            raise ArgumentError(name, f"{name}: expected encoder and decoder of the same width, received "
                                      f"{width} (enc_) and {width_dec} (dec_)")
    w_y, b_y = check_head(params, width if head_width else None, name)
    if d is not None and d_dec != w_y.shape[0] + 1:
        raise ArgumentError(name, f"{name}: expected the decoder to read q + 1 = {w_y.shape[0] + 1} features (one-hot "
                                  f"outputs and START), received dec_ weights for {d_dec}")
    return enc, dec, w_y, b_y, d


def teacher_forcing_inputs(targets, q: int) -> np.ndarray:
    """Decoder inputs for training: one-hot ``[START, z_1, ..., z_{U-1}]`` for ``targets (U, N)``.

    Returns ``(U, N, q + 1)``; START is token ``q``.  Entries after a sequence's end are
    whatever the padded targets hold (they only influence masked, padded outputs).
    """
    q = check_int(q, "q")
    targets = check_token_ids(targets, "targets", q, ndim=2, names=("U", "N"), what="integer output tokens")
    if targets.shape[0] == 0 or targets.shape[1] == 0:
        raise ArgumentError("targets", f"targets: expected a 2-D array (U, N) of output tokens with U, N >= 1, received shape {targets.shape}")
    check_elements((targets.size, q + 1), "one-hot inputs (U, N, q + 1)", "q")
    prev = np.concatenate([np.full((1, targets.shape[1]), q), targets[:-1]], axis=0)  # shift right by one step
    return one_hot(prev.astype(np.int64), q + 1, name="targets")


@overflow_is_error
def encode(cell: Cell, xs, params: Mapping, lengths=None, mask=None) -> tuple[Any, dict]:
    """Run the encoder; return its state at each sequence's last real step and the cache."""
    enc, _, _, _, d = _split(cell, params)
    xs = _check_batch(xs, d=d, finite=False)
    lengths = resolve_lengths(xs.shape[0], xs.shape[1], lengths, mask)
    check_real_steps(xs, lengths)
    _, state, cache = masked_cell_forward(cell, xs, enc, lengths)
    return state, cache


@overflow_is_error
def encoder_decoder_forward(cell: Cell, xs, dec_xs, params: Mapping, lengths=None, mask=None) -> tuple[np.ndarray, dict]:
    """Encode ``xs (S, N, d)``, then decode ``dec_xs (U, N, q + 1)`` (teacher forcing) from the encoder's state.

    ``lengths (N,)`` or ``mask (S, N)`` describe the padding of the *input*.
    Returns the logits ``os (U, N, q)`` and a cache.  ``S`` and ``U`` are independent.
    """
    enc, dec, w_y, b_y, d = _split(cell, params)
    xs, dec_xs = _check_batch(xs, d=d, finite=False), _check_batch(dec_xs, "dec_xs")
    if dec_xs.shape[1] != xs.shape[1]:
        raise ArgumentError("dec_xs", f"dec_xs: expected N = {xs.shape[1]} sequences (like xs), received shape {dec_xs.shape}")
    if dec_xs.shape[2] != w_y.shape[0] + 1:
        raise ArgumentError("dec_xs", f"dec_xs: expected q + 1 = {w_y.shape[0] + 1} features (one-hot outputs and START), "
                         f"received shape {dec_xs.shape}")
    state, c_enc = encode(cell, xs, params, lengths, mask)
    gs, _, c_dec = cell.forward(dec_xs, dec, state)  # (U, N, q+1) -> (U, N, m); the encoder's state is g_0
    return dense_forward(gs, w_y, b_y), Cache("encoder_decoder_forward", {"cell": cell, "c_enc": c_enc, "c_dec": c_dec,
                                                                        "gs": gs, "w_y": w_y})


@overflow_is_error
def encoder_decoder_backward(dos, cache) -> dict:
    """Gradients of :func:`encoder_decoder_forward` given ``dos (U, N, q)``.

    The encoder receives gradient only through the state it handed over: ``∂L/∂s = ∂L/∂g_0``.
    """
    check_cache(cache, "encoder_decoder_forward", ("cell", "c_enc", "c_dec", "gs", "w_y"))
    cell = cache["cell"]
    dos = check_array(dos, "dos", shape=cache["gs"].shape[:2] + (cache["w_y"].shape[0],), names=("U", "N", "q"))
    dw_y, db_y, dgs = dense_backward(dos, cache["gs"], cache["w_y"])
    g_dec, _, dstate = cell.backward(dgs, cache["c_dec"], None)
    g_enc, _, _ = masked_cell_backward(None, cache["c_enc"], dstate)
    return {**{f"enc_{k}": v for k, v in g_enc.items()}, **{f"dec_{k}": v for k, v in g_dec.items()},
            "w_y": dw_y, "b_y": db_y}


@overflow_is_error
def encoder_decoder_loss(cell: Cell, xs, targets, params, lengths=None, target_lengths=None,
                         reduction: str = "mean") -> tuple[float, dict]:
    """Teacher-forced, masked cross-entropy of the output tokens ``targets (U, N)`` and its gradients.

    ``lengths``: input lengths ``(N,)``; ``target_lengths``: output lengths ``(N,)`` (EOS included).
    """
    _, _, w_y, _, _ = _split(cell, params)
    check_choice(reduction, "reduction", ("mean", "sum"))
    xs, targets, out_mask, ins = _teacher_forced_batch(xs, targets, w_y.shape[0], target_lengths)
    os, cache = encoder_decoder_forward(cell, xs, ins, params, lengths)
    L, dos = softmax_cross_entropy(os, targets, mask=out_mask, reduction=reduction)
    return L, encoder_decoder_backward(dos, cache)


def _teacher_forced_batch(xs, targets, q: int, target_lengths=None):
    """Check a teacher-forced batch: ``(xs, targets, out_mask (U, N), decoder inputs (U, N, q))``.

    Shared by every encoder-decoder loss: ``targets (U, N)`` are output tokens below ``q``
    wherever ``target_lengths`` marks them real; padding tokens may be anything.
    """
    targets = check_token_ids(targets, "targets", None, ndim=2, names=("U", "N"), what="integer output tokens")
    if targets.shape[0] == 0 or targets.shape[1] == 0:
        raise ArgumentError("targets", f"targets: expected a 2-D array (U, N) with U, N >= 1, received shape {targets.shape}")
    U, N = targets.shape
    xs = _check_batch(xs, finite=False)
    if xs.shape[1] != N:
        raise ArgumentError("targets", f"targets: expected one column per sequence of xs (N = {xs.shape[1]}), "
                                       f"received shape {targets.shape}")
    tl = np.full(N, U) if target_lengths is None else check_lengths(target_lengths, U, N, "target_lengths")
    out_mask = (np.arange(U)[:, None] < tl[None, :]).astype(float)
    targets = check_labels(targets, q, (U, N), out_mask, name="targets")
    safe = np.where(out_mask > 0, targets, 0)
    return xs, targets, out_mask, teacher_forcing_inputs(safe, q)


@overflow_is_error
def decode_greedy(cell: Cell, params, state_0, eos: int, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Generate from a decoder state by feeding back the most likely token at every step.

        z_0 = START,   g_t = cell(e(z_{t-1}), g_{t-1}),   z_t = argmax_k (w_y g_t + b_y)_k

    A sequence stops at its first EOS; every later position holds ``eos`` too.

    Parameters
    ----------
    params : seq2seq parameters (the ``dec_`` cell, ``w_y``, ``b_y`` are used)
    state_0 : the decoder's initial state, ``(N, m)`` or a tuple of them
    eos : the end token, in ``0 .. q-1``
    max_len : most tokens to generate

    Returns
    -------
    tokens : (max_len, N) ints
    lengths : (N,)  tokens up to and including EOS (``max_len`` if no EOS came)
    """
    _, dec, w_y, b_y, _ = _split(cell, params)
    q = w_y.shape[0]
    eos = check_int(eos, "eos", 0, q - 1, "a class index")
    max_len = check_int(max_len, "max_len", 1, MAX_SIZE, )
    first = state_0
    while _is_state_tuple(first):  # the first part of a multi-part state (the LSTM's h) gives N
        first = first[0]
    try:
        shape = np.shape(first)
    except ValueError:  # ragged rows: reported by check_cell_state below
        shape = ()
    if state_0 is None or first is None or len(shape) != 2:
        raise ArgumentTypeError("state_0", f"state_0: expected the decoder's initial state, an (N, m) array or a tuple of "
                                           f"them, received {describe(state_0)}")
    N = shape[0]
    if N == 0:
        raise ArgumentError("state_0", f"state_0: expected at least one sequence (N >= 1), received shape {shape}")
    state_0 = check_cell_state(state_0, N, "state_0", cell=cell, width=w_y.shape[1])
    check_elements((max_len, N), "tokens (max_len, N)", "max_len")
    tokens = np.full((max_len, N), eos, dtype=np.int64)
    z, done, state = np.full(N, q, dtype=np.int64), np.zeros(N, bool), state_0
    for t in range(max_len):
        g, state, _ = cell.forward(one_hot(z, q + 1)[None], dec, state)  # one step: (1, N, q+1) -> (1, N, m)
        z = np.where(done, eos, dense_forward(g[0], w_y, b_y).argmax(axis=1))
        tokens[t] = z
        done |= z == eos
        if done.all():
            break
    has_eos = (tokens == eos).any(axis=0)
    lengths = np.where(has_eos, (tokens == eos).argmax(axis=0) + 1, max_len)
    return tokens, lengths


@overflow_is_error
def greedy_decode(cell: Cell, xs, params: Mapping, eos: int, max_len: int, lengths=None,
                  mask=None) -> tuple[np.ndarray, np.ndarray]:
    """Encode ``xs (S, N, d)`` and generate up to ``max_len`` tokens greedily; see :func:`decode_greedy`."""
    state, _ = encode(cell, xs, params, lengths, mask)
    return decode_greedy(cell, params, state, eos, max_len)
