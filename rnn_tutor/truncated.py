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
from rnn_tutor.validation import PARAM_NAMES, as_float_array, check_params, check_shape

__all__ = ["check_k", "window_starts", "window_loss_and_grads", "train_tbptt", "train_tbptt_carried",
           "predict_windows", "cache_floats"]


def check_k(k, T: int) -> int:
    """Validate the truncation length: an integer with ``1 <= k <= T``; otherwise a ``ValueError``."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"k: expected an integer truncation length 1 <= k <= T = {T}, received {k!r}")
    if k < 1:
        raise ValueError(f"k: the truncation length must be at least 1, received k = {k}")
    if k > T:
        raise ValueError(f"k: the truncation length cannot exceed the sequence length T = {T}, received k = {k}")
    return int(k)


def window_starts(T: int, k: int) -> range:
    """The tutorial's window starts ``t = 0 … T - k``: window t covers steps ``t+1 … t+k``."""
    return range(0, T - check_k(k, T) + 1)


def _check_data(xs, ps, params):
    p = check_params(params)
    xs = as_float_array(xs, "xs")
    if xs.ndim != 3:
        raise ValueError(f"xs: expected a 3-D array (T, N, d), received shape {xs.shape}; "
                         "use rnn_tutor.rnn.as_sequence for a plain list of numbers")
    if xs.shape[0] == 0:
        raise ValueError("xs: expected at least one time step (T >= 1), received an empty sequence (T = 0)")
    check_shape(xs, (None, None, p["w_x"].shape[1]), "xs", "The last axis holds the d inputs that w_x expects.")
    ps = as_float_array(ps, "ps")
    check_shape(ps, (*xs.shape[:2], p["w_y"].shape[0]), "ps", "ps[t-1] holds the target p_t for the output y_t.")
    if not (np.isfinite(xs).all() and np.isfinite(ps).all()):
        raise ValueError("xs, ps: expected finite numbers, received NaN or inf in the data")
    bad = [key for key, value in p.items() if not np.isfinite(value).all()]
    if bad:
        raise ValueError(f"params: expected finite initial parameters, received NaN or inf in {bad}")
    return xs, ps, p


def _check_training(lr, epochs, optimizer, clip, target_loss):
    if not (isinstance(lr, (int, float, np.floating)) and np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr: expected a positive learning rate, received {lr!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs: expected a positive integer (the maximum number of passes), received {epochs!r}")
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer: expected 'sgd' or 'adam', received {optimizer!r}")
    if clip is not None and not (isinstance(clip, (int, float, np.floating)) and clip > 0):
        raise ValueError(f"clip: expected None or a positive maximum gradient norm, received {clip!r}")
    if target_loss is not None and not (isinstance(target_loss, (int, float, np.floating)) and target_loss >= 0):
        raise ValueError(f"target_loss: expected None or a number >= 0, received {target_loss!r}")


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
    _, ys, cache = rnn_forward(xs_window, params, h_0=h_start, f=f, g=g)
    if loss_at == "last":
        loss, dy = squared_error(ys[-1:], ps_window[-1:], reduction="mean")  # e = y_{t+k} - p_{t+k}
        dys = np.zeros_like(ys)
        dys[-1:] = dy
    elif loss_at == "all":
        loss, dys = squared_error(ys, ps_window, reduction="mean")
    else:
        raise ValueError(f"loss_at: expected 'last' or 'all', received {loss_at!r}")
    return loss, rnn_backward(dys, cache), cache


def _nonfinite(where: str, lr: float, clip) -> FloatingPointError:
    advice = "gradient clipping (e.g. clip=1.0)" if clip is None else f"a smaller clip than {clip}"
    return FloatingPointError(f"training diverged at {where}: the loss, a gradient or a parameter is NaN or inf. "
                              f"Try {advice} or a smaller learning rate than lr = {lr}.")


def _all_finite(arrays) -> bool:
    """True if no array holds NaN or inf (one reduction per array: NaN and inf survive a sum)."""
    return bool(np.isfinite(sum(float(np.sum(v)) for v in arrays)))


def _update(params, grads, state, lr, optimizer, clip, where):
    grads = {name: grads[name] for name in PARAM_NAMES}
    if not _all_finite(grads.values()):
        raise _nonfinite(where, lr, clip)
    if clip is not None:
        grads, _ = clip_grad_norm(grads, clip)
    if optimizer == "adam":
        new, state = adam_step(params, grads, state, lr=lr)
    else:
        new = sgd_step(params, grads, lr)
    if not _all_finite(new.values()):
        raise _nonfinite(where, lr, clip)
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
    _check_training(lr, epochs, optimizer, clip, target_loss)
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected None or a numpy.random.Generator, received {type(rng).__name__}")
    state = adam_init(p) if optimizer == "adam" else None
    history = []
    with np.errstate(over="ignore", invalid="ignore"):  # non-finite values are caught and reported below
        for epoch in range(1, epochs + 1):
            order = list(starts) if rng is None else [int(i) for i in rng.permutation(len(starts))]
            losses = []
            for t in order:
                where = f"epoch {epoch}, window t = {t} (steps {t + 1}..{t + k})"
                loss, grads, _ = window_loss_and_grads(xs[t:t + k], ps[t:t + k], p, f, g, loss_at="last")
                if not np.isfinite(loss):
                    raise _nonfinite(where, lr, clip)
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
    _check_training(lr, epochs, optimizer, clip, target_loss)
    m = p["w_h"].shape[0]
    h_0 = np.zeros((N, m)) if h_0 is None else as_float_array(h_0, "h_0")
    check_shape(h_0, (N, m), "h_0")
    state = adam_init(p) if optimizer == "adam" else None
    history = []
    with np.errstate(over="ignore", invalid="ignore"):
        for epoch in range(1, epochs + 1):
            h, total = h_0, 0.0
            for t in range(0, T, k):
                where = f"epoch {epoch}, window t = {t} (steps {t + 1}..{min(t + k, T)})"
                loss, grads, cache = window_loss_and_grads(xs[t:t + k], ps[t:t + k], p, f, g, h_start=h, loss_at="all")
                if not np.isfinite(loss):
                    raise _nonfinite(where, lr, clip)
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
    xs = as_float_array(xs, "xs")
    if xs.ndim != 3:
        raise ValueError(f"xs: expected a 3-D array (T, N, d), received shape {xs.shape}")
    T, N, d = xs.shape
    W = len(window_starts(T, k))
    stacked = np.stack([xs[t:t + k] for t in range(W)], axis=1)  # (k, W, N, d)
    _, ys, _ = rnn_forward(stacked.reshape(k, W * N, d), p, f=f, g=g)
    return ys[-1].reshape(W, N, -1)


def cache_floats(cache: Mapping) -> int:
    """Number of floats a forward cache keeps for the backward pass (its arrays, without the parameters).

    For :func:`rnn_tutor.rnn.rnn_forward` over T steps this is ``T·N·(d + 2m + q) + N·m``
    (``xs``, ``as_``, ``hs``, ``os`` and ``h_0``): linear in T for full BPTT, in k for a window.
    """
    if not isinstance(cache, Mapping):
        raise ValueError(f"cache: expected the dict returned by rnn_forward, received {type(cache).__name__}")
    return int(sum(v.size for key, v in cache.items() if isinstance(v, np.ndarray) and key != "params"))
