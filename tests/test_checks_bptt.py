"""Exercise 03 checks (rnn_tutor.checks.bptt).

The contract every check keeps (pass the solution, fail a stub, name mistakes, catch mutation)
is in tests/check_contract.py; here the library's BPTT is its learner-style solution, and the
checks' references are compared with the library.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from check_contract import CheckContract, without_guard

from rnn_tutor.bptt import rnn_backward, rnn_step_backward
from rnn_tutor.checks import CheckFailed
from rnn_tutor.checks import bptt as C
from rnn_tutor.checks import gradient_checker as GC
from rnn_tutor.rnn import rnn_forward, rnn_step
from rnn_tutor.gradcheck import numerical_gradients
from rnn_tutor.truncated import train_tbptt

# ----------------------------------------------------------------------------- the library as the learner

def library_step_backward(dh_t, dy_t, x_t, h_prev, h_t, params):
    _, _, cache = rnn_step(x_t, h_prev, params)
    g = rnn_step_backward(dh_t, cache, dy_t)
    return {k: g[k] for k in ("w_x", "w_h", "b_h", "w_y", "b_y", "h_prev")}


def library_bptt(xs, ps, params, h_0):
    _, ys, cache = rnn_forward(xs, params, h_0)
    g = rnn_backward(ys - ps, cache)
    return 0.5 * float(np.sum((ys - ps) ** 2)), {k: g[k] for k in ("w_x", "w_h", "b_h", "w_y", "b_y", "h_0")}


def library_train_truncated(xs, ps, params, k, lr, epochs):
    return train_tbptt(xs, ps, params, k, lr, epochs)


def library_numerical_gradients(xs, ps, params, h_0, eps):
    values = {**params, "h_0": h_0}
    return numerical_gradients(lambda v: GC.sequence_loss(xs, ps, {k: v[k] for k in params}, v["h_0"]), values, eps)


def accumulating_step_backward(dh_t, dy_t, x_t, h_prev, h_t, params):
    out = C.step_backward_reference(dh_t, dy_t, x_t, h_prev, h_t, params)
    dh_t += dy_t @ params["w_y"]  # the classic: accumulate into the argument
    return out


def updating_train_truncated(xs, ps, params, k, lr, epochs):
    out = C.train_truncated_reference(xs, ps, params, k, lr, epochs)
    for key in params:
        params[key] -= 0.0 * params[key] + 1e-3  # updates the caller's parameters in place
    return out


class TestContract(CheckContract):
    """The contract of every check (tests/check_contract.py), for exercise 03."""

    NOTEBOOK = "03_bptt"
    CHECKS = {"step_backward": (C.STEP_BACKWARD, C.check_step_backward), "bptt": (C.BPTT, C.check_bptt),
              "numerical_gradients": (GC.NUMERICAL_GRADIENTS, GC.check_numerical_gradients),
              "train_truncated": (C.TRAIN_TRUNCATED, C.check_train_truncated)}
    UNCHECKED_GRADED = frozenset({"check_gradients_agree"})  # gradients_agree(bptt, numerical_gradients): no Check
    SHORTCUTS = {"step_backward": [library_step_backward], "bptt": [library_bptt],
                 "numerical_gradients": [library_numerical_gradients],
                 "train_truncated": [library_train_truncated]}
    MUTATIONS = [("step_backward", accumulating_step_backward, "dh_t"),
                 ("train_truncated", updating_train_truncated, "params")]


# ----------------------------------------------------------------------------- references vs the library

@pytest.mark.parametrize("seed", range(5))
def test_references_agree_with_the_library(seed):
    rng = np.random.default_rng(seed)
    step = C._step_inputs(rng)
    p = step["params"]
    _, _, cache = rnn_step(step["x_t"], step["h_prev"], p)
    np.testing.assert_allclose(cache["h_t"], step["h_t"])
    lib = rnn_step_backward(step["dh_t"], cache, step["dy_t"])
    ref = C.step_backward_reference(**step)
    for key in ("w_x", "w_h", "b_h", "w_y", "b_y", "h_prev"):
        np.testing.assert_allclose(ref[key], lib[key], rtol=1e-12, atol=1e-14)

    case = C._bptt_inputs(rng)
    _, ys, cache = rnn_forward(case["xs"], case["params"], case["h_0"])
    lib = rnn_backward(ys - case["ps"], cache)
    loss, ref = C.bptt_reference(**case)
    assert loss == pytest.approx(0.5 * np.sum((ys - case["ps"]) ** 2))
    for key in ("w_x", "w_h", "b_h", "w_y", "b_y", "h_0"):
        np.testing.assert_allclose(ref[key], lib[key], rtol=1e-12, atol=1e-14)

    case = C._train_inputs(rng)
    lib_p, lib_h = train_tbptt(case["xs"], case["ps"], case["params"], case["k"], lr=case["lr"],
                               epochs=case["epochs"], optimizer="sgd")
    ref_p, ref_h = C.train_truncated_reference(**case)
    for key in lib_p:
        np.testing.assert_allclose(ref_p[key], lib_p[key], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ref_h, lib_h, rtol=1e-12)


@without_guard
def test_feedback_names_the_shape_and_the_worst_element():
    def transposed(dh_t, dy_t, x_t, h_prev, h_t, params):
        out = C.step_backward_reference(dh_t, dy_t, x_t, h_prev, h_t, params)
        return {**out, "w_x": out["w_x"].T}
    with pytest.raises(CheckFailed, match=r"step_backward\['w_x'\]: expected shape \(\d, \d\), received shape"):
        C.check_step_backward(transposed)

    def slightly_off(xs, ps, params, h_0):
        loss, grads = C.bptt_reference(xs, ps, params, h_0)
        grads = copy.deepcopy(grads)
        grads["b_y"][0] += 1e-3
        return loss, grads
    with pytest.raises(CheckFailed, match=r"bptt\[grads\]\['b_y'\]|b_y.*worst at index \(0,\)"):
        C.check_bptt(slightly_off)


def test_gradients_agree_passes_the_solution_and_names_the_disagreement(capsys):
    from check_contract import solution_functions
    ns = solution_functions("03_bptt")
    assert GC.gradients_agree(ns["bptt"], ns["numerical_gradients"]) is None
    assert "h_0" in capsys.readouterr().out

    def no_half(xs, ps, params, h_0):
        loss, grads = ns["bptt"](xs, ps, params, h_0)
        return loss, {**grads, "w_y": 2 * grads["w_y"]}
    with pytest.raises(CheckFailed, match="disagree on w_y"):
        GC.gradients_agree(no_half, ns["numerical_gradients"])


def test_gradients_agree_fails_library_answers():
    with pytest.raises(CheckFailed, match="bptt calls rnn_tutor.rnn.rnn_forward"):
        GC.gradients_agree(library_bptt, lambda **i: C.bptt_reference(**{k: i[k] for k in ("xs", "ps", "params", "h_0")})[1])
    with pytest.raises(CheckFailed, match="numerical_gradients calls rnn_tutor.gradcheck.numerical_gradients"):
        from check_contract import solution_functions
        GC.gradients_agree(solution_functions("03_bptt")["bptt"], library_numerical_gradients)
