"""Truncated backpropagation through time: train on windows of k steps instead of whole sequences.

:func:`train_tbptt` implements one reading of the reference tutorial's pseudo-code ("An
Introduction to Recurrent Neural Networks and the Math That Powers Them", MachineLearningMastery.com,
the course's starting point; see the lessons' references)::

    repeat until a stopping criterion is met:          # epochs, or target_loss reached
        set h to zero
        for t = 0 ... n - k:                           # n = T, the sequence length
            forward over the k unfolded steps t+1 ... t+k
            e = y_{t+k} - p_{t+k}                      # the error at the window's last step only
            backpropagate e through the k steps and update the weights

**How "set h to zero" is read here.**  The pseudo-code zeroes h once per pass and does not say
where each window's forward pass starts.  The windows overlap (they advance one step at a time).
This module reads every window as a small *independent* sequence: its forward pass starts from
``h_t = 0`` (the state *entering* the window, in the tutorial's indexing) and recomputes
``h_{t+1} … h_{t+k}`` with the current weights.  Consequences (all tested): the prediction for
``p_{t+k}`` sees only the k inputs ``x_{t+1} … x_{t+k}``; windows may be visited in any order
(``rng`` shuffles them); and the same trained network is evaluated the same way by
:func:`predict_windows`.  The other reading carries the state forward instead: window t starts
from ``h_t``, the first state of the previous window, detached, so no input enters the running
state twice (Williams & Peng 1990, BPTT(k; 1)).  Lesson 03 writes it out with
:func:`window_loss_and_grads` and its ``h_start`` argument.

:func:`train_tbptt_carried` is the variant most code uses in practice (e.g. language models;
BPTT(k; k) in Williams & Peng's terms):
consecutive, non-overlapping windows of k steps with the loss at *every* step, and the hidden state
*carried* from the end of one window into the next as a constant ("detached": no gradient flows
back across the window boundary).  The state is reset to ``h_0`` only at the start of each epoch.

With ``k = T`` both reduce to one full-BPTT update per epoch (of the last-step loss and of the
every-step loss respectively).  Memory: full BPTT caches O(T·N·m) floats for the backward pass;
a window caches O(k·N·m) (see :func:`cache_floats`).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from rnn_tutor._blas import one_blas_thread
from rnn_tutor.activations import Activation, get_activation
from rnn_tutor.bptt import rnn_backward, squared_error
from rnn_tutor.clipping import clip_grad_norm
from rnn_tutor.optim import adam_init, adam_step, sgd_step
from rnn_tutor.rnn import rnn_forward
from rnn_tutor.validation import (overflow_is_error, MAX_ITERATIONS, PARAM_NAMES, ArgumentError, ArgumentTypeError, NonFiniteArgumentError,
                                  as_float_array, check_array, check_choice, check_int, check_params, check_real,
                                  check_cache, check_finite, check_rng, check_shape, check_training_step, describe, NonFiniteError, update_overflow)

__all__ = ["check_k", "window_starts", "window_loss_and_grads", "train_tbptt", "train_tbptt_carried",
           "predict_windows", "cache_floats"]


def check_k(k, T: int) -> int:
    """Validate the truncation length: an integer with ``1 <= k <= T``; otherwise a ``ValueError``."""
    T = check_int(T, "T")
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise ArgumentTypeError("k", f"k: expected an integer truncation length 1 <= k <= T = {T}, received {describe(k)}")
    if k < 1 or k > T:
        raise ArgumentError("k", f"k: expected a truncation length from 1 to the sequence length T = {T}, received {int(k)}.")
    return int(k)


def window_starts(T: int, k: int) -> range:
    """The tutorial's window starts ``t = 0 … T - k``: window t covers steps ``t+1 … t+k``."""
    T = check_int(T, "T")
    return range(0, T - check_k(k, T) + 1)


