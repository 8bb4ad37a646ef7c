"""The checks of exercise 06 (rnn_tutor.checks.variants).

The contract every check keeps (pass the solution, fail stubs, name mistakes, catch mutation) is
in tests/check_contract.py; this file gives it the lesson's solutions and tests what is specific.
"""

from __future__ import annotations

import numpy as np
import pytest
from check_contract import CheckContract

from rnn_tutor import lstm
from rnn_tutor.bidirectional import bidirectional_forward
from rnn_tutor.checks import lstm_sequence as S
from rnn_tutor.checks import variants as V
from rnn_tutor.checks.core import CheckFailed
from rnn_tutor.gru import gru_step as lib_gru_step
from rnn_tutor.lstm import lstm_step as lib_lstm_step

# ----------------------------------------------------------------------------- learner-style solutions

def sig(a):
    return 1 / (1 + np.exp(-a))


def good_gru(x_t, h_prev, params):
    W_ir, W_iz, W_in = np.split(params["w_ih"], 3)
    W_hr, W_hz, W_hn = np.split(params["w_hh"], 3)
    b_ir, b_iz, b_in = np.split(params["b_ih"], 3)
    b_hr, b_hz, b_hn = np.split(params["b_hh"], 3)
    r = sig(x_t @ W_ir.T + b_ir + h_prev @ W_hr.T + b_hr)
    z = sig(x_t @ W_iz.T + b_iz + h_prev @ W_hz.T + b_hz)
    n = np.tanh(x_t @ W_in.T + b_in + r * (h_prev @ W_hn.T + b_hn))
    return (1 - z) * n + z * h_prev


def good_lstm(x_t, h_prev, c_prev, params):
    a = x_t @ params["w_ih"].T + h_prev @ params["w_hh"].T + params["b_ih"] + params["b_hh"]
    i, f, g, o = np.split(a, 4, axis=1)
    c = sig(f) * c_prev + sig(i) * np.tanh(g)
    return sig(o) * np.tanh(c), c


def good_cell_backward(dh_t, dc_next, i_t, f_t, g_t, o_t, c_prev):
    c = f_t * c_prev + i_t * g_t
    dc = dc_next + dh_t * o_t * (1 - np.tanh(c) ** 2)
    return dc * g_t, dc * c_prev, dc * i_t, dh_t * np.tanh(c), dc * f_t


def good_bidirectional(xs, params_f, params_b):
    def run(seq, p):
        h, out = np.zeros((seq.shape[1], p["w_h"].shape[0])), []
        for x in seq:
            h = np.tanh(x @ p["w_x"].T + h @ p["w_h"].T + p["b_h"])
            out.append(h)
        return np.array(out)
    return np.concatenate([run(xs, params_f), np.flip(run(np.flip(xs, 0), params_b), 0)], axis=-1)


# ----------------------------------------------------------------------------- the library's answers

def library_cell_backward(dh_t, dc_next, i_t, f_t, g_t, o_t, c_prev):
    """lstm_step_backward with w_ih = I: its x_t gradient is the gate pre-activation gradient."""
    N, m = dh_t.shape
    cache = {"params": {"w_ih": np.eye(4 * m), "w_hh": np.zeros((4 * m, m))}, "i_t": i_t, "f_t": f_t, "g_t": g_t,
             "o_t": o_t, "c_t": f_t * c_prev + i_t * g_t, "c_prev": c_prev, "x_t": np.zeros((N, 4 * m)),
             "h_prev": np.zeros((N, m))}
    g = lstm.lstm_step_backward(dh_t, dc_next, cache)
    da_i, da_f, da_g, da_o = np.split(g["x_t"], 4, axis=1)
    return (da_i / (i_t * (1 - i_t)), da_f / (f_t * (1 - f_t)), da_g / (1 - g_t ** 2), da_o / (o_t * (1 - o_t)),
            g["c_prev"])


def library_lstm_backward(xs, params, h_0, c_0, dhs):
    *_, cache = lstm.lstm_forward(xs, params, h_0, c_0)
    g = lstm.lstm_backward(dhs, cache)
    return {k: g[k] for k in ("w_ih", "w_hh", "b_ih", "b_hh", "xs", "h_0", "c_0")}


def mutating_lstm_backward(xs, params, h_0, c_0, dhs):
    out = S.lstm_backward_reference(xs, params, h_0, c_0, dhs)
    dhs[-1] += out["h_0"].sum()  # accumulates into the caller's gradient
    return out


def library_bidirectional(xs, params_f, params_b):
    return bidirectional_forward(xs, {**params_f, **{k + "_reverse": v for k, v in params_b.items()}})[0]


