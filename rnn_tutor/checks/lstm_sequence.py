"""Check of exercise 06's last task: the LSTM's backward pass over a whole sequence.

Graded task of ``solutions/06_variants_solutions.ipynb`` (row batches, PyTorch's gate order i, f, g, o):

* ``lstm_backward(xs, params, h_0, c_0, dhs)`` -> dict of ``w_ih (4m, d), w_hh (4m, m), b_ih (4m,),
  b_hh (4m,), xs (T, N, d), h_0 (N, m), c_0 (N, m)``: the gradients of a loss ``L`` whose gradient
  with respect to every state is given, ``dhs[t - 1] = ∂L/∂h_t`` (from the layers above).

This is CS231n's ``lstm_backward``, without a cache: the learner recomputes the forward pass.
Backwards from ``t = T``, with ``dh`` and ``dc`` arriving from step ``t + 1`` (zeros at ``T``)::

    dh  = dhs[t] + dh_next                      dc = dc_next + dh ⊙ o ⊙ (1 - tanh²(c_t))
    d(i, f, g, o) = (dc ⊙ g, dc ⊙ c_{t-1}, dc ⊙ i, dh ⊙ tanh(c_t))
    da  = d(i, f, g, o) ⊙ (σ'(i, f, o) and tanh'(g))         (N, 4m): the pre-activations' gradient
    dW_ih += daᵀ x_t,  dW_hh += daᵀ h_{t-1},  db_ih = db_hh += Σ_n da
    dx_t = da W_ih,    dh_next = da W_hh,     dc_next = dc ⊙ f

The reference is plain NumPy, written independently of :mod:`rnn_tutor.lstm` (the tests compare
the two, and both with finite differences).
"""

from __future__ import annotations

import numpy as np

from rnn_tutor.checks.core import Check, mistakes, register, run_check

__all__ = ["check_lstm_backward", "LSTM_BACKWARD", "lstm_backward_reference"]

NOTEBOOK = "06_variants"
KEYS = ("w_ih", "w_hh", "b_ih", "b_hh", "xs", "h_0", "c_0")


def _sigmoid(a):
    return 0.5 * np.tanh(0.5 * a) + 0.5


def lstm_backward_reference(xs, params, h_0, c_0, dhs, *, carry_c=True, carry_h=True, accumulate=True,
                            gate_prime=True, order=(0, 1, 2, 3)):
    """Gradients of the LSTM over a sequence; the keyword switches build the common mistakes."""
    T = xs.shape[0]
    m = h_0.shape[1]
    blk = [slice(j * m, (j + 1) * m) for j in order]  # rows of i, f, g, o in the stacked weights
    h, c, steps = h_0, c_0, []
    for x_t in xs:  # forward, keeping what the backward pass needs
        a = x_t @ params["w_ih"].T + params["b_ih"] + h @ params["w_hh"].T + params["b_hh"]  # (N, 4m)
        i, f, g, o = _sigmoid(a[:, blk[0]]), _sigmoid(a[:, blk[1]]), np.tanh(a[:, blk[2]]), _sigmoid(a[:, blk[3]])
        c_new = f * c + i * g
        steps.append((x_t, h, c, i, f, g, o, c_new))
        h, c = o * np.tanh(c_new), c_new
    grads = {k: np.zeros_like(params[k], dtype=float) for k in ("w_ih", "w_hh", "b_ih", "b_hh")}
    dxs = np.zeros_like(xs, dtype=float)
    dh_next, dc_next = np.zeros_like(h_0, dtype=float), np.zeros_like(c_0, dtype=float)
    for t in reversed(range(T)):
        x_t, h_prev, c_prev, i, f, g, o, c_t = steps[t]
        dh = dhs[t] + (dh_next if carry_h else 0.0)
        tc = np.tanh(c_t)
        dc = (dc_next if carry_c else 0.0) + dh * o * (1 - tc ** 2)
        di, df, dg, do = dc * g, dc * c_prev, dc * i, dh * tc
        if gate_prime:
            di, df, dg, do = di * i * (1 - i), df * f * (1 - f), dg * (1 - g ** 2), do * o * (1 - o)
        da = np.empty((x_t.shape[0], 4 * m))
        for j, d_gate in zip(order, (di, df, dg, do)):
            da[:, j * m:(j + 1) * m] = d_gate
        step = {"w_ih": da.T @ x_t, "w_hh": da.T @ h_prev, "b_ih": da.sum(0), "b_hh": da.sum(0)}  # (4m, N) @ ..
        grads = {k: (grads[k] + step[k]) if accumulate else step[k] for k in grads}
        dxs[t] = da @ params["w_ih"]  # (N, 4m) @ (4m, d) -> (N, d)
        dh_next, dc_next = da @ params["w_hh"], dc * f  # (N, 4m) @ (4m, m) -> (N, m)
    return {**grads, "xs": dxs, "h_0": dh_next, "c_0": dc_next}


def _inputs(rng: np.random.Generator) -> dict:
    m = int(rng.integers(2, 4))
    N = int(rng.choice([v for v in (1, 2, 3) if v != m]))
    d = int(rng.choice([v for v in (1, 2, 3, 5) if v not in (m, N, 4 * m)]))
    T = int(rng.integers(2, 5))
    return {"xs": rng.normal(size=(T, N, d)),
            "params": {"w_ih": rng.normal(0, 0.7, (4 * m, d)), "w_hh": rng.normal(0, 0.7, (4 * m, m)),
                       "b_ih": rng.normal(0, 0.5, 4 * m), "b_hh": rng.normal(0, 0.5, 4 * m)},
            "h_0": rng.normal(0, 0.5, (N, m)), "c_0": rng.normal(0, 0.5, (N, m)), "dhs": rng.normal(size=(T, N, m))}


def _with(**switches):
    return lambda **inputs: lstm_backward_reference(**inputs, **switches)


LSTM_BACKWARD = register(Check(
    notebook=NOTEBOOK, grade_id="check_lstm_backward", target="lstm_backward", points=4,
    forbidden=("rnn_tutor.lstm.lstm_backward", "rnn_tutor.lstm.lstm_step_backward", "rnn_tutor.lstm.lstm_forward",
               "rnn_tutor.lstm.lstm_step"),
    make_inputs=_inputs, reference=lstm_backward_reference, rtol=1e-6, atol=1e-9,
    mistakes=mistakes(
        ("the cell-state gradient is not carried back: dc at step t must include dc_next = dc_{t+1} ⊙ f_{t+1} "
         "from the step after it (the LSTM's additive path).", _with(carry_c=False)),
        ("the state gradient from the next step is missing: dh_t = dhs[t] + dh_next, where dh_next = da_{t+1} "
         "W_hh comes back from step t + 1.", _with(carry_h=False)),
        ("the weight gradients are overwritten at each step: the same weights act at every step, so their "
         "gradients add up (dW += ..., not dW = ...).", _with(accumulate=False)),
        ("the gates' own derivatives are missing: from the gradient of a gate value to that of its "
         "pre-activation multiply by σ'(a) = s(1 - s) (i, f, o) or tanh'(a) = 1 - g² (g).",
         _with(gate_prime=False)),
        ("the gates are cut in another order: PyTorch stacks them as (i, f, g, o) in w_ih, w_hh and the "
         "biases (you seem to use Keras' i, f, o, g).", _with(order=(0, 1, 3, 2))),
    ),
))


def check_lstm_backward(fn, hidden: bool = False) -> None:
    """Check your ``lstm_backward(xs, params, h_0, c_0, dhs)`` (``hidden=True``: fresh random cases)."""
    return run_check(LSTM_BACKWARD, fn, hidden=hidden)
