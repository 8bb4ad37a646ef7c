"""Full BPTT (rnn_tutor.bptt) and the gradient-check utilities (rnn_tutor.gradcheck).

Independent references: central finite differences in float64, and PyTorch's autograd
(optional).  Every gradient is checked: w_x, w_h, b_h, w_y, b_y, h_0 and xs.
"""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest

from rnn_tutor.bptt import rnn_backward, rnn_step_backward, squared_error
from rnn_tutor.gradcheck import max_rel_error, numerical_gradient, numerical_gradients, rel_error
from rnn_tutor.rnn import rnn_forward, rnn_step

ACTS = ["tanh", "sigmoid", "relu", "identity"]
KEYS = ("w_x", "w_h", "b_h", "w_y", "b_y")


def _params(rng, d, m, q, scale=0.6):
    return {"w_x": rng.normal(0, scale, (m, d)), "w_h": rng.normal(0, scale, (m, m)), "b_h": rng.normal(0, 0.3, m),
            "w_y": rng.normal(0, scale, (q, m)), "b_y": rng.normal(0, 0.3, q)}


def _loss(xs, params, h_0, ps, f, g, weights=None):
    """L = ½ Σ w_t ‖y_t - p_t‖² (weights per step; None: all 1)."""
    _, ys, _ = rnn_forward(xs, params, h_0, f, g)
    w = np.ones(len(xs)) if weights is None else weights
    return 0.5 * float(np.sum(w[:, None, None] * (ys - ps) ** 2))


# (T, N, d, m, q): T = 1, N = 1, d > 1, q > 1, m = 1 and larger, d != m != q
SHAPES = [(1, 1, 1, 1, 1), (1, 3, 2, 4, 3), (2, 1, 3, 2, 1), (4, 2, 1, 3, 2), (5, 3, 2, 1, 2), (6, 2, 3, 5, 1)]
CASES = [(s, f, g) for s in SHAPES for f, g in itertools.product(ACTS, ACTS)
         if (f, g) in {("tanh", "identity"), ("sigmoid", "sigmoid"), ("relu", "tanh"), ("identity", "relu"),
                       ("tanh", "sigmoid"), ("sigmoid", "identity"), ("relu", "identity"), ("identity", "tanh")}]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_rnn_backward_matches_finite_differences_for_every_gradient(case):
    (T, N, d, m, q), f, g = CASES[case]
    rng = np.random.default_rng(case)
    params = _params(rng, d, m, q)
    xs, ps, h_0 = rng.normal(size=(T, N, d)), rng.normal(size=(T, N, q)), rng.normal(0, 0.5, (N, m))
    weights = rng.uniform(0.2, 1.5, T)  # a different weight per step: the loss over time is not symmetric
    _, ys, cache = rnn_forward(xs, params, h_0, f, g)
    grads = rnn_backward(weights[:, None, None] * (ys - ps), cache)
    num = numerical_gradients(lambda p: _loss(xs, p, h_0, ps, f, g, weights), params)
    num["h_0"] = numerical_gradient(lambda h: _loss(xs, params, h, ps, f, g, weights), h_0)
    num["xs"] = numerical_gradient(lambda x: _loss(x, params, h_0, ps, f, g, weights), xs)
    assert set(grads) == set(num)
    for key, value in num.items():
        assert grads[key].shape == value.shape, key
        err = rel_error(grads[key], value)
        # relative error 1e-7, or (for a gradient that is tiny next to the loss) the absolute
        # accuracy of central differences: ~1e-10 · |L| from rounding plus O(eps²) truncation
        assert err < 1e-7 or np.abs(grads[key] - value).max() < 1e-8, (key, err)


@pytest.mark.parametrize("f", ACTS)
def test_extra_gradients_on_hidden_states_dh_T_and_dhs(f):
    rng = np.random.default_rng(11)
    T, N, d, m, q = 4, 2, 2, 3, 2
    params = _params(rng, d, m, q)
    xs, h_0 = rng.normal(size=(T, N, d)), rng.normal(0, 0.5, (N, m))
    c_T, c_all = rng.normal(size=(N, m)), rng.normal(size=(T, N, m))

    def loss(p, h0=h_0):  # L = Σ c_T ⊙ h_T + Σ c_all ⊙ hs (no output term)
        hs, _, _ = rnn_forward(xs, p, h0, f)
        return float(np.sum(c_T * hs[-1]) + np.sum(c_all * hs))

    _, _, cache = rnn_forward(xs, params, h_0, f)
    grads = rnn_backward(None, cache, dh_T=c_T, dhs=c_all)
    num = numerical_gradients(loss, params)
    for key in ("w_x", "w_h", "b_h"):
        assert rel_error(grads[key], num[key]) < 1e-7
    assert rel_error(grads["h_0"], numerical_gradient(lambda h: loss(params, h), h_0)) < 1e-7
    assert not grads["w_y"].any() and not grads["b_y"].any()


