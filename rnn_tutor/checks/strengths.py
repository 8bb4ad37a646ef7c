"""Checks for exercise 07 (strengths and shortcomings): sampling with temperature, windows.

Graded tasks of ``solutions/07_strengths_and_shortcomings_solutions.ipynb``:

* ``softmax_with_temperature(logits, temperature)`` -> ``softmax(logits / τ)`` on the last axis
* ``sample_next(probs, u)``                         -> inverse-CDF sampling: for each row, the first
  index ``j`` with ``u < p_0 + ... + p_j``
* ``sliding_windows(xs, w)``                        -> ``(T - w + 1, N, w d)`` windows, oldest input first

The references are plain NumPy, written independently of :mod:`rnn_tutor.charlm` and
:mod:`rnn_tutor.strengths`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from rnn_tutor.checks.core import Check, Mistake, register, run_check

__all__ = ["check_softmax_with_temperature", "check_sample_next", "check_sliding_windows",
           "SOFTMAX_T", "SAMPLE_NEXT", "WINDOWS"]

NOTEBOOK = "07_strengths_and_shortcomings"


# ============================================================================ task 1: temperature

def _softmax_t(logits, temperature):
    z = np.asarray(logits, dtype=float) / temperature
    z = z - z.max(axis=-1, keepdims=True)  # exp of at most 0: no overflow
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_inputs(rng: np.random.Generator) -> dict:
    N, V = int(rng.integers(2, 5)), int(rng.integers(5, 9))
    scale = np.array([400.0] + [float(rng.choice([1.0, 5.0])) for _ in range(N - 1)])[:, None]
    # Row 0 has scores in the hundreds: a naive exp overflows there (the max must be subtracted first).
    return {"logits": rng.normal(0, 1, (N, V)) * scale, "temperature": float(rng.choice([0.3, 0.5, 1.5, 2.0]))}


SOFTMAX_T = register(Check(
    notebook=NOTEBOOK, grade_id="check_softmax_with_temperature", target="softmax_with_temperature",
    forbidden=("rnn_tutor.charlm.softmax_with_temperature", "rnn_tutor.heads.softmax", "rnn_tutor.heads.log_softmax",),
    make_inputs=_softmax_inputs, reference=_softmax_t, points=2, n_cases=4, rtol=1e-7, atol=1e-12,
    mistakes=(
        Mistake("multiply the scores by the temperature? It divides them: softmax(logits / temperature).",
                lambda logits, temperature: _softmax_t(np.asarray(logits) * temperature ** 2, temperature)),
        Mistake("normalise over the last axis (one distribution per row): axis=-1, keepdims=True.",
                lambda logits, temperature: (lambda e: e / e.sum(axis=0, keepdims=True))(
                    np.exp(np.asarray(logits) / temperature - (np.asarray(logits) / temperature).max(axis=0)))),
        Mistake("forgot the temperature? softmax(logits) is the case temperature = 1.",
                lambda logits, temperature: _softmax_t(logits, 1.0)),
    ),
))


def check_softmax_with_temperature(fn: Callable, hidden: bool = False) -> int:
    """Check ``softmax_with_temperature`` (large scores included: subtract the row maximum first)."""
    return run_check(SOFTMAX_T, fn, hidden=hidden)


# ============================================================================ task 2: sampling

def _sample_next(probs, u):
    cdf = np.cumsum(np.asarray(probs, dtype=float), axis=-1)  # (N, V)
    idx = (np.asarray(u)[:, None] >= cdf).sum(axis=-1)  # how many cumulative sums u has passed
    return np.minimum(idx, cdf.shape[-1] - 1)  # guard against round-off when u is close to 1


_SAMPLE_MISTAKES = (
    Mistake("that is greedy decoding (the most likely index); sampling must use the uniform number u.",
            lambda probs, u: np.asarray(probs).argmax(axis=-1)),
    Mistake("off by one: the sample is the first index j whose cumulative sum p_0 + ... + p_j exceeds u.",
            lambda probs, u: np.minimum(_sample_next(probs, u) + 1, np.shape(probs)[-1] - 1)),
    Mistake("the cumulative sum runs along each row (axis=-1), not down the columns.",
            lambda probs, u: np.minimum((np.asarray(u)[:, None] >= np.cumsum(probs, axis=0)).sum(axis=-1),
                                        np.shape(probs)[-1] - 1)),
)


def _sample_inputs(rng: np.random.Generator) -> dict:
    """Random distributions and uniforms, redrawn until the reference and every mistake model pick
    different indices (on some row, pairwise): each wrong answer then points to one cause only."""
    for _ in range(1000):
        N, V = int(rng.integers(5, 9)), int(rng.integers(3, 7))
        inputs = {"probs": rng.dirichlet(np.ones(V), size=N), "u": rng.uniform(0, 1, N)}
        picks = [_sample_next(**inputs)] + [m.fn(**inputs) for m in _SAMPLE_MISTAKES]
        if all((a != b).any() for i, a in enumerate(picks) for b in picks[i + 1:]):
            return inputs
    raise RuntimeError("_sample_inputs: no suitable case in 1000 draws")


SAMPLE_NEXT = register(Check(
    notebook=NOTEBOOK, grade_id="check_sample_next", target="sample_next",

    make_inputs=_sample_inputs, reference=_sample_next, points=2, n_cases=4, rtol=0, atol=0,
    mistakes=_SAMPLE_MISTAKES,
))


def check_sample_next(fn: Callable, hidden: bool = False) -> int:
    """Check ``sample_next(probs, u)``: one integer index per row of ``probs``."""
    return run_check(SAMPLE_NEXT, fn, hidden=hidden)


# ============================================================================ task 3: windows

def _windows(xs, w):
    xs = np.asarray(xs, dtype=float)
    T = xs.shape[0]
    return np.stack([np.concatenate(list(xs[s:s + w]), axis=-1) for s in range(T - w + 1)])


def _window_inputs(rng: np.random.Generator) -> dict:
    T, N, d = int(rng.integers(5, 9)), int(rng.integers(2, 4)), int(rng.integers(2, 4))
    return {"xs": rng.normal(size=(T, N, d)), "w": int(rng.integers(2, 4))}


WINDOWS = register(Check(
    notebook=NOTEBOOK, grade_id="check_sliding_windows", target="sliding_windows",
    forbidden=("rnn_tutor.strengths.sliding_windows", "rnn_tutor.strengths.window_forward",),
    make_inputs=_window_inputs, reference=_windows, points=2, n_cases=3, rtol=0, atol=0,
    mistakes=(
        Mistake("the window should list its inputs oldest first: [x_{t-w+1}; ...; x_t].",
                lambda xs, w: np.stack([np.concatenate(list(np.asarray(xs)[s:s + w][::-1]), axis=-1)
                          for s in range(len(xs) - w + 1)])),
        Mistake("there are T - w + 1 complete windows (range(T - w + 1)), the last one ending at x_T.",
                lambda xs, w: _windows(xs, w)[:-1]),
        Mistake("flatten each window step by step ([x_1 features, then x_2 features, ...]), not feature by feature.",
                lambda xs, w: np.stack([np.asarray(xs)[s:s + w].transpose(1, 2, 0).reshape(np.shape(xs)[1], -1)
                                        for s in range(len(xs) - w + 1)])),
    ),
))


def check_sliding_windows(fn: Callable, hidden: bool = False) -> int:
    """Check ``sliding_windows(xs, w)``: shape ``(T - w + 1, N, w d)``, oldest input first."""
    return run_check(WINDOWS, fn, hidden=hidden)
