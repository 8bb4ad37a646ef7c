"""Unit tests for the LSTM (rnn_tutor.lstm).

References are independent of the library: a hand computation, a plain-Python loop over
units written from PyTorch's documented equations, and central finite differences
(rnn_tutor.gradcheck) for every gradient, including both initial states h_0 and c_0.
PyTorch itself is in test_torch_parity.py.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from rnn_tutor import gradflow
from rnn_tutor.cells import Cell
from rnn_tutor.gradcheck import numerical_gradient, numerical_gradients, rel_error
from rnn_tutor.lstm import (LSTM, PARAM_KEYS, init_lstm_params, lstm_backward, lstm_forward, lstm_step,
                            lstm_step_backward, lstm_step_jacobians)

SHAPES = [  # (T, N, d, m)
    (1, 1, 1, 1),
    (1, 3, 2, 4),
    (4, 1, 3, 2),
    (5, 2, 3, 4),
    (3, 4, 1, 3),
]


def sig(a: float) -> float:
    return 1.0 / (1.0 + math.exp(-a))


def loop_reference(xs, p, h_0, c_0):
    """Unit by unit, from PyTorch's equations (rows stacked i, f, g, o)."""
    T, N, d = xs.shape
    m = p["w_hh"].shape[1]
    hs, cs = np.zeros((T, N, m)), np.zeros((T, N, m))
    for n in range(N):
        h, c = [float(v) for v in h_0[n]], [float(v) for v in c_0[n]]
        for t in range(T):
            x = xs[t, n]

            def pre(row):
                return (sum(p["w_ih"][row, j] * x[j] for j in range(d)) + p["b_ih"][row]
                        + sum(p["w_hh"][row, k] * h[k] for k in range(m)) + p["b_hh"][row])

            i = [sig(pre(u)) for u in range(m)]
            f = [sig(pre(m + u)) for u in range(m)]
            g = [math.tanh(pre(2 * m + u)) for u in range(m)]
            o = [sig(pre(3 * m + u)) for u in range(m)]
            c = [f[u] * c[u] + i[u] * g[u] for u in range(m)]
            h = [o[u] * math.tanh(c[u]) for u in range(m)]
            hs[t, n], cs[t, n] = h, c
    return hs, cs


def random_case(T, N, d, m, seed=0):
    rng = np.random.default_rng(seed)
    p = {k: rng.normal(0, 0.6, v.shape) for k, v in init_lstm_params(d, m, rng).items()}
    return p, rng.normal(size=(T, N, d)), rng.normal(0, 0.7, (N, m)), rng.normal(0, 1.0, (N, m)), rng


# ----------------------------------------------------------------------------- forward

def test_scalar_step_by_hand():
    # d = m = 1, h_prev = 0: pre-activations are w_ih x + b_ih + b_hh = (0.5, 1.0, 2.0, -1.0) for x = 1
    # i = σ(0.5), f = σ(1), g = tanh(2), o = σ(-1);  c = f·0.3 + i·g;  h = o·tanh(c)
    p = {"w_ih": np.array([[0.5], [1.0], [2.0], [-1.0]]), "w_hh": np.array([[9.0], [9.0], [9.0], [9.0]]),
         "b_ih": np.zeros(4), "b_hh": np.zeros(4)}
    i, f, g, o = sig(0.5), sig(1.0), math.tanh(2.0), sig(-1.0)
    c = f * 0.3 + i * g
    h_t, c_t, cache = lstm_step(np.array([[1.0]]), np.zeros((1, 1)), np.array([[0.3]]), p)
    assert c_t[0, 0] == pytest.approx(c, abs=1e-15)
    assert h_t[0, 0] == pytest.approx(o * math.tanh(c), abs=1e-15)
    assert [cache[k][0, 0] for k in ("i_t", "f_t", "g_t", "o_t")] == pytest.approx([i, f, g, o])


