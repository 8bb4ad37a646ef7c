"""Unit tests for the GRU (rnn_tutor.gru).

References are independent of the library: a hand computation, a plain-Python loop over
units written from PyTorch's documented equations, and central finite differences
(rnn_tutor.gradcheck) for every gradient.  PyTorch itself is in test_torch_parity.py.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from rnn_tutor import gradflow
from rnn_tutor.cells import Cell
from rnn_tutor.gradcheck import numerical_gradient, numerical_gradients, rel_error
from rnn_tutor.gru import (GRU, PARAM_KEYS, check_gated_params, gru_backward, gru_forward, gru_step,
                           gru_step_backward, gru_step_jacobians, init_gru_params)

SHAPES = [  # (T, N, d, m)
    (1, 1, 1, 1),
    (1, 3, 2, 4),
    (4, 1, 3, 2),
    (5, 2, 3, 4),
    (3, 4, 1, 3),
]


def sig(a: float) -> float:
    return 1.0 / (1.0 + math.exp(-a))


def loop_reference(xs, p, h_0):
    """Unit by unit, from PyTorch's equations (rows of w_ih/w_hh stacked r, z, n)."""
    T, N, d = xs.shape
    m = p["w_hh"].shape[1]
    W_i, W_h, b_i, b_h = p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"]
    hs = np.zeros((T, N, m))
    for n in range(N):
        h = [float(v) for v in h_0[n]]
        for t in range(T):
            x = xs[t, n]

            def lin_i(row):
                return sum(W_i[row, j] * x[j] for j in range(d)) + b_i[row]

            def lin_h(row):
                return sum(W_h[row, k] * h[k] for k in range(m)) + b_h[row]

            r = [sig(lin_i(u) + lin_h(u)) for u in range(m)]
            z = [sig(lin_i(m + u) + lin_h(m + u)) for u in range(m)]
            nn = [math.tanh(lin_i(2 * m + u) + r[u] * lin_h(2 * m + u)) for u in range(m)]
            h = [(1 - z[u]) * nn[u] + z[u] * h[u] for u in range(m)]
            hs[t, n] = h
    return hs


def random_case(T, N, d, m, seed=0):
    rng = np.random.default_rng(seed)
    p = {k: rng.normal(0, 0.6, v.shape) for k, v in init_gru_params(d, m, rng).items()}
    return p, rng.normal(size=(T, N, d)), rng.normal(0, 0.7, (N, m)), rng


# ----------------------------------------------------------------------------- forward

def test_scalar_step_by_hand():
    # d = m = 1; r = σ(0.5·1 + 0 + 0.2·0.5 + 0) = σ(0.6); z = σ(0 + 0.1 + 0 + 0) = σ(0.1)
    # n = tanh(1·1 + 0 + r·(0.4·0.5 + 0.3)) = tanh(1 + 0.5 r);  h = (1 - z) n + z·0.5
    p = {"w_ih": np.array([[0.5], [0.0], [1.0]]), "w_hh": np.array([[0.2], [0.0], [0.4]]),
         "b_ih": np.array([0.0, 0.1, 0.0]), "b_hh": np.array([0.0, 0.0, 0.3])}
    r, z = sig(0.6), sig(0.1)
    n = math.tanh(1 + 0.5 * r)
    h_t, cache = gru_step(np.array([[1.0]]), np.array([[0.5]]), p)
    assert h_t[0, 0] == pytest.approx((1 - z) * n + z * 0.5, abs=1e-15)
    assert cache["r_t"][0, 0] == pytest.approx(r) and cache["z_t"][0, 0] == pytest.approx(z)