@pytest.mark.parametrize("f,g", [("tanh", "identity"), ("relu", "sigmoid"), ("sigmoid", "tanh")])
def test_step_backward_matches_finite_differences_and_chains_into_rnn_backward(f, g):
    rng = np.random.default_rng(5)
    T, N, d, m, q = 3, 2, 2, 3, 2
    params = _params(rng, d, m, q)
    xs, ps, h_0 = rng.normal(size=(T, N, d)), rng.normal(size=(T, N, q)), rng.normal(0, 0.5, (N, m))
    # one step, both inputs of the backward step non-zero
    dh = rng.normal(size=(N, m))
    h_t, y_t, cache = rnn_step(xs[0], h_0, params, f, g)
    dy = y_t - ps[0]
    step = rnn_step_backward(dh, cache, dy)

    def one_step(p, x=xs[0], h=h_0):
        h1, y1, _ = rnn_step(x, h, p, f, g)
        return float(np.sum(dh * h1) + 0.5 * np.sum((y1 - ps[0]) ** 2))

    num = numerical_gradients(one_step, params)
    for key in KEYS:
        assert rel_error(step[key], num[key]) < 1e-7, key
    assert rel_error(step["h_prev"], numerical_gradient(lambda h: one_step(params, h=h), h_0)) < 1e-7
    assert rel_error(step["x_t"], numerical_gradient(lambda x: one_step(params, x=x), xs[0])) < 1e-7
    # chaining the step backward over time reproduces rnn_backward
    caches, h = [], h_0
    for t in range(T):
        h, _, c = rnn_step(xs[t], h, params, f, g)
        caches.append(c)
    _, ys, full_cache = rnn_forward(xs, params, h_0, f, g)
    full = rnn_backward(ys - ps, full_cache)
    total, dh_next = {k: 0.0 for k in KEYS}, np.zeros((N, m))
    for t in reversed(range(T)):
        s = rnn_step_backward(dh_next, caches[t], ys[t] - ps[t])
        total = {k: total[k] + s[k] for k in KEYS}
        dh_next = s["h_prev"]
    for key in KEYS:
        np.testing.assert_allclose(total[key], full[key], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dh_next, full["h_0"], rtol=1e-12, atol=1e-14)


def test_backward_does_not_modify_its_inputs():
    rng = np.random.default_rng(2)
    params = _params(rng, 2, 3, 2)
    xs, h_0 = rng.normal(size=(4, 2, 2)), rng.normal(size=(2, 3))
    _, ys, cache = rnn_forward(xs, params, h_0)
    dys = rng.normal(size=ys.shape)
    before = copy.deepcopy((dys, {k: v for k, v in cache.items() if isinstance(v, np.ndarray)}, params))
    rnn_backward(dys, cache, dh_T=np.ones((2, 3)))
    np.testing.assert_array_equal(dys, before[0])
    for key, value in before[1].items():
        np.testing.assert_array_equal(cache[key], value)
    for key in KEYS:
        np.testing.assert_array_equal(params[key], before[2][key])


def test_bad_shapes_are_value_errors_naming_the_argument():
    rng = np.random.default_rng(3)
    params = _params(rng, 2, 3, 2)
    _, ys, cache = rnn_forward(rng.normal(size=(4, 2, 2)), params)
    with pytest.raises(ValueError, match=r"dys: expected shape \(4, 2, 2\), received shape \(4, 2\)"):
        rnn_backward(ys[..., 0], cache)
    with pytest.raises(ValueError, match=r"dh_T: expected shape \(2, 3\)"):
        rnn_backward(ys, cache, dh_T=np.zeros(3))
    with pytest.raises(ValueError, match=r"dhs: expected shape \(4, 2, 3\)"):
        rnn_backward(ys, cache, dhs=np.zeros((3, 2, 3)))
    _, _, step_cache = rnn_step(np.zeros((2, 2)), np.zeros((2, 3)), params)
    with pytest.raises(ValueError, match=r"dh_t: expected shape \(2, 3\)"):
        rnn_step_backward(np.zeros((3, 2)), step_cache)


# ----------------------------------------------------------------------------- squared error

def test_squared_error_value_gradient_and_reductions():
    rng = np.random.default_rng(4)
    ys, ps = rng.normal(size=(3, 4, 2)), rng.normal(size=(3, 4, 2))
    L, dys = squared_error(ys, ps)
    assert L == pytest.approx(0.5 * np.sum((ys - ps) ** 2))
    np.testing.assert_allclose(dys, numerical_gradient(lambda y: squared_error(y, ps)[0], ys), rtol=1e-7, atol=1e-9)
    L_mean, d_mean = squared_error(ys, ps, reduction="mean")
    assert L_mean == pytest.approx(L / 4) and np.allclose(d_mean, dys / 4)
    assert squared_error([1.0, 2.0], [0.0, 0.0])[0] == 2.5  # sign: the gradient is y - p
    np.testing.assert_array_equal(squared_error([1.0], [3.0])[1], [-2.0])
    with pytest.raises(ValueError, match="reduction: expected 'sum' or 'mean', received 'max'"):
        squared_error(ys, ps, reduction="max")
    with pytest.raises(ValueError, match="ps: expected shape"):
        squared_error(ys, ps[:, :2])


