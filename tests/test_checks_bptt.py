"""Exercise 03 checks: references agree with the library, stubs fail, mistakes are named, mutation is caught."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from rnn_tutor.bptt import rnn_backward, rnn_step_backward
from rnn_tutor.checks import REGISTRY, CheckFailed
from rnn_tutor.checks import bptt as C
from rnn_tutor.rnn import rnn_forward, rnn_step
from rnn_tutor.truncated import train_tbptt

CHECKS = [(C.STEP_BACKWARD, C.check_step_backward), (C.BPTT, C.check_bptt),
          (C.TRAIN_TRUNCATED, C.check_train_truncated)]


def _stub(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("check,friendly", CHECKS)
def test_reference_passes_and_stub_fails(check, friendly, capsys):
    assert REGISTRY[("03_bptt", check.grade_id)] is check
    assert friendly(check.reference) == check.n_cases
    assert friendly(check.reference, hidden=True) == check.n_cases
    with pytest.raises(CheckFailed, match="not implemented yet"):
        friendly(_stub)


@pytest.mark.parametrize("check,friendly", CHECKS)
def test_each_mistake_fails_with_its_own_hint(check, friendly):
    for mistake in check.mistakes:
        raw = mistake.fn  # the mistake model, unguarded
        with pytest.raises(CheckFailed) as info:
            friendly(lambda **kw: raw(**kw))
        assert f"likely cause: {mistake.hint}" in str(info.value), mistake.hint


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


def test_library_implementations_pass_the_checks():
    def step_backward(dh_t, dy_t, x_t, h_prev, h_t, params):
        _, _, cache = rnn_step(x_t, h_prev, params)
        g = rnn_step_backward(dh_t, cache, dy_t)
        return {k: g[k] for k in ("w_x", "w_h", "b_h", "w_y", "b_y", "h_prev")}

    def bptt(xs, ps, params, h_0):
        _, ys, cache = rnn_forward(xs, params, h_0)
        g = rnn_backward(ys - ps, cache)
        return 0.5 * float(np.sum((ys - ps) ** 2)), {k: g[k] for k in ("w_x", "w_h", "b_h", "w_y", "b_y", "h_0")}

    C.check_step_backward(step_backward)
    C.check_bptt(bptt)
    C.check_train_truncated(lambda xs, ps, params, k, lr, epochs: train_tbptt(xs, ps, params, k, lr, epochs))


def test_in_place_mutation_is_caught():
    def mutating_step(dh_t, dy_t, x_t, h_prev, h_t, params):
        out = C.step_backward_reference(dh_t, dy_t, x_t, h_prev, h_t, params)
        dh_t += dy_t @ params["w_y"]  # the classic: accumulate into the argument
        return out
    with pytest.raises(CheckFailed, match=r"changed its input\(s\) \['dh_t'\] in place"):
        C.check_step_backward(mutating_step)

    def mutating_train(xs, ps, params, k, lr, epochs):
        out = C.train_truncated_reference(xs, ps, params, k, lr, epochs)
        for key in params:
            params[key] -= 0.0 * params[key] + 1e-3  # updates the caller's parameters in place
        return out
    with pytest.raises(CheckFailed, match=r"changed its input\(s\) \['params'\] in place"):
        C.check_train_truncated(mutating_train)


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