@pytest.mark.parametrize("T, N, d, m", SHAPES)
def test_forward_matches_loop_reference_and_step(T, N, d, m):
    p, xs, h_0, c_0, _ = random_case(T, N, d, m)
    hs, (h_T, c_T), cache = lstm_forward(xs, p, h_0, c_0)
    ref_hs, ref_cs = loop_reference(xs, p, h_0, c_0)
    np.testing.assert_allclose(hs, ref_hs, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(cache["cs"], ref_cs, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(h_T, hs[-1])
    np.testing.assert_allclose(c_T, ref_cs[-1], rtol=1e-12, atol=1e-14)
    h, c = h_0, c_0
    for t in range(T):
        h, c, _ = lstm_step(xs[t], h, c, p)
        np.testing.assert_allclose(h, hs[t], rtol=1e-13, atol=1e-15)


def test_open_forget_gate_and_closed_input_gate_copy_the_cell_state():
    p, xs, h_0, c_0, _ = random_case(6, 2, 2, 3)
    q = {**p, "b_ih": p["b_ih"].copy()}
    q["b_ih"][:3] = -50.0  # i_t = 0
    q["b_ih"][3:6] = 50.0  # f_t = 1
    _, (_, c_T), cache = lstm_forward(xs, q, h_0, c_0)
    np.testing.assert_allclose(cache["cs"], np.broadcast_to(c_0, cache["cs"].shape), atol=1e-15)
    q["b_ih"][3:6] = -50.0  # f_t = 0: the old state is forgotten at once
    _, (_, c_T), _ = lstm_forward(xs, q, h_0, c_0)
    np.testing.assert_allclose(c_T, 0.0, atol=1e-15)


def test_forget_bias_and_defaults():
    p0 = init_lstm_params(2, 3, np.random.default_rng(4))
    p1 = init_lstm_params(2, 3, np.random.default_rng(4), forget_bias=1.0)
    np.testing.assert_allclose(p1["b_ih"][3:6] - p0["b_ih"][3:6], 1.0)
    np.testing.assert_array_equal(np.delete(p1["b_ih"], range(3, 6)), np.delete(p0["b_ih"], range(3, 6)))
    xs = np.random.default_rng(0).normal(size=(3, 2, 2))
    hs, _, _ = lstm_forward(xs, p0)
    np.testing.assert_allclose(hs, lstm_forward(xs, p0, np.zeros((2, 3)), np.zeros((2, 3)))[0])


def test_inputs_are_not_modified():
    p, xs, h_0, c_0, rng = random_case(3, 2, 2, 3)
    before = copy.deepcopy((p, xs, h_0, c_0))
    hs, _, cache = lstm_forward(xs, p, h_0, c_0)
    dh_T, dc_T = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    saved = dh_T.copy(), dc_T.copy()
    lstm_backward(np.ones_like(hs), cache, dh_T, dc_T)
    np.testing.assert_array_equal(dh_T, saved[0])
    np.testing.assert_array_equal(dc_T, saved[1])
    for a, b in zip((xs, h_0, c_0), before[1:]):
        np.testing.assert_array_equal(a, b)
    for k in p:
        np.testing.assert_array_equal(p[k], before[0][k])


# ----------------------------------------------------------------------------- gradients

@pytest.mark.parametrize("T, N, d, m", SHAPES)
def test_backward_matches_finite_differences(T, N, d, m):
    p, xs, h_0, c_0, rng = random_case(T, N, d, m, seed=1 + T + 10 * N + 100 * d + 1000 * m)
    G, G_h, G_c = rng.normal(size=(T, N, m)), rng.normal(size=(N, m)), rng.normal(size=(N, m))

    def loss(q):
        hs, (h_T, c_T), _ = lstm_forward(q["xs"], {k: q[k] for k in PARAM_KEYS}, q["h_0"], q["c_0"])
        return float(np.sum(G * hs) + np.sum(G_h * h_T) + np.sum(G_c * c_T))

    _, _, cache = lstm_forward(xs, p, h_0, c_0)
    grads = lstm_backward(G, cache, G_h, G_c)
    num = numerical_gradients(loss, {**p, "xs": xs, "h_0": h_0, "c_0": c_0})
    for key in (*PARAM_KEYS, "xs", "h_0", "c_0"):
        assert grads[key].shape == num[key].shape
        assert rel_error(grads[key], num[key]) < 1e-7, key


def test_step_backward_matches_finite_differences():
    p, xs, h_0, c_0, rng = random_case(1, 3, 2, 4, seed=7)
    dh, dc = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    _, _, cache = lstm_step(xs[0], h_0, c_0, p)
    g = lstm_step_backward(dh, dc, cache)

    def loss(q):
        h, c, _ = lstm_step(q["x_t"], q["h_prev"], q["c_prev"], {k: q[k] for k in PARAM_KEYS})
        return float(np.sum(dh * h) + np.sum(dc * c))

    num = numerical_gradients(loss, {**p, "x_t": xs[0], "h_prev": h_0, "c_prev": c_0})
    for key, value in num.items():
        assert rel_error(g[key], value) < 1e-7, key


def test_step_backward_unrolled_equals_sequence_backward():
    p, xs, h_0, c_0, rng = random_case(5, 2, 3, 3, seed=3)
    G = rng.normal(size=(5, 2, 3))
    _, _, cache = lstm_forward(xs, p, h_0, c_0)
    full = lstm_backward(G, cache)
    caches, h, c = [], h_0, c_0
    for t in range(5):
        h, c, cc = lstm_step(xs[t], h, c, p)
        caches.append(cc)
    total = {k: np.zeros_like(v) for k, v in p.items()}
    dh, dc = np.zeros((2, 3)), np.zeros((2, 3))
    for t in reversed(range(5)):
        g = lstm_step_backward(G[t] + dh, dc, caches[t])
        dh, dc = g["h_prev"], g["c_prev"]
        total = {k: total[k] + g[k] for k in total}
    np.testing.assert_allclose(dh, full["h_0"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dc, full["c_0"], rtol=1e-12, atol=1e-14)
    for k in total:
        np.testing.assert_allclose(total[k], full[k], rtol=1e-12, atol=1e-14)


def test_step_jacobians_match_finite_differences_and_bptt():
    p, xs, h_0, c_0, rng = random_case(4, 2, 3, 3, seed=5)
    hs, _, cache = lstm_forward(xs, p, h_0, c_0)
    J = lstm_step_jacobians(cache)
    assert J.shape == (4, 2, 6, 6)
    for t, n in ((0, 1), (2, 0), (3, 1)):
        s_prev = np.r_[h_0[n], c_0[n]] if t == 0 else np.r_[hs[t - 1, n], cache["cs"][t - 1, n]]

        def step(s, i):
            h, c, _ = lstm_step(xs[t, n][None], s[None, :3], s[None, 3:], p)
            return np.r_[h[0], c[0]][i]

        fd = np.stack([numerical_gradient(lambda s, i=i: step(s, i), s_prev) for i in range(6)])
        assert rel_error(J[t, n], fd) < 1e-7
    np.testing.assert_allclose(J[..., 3:, 3:][..., [0, 1, 2], [0, 1, 2]], cache["ifog"][..., 3:6])  # diag(f_t)
    u, v = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    chain = gradflow.jacobian_chain(J[:, 0])
    g = lstm_backward(None, cache, u, v)
    np.testing.assert_allclose(np.r_[g["h_0"][0], g["c_0"][0]], np.r_[u[0], v[0]] @ chain[4], rtol=1e-10)


# ----------------------------------------------------------------------------- the Cell

def test_cell_interface_with_state_pairs():
    assert isinstance(LSTM, Cell) and LSTM.param_names == PARAM_KEYS
    rng = np.random.default_rng(0)
    p = LSTM.init_params(3, 4, rng)
    assert {k: v.shape for k, v in p.items()} == {"w_ih": (16, 3), "w_hh": (16, 4), "b_ih": (16,), "b_hh": (16,)}
    assert all(np.abs(v).max() <= 0.5 for v in p.values())
    h0, c0 = LSTM.init_state(2, 4)
    assert h0.shape == c0.shape == (2, 4) and not h0.any() and not c0.any()
    xs, G = rng.normal(size=(3, 2, 3)), rng.normal(size=(3, 2, 4))
    s0 = (rng.normal(size=(2, 4)), rng.normal(size=(2, 4)))
    ds = (rng.normal(size=(2, 4)), rng.normal(size=(2, 4)))
    hs, (h_T, c_T), cache = LSTM.forward(xs, p, s0)
    grads, dxs, (dh_0, dc_0) = LSTM.backward(G, cache, ds)
    ref = lstm_backward(G, cache, *ds)
    assert set(grads) == set(PARAM_KEYS)
    np.testing.assert_allclose(dh_0, ref["h_0"])
    np.testing.assert_allclose(dc_0, ref["c_0"])
    with pytest.raises(ValueError, match=r"state_0: expected the LSTM state as a pair \(h, c\)"):
        LSTM.forward(xs, p, np.zeros((2, 4)))


# ----------------------------------------------------------------------------- bad input

def test_gru_shaped_weights_get_a_gate_layout_error():
    p = init_lstm_params(3, 4, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"params\['w_hh'\] must stack the \(i, f, g, o\) gates: expected \(4m, m\) = "
                                         r"\(16, 4\) with m = 4 \(the columns of w_hh\), received \(12, 4\) "
                                         r"\(12 = 3m rows is the GRU layout \(r, z, n\)\)"):
        lstm_forward(np.zeros((2, 1, 3)), {**p, "w_hh": np.zeros((12, 4))})
    with pytest.raises(ValueError, match=r"params\['w_ih'\] must stack the \(i, f, g, o\) gates: expected \(4m, d\) = "
                                         r"\(16, 3\).*received \(12, 3\)"):
        lstm_step(np.zeros((1, 3)), None, None, {**p, "w_ih": np.zeros((12, 3))})
    with pytest.raises(ValueError, match=r"params\['b_ih'\] must stack the \(i, f, g, o\) gates: expected \(4m,\) = \(16,\)"):
        lstm_forward(np.zeros((2, 1, 3)), {**p, "b_ih": np.zeros(12)})


def test_bad_data_and_states():
    p = init_lstm_params(3, 4, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"xs: expected shape \(\*, \*, 3\)"):
        lstm_forward(np.zeros((2, 1, 4)), p)
    with pytest.raises(ValueError, match=r"c_0: expected shape \(1, 4\), received shape \(1, 3\)"):
        lstm_forward(np.zeros((2, 1, 3)), p, None, np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"c_prev: expected shape \(2, 4\)"):
        lstm_step(np.zeros((2, 3)), None, np.zeros((4,)), p)
    _, _, cache = lstm_forward(np.zeros((2, 1, 3)), p)
    with pytest.raises(ValueError, match=r"dc_T: expected shape \(1, 4\)"):
        lstm_backward(None, cache, None, np.zeros((1, 5)))
    with pytest.raises(ValueError, match=r"forget_bias: expected a finite number"):
        init_lstm_params(2, 3, np.random.default_rng(0), forget_bias=float("nan"))


def test_cell_forward_names_a_ragged_xs_given_with_a_state():
    # regression: np.shape(xs) on a ragged list leaked NumPy's "inhomogeneous shape" error
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(5, 3, 2)).tolist()
    xs[0] = xs[0][:-1]
    with pytest.raises(ValueError, match=r"^xs: expected an array of numbers, received a list that NumPy cannot turn"):
        LSTM.forward(xs, LSTM.init_params(2, 4, rng), LSTM.init_state(3, 4))
