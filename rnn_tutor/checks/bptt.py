"""Checks for exercise 03 (backpropagation through time), f = tanh and g = identity throughout.

Graded tasks of ``solutions/03_bptt_solutions.ipynb`` (row-vector batches, see :mod:`rnn_tutor`):

* ``step_backward(dh_t, dy_t, x_t, h_prev, h_t, params)`` -> dict of ``w_x, w_h, b_h, w_y, b_y, h_prev``:
  the gradients of one step, with ``δa_t = (dh_t + dy_t w_y) ⊙ (1 - h_t²)``
* ``bptt(xs, ps, params, h_0)`` -> ``(loss, grads)`` for ``L = ½ Σ_t ‖y_t - p_t‖²``; grads has the five
  parameters and ``h_0``
* ``numerical_gradients`` and ``gradients_agree``: see :mod:`rnn_tutor.checks.gradient_checker`
* ``train_truncated(xs, ps, params, k, lr, epochs)`` -> ``(params, history)``: the tutorial's truncated
  BPTT with plain gradient descent (each window starts from h = 0; the error at its last step only;
  losses and gradients averaged over the N sequences; ``history`` = mean window loss per epoch)

The references are plain NumPy written here; the last one is checked against
:func:`rnn_tutor.truncated.train_tbptt` in the tests.
"""

from __future__ import annotations

import numpy as np

from rnn_tutor.checks.core import Check, mistakes, register, run_check

__all__ = ["check_step_backward", "check_bptt", "check_train_truncated", "STEP_BACKWARD", "BPTT", "TRAIN_TRUNCATED"]

NOTEBOOK = "03_bptt"
KEYS = ("w_x", "w_h", "b_h", "w_y", "b_y")




def _sizes(rng):
    """(N, d, m, q) with d, q != m so that a wrong transpose changes a shape or the values."""
    m = int(rng.integers(2, 5))
    return (int(rng.integers(1, 4)), int(rng.choice([v for v in (1, 2, 3, 5) if v != m])), m,
            int(rng.choice([v for v in (1, 2, 3) if v != m])))


def _params(rng, d, m, q):
    return {"w_x": rng.normal(0, 0.7, (m, d)), "w_h": rng.normal(0, 0.6, (m, m)), "b_h": rng.normal(0, 0.3, m),
            "w_y": rng.normal(0, 0.7, (q, m)), "b_y": rng.normal(0, 0.3, q)}


# ============================================================================ task 1: one step

def step_backward_reference(dh_t, dy_t, x_t, h_prev, h_t, params, *, fprime_of=None, h_in_dw_h=None,
                            output_path=True, chain=True):
    """Gradients of one tanh step: ``δa = (dh_t + dy_t w_y) ⊙ (1 - h_t²)``, then the products with its inputs.

    The keyword switches build the common mistakes; the defaults are the correct step.
    """
    w = params
    dh = dh_t + dy_t @ w["w_y"] if output_path else dh_t  # (N, q) @ (q, m) -> (N, m)
    da = dh * (1 - (h_t if fprime_of is None else fprime_of) ** 2)
    return {"w_x": da.T @ x_t,  # (m, N) @ (N, d) -> (m, d)
            "w_h": da.T @ (h_prev if h_in_dw_h is None else h_in_dw_h),  # (m, N) @ (N, m)
            "b_h": da.sum(axis=0),
            "w_y": dy_t.T @ h_t,  # (q, N) @ (N, m) -> (q, m)
            "b_y": dy_t.sum(axis=0),
            "h_prev": da @ w["w_h"] if chain else da}  # (N, m) @ (m, m) -> (N, m)


def _step_inputs(rng):
    N, d, m, q = _sizes(rng)
    p = _params(rng, d, m, q)
    x_t, h_prev = rng.normal(size=(N, d)), rng.uniform(-0.9, 0.9, (N, m))
    h_t = np.tanh(x_t @ p["w_x"].T + h_prev @ p["w_h"].T + p["b_h"])
    return {"dh_t": rng.normal(size=(N, m)), "dy_t": rng.normal(size=(N, q)), "x_t": x_t, "h_prev": h_prev,
            "h_t": h_t, "params": p}


