"""Checks for exercise 01 (unfolding in time): the step, the unrolled forward pass, parameter sharing.

Graded tasks of ``solutions/01_unfolding_solutions.ipynb`` (row-vector batches, see :mod:`rnn_tutor`):

* ``rnn_step(x_t, h_prev, w_x, w_h, b_h)``  ->  ``h_t = tanh(w_x x_t + w_h h_prev + b_h)``, shape (N, m)
* ``rnn_forward(xs, params, h_0)``          ->  ``(hs, ys)``, shapes (T, N, m) and (T, N, q), ``y_t = w_y h_t + b_y``
* ``n_params(d, m, q, T)``                  ->  the number of trainable scalars (it does not depend on T)
* ``final_states(xs, lengths, params)``     ->  (N, m): ``h_{T_n}`` of each sequence of a zero-padded batch

The references below are plain NumPy, written independently of :mod:`rnn_tutor.rnn`.
Every ``make_inputs`` draws sizes with ``d != m`` and non-zero ``h_0`` where that
matters, so that a missing transpose or a forgotten initial state cannot pass by luck.
"""

from __future__ import annotations

import numbers
from typing import Callable

import numpy as np

from rnn_tutor.checks.core import Check, mistakes, register, run_check_with_hint

__all__ = ["check_rnn_step", "check_rnn_forward", "check_n_params", "check_final_states",
           "RNN_STEP", "RNN_FORWARD", "N_PARAMS", "FINAL_STATES"]

NOTEBOOK = "01_unfolding"


def _sizes(rng: np.random.Generator) -> tuple[int, int, int, int]:
    """Random (N, d, m, q) with N, d, q all != m, so a wrong transpose changes the shape or the values."""
    m = int(rng.integers(3, 6))
    N = int(rng.choice([v for v in range(2, 6) if v != m]))
    d = int(rng.choice([v for v in range(1, 6) if v != m]))
    q = int(rng.choice([v for v in range(1, 5) if v != m]))
    return N, d, m, q


def _params(rng: np.random.Generator, d: int, m: int, q: int) -> dict:
    return {"w_x": rng.normal(0, 0.8, (m, d)), "w_h": rng.normal(0, 0.6, (m, m)), "b_h": rng.normal(0, 0.5, m),
            "w_y": rng.normal(0, 0.8, (q, m)), "b_y": rng.normal(0, 0.5, q)}


_MATMUL_HINT = ("\n  likely cause: a matrix product with mismatched shapes. States and inputs are rows, so "
                "w_x x_t is x_t @ w_x.T  [(N, d) @ (d, m) -> (N, m)] and w_h h_prev is h_prev @ w_h.T  "
                "[(N, m) @ (m, m) -> (N, m)].")


def _checked(check: Check, fn: Callable, hidden: bool) -> int:
    return run_check_with_hint(check, fn, hidden, _MATMUL_HINT)


# ============================================================================ task 1: the step

def step_reference(x_t, h_prev, w_x, w_h, b_h):
    """``h_t = tanh(w_x x_t + w_h h_prev + b_h)`` on rows: (N, d) @ (d, m) + (N, m) @ (m, m) + (m,) -> (N, m)."""
    return np.tanh(x_t @ w_x.T + h_prev @ w_h.T + b_h)


def _step_inputs(rng: np.random.Generator) -> dict:
    while True:  # pre-activations of both signs, so that ReLU, identity and tanh all differ
        N, d, m, _ = _sizes(rng)
        p = _params(rng, d, m, 1)
        inputs = {"x_t": rng.normal(size=(N, d)), "h_prev": rng.uniform(-0.9, 0.9, (N, m)),
                  "w_x": p["w_x"], "w_h": p["w_h"], "b_h": p["b_h"]}
        a_t = inputs["x_t"] @ p["w_x"].T + inputs["h_prev"] @ p["w_h"].T + p["b_h"]
        if (a_t < -0.05).any() and (a_t > 0.05).any():
            return inputs


