"""A character-level language model: the course's capstone (lesson 07).

The model reads one character at a time and predicts the next one:

    x_t = onehot(c_t)  (V,)           h_t = cell(x_t, h_{t-1})        o_t = w_y h_t + b_y  (V,)
    P(c_{t+1} = j | c_1 .. c_t) = softmax(o_t)_j
    L = -(1/TN) Σ_t Σ_n log P(c_{t+1} | c_1 .. c_t)                    (mean cross-entropy, in nats)

Any :class:`~rnn_tutor.cells.Cell` works (Elman, GRU, LSTM).  Training uses truncated BPTT
with the hidden state *carried* across windows (the practical variant of lesson 03): the
text is cut into ``N`` parallel streams, and each update reads the next ``k`` characters
of every stream.  Sampling draws from ``softmax(o_t / τ)`` with a temperature ``τ > 0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np

from rnn_tutor._blas import one_blas_thread
from rnn_tutor.cells import Cell, _unchecked, check_cell, check_cell_params
from rnn_tutor.clipping import _clip_grad_norm
from rnn_tutor.heads import (_dense_backward, _softmax_cross_entropy, check_head, dense_backward, dense_forward, init_head,
                             log_softmax, softmax_cross_entropy)
from rnn_tutor.masking import one_hot
from rnn_tutor.cells import check_cell_state
from rnn_tutor.optim import _adam_step, adam_init
from rnn_tutor.validation import (overflow_is_error, MAX_ITERATIONS, MAX_SIZE, ArgumentError, ArgumentTypeError, check_array, check_int, check_real, check_rng,
                                  check_token_ids, check_training_step, describe, check_mapping, as_float_array, NonFiniteError, update_overflow)

__all__ = ["Vocab", "load_text", "build_vocab", "make_streams", "init_charlm", "window_loss_and_grads",
           "train_charlm", "softmax_with_temperature", "sample", "unigram_entropy"]


def load_text(name: str = "sonnets.txt") -> str:
    """A text shipped in ``rnn_tutor/data`` (see its README for sources and licences)."""
    shipped = sorted(p.name for p in resources.files("rnn_tutor").joinpath("data").iterdir() if p.name.endswith(".txt"))
    if not isinstance(name, str):
        raise ArgumentTypeError("name", f"name: expected one of the shipped texts {shipped}, received {describe(name)}")
    if name not in shipped:
        raise ArgumentError("name", f"name: expected one of the shipped texts {shipped}, received {name!r}")
    return resources.files("rnn_tutor").joinpath("data", name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Vocab:
    """The characters of a text, sorted; ``encode``/``decode`` map between text and ids ``0 .. V-1``."""

    chars: tuple

    @property
    def V(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        if not isinstance(text, str):
            raise ArgumentTypeError("text", f"text: expected a str, received {describe(text)}")
        index = {c: i for i, c in enumerate(self.chars)}
        unknown = sorted(set(text) - set(index))
        if unknown:
            raise ArgumentError("text", f"text: expected only characters of the vocabulary ({self.V} characters), "
                             f"received unknown character(s) {unknown}")
        return np.array([index[c] for c in text], dtype=np.int64)

    def decode(self, ids) -> str:
        ids = check_token_ids(ids, "ids", self.V)
        return "".join(self.chars[int(i)] for i in ids.reshape(-1))


def build_vocab(text: str) -> Vocab:
    """The sorted set of characters in ``text``."""
    if not isinstance(text, str):
        raise ArgumentTypeError("text", f"text: expected a non-empty string, received {describe(text)}")
    if not text:
        raise ArgumentError("text", "text: expected a non-empty string, received ''")
    return Vocab(tuple(sorted(set(text))))


def make_streams(ids, N: int) -> np.ndarray:
    """Cut the id sequence into ``N`` contiguous streams of equal length: ``(L, N)``, ``L = len(ids) // N``.

    Stream ``n`` is ``ids[n L : (n + 1) L]``; the last ``len(ids) mod N`` ids are dropped.
    """
    ids = check_token_ids(ids, "ids", None, ndim=1, names=("L",))
    if ids.size and ids.min() < 0:
        raise ArgumentError("ids", f"ids: expected non-negative ids, received {int(ids.min())}")
    if ids.size < 2:
        raise ArgumentError("ids", f"ids: expected at least two ids (one stream of one input and one target), received {ids.size}")
    N = check_int(N, "N", 1, ids.size // 2, "a number of streams (two ids per stream)")
    L = ids.size // N
    return ids[: N * L].reshape(N, L).T.copy()  # (N, L) -> (L, N)


def _check_lm_params(cell: Cell, params, V: int, name: str = "params") -> dict:
    """The cell's parameters for ``d = V`` inputs plus ``w_y (V, m)``, ``b_y (V,)``; returns the dict."""
    _, width = check_cell_params(cell, params, name, d=V, extra=("w_y", "b_y"))
    w_y, _ = check_head(params, width, name)
    if w_y.shape[0] != V:
        raise ArgumentError(name, f"{name}['w_y']: expected V = {V} rows (one score per character), "
                                  f"received shape {w_y.shape}.")
    return {k: params[k] for k in (*cell.param_names, "w_y", "b_y")}