def _with(**switches):
    return lambda **inputs: step_backward_reference(**inputs, **switches)


def _h_prev_transposed(**inputs):
    out = step_backward_reference(**inputs)
    p = inputs["params"]
    da = (inputs["dh_t"] + inputs["dy_t"] @ p["w_y"]) * (1 - inputs["h_t"] ** 2)
    return {**out, "h_prev": da @ p["w_h"].T}


STEP_BACKWARD = register(Check(
    notebook=NOTEBOOK, grade_id="check_step_backward", target="step_backward",
    forbidden=("rnn_tutor.bptt.rnn_step_backward", "rnn_tutor.bptt.rnn_backward", "rnn_tutor.truncated.window_loss_and_grads",), points=3,
    make_inputs=_step_inputs, reference=step_backward_reference,
    mistakes=mistakes(("f'(a_t) is missing: δa_t = ∂L/∂h_t ⊙ (1 - h_t²) for tanh; multiply before forming any gradient.",
         lambda **i: _with(fprime_of=np.zeros_like(i["h_t"]))(**i)),
        ("dw_h uses h_t, but the weight multiplies the *previous* state: ∂a_t/∂w_h brings in h_{t-1} "
         "(dw_h = δa_tᵀ h_prev).", lambda **i: _with(h_in_dw_h=i["h_t"])(**i)),
        ("tanh' must be evaluated at this step: 1 - h_t², not 1 - h_prev².",
         lambda **i: _with(fprime_of=i["h_prev"])(**i)),
        ("the output path is missing: h_t also feeds y_t, so ∂L/∂h_t = dh_t + dy_t w_y.", _with(output_path=False)),
        ("dh_prev stops at δa_t: the chain rule continues through w_h, dh_prev = δa_t w_h "
         "(rows: da @ w_h).", _with(chain=False)),
        ("w_h is applied the wrong way round in dh_prev: with rows, ∂L/∂h_prev = δa_t @ w_h (you used w_h.T).",
         _h_prev_transposed),
    ),
))


def check_step_backward(fn, hidden: bool = False) -> int:
    """Check your ``step_backward(dh_t, dy_t, x_t, h_prev, h_t, params)`` (``hidden=True``: fresh cases)."""
    return run_check(STEP_BACKWARD, fn, hidden=hidden)


# ============================================================================ task 2: full BPTT

def bptt_reference(xs, ps, params, h_0, *, accumulate=True, chain=True, sign=1.0, h_in_dw_h="prev", half=True):
    """``(L, grads)`` of ``L = ½ Σ_t ‖y_t - p_t‖²`` for ``h_t = tanh(a_t)``, ``y_t = w_y h_t + b_y``.

    The keyword switches build the common mistakes; the defaults are correct BPTT.
    """
    p = params
    T = xs.shape[0]
    hs, h = [], h_0
    for t in range(T):
        h = np.tanh(xs[t] @ p["w_x"].T + h @ p["w_h"].T + p["b_h"])  # (N, m)
        hs.append(h)
    ys = [h @ p["w_y"].T + p["b_y"] for h in hs]
    es = [sign * (y - pt) for y, pt in zip(ys, ps)]
    loss = (0.5 if half else 1.0) * float(sum(np.sum((y - pt) ** 2) for y, pt in zip(ys, ps)))
    g = {key: np.zeros_like(v) for key, v in p.items()}
    dh_next = np.zeros_like(h_0)
    for t in reversed(range(T)):
        h_prev = h_0 if t == 0 else hs[t - 1]
        dh = es[t] @ p["w_y"] + dh_next  # (N, q) @ (q, m) + (N, m)
        da = dh * (1 - hs[t] ** 2)
        step = {"w_x": da.T @ xs[t], "w_h": da.T @ (h_prev if h_in_dw_h == "prev" else hs[t]), "b_h": da.sum(0),
                "w_y": es[t].T @ hs[t], "b_y": es[t].sum(0)}
        g = {key: (g[key] + step[key]) if accumulate else step[key] for key in g}
        dh_next = da @ p["w_h"] if chain else np.zeros_like(h_0)
    h0_grad = dh_next if chain else (es[0] @ p["w_y"] + 0.0) * (1 - hs[0] ** 2) @ p["w_h"]
    return loss, {**g, "h_0": h0_grad}