SHORTCUTS = {"gru_step": [lambda x_t, h_prev, params: lib_gru_step(x_t, h_prev, params)[0]],
             "lstm_step": [lambda x_t, h_prev, c_prev, params: lib_lstm_step(x_t, h_prev, c_prev, params)[:2]],
             "lstm_cell_backward": [library_cell_backward], "bidirectional_states": [library_bidirectional],
             "lstm_backward": [library_lstm_backward]}


# ----------------------------------------------------------------------------- references vs the library

def test_references_agree_with_the_library():
    """The checks' plain-NumPy references equal rnn_tutor.gru / lstm / bidirectional (which match PyTorch)."""
    for seed in range(5):
        inp = V.GRU_STEP.make_inputs(np.random.default_rng(seed))
        np.testing.assert_allclose(V.gru_step_reference(**inp), lib_gru_step(**inp)[0], rtol=1e-12, atol=1e-14)
        inp = V.LSTM_STEP.make_inputs(np.random.default_rng(seed))
        h, c, _ = lib_lstm_step(**inp)
        ref = V.lstm_step_reference(**inp)
        np.testing.assert_allclose(ref[0], h, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ref[1], c, rtol=1e-12, atol=1e-14)
        inp = V.BIDIRECTIONAL_STATES.make_inputs(np.random.default_rng(seed))
        params = {**inp["params_f"], **{k + "_reverse": v for k, v in inp["params_b"].items()}}
        np.testing.assert_allclose(V.bidirectional_states_reference(**inp), bidirectional_forward(inp["xs"], params)[0],
                                   rtol=1e-12, atol=1e-14)


def test_cell_backward_reference_against_finite_differences():
    from rnn_tutor.gradcheck import numerical_gradients, rel_error

    inp = V.LSTM_CELL_BACKWARD.make_inputs(np.random.default_rng(3))
    dh, dcn = inp["dh_t"], inp["dc_next"]

    def loss(q):
        c = q["f_t"] * q["c_prev"] + q["i_t"] * q["g_t"]
        return float(np.sum(dh * q["o_t"] * np.tanh(c)) + np.sum(dcn * c))

    num = numerical_gradients(loss, {k: inp[k] for k in ("i_t", "f_t", "g_t", "o_t", "c_prev")})
    out = dict(zip(("i_t", "f_t", "g_t", "o_t", "c_prev"), V.lstm_cell_backward_reference(**inp)))
    for k in num:
        assert rel_error(out[k], num[k]) < 1e-8, k


# ----------------------------------------------------------------------------- the contract

def mutating_gru(x_t, h_prev, params):
    out = good_gru(x_t, h_prev, params)
    h_prev *= 0.5  # changes an input in place
    return out


def mutating_lstm(x_t, h_prev, c_prev, params):
    h, c = good_lstm(x_t, h_prev, c_prev, params)
    params["b_hh"][:] = 0.0
    return h, c


def mutating_backward(dh_t, dc_next, i_t, f_t, g_t, o_t, c_prev):
    dc_next += dh_t * o_t * (1 - np.tanh(f_t * c_prev + i_t * g_t) ** 2)  # accumulates into the argument
    return dc_next * g_t, dc_next * c_prev, dc_next * i_t, dh_t * np.tanh(f_t * c_prev + i_t * g_t), dc_next * f_t


def mutating_bidirectional(xs, params_f, params_b):
    out = good_bidirectional(xs, params_f, params_b)
    xs[:] = xs[::-1].copy()
    return out


class TestContract(CheckContract):
    """The contract of every check (tests/check_contract.py), for exercise 06."""

    NOTEBOOK = "06_variants"
    CHECKS = {"gru_step": (V.GRU_STEP, V.check_gru_step), "lstm_step": (V.LSTM_STEP, V.check_lstm_step),
              "lstm_cell_backward": (V.LSTM_CELL_BACKWARD, V.check_lstm_cell_backward),
              "bidirectional_states": (V.BIDIRECTIONAL_STATES, V.check_bidirectional_states),
              "lstm_backward": (S.LSTM_BACKWARD, S.check_lstm_backward)}
    SHORTCUTS = SHORTCUTS
    GOOD = {"gru_step": good_gru, "lstm_step": good_lstm, "lstm_cell_backward": good_cell_backward,
            "bidirectional_states": good_bidirectional}
    MUTATIONS = [("gru_step", mutating_gru, "h_prev"), ("lstm_step", mutating_lstm, "params"),
                 ("lstm_cell_backward", mutating_backward, "dc_next"),
                 ("bidirectional_states", mutating_bidirectional, "xs"),
                 ("lstm_backward", mutating_lstm_backward, "dhs")]


