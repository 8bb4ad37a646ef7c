"""Checks for exercises 05 (vanishing and exploding gradients).

Tasks: ``jacobian_product`` (the chain ∂h_T/∂h_t), ``vanishing_rate_bound`` (predict vanishing
from the singular values of w_h) and ``clip_grad_norm`` (global-norm clipping).
"""

from __future__ import annotations

import numpy as np

from rnn_tutor.activations import get_activation
from rnn_tutor.checks.core import Check, Mistake, register, run_check
from rnn_tutor.clipping import clip_grad_norm as _clip_reference
from rnn_tutor.gradflow import decay_rate_bound, jacobian_chain

__all__ = ["JACOBIAN_PRODUCT", "VANISHING_RATE_BOUND", "CLIP_GRAD_NORM", "check_jacobian_product",
           "check_vanishing_rate_bound", "check_clip_grad_norm"]

NOTEBOOK = "05_vanishing_gradients"


# ----------------------------------------------------------------------------- task 1: the Jacobian product

def _jacobians(w_h, as_, f, deriv=True, side="left", w=None):
    """Step Jacobians J_1..J_T as (T, m, m), optionally built the wrong way for the mistake models."""
    act = get_activation(f, "f")
    d = act.deriv(as_) if deriv else act.fn(as_)  # (T, m)
    w = np.asarray(w_h, dtype=float) if w is None else w
    return d[:, :, None] * w if side == "left" else w * d[:, None, :]  # diag(d) w  or  w diag(d)


def _chain(js, t):
    T = js.shape[0]
    return jacobian_chain(js)[T - t]


def _jacobian_product_ref(w_h, as_, f, t):
    return _chain(_jacobians(w_h, as_, f), t)


def _jp_no_deriv(w_h, as_, f, t):
    return np.linalg.matrix_power(np.asarray(w_h, float), as_.shape[0] - t)


def _jp_reversed(w_h, as_, f, t):
    js = _jacobians(w_h, as_, f)
    out = np.eye(js.shape[1])
    for k in range(t + 1, js.shape[0] + 1):  # J_T on the right instead of the left
        out = out @ js[k - 1]
    return out


def _jp_transposed(w_h, as_, f, t):
    return _jacobian_product_ref(w_h, as_, f, t).T


def _jp_wht(w_h, as_, f, t):
    return _chain(_jacobians(w_h, as_, f, w=np.asarray(w_h, float).T), t)


def _jp_right_diag(w_h, as_, f, t):
    return _chain(_jacobians(w_h, as_, f, side="right"), t)


def _jp_f_not_deriv(w_h, as_, f, t):
    return _chain(_jacobians(w_h, as_, f, deriv=False), t)


def _jp_one_too_many(w_h, as_, f, t):
    if t < 1:
        raise IndexError("no J_0")
    return _chain(_jacobians(w_h, as_, f), t - 1)


def _jp_one_too_few(w_h, as_, f, t):
    if t >= as_.shape[0]:
        raise IndexError("no factor to drop")
    return _chain(_jacobians(w_h, as_, f), t + 1)


def _jp_inputs(rng: np.random.Generator) -> dict:
    m, T = int(rng.integers(2, 6)), int(rng.integers(3, 8))
    return {"w_h": rng.standard_normal((m, m)) / np.sqrt(m) * 1.2,
            "as_": rng.standard_normal((T, m)),
            "f": str(rng.choice(["tanh", "sigmoid"])),
            "t": int(rng.integers(0, T - 1))}  # at least two factors, so that their order matters


JACOBIAN_PRODUCT = register(Check(
    notebook=NOTEBOOK, grade_id="check_jacobian_product", target="jacobian_product",
    forbidden=("rnn_tutor.gradflow.jacobian_chain", "rnn_tutor.gradflow.elman_step_jacobians", "rnn_tutor.gradflow.gradient_norms_by_distance", "rnn_tutor.gradflow.elman_gradient_norms",),
    make_inputs=_jp_inputs, reference=_jacobian_product_ref, points=3, n_cases=4,
    mistakes=(
        Mistake("the factor diag(f'(a_k)) is missing: each step Jacobian is J_k = diag(f'(a_k)) w_h, not w_h",
                _jp_no_deriv),
        Mistake("the factors are multiplied in the wrong order: the newest Jacobian goes on the left, "
                "∂h_T/∂h_t = J_T J_(T-1) ... J_(t+1)", _jp_reversed),
        Mistake("the result is transposed (the row-vector backprop form dh_prev = dh @ J gives Jᵀ); "
                "entry (i, j) must be ∂h_T[i] / ∂h_t[j]", _jp_transposed),
        Mistake("w_h.T was used instead of w_h: h_t = f(... + w_h h_(t-1)) differentiates to diag(f'(a_t)) w_h",
                _jp_wht),
        Mistake("diag(f'(a_k)) is on the wrong side: J_k = diag(f'(a_k)) w_h scales the rows of w_h, "
                "not w_h diag(f'(a_k))", _jp_right_diag),
        Mistake("f(a_k) was used where the derivative f'(a_k) belongs (get_activation(f).deriv)", _jp_f_not_deriv),
        Mistake("one factor too many: the chain from h_t to h_T has T - t factors J_(t+1) ... J_T; "
                "J_t belongs to the step before (remember as_[k - 1] holds a_k)", _jp_one_too_many),
        Mistake("one factor too few: the chain from h_t to h_T has T - t factors J_(t+1) ... J_T "
                "(remember as_[k - 1] holds a_k)", _jp_one_too_few),
    ),
))