# ----------------------------------------------------------------------------- gradcheck

def test_numerical_gradient_is_accurate_and_leaves_x_alone():
    x = np.array([[0.3, -1.2], [2.0, 0.5]])
    x0 = x.copy()
    g = numerical_gradient(lambda v: float(np.sum(np.sin(v) * v ** 2)), x)
    np.testing.assert_allclose(g, np.cos(x) * x ** 2 + 2 * x * np.sin(x), rtol=1e-8)
    np.testing.assert_array_equal(x, x0)
    ints = np.array([1, 2])  # integer input: differentiated in float64, not truncated
    np.testing.assert_allclose(numerical_gradient(lambda v: float(np.sum(v ** 2)), ints), [2.0, 4.0], rtol=1e-8)
    with pytest.raises(ValueError, match="eps: expected a positive step"):
        numerical_gradient(np.sum, x, eps=0.0)


def test_numerical_gradients_of_a_dict_and_rel_error():
    params = {"a": np.array([1.0, 2.0]), "b": np.array([[3.0]])}
    grads = numerical_gradients(lambda p: float(np.sum(p["a"] ** 2) * p["b"][0, 0]), params)
    np.testing.assert_allclose(grads["a"], [6.0, 12.0], rtol=1e-8)
    np.testing.assert_allclose(grads["b"], [[5.0]], rtol=1e-8)
    np.testing.assert_array_equal(params["a"], [1.0, 2.0])
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error([1.0, 0.0], [0.0, 1.0]) == pytest.approx(np.sqrt(2))
    assert rel_error([1.0], [1.0 + 1e-9]) == pytest.approx(1e-9, rel=1e-3)
    assert max_rel_error({"a": [1.0], "b": [2.0]}, {"a": [1.0], "c": [0.0]}) == {"a": 0.0}
    with pytest.raises(ValueError, match=r"b: expected shape \(2,\) \(the shape of a\), received shape \(3,\)"):
        rel_error(np.zeros(2), np.zeros(3))


# ----------------------------------------------------------------------------- PyTorch (optional)

@pytest.mark.parametrize("f", ["tanh", "relu"])
def test_rnn_backward_matches_pytorch_autograd(f):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    T, N, d, m, q = 5, 3, 2, 4, 2
    params = _params(rng, d, m, q)
    xs, ps, h_0 = rng.normal(size=(T, N, d)), rng.normal(size=(T, N, q)), rng.normal(0, 0.5, (N, m))
    _, ys, cache = rnn_forward(xs, params, h_0, f)
    grads = rnn_backward(ys - ps, cache)
    rnn = torch.nn.RNN(d, m, nonlinearity=f, bias=True, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(params["w_x"]))
        rnn.weight_hh_l0.copy_(torch.tensor(params["w_h"]))
        rnn.bias_ih_l0.copy_(torch.tensor(params["b_h"]))
        rnn.bias_hh_l0.zero_()
    w_y = torch.tensor(params["w_y"], requires_grad=True)
    b_y = torch.tensor(params["b_y"], requires_grad=True)
    h0 = torch.tensor(h_0[None], requires_grad=True)
    x = torch.tensor(xs, requires_grad=True)
    out, _ = rnn(x, h0)
    loss = 0.5 * ((out @ w_y.T + b_y - torch.tensor(ps)) ** 2).sum()
    loss.backward()
    pairs = {"w_x": rnn.weight_ih_l0.grad, "w_h": rnn.weight_hh_l0.grad, "b_h": rnn.bias_ih_l0.grad,
             "w_y": w_y.grad, "b_y": b_y.grad, "h_0": h0.grad[0], "xs": x.grad}
    for key, value in pairs.items():
        np.testing.assert_allclose(grads[key], value.numpy(), rtol=1e-10, atol=1e-12, err_msg=key)


def test_mean_reduction_divides_by_the_batch_size_for_2d_and_3d_arrays():
    from rnn_tutor.bptt import squared_error

    ys, ps = np.ones((4, 3)), np.zeros((4, 3))  # (N, q) = (4, 3)
    L, dys = squared_error(ys, ps, reduction="mean")
    assert L == 0.5 * 12 / 4 and np.allclose(dys, 1 / 4)
    L3, _ = squared_error(ys[None], ps[None], reduction="mean")  # (T, N, q) = (1, 4, 3)
    assert L3 == L