# ----------------------------------------------------------------------------- messages and cases

def test_untransposed_weights_get_the_row_convention_hint():
    def no_transpose(x_t, h_prev, params):
        m = h_prev.shape[1]
        gi = x_t @ params["w_ih"] + params["b_ih"]  # d != 3m, so this raises
        return gi[:, :m]
    with pytest.raises(CheckFailed, match=r"(?s)gru_step raised ValueError.*x_t @ w_ih\.T"):
        V.check_gru_step(no_transpose)


def test_messages_name_the_output_and_the_worst_element():
    def c_wrong(x_t, h_prev, c_prev, params):
        h, c = good_lstm(x_t, h_prev, c_prev, params)
        c = c.copy()
        c[1, 0] += 1.0
        return h, c
    with pytest.raises(CheckFailed, match=r"lstm_step\['c_t'\]: shape \(\d, \d\) is right, but 1 of \d+ elements differ; "
                                          r"the worst at index \(1, 0\)"):
        V.check_lstm_step(c_wrong)

    def three(dh_t, dc_next, i_t, f_t, g_t, o_t, c_prev):
        return good_cell_backward(dh_t, dc_next, i_t, f_t, g_t, o_t, c_prev)[:3]
    with pytest.raises(CheckFailed, match="expected 5 values, received 3"):
        V.check_lstm_cell_backward(three)


def test_make_inputs_are_adversarial():
    for seed in range(40):
        rng = np.random.default_rng(seed)
        g = V.GRU_STEP.make_inputs(rng)
        N, d = g["x_t"].shape
        m = g["h_prev"].shape[1]
        assert len({N, d, m}) == 3 and d not in (3 * m, 4 * m) and np.abs(g["h_prev"]).min() > 0
        assert np.all(g["params"]["b_hh"] != 0)
        bi = V.BIDIRECTIONAL_STATES.make_inputs(rng)
        assert bi["xs"].shape[0] >= 3  # reversal matters
        assert not np.array_equal(bi["params_f"]["w_x"], bi["params_b"]["w_x"])


def test_a_matmul_shape_error_gets_the_gate_layout_hint():
    def column_style_gru(x_t, h_prev, params):
        return params["w_ih"] @ x_t  # column-vector formula on a batch of rows

    with pytest.raises(CheckFailed, match=r"(?s)likely cause: a matrix product.*cut the km columns"):
        V.check_gru_step(column_style_gru)


@pytest.mark.parametrize("seed", range(4))
def test_lstm_backward_reference_agrees_with_the_library_and_finite_differences(seed):
    from rnn_tutor.gradcheck import max_rel_error, numerical_gradients

    inp = S.LSTM_BACKWARD.make_inputs(np.random.default_rng(seed))
    ref = S.lstm_backward_reference(**inp)
    lib = library_lstm_backward(**inp)
    for key in ref:
        np.testing.assert_allclose(ref[key], lib[key], rtol=1e-12, atol=1e-14)

    def loss(v):
        p = {k: v[k] for k in ("w_ih", "w_hh", "b_ih", "b_hh")}
        return float(np.sum(lstm.lstm_forward(v["xs"], p, v["h_0"], v["c_0"])[0] * inp["dhs"]))
    num = numerical_gradients(loss, {**inp["params"], "xs": inp["xs"], "h_0": inp["h_0"], "c_0": inp["c_0"]}, 1e-6)
    assert max(max_rel_error({k: ref[k] for k in num}, num).values()) < 1e-7


def test_a_wrong_cell_backward_is_named_as_the_cause_of_a_wrong_sequence_backward():
    """Task 5 calls the learner's lstm_cell_backward (task 3): a failure there is named upstream."""
    from check_contract import solution_functions
    fn = solution_functions("06_variants")["lstm_backward"]
    ns = dict(fn.__globals__)

    def forgetful_cell_backward(dh_t, dc_next, i_t, f_t, g_t, o_t, c_prev):
        c = f_t * c_prev + i_t * g_t
        dc = dh_t * o_t * (1 - np.tanh(c) ** 2)  # dc_next forgotten
        return dc * g_t, dc * c_prev, dc * i_t, dh_t * np.tanh(c), dc * f_t
    ns["lstm_cell_backward"] = forgetful_cell_backward
    rebound = type(fn)(fn.__code__, ns, fn.__name__)
    with pytest.raises(CheckFailed) as info:
        S.check_lstm_backward(rebound)
    message = str(info.value)
    assert "note: lstm_backward calls your lstm_cell_backward, which fails its own check" in message