RNN_STEP = register(Check(
    notebook=NOTEBOOK, grade_id="check_rnn_step", target="rnn_step",
    forbidden=("rnn_tutor.rnn.rnn_step", "rnn_tutor.rnn.rnn_forward",), points=2,
    make_inputs=_step_inputs, reference=step_reference,
    mistakes=mistakes(("did you add b_h? The pre-activation is w_x x_t + w_h h_prev + b_h.",
         lambda x_t, h_prev, w_x, w_h, b_h: np.tanh(x_t @ w_x.T + h_prev @ w_h.T)),
        ("w_h is applied the wrong way round: with states stored as rows, w_h h_prev is "
         "h_prev @ w_h.T (you computed h_prev @ w_h, i.e. used w_h transposed).",
         lambda x_t, h_prev, w_x, w_h, b_h: np.tanh(x_t @ w_x.T + h_prev @ w_h + b_h)),
        ("the state does not use h_prev: the recurrence term w_h h_prev is missing.",
         lambda x_t, h_prev, w_x, w_h, b_h: np.tanh(x_t @ w_x.T + b_h)),
        ("you returned h_prev unchanged: compute and return the new state h_t.",
         lambda x_t, h_prev, w_x, w_h, b_h: h_prev),
        ("the activation is missing: apply f = tanh to the pre-activation.",
         lambda x_t, h_prev, w_x, w_h, b_h: x_t @ w_x.T + h_prev @ w_h.T + b_h),
        ("wrong activation: this task uses f = tanh, you seem to have used the sigmoid.",
         lambda x_t, h_prev, w_x, w_h, b_h: 1 / (1 + np.exp(-(x_t @ w_x.T + h_prev @ w_h.T + b_h)))),
        ("wrong activation: this task uses f = tanh, you seem to have used ReLU.",
         lambda x_t, h_prev, w_x, w_h, b_h: np.maximum(x_t @ w_x.T + h_prev @ w_h.T + b_h, 0)),
        ("tanh must wrap the whole sum w_x x_t + w_h h_prev + b_h, not only the input term.",
         lambda x_t, h_prev, w_x, w_h, b_h: np.tanh(x_t @ w_x.T) + h_prev @ w_h.T + b_h),
    ),
))


def check_rnn_step(fn: Callable, hidden: bool = False) -> int:
    """Check your ``rnn_step(x_t, h_prev, w_x, w_h, b_h)`` against the reference (``hidden=True``: fresh random cases)."""
    return _checked(RNN_STEP, fn, hidden)


# ============================================================================ task 2: unrolling

def forward_reference(xs, params, h_0):
    """Unroll from ``h_0``: ``h_t = tanh(w_x x_t + w_h h_{t-1} + b_h)``, ``y_t = w_y h_t + b_y``.

    xs (T, N, d), h_0 (N, m)  ->  hs (T, N, m), ys (T, N, q)
    """
    hs = np.empty((xs.shape[0], *h_0.shape))
    h = h_0
    for t in range(xs.shape[0]):
        h = hs[t] = step_reference(xs[t], h, params["w_x"], params["w_h"], params["b_h"])
    ys = hs @ params["w_y"].T + params["b_y"]  # (T, N, m) @ (m, q) -> (T, N, q)
    return hs, ys


def _forward_inputs(rng: np.random.Generator) -> dict:
    N, d, m, q = _sizes(rng)
    T = int(rng.integers(1, 7)) if rng.random() < 0.2 else int(rng.integers(3, 8))
    return {"xs": rng.normal(size=(T, N, d)), "params": _params(rng, d, m, q),
            "h_0": rng.uniform(-0.9, 0.9, (N, m))}


def _forward_with_states(xs, params, h_0, make_hs):
    hs = make_hs(xs, params, h_0)
    return hs, hs @ params["w_y"].T + params["b_y"]


def _from_zero(xs, params, h_0):
    return forward_reference(xs, params, np.zeros_like(h_0))


def _shifted(xs, params, h_0):  # stored h_prev instead of h_t: hs[t] = h_{t-1}
    hs, _ = forward_reference(xs, params, h_0)
    hs = np.concatenate([h_0[None], hs[:-1]])
    return hs, hs @ params["w_y"].T + params["b_y"]


def _reset_each_step(xs, params, h_0):  # every step starts again from h_0
    return _forward_with_states(xs, params, h_0, lambda xs, p, h_0: np.stack(
        [step_reference(x_t, h_0, p["w_x"], p["w_h"], p["b_h"]) for x_t in xs]))


