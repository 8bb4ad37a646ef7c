"""Checks of exercise 03's gradient checker: the learner writes one, then uses it on their own ``bptt``.

Graded tasks of ``solutions/03_bptt_solutions.ipynb``:

* ``numerical_gradients(xs, ps, params, h_0, eps)`` -> dict of ``w_x, w_h, b_h, w_y, b_y, h_0``: the
  central differences ``(L(θ + ε e_i) - L(θ - ε e_i)) / 2ε`` of the notebook's ``sequence_loss``, one
  entry at a time.  The cases use a large ``ε`` (about 1e-2), so the analytic gradient differs from
  the right answer by ``O(ε²)``: only a real numerical checker passes.
* the cell ``gradients_agree(bptt, numerical_gradients)``: the learner's two functions must agree
  to 1e-6 on a small problem (each run under its own check's guard).
"""

from __future__ import annotations

import numpy as np

from rnn_tutor.checks.bptt import BPTT, KEYS, NOTEBOOK, _params, _sizes, bptt_reference
from rnn_tutor.checks.core import Check, CheckFailed, call_guarded, mistakes, register, run_check

__all__ = ["check_numerical_gradients", "gradients_agree", "NUMERICAL_GRADIENTS", "sequence_loss",
           "numerical_gradients_reference"]


def sequence_loss(xs, ps, params, h_0):
    """``L = ½ Σ_t ‖y_t - p_t‖²`` of the tanh RNN, forward only (the notebook's setup cell has a copy)."""
    h, loss = h_0, 0.0
    for x_t, p_t in zip(xs, ps):
        h = np.tanh(x_t @ params["w_x"].T + h @ params["w_h"].T + params["b_h"])  # (N, m)
        loss += 0.5 * float(np.sum((h @ params["w_y"].T + params["b_y"] - p_t) ** 2))
    return loss


def numerical_gradients_reference(xs, ps, params, h_0, eps, *, scheme="central", restore=True, evaluate_copy=False):
    """Central differences of :func:`sequence_loss` for every entry of the parameters and ``h_0``.

    The keyword switches build the common mistakes; the defaults are the correct checker.
    """
    values = {**{k: np.array(v, dtype=float) for k, v in params.items()}, "h_0": np.array(h_0, dtype=float)}

    def loss(vals):
        return sequence_loss(xs, ps, {k: vals[k] for k in params}, vals["h_0"])
    base = loss(values)
    out = {}
    for key, value in values.items():
        grad = np.zeros_like(value)
        for i in np.ndindex(value.shape):
            old = value[i]
            target = value.copy() if evaluate_copy else value
            target[i] = old + eps
            up = loss(values)
            if scheme == "central":
                target[i] = old - eps
                down = loss(values)
                grad[i] = (up - down) / (2 * eps)
            elif scheme == "half":
                target[i] = old - eps
                grad[i] = (up - loss(values)) / eps
            else:
                grad[i] = (up - base) / eps
            if restore:
                value[i] = old
        out[key] = grad
    return out


def _numeric_inputs(rng):
    while True:  # cases on which the analytic gradient and every mistake differ from the checker's answer
        N, d, m, q = _sizes(rng)
        T = int(rng.integers(2, 4))
        case = {"xs": rng.normal(size=(T, N, d)), "ps": rng.normal(size=(T, N, q)), "params": _params(rng, d, m, q),
                "h_0": rng.uniform(-0.8, 0.8, (N, m)), "eps": float(10 ** rng.uniform(-2.5, -1.5))}
        analytic = bptt_reference(case["xs"], case["ps"], case["params"], case["h_0"])[1]
        numeric = numerical_gradients_reference(**case)
        if max(float(np.max(np.abs(analytic[k] - numeric[k]) - 1e-6 * np.abs(numeric[k]))) for k in numeric) > 1e-6:
            return case


def _analytic(xs, ps, params, h_0, eps):
    return bptt_reference(xs, ps, params, h_0)[1]


def _numeric_with(**switches):
    return lambda **inputs: numerical_gradients_reference(**inputs, **switches)


NUMERICAL_GRADIENTS = register(Check(
    notebook=NOTEBOOK, grade_id="check_numerical_gradients", target="numerical_gradients", points=2,
    forbidden=("rnn_tutor.gradcheck.numerical_gradient", "rnn_tutor.gradcheck.numerical_gradients"),
    make_inputs=_numeric_inputs, reference=numerical_gradients_reference, rtol=1e-6, atol=1e-8,
    mistakes=mistakes(("one-sided difference: use the central difference (L(θ + ε) - L(θ - ε)) / 2ε, whose error "
                       "is O(ε²) instead of O(ε).", _numeric_with(scheme="forward")),
                      ("the central difference spans 2ε: divide L(θ + ε) - L(θ - ε) by 2ε, not by ε.",
                       _numeric_with(scheme="half")),
                      ("a nudged entry is not put back: restore θ_i to its old value before nudging the next "
                       "entry.", _numeric_with(restore=False)),
                      ("the loss never sees the nudge: change the entry of the array you pass to sequence_loss "
                       "(not a copy of it), and put it back afterwards.", _numeric_with(evaluate_copy=True)),
                      ("these are the analytic gradients (from bptt?): a gradient checker must compute its own "
                       "numerical estimate with sequence_loss, or it checks nothing.", _analytic)),
))


def check_numerical_gradients(fn, hidden: bool = False) -> None:
    """Check your ``numerical_gradients(xs, ps, params, h_0, eps)`` (``hidden=True``: fresh random cases)."""
    return run_check(NUMERICAL_GRADIENTS, fn, hidden=hidden)


def _relative_error(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-12)))


def gradients_agree(bptt, numerical_gradients, seed: int = 3) -> None:
    """Task 4: compare the learner's ``bptt`` gradients with their own ``numerical_gradients``
    (eps = 1e-5) on a small random problem; print the table; raise :class:`CheckFailed` unless
    every relative error is below 1e-6.  Both functions run under their checks' guards."""
    rng = np.random.default_rng(seed)
    T, N, d, m, q = 4, 2, 3, 5, 2
    case = {"xs": rng.normal(size=(T, N, d)), "ps": rng.normal(size=(T, N, q)), "params": _params(rng, d, m, q),
            "h_0": rng.normal(0, 0.5, (N, m))}
    _, analytic = call_guarded(BPTT, bptt, **case)
    numeric = call_guarded(NUMERICAL_GRADIENTS, numerical_gradients, **case, eps=1e-5)
    if not isinstance(analytic, dict) or not isinstance(numeric, dict) or set(numeric) != set(KEYS) | {"h_0"} \
            or not set(numeric) <= set(analytic):
        raise CheckFailed("bptt's grads and numerical_gradients must both be dicts with the keys "
                          f"{sorted(set(KEYS) | {'h_0'})}")
    errors = {key: _relative_error(analytic[key], numeric[key]) for key in numeric}
    print("gradient   relative error")
    for key, error in errors.items():
        print(f"{key:8}   {error:.1e}")
    worst = max(errors, key=errors.get)
    if errors[worst] >= 1e-6:
        raise CheckFailed(f"bptt and numerical_gradients disagree on {worst} (relative error {errors[worst]:.1e}, "
                          "at most 1e-6 expected): one of them is wrong; the table shows which gradients differ")


