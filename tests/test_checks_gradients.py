"""The checks of exercise 05 (rnn_tutor.checks.gradients).

The contract every check keeps (pass the solution, fail stubs, mistakes and mutation) is in
tests/check_contract.py; this file gives it the lesson's solutions and tests what is specific.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from check_contract import CheckContract, without_guard

from rnn_tutor import clipping, gradflow
from rnn_tutor.activations import get_activation
from rnn_tutor.checks import gradients as C
from rnn_tutor.checks.core import CheckFailed, evaluate_case, run_check
from rnn_tutor.gradcheck import numerical_gradient, rel_error

# ----------------------------------------------------------------------------- learner-style solutions

def good_jacobian_product(w_h, as_, f, t):
    fp = get_activation(f).deriv(as_)
    out = np.eye(w_h.shape[0])
    for k in range(t + 1, as_.shape[0] + 1):  # built from the oldest factor, multiplying on the left
        out = (fp[k - 1][:, None] * w_h) @ out
    return out


def good_vanishing_rate_bound(w_h, f):
    rate = np.linalg.norm(w_h, 2) * {"tanh": 1.0, "sigmoid": 0.25}[f]
    return rate, rate < 1  # NumPy scalars are fine


def good_clip_grad_norm(grads, max_norm):
    if max_norm <= 0:
        raise ValueError("max_norm must be > 0")
    total = np.sqrt(sum((g ** 2).sum() for g in grads.values()))
    coef = min(1.0, max_norm / (total + 1e-6))  # PyTorch's formula, with its small epsilon
    return {k: g * coef for k, g in grads.items()}, total


def library_jacobian_product(w_h, as_, f, t):
    cache = {"params": {"w_h": w_h}, "f": get_activation(f), "as_": as_[:, None]}
    chain = gradflow.jacobian_chain(gradflow.elman_step_jacobians(cache)[:, 0])  # chain[k] = dh_T/dh_{T-k}
    return chain[as_.shape[0] - t]


# ----------------------------------------------------------------------------- in-place mutation

def mutating_jacobian_product(w_h, as_, f, t):
    as_[:] = get_activation(f).deriv(as_)  # overwrites the caller's pre-activations
    out = np.eye(w_h.shape[0])
    for k in range(as_.shape[0], t, -1):
        out = out @ (as_[k - 1][:, None] * w_h)
    return out


def mutating_vanishing_rate_bound(w_h, f):
    w_h *= get_activation(f).deriv_bound  # scales the caller's matrix
    rate = float(np.linalg.norm(w_h, 2))
    return rate, rate < 1


def mutating_clip_grad_norm(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
    if total > max_norm:
        for g in grads.values():
            g *= max_norm / total  # in place
    return grads, total


def rebinding_clip_grad_norm(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
    for k in grads:
        grads[k] = grads[k] * min(1.0, max_norm / total)  # new arrays, but the caller's dict changes
    return grads, total


class TestContract(CheckContract):
    """The contract of every check (tests/check_contract.py), for exercise 05."""

    NOTEBOOK = "05_vanishing_gradients"
    CHECKS = {"jacobian_product": (C.JACOBIAN_PRODUCT, C.check_jacobian_product),
              "vanishing_rate_bound": (C.VANISHING_RATE_BOUND, C.check_vanishing_rate_bound),
              "clip_grad_norm": (C.CLIP_GRAD_NORM, C.check_clip_grad_norm)}
    GOOD = {"jacobian_product": good_jacobian_product, "vanishing_rate_bound": good_vanishing_rate_bound,
            "clip_grad_norm": good_clip_grad_norm}
    SHORTCUTS = {"jacobian_product": [library_jacobian_product],
                 "vanishing_rate_bound": [lambda w_h, f: (gradflow.decay_rate_bound(w_h, f),
                                                          gradflow.decay_rate_bound(w_h, f) < 1)],
                 "clip_grad_norm": [clipping.clip_grad_norm]}
    MUTATIONS = [("jacobian_product", mutating_jacobian_product, "as_"),
                 ("vanishing_rate_bound", mutating_vanishing_rate_bound, "w_h"),
                 ("clip_grad_norm", mutating_clip_grad_norm, "grads"),
                 ("clip_grad_norm", rebinding_clip_grad_norm, "grads")]
    # the J_0 off-by-one cannot run when t = 0; the two rate-bound models that mishandle γ are right for
    # tanh (γ = 1), half of the cases; the clipping models are right whenever the norm is below max_norm
    SOMETIMES_RIGHT = frozenset({"jacobian_product", "vanishing_rate_bound", "clip_grad_norm"})


# ----------------------------------------------------------------------------- messages

@without_guard
def test_feedback_names_shape_and_worst_element():
    def off_by_a_bit(w_h, as_, f, t):
        out = C.JACOBIAN_PRODUCT.reference(w_h, as_, f, t)
        out[1, 0] += 0.5
        return out

    with pytest.raises(CheckFailed, match=r"shape \(\d, \d\) is right.*worst at index \(1, 0\)"):
        C.check_jacobian_product(off_by_a_bit)
    with pytest.raises(CheckFailed, match=r"expected shape \(\d, \d\), received shape \(\d,\)"):
        C.check_jacobian_product(lambda w_h, as_, f, t: np.ones(w_h.shape[0]))


# ----------------------------------------------------------------------------- the cases themselves

def test_visible_cases_cover_both_branches():
    vrb = [C.VANISHING_RATE_BOUND.make_inputs(np.random.default_rng(s)) for s in range(C.VANISHING_RATE_BOUND.n_cases)]
    assert {c["f"] for c in vrb} == {"tanh", "sigmoid"}
    assert {C.VANISHING_RATE_BOUND.reference(**c)[1] for c in vrb} == {True, False}
    assert any(np.max(np.abs(np.linalg.eigvals(c["w_h"]))) * get_activation(c["f"]).deriv_bound < 1
               < C.VANISHING_RATE_BOUND.reference(**c)[0] for c in vrb)  # eigenvalues mislead here
    clip = [C.CLIP_GRAD_NORM.make_inputs(np.random.default_rng(s)) for s in range(C.CLIP_GRAD_NORM.n_cases)]
    clipped = [C.CLIP_GRAD_NORM.reference(**c)[1] > c["max_norm"] for c in clip]
    assert any(clipped) and not all(clipped)
    jp = [C.JACOBIAN_PRODUCT.make_inputs(np.random.default_rng(s)) for s in range(C.JACOBIAN_PRODUCT.n_cases)]
    assert {c["f"] for c in jp} == {"tanh", "sigmoid"}
    assert all(c["as_"].shape[0] - c["t"] >= 2 for c in jp)  # at least two factors: order matters


@pytest.mark.parametrize("seed", range(5))
def test_jacobian_reference_matches_finite_differences(seed):
    # independent of rnn_tutor.gradflow: differentiate h_T = f(a_T) ... through the recurrence directly
    inputs = C.JACOBIAN_PRODUCT.make_inputs(np.random.default_rng(seed))
    w_h, as_, f, t = inputs["w_h"], inputs["as_"], inputs["f"], inputs["t"]
    act = get_activation(f)
    T, m = as_.shape
    hs = act.fn(as_)
    h_t = hs[t - 1] if t > 0 else np.zeros(m)
    drive = as_ - np.vstack([np.zeros(m), hs[:-1]]) @ w_h.T  # the input part w_x x_k + b_h of each a_k

    def h_T(h, i):
        for k in range(t, T):
            h = act.fn(drive[k] + w_h @ h)
        return h[i]

    fd = np.stack([numerical_gradient(lambda h, i=i: h_T(h, i), h_t) for i in range(m)])
    assert rel_error(C.JACOBIAN_PRODUCT.reference(**copy.deepcopy(inputs)), fd) < 1e-6


@without_guard
def test_grader_path_agrees_with_the_notebook_runner():
    inputs = C.CLIP_GRAD_NORM.make_inputs(np.random.default_rng(11))
    good = evaluate_case(C.CLIP_GRAD_NORM, inputs, C.CLIP_GRAD_NORM.reference(**copy.deepcopy(inputs)))
    assert good.passed
    bad = evaluate_case(C.CLIP_GRAD_NORM, inputs, C.CLIP_GRAD_NORM.mistakes[0].fn(**copy.deepcopy(inputs)))
    assert not bad.passed or C.CLIP_GRAD_NORM.reference(**inputs)[1] <= inputs["max_norm"]
    assert run_check(C.CLIP_GRAD_NORM, C.CLIP_GRAD_NORM.reference, quiet=True) is None