def _bptt_inputs(rng):
    N, d, m, q = _sizes(rng)
    T = int(rng.integers(2, 7))
    return {"xs": rng.normal(size=(T, N, d)), "ps": rng.normal(size=(T, N, q)), "params": _params(rng, d, m, q),
            "h_0": rng.uniform(-0.8, 0.8, (N, m))}


def _bptt_with(**switches):
    return lambda **inputs: bptt_reference(**inputs, **switches)


BPTT = register(Check(
    notebook=NOTEBOOK, grade_id="check_bptt", target="bptt",
    forbidden=("rnn_tutor.bptt.rnn_step_backward", "rnn_tutor.bptt.rnn_backward", "rnn_tutor.rnn.rnn_forward", "rnn_tutor.rnn.rnn_step", "rnn_tutor.truncated.window_loss_and_grads",), points=4, output_names=("loss", "grads"),
    make_inputs=_bptt_inputs, reference=bptt_reference,
    mistakes=mistakes(("the gradients are not accumulated over time: the same weights act at every step, so each step's "
         "contribution must be *added* (dw += ..., not dw = ...).", _bptt_with(accumulate=False)),
        ("the recursion through w_h is missing: ∂L/∂h_t must include w_hᵀ δa_{t+1} from the next step "
         "(carry dh_next = δa_t @ w_h backwards).", _bptt_with(chain=False)),
        ("the sign of the error is flipped: ∂L/∂y_t = y_t - p_t (output minus target).", _bptt_with(sign=-1.0)),
        ("dw_h uses h_t, but w_h multiplies h_{t-1} (use h_0 at the first step).", _bptt_with(h_in_dw_h="t")),
        ("the loss is ½ Σ ‖y_t - p_t‖²: the factor ½ is missing.", _bptt_with(half=False)),
    ),
))


def check_bptt(fn, hidden: bool = False) -> int:
    """Check your ``bptt(xs, ps, params, h_0) -> (loss, grads)`` (``hidden=True``: fresh random cases)."""
    return run_check(BPTT, fn, hidden=hidden)


# ============================================================================ task 5: truncated training

def _window(xs, ps, p, h_start, loss_at_last=True, grad_per_n=True):
    """Forward over a window from ``h_start``, backward of ½‖e‖²/N at the last step (or all steps).

    ``grad_per_n=False`` builds a mistake: the loss is averaged over the N sequences, its
    gradient is not (it is N times too large)."""
    N = xs.shape[1]
    hs, h = [], h_start
    for x in xs:
        h = np.tanh(x @ p["w_x"].T + h @ p["w_h"].T + p["b_h"])
        hs.append(h)
    ys = [h @ p["w_y"].T + p["b_y"] for h in hs]
    es = [(y - pt) / N for y, pt in zip(ys, ps)]
    if loss_at_last:
        es = [np.zeros_like(e) for e in es[:-1]] + [es[-1]]
    loss = 0.5 * N * float(sum(np.sum(e * e) for e in es))
    if not grad_per_n:
        es = [e * N for e in es]
    g = {key: np.zeros_like(v) for key, v in p.items()}
    dh_next = np.zeros_like(h_start)
    for t in reversed(range(len(hs))):
        h_prev = h_start if t == 0 else hs[t - 1]
        da = (es[t] @ p["w_y"] + dh_next) * (1 - hs[t] ** 2)
        g["w_x"] += da.T @ xs[t]
        g["w_h"] += da.T @ h_prev
        g["b_h"] += da.sum(0)
        g["w_y"] += es[t].T @ hs[t]
        g["b_y"] += es[t].sum(0)
        dh_next = da @ p["w_h"]
    return loss, g, hs[-1]


