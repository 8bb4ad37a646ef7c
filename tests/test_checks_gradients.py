"""The checks of exercise 05 (rnn_tutor.checks.gradients): pass the solution, fail stubs, mistakes and mutation."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import numpy as np
import pytest

from rnn_tutor.activations import get_activation
from rnn_tutor.checks import REGISTRY
from rnn_tutor.checks import gradients as C
from rnn_tutor.checks.core import CheckFailed, evaluate_case, run_check
from rnn_tutor.gradcheck import numerical_gradient, rel_error

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions" / "05_vanishing_gradients.ipynb"


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


CHECKS = {
    "jacobian_product": (C.JACOBIAN_PRODUCT, C.check_jacobian_product, good_jacobian_product),
    "vanishing_rate_bound": (C.VANISHING_RATE_BOUND, C.check_vanishing_rate_bound, good_vanishing_rate_bound),
    "clip_grad_norm": (C.CLIP_GRAD_NORM, C.check_clip_grad_norm, good_clip_grad_norm),
}


def stub(*args, **kwargs):
    # YOUR CODE HERE
    raise NotImplementedError()


# ----------------------------------------------------------------------------- registry and notebook

def test_registered_under_notebook_and_grade_id():
    for name, (check, _, _) in CHECKS.items():
        assert REGISTRY[("05_vanishing_gradients", f"check_{name}")] is check
        assert check.target == name


def test_solution_notebook_agrees_with_the_checks():
    nb = nbformat.read(SOLUTIONS, as_version=4)
    assert nb.metadata["rnn_tutor"]["id"] == "05_vanishing_gradients"
    graded = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
              if c.metadata.get("nbgrader", {}).get("grade")}
    solution_ids = {c.metadata["nbgrader"]["grade_id"] for c in nb.cells
                    if c.metadata.get("nbgrader", {}).get("solution")}
    assert set(graded) == {f"check_{n}" for n in CHECKS}
    for name, (check, friendly, _) in CHECKS.items():
        cell = graded[check.grade_id]
        assert cell.metadata["nbgrader"]["points"] == check.points
        assert cell.metadata["nbgrader"]["locked"] is True
        assert f"{friendly.__name__}({name})" in cell.source
        assert name in solution_ids


# ----------------------------------------------------------------------------- pass / fail

@pytest.mark.parametrize("name", CHECKS)
@pytest.mark.parametrize("hidden", [False, True])
def test_reference_and_an_independent_solution_pass(name, hidden):
    check, friendly, good = CHECKS[name]
    assert friendly(check.reference, hidden=hidden) == check.n_cases
    assert friendly(good, hidden=hidden) == check.n_cases


@pytest.mark.parametrize("name", CHECKS)
def test_stub_fails_with_not_implemented_message(name):
    check, friendly, _ = CHECKS[name]
    with pytest.raises(CheckFailed, match="not implemented yet"):
        friendly(stub)


MISTAKES = [(name, i) for name, (check, _, _) in CHECKS.items() for i in range(len(check.mistakes))]


@pytest.mark.parametrize("name,i", MISTAKES, ids=[f"{n}-{i}" for n, i in MISTAKES])
def test_each_mistake_fails_with_its_hint(name, i):
    check, friendly, _ = CHECKS[name]
    mistake = check.mistakes[i]
    with pytest.raises(CheckFailed) as info:
        friendly(mistake.fn)
    message = str(info.value)
    assert f"likely cause: {mistake.hint}" in message
    assert "case" in message and "inputs:" in message


def test_feedback_names_shape_and_worst_element():
    def off_by_a_bit(w_h, as_, f, t):
        out = C.JACOBIAN_PRODUCT.reference(w_h, as_, f, t)
        out[1, 0] += 0.5
        return out

    with pytest.raises(CheckFailed, match=r"shape \(\d, \d\) is right.*worst at index \(1, 0\)"):
        C.check_jacobian_product(off_by_a_bit)
    with pytest.raises(CheckFailed, match=r"expected shape \(\d, \d\), received shape \(\d,\)"):
        C.check_jacobian_product(lambda w_h, as_, f, t: np.ones(w_h.shape[0]))


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


@pytest.mark.parametrize("name,fn", [("jacobian_product", mutating_jacobian_product),
                                     ("vanishing_rate_bound", mutating_vanishing_rate_bound),
                                     ("clip_grad_norm", mutating_clip_grad_norm),
                                     ("clip_grad_norm", rebinding_clip_grad_norm)])
def test_in_place_mutation_is_caught(name, fn):
    check, friendly, _ = CHECKS[name]
    with pytest.raises(CheckFailed, match="in place"):
        friendly(fn)


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


def test_grader_path_agrees_with_the_notebook_runner():
    inputs = C.CLIP_GRAD_NORM.make_inputs(np.random.default_rng(11))
    good = evaluate_case(C.CLIP_GRAD_NORM, inputs, C.CLIP_GRAD_NORM.reference(**copy.deepcopy(inputs)))
    assert good.passed
    bad = evaluate_case(C.CLIP_GRAD_NORM, inputs, C.CLIP_GRAD_NORM.mistakes[0].fn(**copy.deepcopy(inputs)))
    assert not bad.passed or C.CLIP_GRAD_NORM.reference(**inputs)[1] <= inputs["max_norm"]
    assert run_check(C.CLIP_GRAD_NORM, C.CLIP_GRAD_NORM.reference, quiet=True) == C.CLIP_GRAD_NORM.n_cases
