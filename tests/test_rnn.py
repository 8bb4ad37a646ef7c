"""Unit tests for the Elman RNN forward pass (rnn_tutor.rnn).

References are independent of the library: hand arithmetic, an explicit
per-sequence / per-unit Python loop, and PyTorch's ``nn.RNN`` (optional).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from rnn_tutor.activations import ACTIVATIONS
from rnn_tutor.rnn import as_sequence, count_params, init_params, rnn_forward, rnn_step

SCALAR = {  # the tutorial's scalar case: d = m = q = 1
    "w_x": np.array([[0.5]]),
    "w_h": np.array([[0.8]]),
    "b_h": np.array([0.1]),
    "w_y": np.array([[2.0]]),
    "b_y": np.array([-0.5]),
}

# Plain-Python activations, written out independently of rnn_tutor.activations.
PY_ACT = {
    "tanh": math.tanh,
    "sigmoid": lambda a: 1.0 / (1.0 + math.exp(-a)),
    "relu": lambda a: max(a, 0.0),
    "identity": lambda a: a,
}


def loop_reference(xs, p, h_0, f, g):
    """Element-by-element Python loops over t, n, i: h_t[i] = f(sum_j w_x[i,j] x_t[j] + sum_k w_h[i,k] h_{t-1}[k] + b_h[i])."""
    T, N, d = xs.shape
    m, q = p["w_h"].shape[0], p["w_y"].shape[0]
    hs, ys = np.zeros((T, N, m)), np.zeros((T, N, q))
    for n in range(N):
        h = [float(v) for v in h_0[n]]
        for t in range(T):
            h = [PY_ACT[f](sum(p["w_x"][i, j] * xs[t, n, j] for j in range(d))
                           + sum(p["w_h"][i, k] * h[k] for k in range(m)) + p["b_h"][i]) for i in range(m)]
            y = [PY_ACT[g](sum(p["w_y"][o, i] * h[i] for i in range(m)) + p["b_y"][o]) for o in range(q)]
            hs[t, n], ys[t, n] = h, y
    return hs, ys


# ----------------------------------------------------------------------------- hand-computed example

def test_scalar_three_steps_identity_by_hand():
    # h_1 = 0.5*1 + 0.8*0 + 0.1 = 0.6;  h_2 = 0.5*2 + 0.8*0.6 + 0.1 = 1.58;  h_3 = 0.5*(-1) + 0.8*1.58 + 0.1 = 0.864
    # y_t = 2 h_t - 0.5  ->  0.7, 2.66, 1.228
    hs, ys, _ = rnn_forward(as_sequence([1.0, 2.0, -1.0]), SCALAR, f="identity", g="identity")
    np.testing.assert_allclose(hs[:, 0, 0], [0.6, 1.58, 0.864], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ys[:, 0, 0], [0.7, 2.66, 1.228], rtol=0, atol=1e-12)


def test_scalar_three_steps_tanh_by_hand():
    h1 = math.tanh(0.5 * 1.0 + 0.8 * 0.0 + 0.1)
    h2 = math.tanh(0.5 * 2.0 + 0.8 * h1 + 0.1)
    h3 = math.tanh(0.5 * -1.0 + 0.8 * h2 + 0.1)
    assert abs(h1 - 0.5370495669980353) < 1e-15  # tanh(0.6)
    hs, ys, _ = rnn_forward(as_sequence([1.0, 2.0, -1.0]), SCALAR)  # f = tanh, g = identity by default
    np.testing.assert_allclose(hs.ravel(), [h1, h2, h3], rtol=1e-14)
    np.testing.assert_allclose(ys.ravel(), [2 * h1 - 0.5, 2 * h2 - 0.5, 2 * h3 - 0.5], rtol=1e-14)


def test_step_loop_equals_forward_and_cache():
    xs = as_sequence([1.0, 2.0, -1.0])
    hs, ys, cache = rnn_forward(xs, SCALAR)
    h = np.zeros((1, 1))
    for t in range(3):
        h, y, c = rnn_step(xs[t], h, SCALAR)
        np.testing.assert_allclose(h, hs[t], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(y, ys[t], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(c["a_t"], cache["as_"][t], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(c["o_t"], cache["os"][t], rtol=1e-12, atol=1e-14)
    assert set(cache) >= {"xs", "h_0", "as_", "hs", "os", "params", "f", "g"}
    assert set(c) >= {"x_t", "h_prev", "a_t", "h_t", "o_t", "params", "f", "g"}
    np.testing.assert_array_equal(cache["h_0"], np.zeros((1, 1)))


def test_h_prev_none_is_h0_zero():
    x = np.array([[0.3]])
    h_a, y_a, _ = rnn_step(x, None, SCALAR)
    h_b, y_b, _ = rnn_step(x, np.zeros((1, 1)), SCALAR)
    np.testing.assert_array_equal(h_a, h_b)
    np.testing.assert_array_equal(y_a, y_b)


# ----------------------------------------------------------------------------- shapes and general sizes

SHAPES = [  # (T, N, d, m, q, nonzero h_0)
    pytest.param(1, 1, 1, 1, 1, False, id="T1-N1-scalar"),
    pytest.param(1, 3, 2, 4, 2, True, id="T1"),
    pytest.param(5, 1, 3, 4, 2, False, id="N1"),
    pytest.param(4, 2, 5, 3, 1, True, id="d>1"),
    pytest.param(3, 2, 1, 4, 3, False, id="q>1"),
    pytest.param(6, 3, 2, 5, 4, True, id="h0-nonzero"),
]


@pytest.mark.parametrize("T, N, d, m, q, nonzero_h0", SHAPES)
def test_shapes_and_values_match_loop_reference(T, N, d, m, q, nonzero_h0):
    rng = np.random.default_rng(T * 1000 + N * 100 + d * 10 + m)
    p = init_params(d, m, q, rng, scale=0.9)
    xs = rng.normal(size=(T, N, d))
    h_0 = rng.normal(size=(N, m)) if nonzero_h0 else None
    hs, ys, cache = rnn_forward(xs, p, h_0=h_0)
    assert hs.shape == (T, N, m) and ys.shape == (T, N, q)
    assert cache["as_"].shape == (T, N, m) and cache["os"].shape == (T, N, q)
    ref_hs, ref_ys = loop_reference(xs, p, np.zeros((N, m)) if h_0 is None else h_0, "tanh", "identity")
    np.testing.assert_allclose(hs, ref_hs, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ys, ref_ys, rtol=1e-12, atol=1e-14)
    h, y, c = rnn_step(xs[0], h_0, p)
    assert h.shape == (N, m) and y.shape == (N, q) and c["a_t"].shape == (N, m)
    np.testing.assert_allclose(h, hs[0], rtol=1e-12, atol=1e-14)


def test_nonzero_h0_changes_the_states():
    rng = np.random.default_rng(3)
    p = init_params(2, 3, 1, rng)
    xs = rng.normal(size=(4, 2, 2))
    hs0, _, _ = rnn_forward(xs, p)
    hs1, _, _ = rnn_forward(xs, p, h_0=np.ones((2, 3)))
    assert np.all(np.abs(hs1[0] - hs0[0]) > 1e-6)


def test_batch_rows_are_independent_sequences():
    rng = np.random.default_rng(4)
    p = init_params(2, 3, 2, rng)
    xs = rng.normal(size=(5, 3, 2))
    h_0 = rng.normal(size=(3, 3))
    hs, ys, _ = rnn_forward(xs, p, h_0)
    for n in range(3):
        hs_n, ys_n, _ = rnn_forward(xs[:, n:n + 1], p, h_0[n:n + 1])
        np.testing.assert_allclose(hs[:, n:n + 1], hs_n, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ys[:, n:n + 1], ys_n, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("f", sorted(ACTIVATIONS))
@pytest.mark.parametrize("g", sorted(ACTIVATIONS))
def test_all_activations(f, g):
    rng = np.random.default_rng(5)
    p = init_params(2, 3, 2, rng, scale=1.0)
    xs = rng.normal(size=(4, 2, 2))
    h_0 = rng.normal(size=(2, 3))
    hs, ys, _ = rnn_forward(xs, p, h_0, f=f, g=g)
    ref_hs, ref_ys = loop_reference(xs, p, h_0, f, g)
    np.testing.assert_allclose(hs, ref_hs, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ys, ref_ys, rtol=1e-12, atol=1e-14)
    # the activation object and its name give the same result
    hs2, ys2, _ = rnn_forward(xs, p, h_0, f=ACTIVATIONS[f], g=ACTIVATIONS[g])
    np.testing.assert_array_equal(hs, hs2)
    np.testing.assert_array_equal(ys, ys2)


def test_activations_give_different_states():
    rng = np.random.default_rng(6)
    p = init_params(1, 3, 1, rng, scale=1.0)
    xs = rng.normal(size=(3, 1, 1))
    results = {f: rnn_forward(xs, p, f=f)[0] for f in ACTIVATIONS}
    names = sorted(results)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not np.allclose(results[a], results[b]), (a, b)


def test_relu_states_nonnegative_and_sigmoid_in_unit_interval():
    rng = np.random.default_rng(7)
    p = init_params(2, 4, 1, rng, scale=2.0)
    xs = rng.normal(size=(6, 3, 2)) * 3
    assert (rnn_forward(xs, p, f="relu")[0] >= 0).all()
    hs = rnn_forward(xs, p, f="sigmoid")[0]
    assert ((hs > 0) & (hs < 1)).all()


def test_integer_and_list_inputs_are_accepted_as_float():
    hs, _, _ = rnn_forward([[[1]], [[2]], [[-1]]], SCALAR, f="identity")
    np.testing.assert_allclose(hs.ravel(), [0.6, 1.58, 0.864])
    assert hs.dtype == np.float64


# ----------------------------------------------------------------------------- PyTorch

@pytest.mark.parametrize("T, N, d, m, q, nonzero_h0", SHAPES)
@pytest.mark.parametrize("f", ["tanh", "relu"])
def test_matches_torch_nn_rnn(T, N, d, m, q, nonzero_h0, f):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(100 + T + N + d + m)
    p = init_params(d, m, q, rng, scale=0.8)
    xs = rng.normal(size=(T, N, d))
    h_0 = rng.normal(size=(N, m)) if nonzero_h0 else np.zeros((N, m))
    net = torch.nn.RNN(d, m, nonlinearity=f, batch_first=False).double()
    with torch.no_grad():
        net.weight_ih_l0.copy_(torch.from_numpy(p["w_x"]))
        net.weight_hh_l0.copy_(torch.from_numpy(p["w_h"]))
        net.bias_ih_l0.copy_(torch.from_numpy(p["b_h"]))
        net.bias_hh_l0.zero_()
        out, h_T = net(torch.from_numpy(xs), torch.from_numpy(h_0)[None])
    hs, ys, _ = rnn_forward(xs, p, h_0=h_0, f=f)
    np.testing.assert_allclose(hs, out.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hs[-1], h_T[0].numpy(), rtol=1e-12, atol=1e-14)
    # the output layer is a torch Linear with w_y as its weight
    lin = torch.nn.Linear(m, q).double()
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(p["w_y"]))
        lin.bias.copy_(torch.from_numpy(p["b_y"]))
        ys_torch = lin(out).numpy()
    np.testing.assert_allclose(ys, ys_torch, rtol=1e-12, atol=1e-14)


def test_weight_layout_is_pytorch_layout():
    torch = pytest.importorskip("torch")
    net = torch.nn.RNN(3, 5)
    p = init_params(3, 5, 2, np.random.default_rng(0))
    assert p["w_x"].shape == tuple(net.weight_ih_l0.shape)
    assert p["w_h"].shape == tuple(net.weight_hh_l0.shape)
    assert p["b_h"].shape == tuple(net.bias_ih_l0.shape)


# ----------------------------------------------------------------------------- init_params, count_params

def test_init_params_same_seed_same_params_and_shapes():
    a = init_params(3, 4, 2, np.random.default_rng(42))
    b = init_params(3, 4, 2, np.random.default_rng(42))
    c = init_params(3, 4, 2, np.random.default_rng(43))
    assert set(a) == {"w_x", "w_h", "b_h", "w_y", "b_y"}
    assert {k: v.shape for k, v in a.items()} == {"w_x": (4, 3), "w_h": (4, 4), "b_h": (4,), "w_y": (2, 4), "b_y": (2,)}
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert any(not np.array_equal(a[k], c[k]) for k in a)


def test_init_params_uses_the_generator_state():
    rng = np.random.default_rng(1)
    a = init_params(2, 3, 1, rng)
    b = init_params(2, 3, 1, rng)  # the generator has advanced
    assert not np.array_equal(a["w_h"], b["w_h"])


def test_init_params_scale():
    p = init_params(2, 16, 3, np.random.default_rng(0))
    for v in p.values():
        assert np.all(np.abs(v) <= 1 / 4)  # default 1/sqrt(m)
    p = init_params(2, 16, 3, np.random.default_rng(0), scale=0.01)
    assert max(np.abs(v).max() for v in p.values()) <= 0.01
    p = init_params(2, 16, 3, np.random.default_rng(0), scale=0)
    assert all(not v.any() for v in p.values())


@pytest.mark.parametrize("kwargs, name", [
    ({"d": 0}, "d"), ({"m": -1}, "m"), ({"q": 1.5}, "q"), ({"m": True}, "m"),
    ({"scale": -1.0}, "scale"), ({"scale": float("nan")}, "scale"), ({"scale": "big"}, "scale"),
])
def test_init_params_bad_arguments(kwargs, name):
    args = {"d": 2, "m": 3, "q": 1, "rng": np.random.default_rng(0), **kwargs}
    with pytest.raises(ValueError, match=rf"^{name}: expected"):
        init_params(**args)


def test_init_params_requires_a_generator():
    with pytest.raises(ValueError, match="rng: expected a numpy.random.Generator"):
        init_params(2, 3, 1, 0)
    with pytest.raises(ValueError, match="rng"):
        init_params(2, 3, 1, np.random.RandomState(0))


@pytest.mark.parametrize("d, m, q", [(1, 1, 1), (3, 4, 2), (10, 32, 5)])
def test_count_params(d, m, q):
    p = init_params(d, m, q, np.random.default_rng(0))
    assert count_params(d, m, q) == sum(v.size for v in p.values())
    assert count_params(1, 1, 1) == 5


# ----------------------------------------------------------------------------- as_sequence

def test_as_sequence_shapes():
    assert as_sequence([1, 2, 3]).shape == (3, 1, 1)
    assert as_sequence(np.zeros((4, 2))).shape == (4, 1, 2)
    assert as_sequence(np.zeros((4, 3, 2))).shape == (4, 3, 2)
    assert as_sequence([1, 2]).dtype == np.float64
    with pytest.raises(ValueError, match=r"values: .*received shape \(1, 1, 1, 1\)"):
        as_sequence(np.zeros((1, 1, 1, 1)))


# ----------------------------------------------------------------------------- bad input

@pytest.fixture
def setup():
    rng = np.random.default_rng(0)
    return init_params(3, 4, 2, rng), rng.normal(size=(5, 2, 3))


def test_wrong_feature_size(setup):
    p, xs = setup
    with pytest.raises(ValueError, match=r"^xs: expected shape \(\*, \*, 3\), received shape \(5, 2, 4\)"):
        rnn_forward(np.zeros((5, 2, 4)), p)
    with pytest.raises(ValueError, match=r"^x_t: expected shape \(\*, 3\), received shape \(2, 4\)"):
        rnn_step(np.zeros((2, 4)), None, p)


def test_wrong_rank(setup):
    p, xs = setup
    with pytest.raises(ValueError, match=r"^xs: expected a 3-D array.*received shape \(5, 3\)"):
        rnn_forward(np.zeros((5, 3)), p)
    with pytest.raises(ValueError, match=r"^x_t: expected a 2-D array.*received shape \(3,\)"):
        rnn_step(np.zeros(3), None, p)


def test_non_square_w_h(setup):
    p, xs = setup
    bad = {**p, "w_h": np.zeros((4, 3))}
    with pytest.raises(ValueError, match=r"params\['w_h'\]: expected a square \(m, m\) matrix, received shape \(4, 3\)"):
        rnn_forward(xs, bad)
    with pytest.raises(ValueError, match=r"params\['w_h'\].*\(4, 3\)"):
        rnn_step(xs[0], None, bad)


@pytest.mark.parametrize("key, shape, expected", [
    ("w_x", (5, 3), r"\(4, \*\)"), ("b_h", (3,), r"\(4,\)"), ("w_y", (2, 3), r"\(\*, 4\)"), ("b_y", (3,), r"\(2,\)"),
])
def test_inconsistent_parameter_shapes(setup, key, shape, expected):
    p, xs = setup
    with pytest.raises(ValueError, match=rf"params\['{key}'\]: expected shape {expected}, received shape"):
        rnn_forward(xs, {**p, key: np.zeros(shape)})


def test_missing_parameter(setup):
    p, xs = setup
    bad = {k: v for k, v in p.items() if k != "b_h"}
    with pytest.raises(ValueError, match=r"params: missing key\(s\) \['b_h'\]"):
        rnn_forward(xs, bad)


def test_wrong_h_0_shape(setup):
    p, xs = setup
    with pytest.raises(ValueError, match=r"^h_0: expected shape \(2, 4\), received shape \(1, 4\)"):
        rnn_forward(xs, p, h_0=np.zeros((1, 4)))
    with pytest.raises(ValueError, match=r"^h_0: expected shape \(2, 4\), received shape \(4,\)"):
        rnn_forward(xs, p, h_0=np.zeros(4))
    with pytest.raises(ValueError, match=r"^h_prev: expected shape \(2, 4\), received shape \(2, 5\)"):
        rnn_step(xs[0], np.zeros((2, 5)), p)


def test_empty_sequence_and_empty_batch(setup):
    p, _ = setup
    with pytest.raises(ValueError, match=r"^xs: expected at least one time step"):
        rnn_forward(np.zeros((0, 2, 3)), p)
    with pytest.raises(ValueError, match=r"^xs: expected at least one sequence"):
        rnn_forward(np.zeros((3, 0, 3)), p)
    with pytest.raises(ValueError, match=r"^xs: expected at least one time step"):
        rnn_forward(as_sequence([]), SCALAR)


@pytest.mark.parametrize("arg", ["f", "g"])
def test_unknown_activation_lists_valid_names(setup, arg):
    p, xs = setup
    with pytest.raises(ValueError, match=rf"^{arg}: expected an activation name, one of "
                                          r"'sigmoid', 'tanh', 'relu', 'identity', received 'softmax'\.$"):
        rnn_forward(xs, p, **{arg: "softmax"})
    with pytest.raises(ValueError, match=rf"^{arg}: expected an activation name, .* received 'Tanh'\. "
                                          r"Did you mean 'tanh'\?"):
        rnn_step(xs[0], None, p, **{arg: "Tanh"})


def test_non_numeric_input(setup):
    p, _ = setup
    with pytest.raises(ValueError, match="^xs: expected an array of numbers"):
        rnn_forward([[["a", "b", "c"]]], p)


# ----------------------------------------------------------------------------- purity

def test_inputs_are_not_mutated():
    rng = np.random.default_rng(8)
    p = init_params(3, 4, 2, rng)
    xs = rng.normal(size=(5, 2, 3))
    h_0 = rng.normal(size=(2, 4))
    before = copy.deepcopy((p, xs, h_0))
    for f in ACTIVATIONS:
        hs, ys, cache = rnn_forward(xs, p, h_0, f=f, g=f)
        hs += 1.0  # mutating the results must not reach the inputs either
        ys += 1.0
        h, y, c = rnn_step(xs[0], h_0, p, f=f, g=f)
        h += 1.0
    np.testing.assert_array_equal(xs, before[1])
    np.testing.assert_array_equal(h_0, before[2])
    for k in p:
        np.testing.assert_array_equal(p[k], before[0][k])


def test_repeated_calls_are_identical():
    rng = np.random.default_rng(9)
    p = init_params(2, 3, 1, rng)
    xs = rng.normal(size=(4, 2, 2))
    a = rnn_forward(xs, p)
    b = rnn_forward(xs, p)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