def _all_last(xs, params, h_0):  # every slot holds the final state (a list of one array updated in place)
    hs, _ = forward_reference(xs, params, h_0)
    hs = np.broadcast_to(hs[-1], hs.shape).copy()
    return hs, hs @ params["w_y"].T + params["b_y"]


RNN_FORWARD = register(Check(
    notebook=NOTEBOOK, grade_id="check_rnn_forward", target="rnn_forward",
    forbidden=("rnn_tutor.rnn.rnn_step", "rnn_tutor.rnn.rnn_forward",), points=3,
    make_inputs=_forward_inputs, reference=forward_reference, output_names=("hs", "ys"),
    mistakes=mistakes(("the first step must start from the h_0 you are given, not from zeros.", _from_zero),
        ("hs[t] holds h_{t-1}: store the new state h_t returned by the step, not the one you passed in "
         "(hs has T entries, h_1 ... h_T; h_0 is not one of them).", _shifted),
        ("each step must receive the previous step's state: pass h_{t-1}, not h_0, to every step.",
         _reset_each_step),
        ("every entry of hs equals the final state: store a new array at each step "
         "(updating one array in place, then appending it, stores the same object T times).", _all_last),
        ("did you add b_y? y_t = w_y h_t + b_y.",
         lambda xs, params, h_0: (forward_reference(xs, params, h_0)[0],
                                  forward_reference(xs, params, h_0)[0] @ params["w_y"].T)),
        ("the output layer has no activation in this exercise (g = identity): y_t = w_y h_t + b_y.",
         lambda xs, params, h_0: (forward_reference(xs, params, h_0)[0],
                                  np.tanh(forward_reference(xs, params, h_0)[1]))),
    ),
))


def check_rnn_forward(fn: Callable, hidden: bool = False) -> int:
    """Check your ``rnn_forward(xs, params, h_0) -> (hs, ys)`` (``hidden=True``: fresh random cases)."""
    return _checked(RNN_FORWARD, fn, hidden)


# ============================================================================ task 3: parameter sharing

def n_params_reference(d, m, q, T):
    """``m d + m m + m + q m + q`` trainable scalars: the same weights serve every step, so T does not appear."""
    return m * d + m * m + m + q * m + q


def _n_params_counts(d, m, q, T) -> list[int]:
    """The right count and the count of every mistake model below, in order."""
    recurrent, output = m * d + m * m + m, q * m + q
    return [recurrent + output, T * (recurrent + output), T * recurrent + output,
            m * d + m * m + q * m, m * d + m + m + output, recurrent]


def _n_params_inputs(rng: np.random.Generator) -> dict:
    while True:  # sizes for which the right count and every mistake give different numbers
        sizes = {"d": int(rng.integers(1, 40)), "m": int(rng.integers(2, 200)), "q": int(rng.integers(1, 30)),
                 "T": int(rng.integers(2, 500))}
        counts = _n_params_counts(**sizes)
        if len(set(counts)) == len(counts):
            return sizes


def _compare_count(received, expected, inputs) -> list[str]:
    ok_type = isinstance(received, numbers.Integral) or (
        isinstance(received, (float, np.floating)) and float(received).is_integer())
    if isinstance(received, (bool, np.bool_)) or not ok_type:
        return [f"n_params: expected a whole number (an int), received {received!r} ({type(received).__name__})"]
    if int(received) != expected:
        return [f"n_params: expected {expected} for d={inputs['d']}, m={inputs['m']}, q={inputs['q']}, "
                f"T={inputs['T']}, received {int(received)} (off by {int(received) - expected:+d})"]
    return []


N_PARAMS = register(Check(
    notebook=NOTEBOOK, grade_id="check_n_params", target="n_params", points=1,
    forbidden=("rnn_tutor.rnn.count_params", "rnn_tutor.rnn.init_params", "rnn_tutor.heads.init_head"),
    make_inputs=_n_params_inputs, reference=n_params_reference, compare=_compare_count, rtol=0.0, atol=0.0, n_cases=4,
    mistakes=mistakes(("you multiplied by T: the unfolded network reuses the same w_x, w_h, b_h, w_y, b_y at every "
         "step, so a longer sequence adds no parameters.",
         lambda d, m, q, T: T * n_params_reference(d, m, q, T)),
        ("only the output layer is shared in your count: w_x, w_h and b_h are also the same at every "
         "step, so they are counted once.",
         lambda d, m, q, T: T * (m * d + m * m + m) + q * m + q),
        ("did you count the biases b_h (m values) and b_y (q values)?",
         lambda d, m, q, T: m * d + m * m + q * m),
        ("w_h connects every hidden unit to every hidden unit: it has m * m entries, not m.",
         lambda d, m, q, T: m * d + m + m + q * m + q),
        ("did you count the output layer w_y (q x m) and b_y (q)?",
         lambda d, m, q, T: m * d + m * m + m),
    ),
))