def _check_data(xs, ps, params):
    p = check_params(params, finite=False)
    xs = check_array(xs, "xs", ndim=3, names=("T", "N", "d"), nonempty=True, finite=False,
                     hint="Use rnn_tutor.rnn.as_sequence for a plain list of numbers.")
    check_finite(xs, "xs")
    check_shape(xs, (None, None, p["w_x"].shape[1]), "xs", "The last axis holds the d inputs that w_x expects.")
    ps = as_float_array(ps, "ps")
    check_shape(ps, (*xs.shape[:2], p["w_y"].shape[0]), "ps", "ps[t-1] holds the target p_t for the output y_t.")
    check_array(ps, "ps")
    bad = [key for key, value in p.items() if not np.isfinite(value).all()]
    if bad:
        raise NonFiniteArgumentError("params", f"params: expected finite initial parameters, received NaN or inf in {bad}")
    return xs, ps, p


def _check_training(lr, epochs, optimizer, clip, target_loss):
    lr = check_real(lr, "lr", 0.0, None, low_open=True, what="a positive learning rate")
    epochs = check_int(epochs, "epochs", 1, MAX_ITERATIONS)
    check_choice(optimizer, "optimizer", ("sgd", "adam"))
    if clip is not None:
        clip = check_real(clip, "clip", 0.0, None, low_open=True, allow_inf=True,
                          what="None or a positive maximum gradient norm")
    if target_loss is not None:
        target_loss = check_real(target_loss, "target_loss", 0.0, None, allow_inf=True, what="None or a number >= 0")
    return lr, epochs, clip, target_loss


@overflow_is_error
def window_loss_and_grads(xs_window, ps_window, params: Mapping, f: str | Activation = "tanh",
                          g: str | Activation = "identity", h_start=None, loss_at: str = "last"):
    """Forward over one window, then backpropagate through its k unfolded steps.

    Parameters
    ----------
    xs_window : (k, N, d) inputs ``x_{t+1} … x_{t+k}``
    ps_window : (k, N, q) targets ``p_{t+1} … p_{t+k}``
    params : parameter dict; f, g : activations
    h_start : (N, m) state entering the window (zeros by default: the tutorial's "set h to zero")
    loss_at : ``"last"`` (``L = ½‖e‖²`` with ``e = y_{t+k} - p_{t+k}``) or ``"all"`` (sum over the k steps)

    Returns
    -------
    loss : float, averaged over the N sequences
    grads : dict of parameter gradients (plus ``h_0`` and ``xs``, as from :func:`rnn_backward`)
    cache : the forward cache (its last state ``cache["hs"][-1]`` is what a carried variant hands on)
    """
    check_choice(loss_at, "loss_at", ("last", "all"))
    p = check_params(params)
    xs_window = check_array(xs_window, "xs_window", ndim=3, names=("k", "N", "d"), nonempty=True)
    check_shape(xs_window, (None, None, p["w_x"].shape[1]), "xs_window", "The last axis holds the d inputs that w_x expects.")
    if h_start is not None:
        h_start = check_array(h_start, "h_start", shape=(xs_window.shape[1], p["w_h"].shape[0]), names=("N", "m"))
    _, ys, cache = rnn_forward(xs_window, p, h_0=h_start, f=f, g=g)
    ps_window = as_float_array(ps_window, "ps_window")
    check_shape(ps_window, ys.shape, "ps_window", "ps_window holds the targets p_t for the outputs y_t of the window.",
                ("k", "N", "q"))
    check_array(ps_window, "ps_window")
    if loss_at == "last":
        loss, dy = squared_error(ys[-1:], ps_window[-1:], reduction="mean")  # e = y_{t+k} - p_{t+k}
        dys = np.zeros_like(ys)
        dys[-1:] = dy
    elif loss_at == "all":
        loss, dys = squared_error(ys, ps_window, reduction="mean")
    else:
        raise ArgumentError("loss_at", f"loss_at: expected 'last' or 'all', received {loss_at!r}")
    return loss, rnn_backward(dys, cache), cache