def check_jacobian_product(fn, hidden: bool = False) -> int:
    """Check ``jacobian_product(w_h, as_, f, t) -> (m, m)`` against the reference."""
    return run_check(JACOBIAN_PRODUCT, fn, hidden=hidden)


# ----------------------------------------------------------------------------- task 2: predict vanishing

def _vrb_ref(w_h, f):
    rate = decay_rate_bound(w_h, f)
    return float(rate), bool(rate < 1.0)


def _vrb_from(rate, f, gamma=True):
    r = float(rate) * (get_activation(f).deriv_bound if gamma else 1.0)
    return r, bool(r < 1.0)


def _vrb_radius(w_h, f):
    return _vrb_from(np.max(np.abs(np.linalg.eigvals(w_h))), f)


def _vrb_smallest(w_h, f):
    return _vrb_from(np.linalg.svd(w_h, compute_uv=False)[-1], f)


def _vrb_no_gamma(w_h, f):
    return _vrb_from(np.linalg.norm(w_h, 2), f, gamma=False)


def _vrb_divided(w_h, f):
    r = float(np.linalg.norm(w_h, 2) / get_activation(f).deriv_bound)
    return r, bool(r < 1.0)


def _vrb_frobenius(w_h, f):
    return _vrb_from(np.linalg.norm(w_h, "fro"), f)


def _vrb_max_entry(w_h, f):
    return _vrb_from(np.max(np.abs(w_h)), f)


def _vrb_inverted(w_h, f):
    rate, vanishes = _vrb_ref(w_h, f)
    return rate, not vanishes


def _vrb_inputs(rng: np.random.Generator) -> dict:
    """A random w_h (triangular half the time) with γσ_max on both sides of 1, redrawn until the
    numbers the mistake models take for σ_max (σ_min, ρ, ‖w_h‖_F, max |w_ij|) differ from σ_max and
    from each other by more than 2 %, so each wrong answer points to one cause only (a triangular
    w_h whose largest entry sits on the diagonal has ρ = max |w_ij|, and is redrawn)."""
    for _ in range(1000):
        m = int(rng.integers(3, 7))
        f = str(rng.choice(["tanh", "sigmoid"]))
        a = rng.standard_normal((m, m))
        a = np.triu(a) if rng.random() < 0.5 else a  # triangular: eigenvalues far below σ_max
        gamma = get_activation(f).deriv_bound
        target = rng.uniform(0.4, 1.8) / gamma  # γσ_max on both sides of 1
        s = np.linalg.svd(a, compute_uv=False)
        norms = np.sort([s[0], s[-1], np.max(np.abs(np.linalg.eigvals(a))), np.linalg.norm(a, "fro"),
                         np.max(np.abs(a))])
        # The γ mistakes give σ_max and σ_max/γ: right for tanh (γ = 1), and for sigmoid 4 and 16 times the
        # rate, above every other model (at most ‖w_h‖_F γ <= √6 σ_max γ), so they need no test here.
        if (np.diff(norms) > 0.02 * norms[1:]).all():
            return {"w_h": a * (target / np.linalg.norm(a, 2)), "f": f}
    raise RuntimeError("_vrb_inputs: no suitable w_h in 1000 draws")


VANISHING_RATE_BOUND = register(Check(
    notebook=NOTEBOOK, grade_id="check_vanishing_rate_bound", target="vanishing_rate_bound",
    forbidden=("rnn_tutor.gradflow.decay_rate_bound", "rnn_tutor.gradflow.singular_values", "rnn_tutor.gradflow.norm_bound_by_distance",),
    make_inputs=_vrb_inputs, reference=_vrb_ref, points=2, n_cases=6,
    output_names=("rate", "guaranteed_to_vanish"),
    mistakes=(
        Mistake("the spectral radius (largest |eigenvalue|) is not the bound: one step can stretch a vector "
                "by σ_max = the largest singular value, which can be much larger", _vrb_radius),
        Mistake("that is the smallest singular value; the bound needs the largest, σ_max = svd(w_h)[0]",
                _vrb_smallest),
        Mistake("the activation's derivative bound γ is missing (γ = 1 for tanh, 1/4 for sigmoid)", _vrb_no_gamma),
        Mistake("σ_max must be multiplied by γ = sup|f'| (1/4 for sigmoid), not divided by it", _vrb_divided),
        Mistake("that is the Frobenius norm; the bound uses the spectral norm σ_max (np.linalg.norm(w_h, 2))",
                _vrb_frobenius),
        Mistake("the largest entry |w_ij| is not σ_max; use the largest singular value", _vrb_max_entry),
        Mistake("guaranteed_to_vanish must be True exactly when γσ_max < 1", _vrb_inverted),
    ),
))