@pytest.mark.parametrize("T, N, d, m", SHAPES)
def test_forward_matches_loop_reference_and_step(T, N, d, m):
    p, xs, h_0, _ = random_case(T, N, d, m)
    hs, h_T, _ = gru_forward(xs, p, h_0)
    np.testing.assert_allclose(hs, loop_reference(xs, p, h_0), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(h_T, hs[-1])
    h = h_0
    for t in range(T):
        h, _ = gru_step(xs[t], h, p)
        np.testing.assert_allclose(h, hs[t], rtol=1e-13, atol=1e-15)


def test_h_0_defaults_to_zero_and_inputs_are_not_modified():
    p, xs, _, _ = random_case(3, 2, 2, 3)
    before = copy.deepcopy((p, xs))
    hs, _, cache = gru_forward(xs, p)
    np.testing.assert_allclose(hs, gru_forward(xs, p, np.zeros((2, 3)))[0])
    gru_backward(np.ones_like(hs), cache, np.ones((2, 3)))
    np.testing.assert_array_equal(xs, before[1])
    for k in p:
        np.testing.assert_array_equal(p[k], before[0][k])


def test_z_one_copies_the_state_and_z_zero_forgets_it():
    """The update gate interpolates: z = 1 keeps h_{t-1} exactly, z = 0 replaces it by n_t."""
    p, xs, h_0, _ = random_case(6, 2, 2, 3)
    keep = {**p, "b_ih": p["b_ih"].copy()}
    keep["b_ih"][3:6] = 50.0  # z_t = σ(50 + ...) = 1 to float64 precision
    hs, _, _ = gru_forward(xs, keep, h_0)
    np.testing.assert_allclose(hs, np.broadcast_to(h_0, hs.shape), atol=1e-15)
    forget = {**p, "b_ih": p["b_ih"].copy()}
    forget["b_ih"][3:6] = -50.0
    hs, _, cache = gru_forward(xs, forget, h_0)
    np.testing.assert_allclose(hs, cache["ns"], atol=1e-15)


# ----------------------------------------------------------------------------- gradients

@pytest.mark.parametrize("T, N, d, m", SHAPES)
def test_backward_matches_finite_differences(T, N, d, m):
    p, xs, h_0, rng = random_case(T, N, d, m, seed=T + 10 * N + 100 * d + 1000 * m)
    G, G_T = rng.normal(size=(T, N, m)), rng.normal(size=(N, m))

    def loss(q):
        hs, h_T, _ = gru_forward(q["xs"], {k: q[k] for k in PARAM_KEYS}, q["h_0"])
        return float(np.sum(G * hs) + np.sum(G_T * h_T))

    _, _, cache = gru_forward(xs, p, h_0)
    grads = gru_backward(G, cache, G_T)
    num = numerical_gradients(loss, {**p, "xs": xs, "h_0": h_0})
    for key in (*PARAM_KEYS, "xs", "h_0"):
        assert grads[key].shape == num[key].shape
        assert rel_error(grads[key], num[key]) < 1e-7, key


def test_backward_without_gradients_is_zero_and_dh_T_alone_works():
    p, xs, h_0, rng = random_case(4, 2, 3, 2)
    hs, _, cache = gru_forward(xs, p, h_0)
    g0 = gru_backward(None, cache)
    assert all(not np.any(v) for v in g0.values())
    u = rng.normal(size=(2, 2))
    only_T = gru_backward(None, cache, u)
    via_dhs = np.zeros_like(hs)
    via_dhs[-1] = u
    for k, v in gru_backward(via_dhs, cache).items():
        np.testing.assert_allclose(only_T[k], v, rtol=1e-13, atol=1e-15)


def test_step_backward_matches_finite_differences():
    p, xs, h_0, rng = random_case(1, 3, 2, 4, seed=7)
    dh = rng.normal(size=(3, 4))
    _, cache = gru_step(xs[0], h_0, p)
    g = gru_step_backward(dh, cache)

    def loss(q):
        return float(np.sum(dh * gru_step(q["x_t"], q["h_prev"], {k: q[k] for k in PARAM_KEYS})[0]))

    num = numerical_gradients(loss, {**p, "x_t": xs[0], "h_prev": h_0})
    for key, value in num.items():
        assert rel_error(g[key], value) < 1e-7, key


def test_step_backward_unrolled_equals_sequence_backward():
    p, xs, h_0, rng = random_case(5, 2, 3, 3, seed=3)
    G = rng.normal(size=(5, 2, 3))
    _, _, cache = gru_forward(xs, p, h_0)
    full = gru_backward(G, cache)
    caches, h = [], h_0
    for t in range(5):
        h, c = gru_step(xs[t], h, p)
        caches.append(c)
    total = {k: np.zeros_like(v) for k, v in p.items()}
    dh = np.zeros((2, 3))
    for t in reversed(range(5)):
        g = gru_step_backward(G[t] + dh, caches[t])
        dh = g["h_prev"]
        total = {k: total[k] + g[k] for k in total}
        np.testing.assert_allclose(g["x_t"], full["xs"][t], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dh, full["h_0"], rtol=1e-12, atol=1e-14)
    for k in total:
        np.testing.assert_allclose(total[k], full[k], rtol=1e-12, atol=1e-14)


def test_step_jacobians_match_finite_differences_and_bptt():
    p, xs, h_0, rng = random_case(4, 2, 3, 3, seed=5)
    hs, _, cache = gru_forward(xs, p, h_0)
    J = gru_step_jacobians(cache)
    assert J.shape == (4, 2, 3, 3)
    for t, n in ((0, 0), (2, 1), (3, 0)):
        h_prev = h_0[n] if t == 0 else hs[t - 1, n]
        fd = np.stack([numerical_gradient(lambda h, i=i: gru_step(xs[t, n][None], h[None], p)[0][0, i], h_prev)
                       for i in range(3)])
        assert rel_error(J[t, n], fd) < 1e-7
    u = rng.normal(size=(2, 3))
    chain = gradflow.jacobian_chain(J[:, 1])  # chain[T] = dh_T/dh_0
    np.testing.assert_allclose(gru_backward(None, cache, u)["h_0"][1], u[1] @ chain[4], rtol=1e-10)


# ----------------------------------------------------------------------------- the Cell and the initialisation

def test_cell_interface():
    assert isinstance(GRU, Cell) and GRU.param_names == PARAM_KEYS
    rng = np.random.default_rng(0)
    p = GRU.init_params(3, 4, rng)
    assert {k: v.shape for k, v in p.items()} == {"w_ih": (12, 3), "w_hh": (12, 4), "b_ih": (12,), "b_hh": (12,)}
    assert all(np.abs(v).max() <= 0.5 for v in p.values())  # PyTorch: U(-1/sqrt(m), 1/sqrt(m)), m = 4
    assert GRU.init_state(2, 4).shape == (2, 4) and not GRU.init_state(2, 4).any()
    xs, G = rng.normal(size=(3, 2, 3)), rng.normal(size=(3, 2, 4))
    hs, h_T, cache = GRU.forward(xs, p)
    grads, dxs, dh_0 = GRU.backward(G, cache)
    ref = gru_backward(G, cache)
    assert set(grads) == set(PARAM_KEYS) and dxs.shape == xs.shape and dh_0.shape == (2, 4)
    np.testing.assert_allclose(dxs, ref["xs"])


def test_init_is_seeded():
    a = init_gru_params(2, 3, np.random.default_rng(1))
    b = init_gru_params(2, 3, np.random.default_rng(1))
    assert all(np.array_equal(a[k], b[k]) for k in a)


# ----------------------------------------------------------------------------- bad input

def test_wrong_stacked_shape_names_the_gate_layout():
    p = init_gru_params(3, 4, np.random.default_rng(0))
    lstm_like = {**p, "w_ih": np.zeros((16, 3))}
    with pytest.raises(ValueError, match=r"params\['w_ih'\] must stack the \(r, z, n\) gates: expected \(3m, d\) = "
                                         r"\(12, 3\).*received \(16, 3\).*LSTM layout \(i, f, g, o\)"):
        gru_forward(np.zeros((2, 1, 3)), lstm_like)
    with pytest.raises(ValueError, match=r"params\['w_hh'\] must stack the \(r, z, n\) gates: expected \(3m, m\) = "
                                         r"\(12, 4\).*received \(4, 4\).*Elman"):
        gru_step(np.zeros((1, 3)), None, {**p, "w_hh": np.zeros((4, 4))})
    with pytest.raises(ValueError, match=r"params\['b_hh'\] must stack the \(r, z, n\) gates: expected \(3m,\) = \(12,\)"):
        check_gated_params({**p, "b_hh": np.zeros(4)})


@pytest.mark.parametrize("bad, match", [
    (lambda p: {k: v for k, v in p.items() if k != "b_hh"}, r"missing key\(s\) \['b_hh'\]"),
    (lambda p: {"w_x": 1, "w_h": 1, "b_h": 1}, r"missing key\(s\)"),
    (lambda p: [1, 2], r"params: expected a dict"),
    (lambda p: {**p, "w_hh": np.zeros(12)}, r"params\['w_hh'\]: expected a 2-D array"),
    (lambda p: {**p, "w_ih": "abc"}, r"params\['w_ih'\]: expected an array of numbers"),
])
def test_bad_params(bad, match):
    p = init_gru_params(3, 4, np.random.default_rng(0))
    with pytest.raises(ValueError, match=match):
        gru_forward(np.zeros((2, 1, 3)), bad(p))


def test_bad_data():
    p = init_gru_params(3, 4, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"xs: expected shape \(\*, \*, 3\), received shape \(2, 1, 2\)"):
        gru_forward(np.zeros((2, 1, 2)), p)
    with pytest.raises(ValueError, match=r"xs: expected a 3-D array"):
        gru_forward(np.zeros((2, 3)), p)
    with pytest.raises(ValueError, match=r"T, N >= 1"):
        gru_forward(np.zeros((0, 1, 3)), p)
    with pytest.raises(ValueError, match=r"h_0: expected shape \(1, 4\), received shape \(4,\)"):
        gru_forward(np.zeros((2, 1, 3)), p, np.zeros(4))
    _, _, cache = gru_forward(np.zeros((2, 1, 3)), p)
    with pytest.raises(ValueError, match=r"dhs: expected shape \(2, 1, 4\)"):
        gru_backward(np.zeros((2, 4)), cache)
    with pytest.raises(ValueError, match=r"dh_T: expected shape \(1, 4\)"):
        gru_backward(None, cache, np.zeros((4, 1)))
    with pytest.raises(ValueError, match=r"rng: expected a numpy.random.Generator"):
        init_gru_params(2, 3, 0)
    with pytest.raises(ValueError, match=r"m: expected a positive integer"):
        init_gru_params(2, 0, np.random.default_rng(0))


def test_cell_forward_names_a_ragged_xs_given_with_a_state():
    # regression: np.shape(xs) on a ragged list leaked NumPy's "inhomogeneous shape" error
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(5, 3, 2)).tolist()
    xs[0] = xs[0][:-1]
    with pytest.raises(ValueError, match=r"^xs: expected an array of numbers, received a list that NumPy cannot turn"):
        GRU.forward(xs, GRU.init_params(2, 4, rng), GRU.init_state(3, 4))