def _update(params, grads, state, lr, optimizer, clip, where):
    grads = {name: grads[name] for name in PARAM_NAMES}
    check_training_step(where, grads=grads, lr=lr, clip=clip, what="")
    if clip is not None:
        grads, _ = clip_grad_norm(grads, clip)
    try:
        if optimizer == "adam":
            new, state = adam_step(params, grads, state, lr=lr)
        else:
            new = sgd_step(params, grads, lr)
    except NonFiniteError as exc:
        raise update_overflow(where, exc, lr, clip, "") from None
    check_training_step(where, params=new, lr=lr, clip=clip, what="")
    return new, state


@one_blas_thread
def train_tbptt(xs, ps, params: Mapping, k: int, lr: float = 0.05, epochs: int = 20,
                f: str | Activation = "tanh", g: str | Activation = "identity", optimizer: str = "sgd",
                clip: float | None = None, target_loss: float | None = None,
                rng: np.random.Generator | None = None) -> tuple[dict, np.ndarray]:
    """Truncated BPTT in the tutorial's loop, every window started from zero (see the module docstring).

    For every window start ``t = 0 … T-k``: run the k steps ``t+1 … t+k`` from ``h = 0``, take the
    error at the last step, ``e = y_{t+k} - p_{t+k}``, backpropagate it through the k steps and update.

    Parameters
    ----------
    xs : (T, N, d) inputs;  ps : (T, N, q) targets, ``ps[t-1]`` is ``p_t`` (the target for ``y_t``)
    params : initial parameters (not modified)
    k : truncation length, ``1 <= k <= T``
    lr, optimizer : learning rate and ``"sgd"`` (the tutorial's update) or ``"adam"``
    epochs : the stopping criterion: at most this many passes over the windows ...
    target_loss : ... or stop after the first epoch whose mean window loss is below this
    clip : optional maximum global gradient norm (:func:`rnn_tutor.clipping.clip_grad_norm`)
    rng : optional Generator; if given, the windows are visited in a new random order each epoch

    Returns
    -------
    params : dict, the trained parameters
    history : (epochs_run,) array, the mean window loss ``½‖e‖²`` (averaged over N) of each epoch,
        computed during the pass with the parameters of the moment

    Raises
    ------
    ValueError  for bad arguments (e.g. k < 1 or k > T)
    FloatingPointError  as soon as a loss, gradient or parameter becomes NaN or inf
    """
    xs, ps, p = _check_data(xs, ps, params)
    f, g = get_activation(f, "f"), get_activation(g, "g")
    starts = window_starts(xs.shape[0], k)
    lr, epochs, clip, target_loss = _check_training(lr, epochs, optimizer, clip, target_loss)
    check_rng(rng, allow_none=True)
    state = adam_init(p) if optimizer == "adam" else None
    history = []
    with np.errstate(over="ignore", invalid="ignore"):  # non-finite values are caught and reported below
        for epoch in range(1, epochs + 1):
            order = list(starts) if rng is None else [int(i) for i in rng.permutation(len(starts))]
            losses = []
            for t in order:
                where = f"epoch {epoch}, window t = {t} (steps {t + 1}..{t + k})"
                loss, grads, _ = window_loss_and_grads(xs[t:t + k], ps[t:t + k], p, f, g, loss_at="last")
                check_training_step(where, loss=loss, lr=lr, clip=clip, what="")
                losses.append(loss)
                p, state = _update(p, grads, state, lr, optimizer, clip, where)
            history.append(float(np.mean(losses)))
            if target_loss is not None and history[-1] < target_loss:
                break
    return p, np.array(history)