def init_charlm(cell: Cell, V: int, m: int, rng: np.random.Generator) -> dict:
    """Cell parameters for ``d = V`` one-hot inputs and ``m`` hidden units, plus ``w_y (V, m)``, ``b_y (V,)``."""
    cell = check_cell(cell)
    check_rng(rng)
    V, m = check_int(V, "V"), check_int(m, "m")
    cp = cell.init_params(V, m, rng)
    width = cell.check_params(cp, "params")[1] if getattr(cell, "check_params", None) else m
    return {**cp, **init_head(width, V, rng)}


@overflow_is_error
def window_loss_and_grads(cell: Cell, params: dict, window, V: int, state_0=None):
    """Loss and gradients on one window of ids ``(k + 1, N)``: inputs ``window[:-1]``, targets ``window[1:]``.

    Returns ``(L, grads, state_k)``; ``state_k`` is the state after the ``k`` inputs,
    to carry into the next window (as a constant: no gradient flows back across windows).
    """
    cell = check_cell(cell)
    V = check_int(V, "V")
    params = _check_lm_params(cell, params, V)
    window = check_token_ids(window, "window", V, ndim=2, names=("k + 1", "N"))
    if window.shape[0] < 2 or window.shape[1] < 1:
        raise ArgumentError("window", f"window: expected ids (k + 1, N) with k >= 1 and N >= 1, received shape {window.shape}")
    state_0 = check_cell_state(state_0, window.shape[1])
    cell_params = {k: params[k] for k in cell.param_names}
    xs = one_hot(window[:-1], V, "window")  # (k, N) -> (k, N, V)
    hs, state_k, cache = cell.forward(xs, cell_params, state_0)
    os_ = dense_forward(hs, params["w_y"], params["b_y"])  # (k, N, m) -> (k, N, V)
    L, dos = softmax_cross_entropy(os_, window[1:])
    dw_y, db_y, dhs = dense_backward(dos, hs, params["w_y"])
    grads, _, _ = cell.backward(dhs, cache)
    return L, {**grads, "w_y": dw_y, "b_y": db_y}, state_k


def _window_loss_and_grads(cell: Cell, params: dict, window: np.ndarray, V: int, state_0):
    """:func:`window_loss_and_grads` on checked arguments (float64 parameters, int64 ids in ``0 .. V-1``).

    ``train_charlm`` checks everything once and then calls this on every update.
    """
    forward, backward = _unchecked(cell)
    xs = np.zeros(window[:-1].shape + (V,))  # one-hot inputs: (k, N) -> (k, N, V)
    np.put_along_axis(xs, window[:-1, :, None], 1.0, axis=-1)
    hs, state_k, cache = forward(xs, {k: params[k] for k in cell.param_names}, state_0)
    os_ = hs @ params["w_y"].T + params["b_y"]  # (k, N, m) @ (m, V) -> (k, N, V)
    L, dos = _softmax_cross_entropy(os_, window[1:], np.ones(window[1:].shape), 1.0 / window[1:].size)
    dw_y, db_y, dhs = _dense_backward(dos, hs, params["w_y"])
    grads, _, _ = backward(dhs, cache)
    return L, {**grads, "w_y": dw_y, "b_y": db_y}, state_k


