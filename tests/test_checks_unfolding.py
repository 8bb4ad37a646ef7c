"""The checks of exercise 01 (rnn_tutor.checks.unfolding).

The contract every check keeps (pass the solution, fail stubs, mistakes and mutation) is in
tests/check_contract.py; this file gives it the lesson's solutions and tests what is specific.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from check_contract import CheckContract

from rnn_tutor.checks import unfolding as U
from rnn_tutor.checks.core import CheckFailed
from rnn_tutor import masking, rnn
from rnn_tutor.rnn import count_params, rnn_forward

# ----------------------------------------------------------------------------- the library's answers (shortcuts)

SHORTCUTS = {
    "rnn_step": [lambda x_t, h_prev, w_x, w_h, b_h: rnn.rnn_step(x_t, h_prev, _full(w_x, w_h, b_h))[0],
                 lambda x_t, h_prev, w_x, w_h, b_h: rnn.rnn_forward(x_t[None], _full(w_x, w_h, b_h), h_prev)[0][0]],
    "rnn_forward": [lambda xs, params, h_0: rnn.rnn_forward(xs, params, h_0)[:2]],
    "n_params": [lambda d, m, q, T: rnn.count_params(d, m, q),
                 lambda d, m, q, T: sum(v.size for v in rnn.init_params(d, m, q, np.random.default_rng(0)).values())],
    "final_states": [lambda xs, lengths, params: masking.last_valid(rnn.rnn_forward(xs, params)[0], lengths)],
}


def _full(w_x, w_h, b_h):
    m = w_h.shape[0]
    return {"w_x": w_x, "w_h": w_h, "b_h": b_h, "w_y": np.zeros((1, m)), "b_y": np.zeros(1)}

# ----------------------------------------------------------------------------- learner-style solutions

def good_step(x_t, h_prev, w_x, w_h, b_h):
    return np.tanh(x_t @ w_x.T + h_prev @ w_h.T + b_h)


def good_forward(xs, params, h_0):
    hs, h = [], h_0
    for x_t in xs:
        h = good_step(x_t, h, params["w_x"], params["w_h"], params["b_h"])
        hs.append(h)
    hs = np.stack(hs)
    return hs, hs @ params["w_y"].T + params["b_y"]


def good_n_params(d, m, q, T):
    return m * d + m * m + m + q * m + q


def good_final_states(xs, lengths, params):
    m = params["w_h"].shape[0]
    return np.stack([good_forward(xs[:L, n:n + 1], params, np.zeros((1, m)))[0][-1, 0]
                     for n, L in enumerate(lengths)])


# ----------------------------------------------------------------------------- mutation

def mutating_step(x_t, h_prev, w_x, w_h, b_h):
    h_prev[...] = np.tanh(x_t @ w_x.T + h_prev @ w_h.T + b_h)  # right values, written into the input
    return h_prev


def mutating_forward(xs, params, h_0):
    hs, ys = good_forward(xs, params, h_0)
    params["b_h"] += 0.0  # no change of value...
    xs[0] = 0.0  # ...but this one changes the input
    return hs, ys


def mutating_final_states(xs, lengths, params):
    out = good_final_states(xs, lengths, params)
    lengths.sort()
    return out


class TestContract(CheckContract):
    """The contract of every check (tests/check_contract.py), for exercise 01."""

    NOTEBOOK = "01_unfolding"
    SHORTCUTS = SHORTCUTS
    CHECKS = {"rnn_step": (U.RNN_STEP, U.check_rnn_step), "rnn_forward": (U.RNN_FORWARD, U.check_rnn_forward),
              "n_params": (U.N_PARAMS, U.check_n_params), "final_states": (U.FINAL_STATES, U.check_final_states)}
    GOOD = {"rnn_step": good_step, "rnn_forward": good_forward, "n_params": good_n_params,
            "final_states": good_final_states}
    MUTATIONS = [("rnn_step", mutating_step, "h_prev"), ("rnn_forward", mutating_forward, "xs"),
                 ("final_states", mutating_final_states, "lengths")]


# ----------------------------------------------------------------------------- references vs the library

def test_references_agree_with_the_library():
    """The checks' plain-NumPy references agree with rnn_tutor.rnn (tanh, identity output)."""
    for seed in range(5):
        inputs = U.RNN_FORWARD.make_inputs(np.random.default_rng(seed))
        hs, ys = U.forward_reference(**inputs)
        lib_hs, lib_ys, _ = rnn_forward(inputs["xs"], inputs["params"], inputs["h_0"])
        np.testing.assert_allclose(hs, lib_hs, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ys, lib_ys, rtol=1e-12, atol=1e-14)
        inputs = U.N_PARAMS.make_inputs(np.random.default_rng(seed))
        assert U.n_params_reference(**inputs) == count_params(inputs["d"], inputs["m"], inputs["q"])


def test_final_states_reference_against_library_per_sequence():
    inputs = U.FINAL_STATES.make_inputs(np.random.default_rng(11))
    xs, lengths, p = inputs["xs"], inputs["lengths"], inputs["params"]
    out = U.final_states_reference(**inputs)
    assert len(set(lengths.tolist())) > 1  # the case really mixes lengths
    for n, L in enumerate(lengths):
        hs, _, _ = rnn_forward(xs[:L, n:n + 1], p)
        np.testing.assert_allclose(out[n], hs[-1, 0], rtol=1e-12)