def check_n_params(fn: Callable, hidden: bool = False) -> int:
    """Check your ``n_params(d, m, q, T)`` (``hidden=True``: fresh random sizes)."""
    return _checked(N_PARAMS, fn, hidden)


# ============================================================================ task 4: different lengths

def final_states_reference(xs, lengths, params):
    """``h_{T_n}`` of every sequence n of a zero-padded batch, each run alone from ``h_0 = 0``.

    xs (T_max, N, d) with sequence n in ``xs[:lengths[n], n]``; lengths (N,) ints in 1..T_max  ->  (N, m)
    """
    m = params["w_h"].shape[0]
    out = np.empty((xs.shape[1], m))
    for n, T_n in enumerate(np.asarray(lengths, dtype=int)):
        h = np.zeros((1, m))
        for t in range(T_n):
            h = step_reference(xs[t, n:n + 1], h, params["w_x"], params["w_h"], params["b_h"])
        out[n] = h[0]
    return out


def _final_inputs(rng: np.random.Generator) -> dict:
    N, d, m, q = _sizes(rng)
    N = max(N, 3)
    T_max = int(rng.integers(4, 9))
    lengths = rng.integers(1, T_max + 1, size=N)
    longest, short = rng.permutation(N)[:2]
    lengths[longest] = T_max  # the longest sequence fills the array
    lengths[short] = int(rng.integers(1, T_max - 1))  # and one ends at least 2 steps earlier
    xs = rng.normal(size=(T_max, N, d))
    for n, T_n in enumerate(lengths):
        xs[T_n:, n] = 0.0  # zero padding after the end of each sequence
    return {"xs": xs, "lengths": lengths, "params": _params(rng, d, m, q)}


def _padded_run(xs, lengths, params):
    return forward_reference(xs, params, np.zeros((xs.shape[1], params["w_h"].shape[0])))[0]


def _carry_over(xs, lengths, params):  # one sequence's final state becomes the next one's h_0
    m = params["w_h"].shape[0]
    out, h = np.empty((xs.shape[1], m)), np.zeros((1, m))
    for n, T_n in enumerate(lengths):
        for t in range(T_n):
            h = step_reference(xs[t, n:n + 1], h, params["w_x"], params["w_h"], params["b_h"])
        out[n] = h[0]
    return out


FINAL_STATES = register(Check(
    notebook=NOTEBOOK, grade_id="check_final_states", target="final_states",
    forbidden=("rnn_tutor.rnn.rnn_step", "rnn_tutor.rnn.rnn_forward", "rnn_tutor.masking.last_valid", "rnn_tutor.masking.masked_cell_forward",), points=2,
    make_inputs=_final_inputs, reference=final_states_reference,
    mistakes=mistakes(("the padding is being processed: a zero input still changes h (through w_h h and b_h), so "
         "stop each sequence at its own length, hs[lengths[n] - 1].",
         lambda xs, lengths, params: _padded_run(xs, lengths, params)[-1]),
        ("off by one: the last state of a sequence of length T_n is hs[T_n - 1] (h_1 is hs[0]).",
         lambda xs, lengths, params: _padded_run(xs, lengths, params)[
             np.minimum(lengths, xs.shape[0] - 1), np.arange(xs.shape[1])]),
        ("you returned the first state h_1; the task asks for the last state of each sequence.",
         lambda xs, lengths, params: _padded_run(xs, lengths, params)[0]),
        ("each sequence must start from h_0 = 0: the state of one sequence must not carry over "
         "into the next.", _carry_over),
    ),
))


def check_final_states(fn: Callable, hidden: bool = False) -> int:
    """Check your ``final_states(xs, lengths, params) -> (N, m)`` (``hidden=True``: fresh random cases)."""
    return _checked(FINAL_STATES, fn, hidden)