@one_blas_thread
def train_charlm(cell: Cell, params: dict, streams, V: int, k: int = 32, epochs: int = 1,
                 lr: float = 1e-2, clip: float = 5.0, max_updates: int | None = None):
    """Truncated BPTT with the state carried across windows, Adam and gradient-norm clipping.

    Each epoch starts from a zero state and walks through ``streams (L, N)`` in windows of
    ``k`` inputs.  Stops early after ``max_updates`` updates (``None``: no limit).  ``epochs`` and
    ``max_updates`` are at most :data:`~rnn_tutor.validation.MAX_ITERATIONS`.

    Returns ``(params, losses)`` with one loss per update.

    Raises
    ------
    FloatingPointError
        (:class:`~rnn_tutor.validation.NonFiniteError`) as soon as a loss, a gradient or a
        parameter is NaN or ``inf``, naming the update and the parameter (lower ``lr`` or ``clip``).
    """
    cell = check_cell(cell)
    V = check_int(V, "V")
    streams = check_token_ids(streams, "streams", V, ndim=2, names=("L", "N"), nonempty=True)
    k = check_int(k, "k", 1, None, "a window length")
    if k >= streams.shape[0]:
        raise ArgumentError("k", f"k: expected a window length from 1 to {streams.shape[0] - 1} (L - 1), received {k!r}.")
    epochs = check_int(epochs, "epochs", 1, MAX_ITERATIONS)
    lr = check_real(lr, "lr", 0.0, None, low_open=True, what="a positive learning rate")
    clip = check_real(clip, "clip", 0.0, None, low_open=True, allow_inf=True, what="a positive clipping threshold")
    if max_updates is not None:
        max_updates = check_int(max_updates, "max_updates", 1, MAX_ITERATIONS)
    check_mapping(params, "params", ())
    params = {k: as_float_array(v, f"params[{k!r}]") for k, v in params.items()}
    check_training_step("0 (the initial parameters)", params=params, lr=lr, clip=clip, what="update")
    params = _check_lm_params(cell, params, V)
    state_opt, losses = adam_init(params), []
    # Everything is checked: the loop calls the unchecked internals and checks only what training
    # can break (a non-finite loss or gradient here, an overflowing update in _adam_step).
    for _ in range(epochs):
        state = None
        for start in range(0, streams.shape[0] - k, k):
            update = len(losses)
            with np.errstate(over="ignore", invalid="ignore"):
                L, grads, state = _window_loss_and_grads(cell, params, streams[start:start + k + 1], V, state)
            grads = {key: grads[key] for key in params}
            check_training_step(update, loss=L, grads=grads, lr=lr, clip=clip, what="update")
            grads, _ = _clip_grad_norm(grads, clip)
            try:
                params, state_opt = _adam_step(params, grads, state_opt, lr)
            except NonFiniteError as exc:
                raise update_overflow(update, exc, lr, clip, "update") from None
            losses.append(L)
            if max_updates is not None and len(losses) >= max_updates:
                return params, np.array(losses)
    return params, np.array(losses)


def softmax_with_temperature(logits, temperature: float) -> np.ndarray:
    """``softmax(o / τ)`` along the last axis; ``τ < 1`` sharpens, ``τ > 1`` flattens the distribution.

    Raises ``ValueError`` unless ``τ > 0`` (``τ → 0`` is greedy decoding: use ``argmax`` instead).
    """
    temperature = check_real(temperature, "temperature", 0.0, None, low_open=True, what="a temperature")
    logits = check_array(logits, "logits", ndim=tuple(range(1, 33)))
    if logits.shape[-1] == 0:
        raise ArgumentError("logits", f"logits: expected at least one class on the last axis, received shape {logits.shape}")
    with np.errstate(over="ignore"):
        scaled = logits / temperature
    if not np.isfinite(scaled).all():
        raise ArgumentError("temperature", f"temperature: expected a temperature that keeps logits / τ finite, "
                                           f"received {temperature!r} (logits up to {np.abs(logits).max():.3g})")
    return np.exp(log_softmax(scaled))


def sample(cell: Cell, params: dict, vocab: Vocab, prime: str, n: int, temperature: float,
           rng: np.random.Generator) -> str:
    """Generate ``n`` characters after reading ``prime``, drawing each from ``softmax(o_t / τ)``."""
    cell = check_cell(cell)
    softmax_with_temperature(np.zeros(1), temperature)  # validate τ before any work
    check_rng(rng)
    if not isinstance(vocab, Vocab):
        raise ArgumentTypeError("vocab", f"vocab: expected a Vocab from build_vocab, received {describe(vocab)}")
    params = _check_lm_params(cell, params, vocab.V)
    if not isinstance(prime, str):
        raise ArgumentTypeError("prime", f"prime: expected a str of at least one character, received {describe(prime)}")
    if not prime:
        raise ArgumentError("prime", "prime: expected at least one character to start from, received ''")
    n = check_int(n, "n", 0, MAX_SIZE)
    if set(prime) - set(vocab.chars):
        raise ArgumentError("prime", f"prime: expected only characters of the vocabulary, received unknown "
                                     f"{sorted(set(prime) - set(vocab.chars))}")
    cell_params = {k: params[k] for k in cell.param_names}
    ids = vocab.encode(prime)
    hs, state, _ = cell.forward(one_hot(ids[:, None], vocab.V), cell_params)  # read the prime: (len, 1, V)
    h = hs[-1]
    out = []
    for _ in range(n):
        p = softmax_with_temperature(dense_forward(h, params["w_y"], params["b_y"])[0], temperature)
        nxt = int(rng.choice(vocab.V, p=p))
        out.append(nxt)
        hs, state, _ = cell.forward(one_hot(np.array([[nxt]]), vocab.V), cell_params, state)
        h = hs[-1]
    return vocab.decode(out)


def unigram_entropy(ids, V: int) -> float:
    """Cross-entropy (nats per character) of the best model that ignores context: character frequencies."""
    V = check_int(V, "V")
    ids = check_token_ids(ids, "ids", V)
    if ids.size == 0:
        raise ArgumentError("ids", "ids: expected at least one id, received an empty array")
    counts = np.bincount(ids.reshape(-1), minlength=V).astype(float)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())
