"""Long-lag tasks, where the answer depends on an input seen many steps earlier, and a small trainer.

Two synthetic tasks, each a generator ``(N, T, rng) -> (xs, targets)``:

* :func:`recall_task` (in the spirit of Bengio, Simard & Frasconi, 1994): the sign
  ``s = ±1`` arrives at step 1, then ``lag = T - 1`` steps of Gaussian noise follow;
  the network must output ``s`` at step ``T``.  Chance accuracy is 1/2.
* :func:`adding_problem` (Hochreiter & Schmidhuber, 1997; the variant of Le, Jaitly &
  Hinton, 2015): channel 0 holds random numbers in ``[0, 1)``, channel 1 marks one step
  in the first half and one in the second half; the target is the sum of the two
  marked numbers.  Always answering 1 gives a mean squared error of 1/6.

Both are *many-to-one*: the loss ``½ (y_T - target)²`` reads only the last output, so all
learning signal about step 1 has to travel back through the Jacobian chain
``∂h_T/∂h_1`` of :mod:`rnn_tutor.gradflow`.

:func:`train_last_step` trains a vanilla (Elman) RNN on such a task with
:func:`rnn_tutor.rnn.rnn_forward` / :func:`rnn_tutor.bptt.rnn_backward`, optionally with
gradient-norm clipping (:func:`rnn_tutor.clipping.clip_grad_norm`).
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from rnn_tutor._blas import one_blas_thread
from rnn_tutor.bptt import rnn_backward, squared_error
from rnn_tutor.clipping import clip_grad_norm, global_norm
from rnn_tutor.optim import adam_init, adam_step, sgd_step
from rnn_tutor.rnn import _rnn_forward, init_params, rnn_forward
from rnn_tutor.activations import get_activation
from rnn_tutor.validation import (MAX_ITERATIONS, MAX_SIZE, ArgumentError, ArgumentTypeError, check_array, describe, check_choice, check_elements, check_int,
                                  check_params, check_real, check_rng, check_training_step, NonFiniteError, overflow_is_error, update_overflow)

__all__ = ["recall_task", "marked_recall", "adding_problem", "TASKS", "task_accuracy", "train_last_step", "evaluate_last_step",
           "accuracy_by_lag"]


def _check_rng(rng) -> None:
    check_rng(rng)


def _check_int(value, name: str, low: int) -> int:
    return check_int(value, name, low, MAX_SIZE)


def _check_batch(N: int, T: int, channels: int) -> None:
    check_elements((T, N, channels), "inputs (T, N, d)", "N")


def recall_task(N: int, T: int, rng: np.random.Generator, noise: float = 1.0):
    """Remember a sign across ``T - 1`` steps of noise.

    ``x_1 = s`` with ``s`` drawn from ``{-1, +1}``; ``x_t ~ N(0, noise²)`` for ``t = 2 .. T``;
    target ``s``.  The lag between the signal and the answer is ``T - 1``.

    Returns
    -------
    xs : (T, N, 1)
    targets : (N, 1) of ±1
    """
    N, T = _check_int(N, "N", 1), _check_int(T, "T", 1)
    _check_rng(rng)
    _check_batch(N, T, 1)
    noise = check_real(noise, "noise", 0.0, None, what="a standard deviation")
    s = rng.choice([-1.0, 1.0], size=N)
    xs = float(noise) * rng.standard_normal((T, N, 1))
    xs[0, :, 0] = s
    return xs, s[:, None]


def marked_recall(N: int, T: int, rng: np.random.Generator, min_lag: int = 0):
    """Remember a sign that arrives at a random, *marked* step (lesson 06's long-lag task).

    Channel 0 carries noise ``N(0, 1)``; at one random step per sequence it carries the sign
    ``s`` from ``{-1, +1}`` instead, and channel 1 holds a marker 1 at that step (0 elsewhere).
    The label is ``s > 0``.  The lag between the marked step and the last step is at least
    ``min_lag``.

    Returns
    -------
    xs : (T, N, 2)
    labels : (N,) ints in {0, 1}
    lags : (N,) ints, ``T - t`` for a mark at step ``t`` (steps numbered from 1)
    """
    N, T = _check_int(N, "N", 1), _check_int(T, "T", 1)
    _check_rng(rng)
    _check_batch(N, T, 2)
    min_lag = check_int(min_lag, "min_lag", 0, T - 1, "an integer")
    xs = np.zeros((T, N, 2))
    xs[:, :, 0] = rng.standard_normal((T, N))
    s = rng.choice([-1.0, 1.0], size=N)
    when = rng.integers(0, T - min_lag, size=N)  # 0-based index of the marked step
    xs[when, np.arange(N), 0], xs[when, np.arange(N), 1] = s, 1.0
    return xs, (s > 0).astype(int), T - 1 - when


def adding_problem(N: int, T: int, rng: np.random.Generator):
    """The adding problem: output the sum of the two marked numbers.

    ``xs[:, :, 0]`` ~ U[0, 1); ``xs[:, :, 1]`` is 1 at one step in ``[1, ⌊T/2⌋]`` and one in
    ``[⌊T/2⌋ + 1, T]`` (time indices from 1), else 0.  Needs ``T >= 2``.

    Returns
    -------
    xs : (T, N, 2)
    targets : (N, 1), the sum of the two marked values, in ``[0, 2)``
    """
    N, T = _check_int(N, "N", 1), _check_int(T, "T", 2)
    _check_rng(rng)
    _check_batch(N, T, 2)
    xs = np.zeros((T, N, 2))
    xs[:, :, 0] = rng.uniform(0.0, 1.0, size=(T, N))
    half = T // 2
    first = rng.integers(0, half, size=N)  # 0-based rows of the first and second marks
    second = rng.integers(half, T, size=N)
    cols = np.arange(N)
    xs[first, cols, 1] = 1.0
    xs[second, cols, 1] = 1.0
    return xs, (xs[first, cols, 0] + xs[second, cols, 0])[:, None]


def task_accuracy(task: str, y_T, targets, tol: float = 0.04) -> float:
    """Fraction of sequences answered correctly.

    ``"recall"``: the sign of ``y_T`` equals the target.  ``"adding"``: ``|y_T - target| < tol``
    (Hochreiter & Schmidhuber's criterion, ``tol = 0.04``).  ``y_T, targets : (N, 1)``.
    """
    check_choice(task, "task", sorted(TASKS))
    tol = check_real(tol, "tol", 0.0, None, low_open=True, what="a tolerance")
    y, t = check_array(y_T, "y_T", nonempty=True), check_array(targets, "targets")
    if y.shape != t.shape:
        raise ArgumentError("targets", f"targets: expected the shape of y_T {y.shape}, received shape {t.shape}")
    if task == "recall":
        return float(np.mean(np.sign(y) == t))
    if task == "adding":
        return float(np.mean(np.abs(y - t) < tol))
    raise ArgumentError("task", f"task: expected one of {sorted(TASKS)}, received {task!r}")


TASKS: dict[str, Callable] = {"recall": recall_task, "adding": adding_problem}


def _get_task(task) -> Callable:
    check_choice(task, "task", sorted(TASKS))
    return TASKS[task]


@one_blas_thread
def train_last_step(task: str, T: int, rng: np.random.Generator, m: int | None = None, steps: int = 300,
                    batch: int = 32, lr: float = 1e-2, optimizer: str = "adam", max_norm: float | None = None,
                    params: Mapping | None = None, f: str = "tanh") -> dict:
    """Train an Elman RNN whose loss reads only the last output ``y_T``.

    Each step draws a fresh batch from the task, runs :func:`~rnn_tutor.rnn.rnn_forward`,
    takes ``L = ½ mean_n (y_T - target)²``, back-propagates with
    :func:`~rnn_tutor.bptt.rnn_backward` (``∂L/∂y_t = 0`` for ``t < T``), optionally clips
    the global gradient norm to ``max_norm`` and updates with Adam or SGD.

    Parameters
    ----------
    task : ``"recall"`` or ``"adding"``
    T : sequence length (the lag of the recall task is ``T - 1``)
    rng : numpy Generator for the initial weights (unless ``params``) and the batches
    m : hidden units (default 16).  With ``params``, ``m`` may be left out
        (``None``); if given it must equal the hidden size of ``params``.
    steps, batch, lr : number of updates, sequences per update, learning rate
    optimizer : ``"adam"`` or ``"sgd"``
    max_norm : clip the global gradient norm to this value (``None``: no clipping)
    params : initial parameters ``w_x (m, d), w_h (m, m), b_h (m,), w_y (1, m), b_y (1,)``
    f : hidden activation

    Returns
    -------
    dict with ``params`` (the final parameters), ``losses (steps,)``, ``grad_norms (steps,)``
    (global norm before clipping) and ``steps_done``.

    Raises
    ------
    FloatingPointError
        (:class:`~rnn_tutor.validation.NonFiniteError`) as soon as a loss, a gradient or a
        parameter becomes NaN or ``inf``; the message names the step and the parameter and
        suggests clipping (``max_norm``) or a smaller ``lr``.  No non-finite parameters are returned.
    """
    make = _get_task(task)
    _check_rng(rng)
    T = _check_int(T, "T", 2 if task == "adding" else 1)
    steps = check_int(steps, "steps", 1, MAX_ITERATIONS)
    batch = _check_int(batch, "batch", 1)
    if m is not None or params is None:
        m = check_int(16 if m is None else m, "m", 1, 4096)
    check_elements((T, batch, m if params is None else 1), "batch of hidden states (T, batch, m)", "batch")
    lr = check_real(lr, "lr", 0.0, None, low_open=True, what="a positive learning rate")
    check_choice(optimizer, "optimizer", ("adam", "sgd"))
    if max_norm is not None:
        max_norm = check_real(max_norm, "max_norm", 0.0, None, low_open=True, allow_inf=True,
                              what="a positive clipping threshold or None")
    f = get_activation(f, "f")
    d = 1 if task == "recall" else 2
    if params is None:
        p = init_params(d, _check_int(m, "m", 1), 1, rng)
    else:
        p = {k: v.copy() for k, v in check_params(params).items()}
        if p["w_x"].shape[1] != d or p["w_y"].shape[0] != 1:
            raise ArgumentError("params", f"params: task {task!r} needs w_x with d = {d} columns and w_y with q = 1 "
                                f"row, received w_x {p['w_x'].shape} and w_y {p['w_y'].shape}")
        if m is not None and m != p["w_h"].shape[0]:
            raise ArgumentError("m", f"m: expected None or the hidden size of params (m = {p['w_h'].shape[0]}, the "
                                     f"rows of w_h), received {m}")
    state = adam_init(p)
    losses, norms = [], []
    for step in range(steps):
        xs, targets = make(batch, T, rng)
        with np.errstate(over="ignore", invalid="ignore"):
            _, ys, cache = rnn_forward(xs, p, f=f)
            # (1, N, q) slices so that "mean" divides by the batch size N
            check_training_step(step, loss=float(np.sum(ys[-1])), lr=lr, clip=max_norm)  # NaN or inf in y_T
            loss, dy_T = squared_error(ys[-1:], targets[None], reduction="mean")
            dys = np.zeros_like(ys)
            dys[-1:] = dy_T  # the loss reads only the last step
            grads = rnn_backward(dys, cache)
        grads = {k: grads[k] for k in p}
        check_training_step(step, loss=loss, grads=grads, lr=lr, clip=max_norm)
        total = global_norm(grads)
        losses.append(loss)
        norms.append(total)
        if max_norm is not None:
            grads, _ = clip_grad_norm(grads, max_norm)
        try:
            if optimizer == "adam":
                p, state = adam_step(p, grads, state, lr=lr)
            else:
                p = sgd_step(p, grads, lr=lr)
        except NonFiniteError as exc:
            raise update_overflow(step, exc, lr, max_norm) from None
    return {"params": p, "losses": np.array(losses), "grad_norms": np.array(norms), "steps_done": len(losses)}


@overflow_is_error
def evaluate_last_step(task: str, T: int, params: Mapping, rng: np.random.Generator, N: int = 1000,
                       f: str = "tanh") -> dict:
    """Accuracy and mean squared error of ``y_T`` on ``N`` fresh sequences of the task.

    Returns
    -------
    dict with ``accuracy`` (see :func:`task_accuracy`) and ``mse = mean_n (y_T - target)²``.
    """
    make = _get_task(task)
    _check_rng(rng)
    T = _check_int(T, "T", 2 if task == "adding" else 1)
    N = _check_int(N, "N", 1)
    p = check_params(params)
    d = 1 if task == "recall" else 2
    if p["w_x"].shape[1] != d or p["w_y"].shape[0] != 1:
        raise ArgumentError("params", f"params: task {task!r} needs w_x with d = {d} columns and w_y with q = 1 "
                            f"row, received w_x {p['w_x'].shape} and w_y {p['w_y'].shape}")
    f = get_activation(f, "f")
    xs, targets = make(N, T, rng)
    _, ys, _ = _rnn_forward(xs, p, np.zeros((N, p["w_h"].shape[0])), f, get_activation("identity"))
    return {"accuracy": task_accuracy(task, ys[-1], targets), "mse": float(np.mean((ys[-1] - targets) ** 2))}


def accuracy_by_lag(lags, seeds=(0, 1), task: str = "recall", **train_kwargs) -> dict:
    """Train one RNN per (lag, seed) on the task and measure its test accuracy.

    For the recall task the sequence length is ``T = lag + 1``; for the adding problem ``T = lag``.
    ``train_kwargs`` go to :func:`train_last_step`.  Training uses ``default_rng(seed)``;
    testing uses 1000 sequences from ``default_rng(10_000 + seed)``.

    Returns
    -------
    dict ``{lag: array of accuracies, one per seed}``.
    """
    _get_task(task)
    if lags is None or isinstance(lags, (str, bytes)) or not hasattr(lags, "__iter__"):
        raise ArgumentTypeError("lags", f"lags: expected a list of positive integers, received {describe(lags)}")
    if seeds is None or isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise ArgumentTypeError("seeds", f"seeds: expected a list of integer seeds, received {describe(seeds)}")
    lags, seeds = list(lags), [check_int(s, "seeds", 0, None) for s in seeds]
    if not lags or not seeds:
        raise ArgumentError("lags" if not lags else "seeds", f"{'lags' if not lags else 'seeds'}: expected at least one value, received none")
    lags = [_check_int(lag, "lags", 2 if task == "adding" else 1) for lag in lags]
    table = {}
    for lag in lags:
        T = lag + 1 if task == "recall" else lag
        accs = []
        for seed in seeds:
            run = train_last_step(task, T, np.random.default_rng(seed), **train_kwargs)
            accs.append(evaluate_last_step(task, T, run["params"], np.random.default_rng(10_000 + seed))["accuracy"])
        table[lag] = np.array(accs)
    return table