def check_vanishing_rate_bound(fn, hidden: bool = False) -> int:
    """Check ``vanishing_rate_bound(w_h, f) -> (rate, guaranteed_to_vanish)`` against the reference."""
    return run_check(VANISHING_RATE_BOUND, fn, hidden=hidden)


# ----------------------------------------------------------------------------- task 3: clipping

def _clip_ref(grads, max_norm):
    return _clip_reference(grads, max_norm)


def _norm(grads):
    return float(np.sqrt(sum(np.sum(np.asarray(v, float) ** 2) for v in grads.values())))


def _clip_each(grads, max_norm):
    out = {}
    for k, v in grads.items():
        n = np.linalg.norm(v)
        out[k] = v * (max_norm / n) if n > max_norm else v.copy()
    return out, _norm(grads)


def _clip_always(grads, max_norm):
    n = _norm(grads)
    return {k: v * (max_norm / n) for k, v in grads.items()}, n


def _clip_inverted(grads, max_norm):
    n = _norm(grads)
    s = n / max_norm if n > max_norm else 1.0
    return {k: v * s for k, v in grads.items()}, n


def _clip_sum_of_norms(grads, max_norm):
    n = float(sum(np.linalg.norm(v) for v in grads.values()))
    s = max_norm / n if n > max_norm else 1.0
    return {k: v * s for k, v in grads.items()}, n


def _clip_norm_after(grads, max_norm):
    clipped, _ = _clip_reference(grads, max_norm)
    return clipped, _norm(clipped)


def _clip_no_sqrt(grads, max_norm):
    n = _norm(grads) ** 2
    s = max_norm / n if n > max_norm else 1.0
    return {k: v * s for k, v in grads.items()}, n


def _clip_inputs(rng: np.random.Generator) -> dict:
    m, d, q = (int(v) for v in rng.integers(1, 5, size=3))
    shapes = {"w_x": (m, d), "w_h": (m, m), "b_h": (m,), "w_y": (q, m), "b_y": (q,)}
    scale = 10.0 ** rng.uniform(-1, 2)
    grads = {k: scale * rng.standard_normal(s) for k, s in shapes.items()}
    ratio = rng.uniform(0.1, 0.8) if rng.random() < 0.6 else rng.uniform(1.3, 3.0)  # clip, or leave alone
    return {"grads": grads, "max_norm": float(ratio * _norm(grads))}


CLIP_GRAD_NORM = register(Check(
    notebook=NOTEBOOK, grade_id="check_clip_grad_norm", target="clip_grad_norm",
    forbidden=("rnn_tutor.clipping.clip_grad_norm", "rnn_tutor.clipping.global_norm",),
    make_inputs=_clip_inputs, reference=_clip_ref, points=3, n_cases=5, rtol=1e-5,
    output_names=("clipped", "total_norm"),
    mistakes=(
        Mistake("each parameter was clipped on its own; clip the *global* norm sqrt(Σ_k ‖g_k‖²) and scale "
                "every gradient by the same factor, so the direction of the step is kept", _clip_each),
        Mistake("the gradients were rescaled although their norm was already below max_norm; "
                "leave them alone when ‖g‖ ≤ max_norm", _clip_always),
        Mistake("the scale factor is upside down: multiply by max_norm / ‖g‖ (< 1), not ‖g‖ / max_norm",
                _clip_inverted),
        Mistake("the global norm is sqrt(Σ_k ‖g_k‖²), not the sum of the per-parameter norms Σ_k ‖g_k‖",
                _clip_sum_of_norms),
        Mistake("total_norm must be the norm *before* clipping (it is what you monitor to see explosions)",
                _clip_norm_after),
        Mistake("the square root is missing: ‖g‖ = sqrt(Σ g²)", _clip_no_sqrt),
    ),
))


def check_clip_grad_norm(fn, hidden: bool = False) -> int:
    """Check ``clip_grad_norm(grads, max_norm) -> (clipped, total_norm)`` against the reference."""
    return run_check(CLIP_GRAD_NORM, fn, hidden=hidden)