def train_truncated_reference(xs, ps, params, k, lr, epochs, *, carry=False, loss_at_last=True, last_window=True,
                              sign=-1.0, history_sum=False, grad_per_n=True, target_shift=0):
    """The tutorial's truncated BPTT with gradient descent; switches build the common mistakes.

    ``target_shift=1``: the window xs[t:t+k] is trained on the targets ps[t+1:t+k+1] (its last
    target is p_{t+k+1}, one step late), with t up to T - k - 1."""
    p = {key: np.array(v, dtype=float) for key, v in params.items()}
    T, N, _ = xs.shape
    history = []
    for _ in range(epochs):
        losses, h = [], np.zeros((N, p["w_h"].shape[0]))
        n_windows = T - k + 1 if last_window and not target_shift else T - k
        for t in range(n_windows):
            start = h if carry else np.zeros_like(h)  # "set h to zero": each window starts from 0
            targets = ps[t + target_shift:t + target_shift + k]
            loss, g, h_end = _window(xs[t:t + k], targets, p, start, loss_at_last, grad_per_n)
            h = h_end
            losses.append(loss)
            p = {key: p[key] + sign * lr * g[key] for key in p}
        history.append(float(np.sum(losses) if history_sum else np.mean(losses)))
    return p, np.array(history)


def _train_inputs(rng):
    N, d, m, q = _sizes(rng)
    N, d, q = int(rng.integers(2, 4)), min(d, 2), min(q, 2)  # N >= 2: a missing 1/N must show
    T = int(rng.integers(5, 10))
    k = int(rng.integers(2, T))  # 2 <= k < T: several overlapping windows
    return {"xs": rng.normal(size=(T, N, d)), "ps": rng.normal(size=(T, N, q)), "params": _params(rng, d, m, q),
            "k": k, "lr": 0.1, "epochs": 2}


def _train_with(**switches):
    return lambda **inputs: train_truncated_reference(**inputs, **switches)


TRAIN_TRUNCATED = register(Check(
    notebook=NOTEBOOK, grade_id="check_train_truncated", target="train_truncated",
    forbidden=("rnn_tutor.truncated.train_tbptt", "rnn_tutor.truncated.train_tbptt_carried", "rnn_tutor.truncated.window_loss_and_grads", "rnn_tutor.bptt.rnn_backward", "rnn_tutor.bptt.rnn_step_backward", "rnn_tutor.rnn.rnn_forward", "rnn_tutor.rnn.rnn_step",), points=3,
    output_names=("params", "history"), make_inputs=_train_inputs, reference=train_truncated_reference,
    rtol=1e-7, atol=1e-10,
    mistakes=mistakes(("h is not reset: this task asks for the reading in which every window starts from h = 0 "
         "(lesson 03, the first reading of \"set h to zero\"), not from the state the previous window "
         "ended in (the carried reading).", _train_with(carry=True)),
        ("the error is taken at every step of the window; the tutorial uses only the last one, "
         "e = y_{t+k} - p_{t+k}.", _train_with(loss_at_last=False)),
        ("one window is missing: t runs from 0 to T - k *inclusive* (range(T - k + 1)).",
         _train_with(last_window=False)),
        ("the update goes uphill: gradient descent subtracts, θ ← θ - lr ∂L/∂θ.", _train_with(sign=1.0)),
        ("history should hold the *mean* window loss of each epoch, not the sum.", _train_with(history_sum=True)),
        ("the gradient is not divided by N: the loss is the mean over the N sequences, so its gradient is "
         "too: e = (y - p) / N before the backward pass (your updates are N times too large).",
         _train_with(grad_per_n=False)),
        ("the target is one step late: the window x_{t+1} ... x_{t+k} is trained to predict p_{t+k}, the "
         "target of its *last* input, i.e. ps[t + k - 1] (0-based), not ps[t + k].", _train_with(target_shift=1)),
    ),
))


def check_train_truncated(fn, hidden: bool = False) -> int:
    """Check your ``train_truncated(xs, ps, params, k, lr, epochs) -> (params, history)``."""
    return run_check(TRAIN_TRUNCATED, fn, hidden=hidden)