# ----------------------------------------------------------------------------- messages

def test_message_names_shapes_for_a_transposed_result():
    def transposed(x_t, h_prev, w_x, w_h, b_h):
        return good_step(x_t, h_prev, w_x, w_h, b_h).T

    with pytest.raises(CheckFailed) as info:
        U.check_rnn_step(transposed)
    msg = str(info.value)
    assert re.search(r"expected shape \(\d, \d\), received shape \(\d, \d\) \(the axes are swapped", msg), msg
    assert "inputs: x_t=array(" in msg


def test_message_names_worst_element_index():
    def one_wrong(x_t, h_prev, w_x, w_h, b_h):
        h = good_step(x_t, h_prev, w_x, w_h, b_h)
        h[1, 2] += 0.5
        return h

    with pytest.raises(CheckFailed) as info:
        U.check_rnn_step(one_wrong)
    msg = str(info.value)
    assert "1 of" in msg and "the worst at index (1, 2)" in msg, msg


def test_message_for_forward_names_hs_or_ys():
    def ys_wrong(xs, params, h_0):
        hs, ys = good_forward(xs, params, h_0)
        return hs, ys * 2
    with pytest.raises(CheckFailed, match=r"rnn_forward\['ys'\]: shape \(\d+, \d+, \d+\) is right"):
        U.check_rnn_forward(ys_wrong)

    def too_many(xs, params, h_0):
        return good_forward(xs, params, h_0) + (None,)
    with pytest.raises(CheckFailed, match="expected 2 values, received 3"):
        U.check_rnn_forward(too_many)


def test_matmul_shape_error_gets_the_row_convention_hint():
    def w_x_untransposed(x_t, h_prev, w_x, w_h, b_h):
        return np.tanh(x_t @ w_x + h_prev @ w_h.T + b_h)  # d != m in every case, so this raises
    with pytest.raises(CheckFailed, match=r"(?s)rnn_step raised ValueError.*x_t @ w_x\.T"):
        U.check_rnn_step(w_x_untransposed)


def test_n_params_rejects_non_integers_and_wrong_counts():
    with pytest.raises(CheckFailed, match="expected a whole number"):
        U.check_n_params(lambda d, m, q, T: 12.5)
    with pytest.raises(CheckFailed, match="expected a whole number"):
        U.check_n_params(lambda d, m, q, T: str(good_n_params(d, m, q, T)))
    with pytest.raises(CheckFailed, match=r"off by \+1"):
        U.check_n_params(lambda d, m, q, T: good_n_params(d, m, q, T) + 1)
    U.check_n_params(lambda d, m, q, T: float(good_n_params(d, m, q, T)))  # 42.0 is a count too


def test_make_inputs_are_adversarial():
    for seed in range(50):
        rng = np.random.default_rng(seed)
        step = U.RNN_STEP.make_inputs(rng)
        N, d = step["x_t"].shape
        m = step["w_h"].shape[0]
        assert d != m and N != m and np.abs(step["h_prev"]).min() > 0
        a_t = step["x_t"] @ step["w_x"].T + step["h_prev"] @ step["w_h"].T + step["b_h"]
        assert (a_t < 0).any() and (a_t > 0).any()  # tanh, ReLU and identity all disagree
        fwd = U.RNN_FORWARD.make_inputs(rng)
        assert fwd["params"]["w_y"].shape[0] != fwd["params"]["w_h"].shape[0]
        assert np.abs(fwd["h_0"]).min() > 0
        fs = U.FINAL_STATES.make_inputs(rng)
        T_max, lengths = fs["xs"].shape[0], fs["lengths"]
        assert lengths.max() == T_max and lengths.min() <= T_max - 2
        for n, L in enumerate(lengths):
            assert not fs["xs"][L:, n].any()
        assert U.N_PARAMS.make_inputs(rng)["T"] >= 2


def test_n_params_mistake_models_are_listed_in_the_distinctness_helper():
    """_n_params_counts mirrors the mistake list, so make_inputs can keep every hint unambiguous."""
    for seed in range(20):
        inputs = U.N_PARAMS.make_inputs(np.random.default_rng(seed))
        counts = U._n_params_counts(**inputs)
        assert counts[0] == U.n_params_reference(**inputs)
        assert counts[1:] == [mk.fn(**inputs) for mk in U.N_PARAMS.mistakes]
        assert len(set(counts)) == len(counts)


def test_a_matmul_shape_error_gets_the_row_convention_hint():
    def column_style_step(x_t, h_prev, w_x, w_h, b_h):  # w_x @ x_t: the column-vector formula on row batches
        return np.tanh(w_x @ x_t + w_h @ h_prev + b_h)

    with pytest.raises(CheckFailed, match=r"(?s)raised ValueError.*likely cause: a matrix product with mismatched shapes"):
        U.check_rnn_step(column_style_step)


def test_other_errors_get_no_matmul_hint():
    def broken_step(x_t, h_prev, w_x, w_h, b_h):
        raise KeyError("oops")

    with pytest.raises(CheckFailed) as info:
        U.check_rnn_step(broken_step)
    assert "raised KeyError" in str(info.value) and "matrix product" not in str(info.value)