@one_blas_thread
def train_tbptt_carried(xs, ps, params: Mapping, k: int, lr: float = 0.05, epochs: int = 20,
                        f: str | Activation = "tanh", g: str | Activation = "identity", optimizer: str = "sgd",
                        clip: float | None = None, target_loss: float | None = None,
                        h_0=None) -> tuple[dict, np.ndarray]:
    """Truncated BPTT with the hidden state carried (detached) across consecutive windows.

    The sequence is cut into windows ``1…k, k+1…2k, …`` (the last one shorter when k does not
    divide T).  Each window starts from the previous window's final state, treated as a constant,
    the loss sums ``½‖y_t - p_t‖²`` over *all* its steps (averaged over N), and one update follows.
    Each epoch starts again from ``h_0`` (zeros by default).  Arguments as in :func:`train_tbptt`;
    ``history`` holds the loss per step averaged over each epoch.
    """
    xs, ps, p = _check_data(xs, ps, params)
    f, g = get_activation(f, "f"), get_activation(g, "g")
    T, N = xs.shape[:2]
    k = check_k(k, T)
    lr, epochs, clip, target_loss = _check_training(lr, epochs, optimizer, clip, target_loss)
    m = p["w_h"].shape[0]
    h_0 = np.zeros((N, m)) if h_0 is None else check_array(h_0, "h_0", shape=(N, m), names=("N", "m"))
    state = adam_init(p) if optimizer == "adam" else None
    history = []
    with np.errstate(over="ignore", invalid="ignore"):
        for epoch in range(1, epochs + 1):
            h, total = h_0, 0.0
            for t in range(0, T, k):
                where = f"epoch {epoch}, window t = {t} (steps {t + 1}..{min(t + k, T)})"
                loss, grads, cache = window_loss_and_grads(xs[t:t + k], ps[t:t + k], p, f, g, h_start=h, loss_at="all")
                check_training_step(where, loss=loss, lr=lr, clip=clip, what="")
                total += loss
                h = cache["hs"][-1].copy()  # carried forward as a constant: no gradient crosses the boundary
                p, state = _update(p, grads, state, lr, optimizer, clip, where)
            history.append(total / T)
            if target_loss is not None and history[-1] < target_loss:
                break
    return p, np.array(history)


def predict_windows(xs, params: Mapping, k: int, f: str | Activation = "tanh",
                    g: str | Activation = "identity") -> np.ndarray:
    """Predictions of a network trained by :func:`train_tbptt`, made the way it was trained.

    Window t (``t = 0 … T-k``) runs steps ``t+1 … t+k`` from ``h = 0`` and predicts ``y_{t+k}``.
    All windows run at once as one batch of ``(T-k+1) · N`` sequences.

    Returns
    -------
    (T - k + 1, N, q) array; row t is the prediction for ``p_{t+k}`` (compare with ``ps[k-1:]``).
    """
    p = check_params(params)
    xs = check_array(xs, "xs", ndim=3, names=("T", "N", "d"), nonempty=True)
    check_shape(xs, (None, None, p["w_x"].shape[1]), "xs", "The last axis holds the d inputs that w_x expects.")
    T, N, d = xs.shape
    k = check_k(k, T)
    W = len(window_starts(T, k))
    stacked = np.stack([xs[t:t + k] for t in range(W)], axis=1)  # (k, W, N, d)
    _, ys, _ = rnn_forward(stacked.reshape(k, W * N, d), p, f=f, g=g)
    return ys[-1].reshape(W, N, -1)


def cache_floats(cache: Mapping) -> int:
    """Number of floats a forward cache keeps for the backward pass (its arrays, without the parameters).

    For :func:`rnn_tutor.rnn.rnn_forward` over T steps this is ``T·N·(d + 2m + q) + N·m``
    (``xs``, ``as_``, ``hs``, ``os`` and ``h_0``): linear in T for full BPTT, in k for a window.
    """
    check_cache(cache, "rnn_forward", ("xs", "hs"))
    return int(sum(v.size for key, v in cache.items() if isinstance(v, np.ndarray) and key != "params"))
