"""The SymPy derivation (rnn_tutor.symbolic) against numeric BPTT and finite differences.

Three independent routes must agree: (a) sympy.diff of the unrolled loss, (b) the sum over time
of products of Jacobians, and numeric BPTT (rnn_tutor.bptt), itself checked by central differences.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from rnn_tutor import symbolic as S
from rnn_tutor.bptt import rnn_backward
from rnn_tutor.gradcheck import numerical_gradient, numerical_gradients, rel_error
from rnn_tutor.rnn import rnn_forward

ACTS = ["tanh", "sigmoid", "relu", "identity"]


def _case(rng, k, N, d, m, q, h0=True):
    params = {"w_x": rng.normal(0, 0.7, (m, d)), "w_h": rng.normal(0, 0.7, (m, m)), "b_h": rng.normal(0, 0.4, m),
              "w_y": rng.normal(0, 0.7, (q, m)), "b_y": rng.normal(0, 0.4, q)}
    xs, ps = rng.normal(size=(k, N, d)), rng.normal(size=(k, N, q))
    return params, xs, ps, (rng.normal(0, 0.5, (N, m)) if h0 else None)


def _numeric(params, xs, ps, h_0, f, g, loss_at):
    _, ys, cache = rnn_forward(xs, params, h_0, f, g)
    dys = ys - ps
    if loss_at == "last":
        dys[:-1] = 0.0
    return rnn_backward(dys, cache)


# (k, N, d, m, q, f, g, loss_at, symbolic h_0): T = k = 1, N > 1, d > 1, q > 1, every activation as f and g
CASES = [
    (1, 1, 1, 1, 1, "tanh", "identity", "all", False),
    (1, 3, 2, 2, 1, "relu", "sigmoid", "all", True),
    (2, 2, 1, 2, 2, "sigmoid", "tanh", "last", True),
    (3, 1, 1, 1, 1, "tanh", "identity", "last", False),
    (3, 4, 2, 3, 2, "identity", "relu", "all", True),
    (4, 2, 1, 2, 1, "relu", "identity", "all", True),
    (4, 1, 3, 1, 2, "sigmoid", "sigmoid", "last", True),
    (5, 3, 1, 2, 1, "tanh", "tanh", "all", True),
    (6, 2, 2, 2, 3, "tanh", "sigmoid", "last", True),
    (7, 2, 1, 1, 1, "sigmoid", "relu", "all", True),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_bptt_derivation_equals_numeric_bptt_and_finite_differences(case):
    k, N, d, m, q, f, g, loss_at, sym_h0 = CASES[case]
    net = S.unroll(k, m, d, q, f, g, loss_at, "symbol" if sym_h0 else "zero")
    fn = S.lambdify_grads(net, S.grads_bptt(net))
    rng = np.random.default_rng(100 + case)
    for _ in range(3):  # several random parameter sets per shape
        params, xs, ps, h_0 = _case(rng, k, N, d, m, q, sym_h0)
        sym = fn(params, xs, ps, h_0)
        num = _numeric(params, xs, ps, h_0, f, g, loss_at)
        assert set(sym) == set(S.PARAMS) | ({"h_0"} if sym_h0 else set())
        for key, value in sym.items():
            assert value.shape == num[key].shape, key
            assert rel_error(value, num[key]) < 1e-10 or np.abs(value - num[key]).max() < 1e-13, key

    # and the finite differences of the loss written independently here
    def loss(p, h=h_0):
        _, ys, _ = rnn_forward(xs, p, h, f, g)
        err = (ys - ps) if loss_at == "all" else (ys - ps)[-1:]
        return 0.5 * float(np.sum(err ** 2))

    fd = numerical_gradients(loss, params)
    if sym_h0:
        fd["h_0"] = numerical_gradient(lambda h: loss(params, h), h_0)
    for key, value in fd.items():
        assert rel_error(sym[key], value) < 1e-7 or np.abs(sym[key] - value).max() < 1e-8, key


@pytest.mark.parametrize("case", [0, 1, 2, 3])
def test_direct_differentiation_equals_numeric_bptt(case):
    k, N, d, m, q, f, g, loss_at, sym_h0 = CASES[case]
    net = S.unroll(k, m, d, q, f, g, loss_at, "symbol" if sym_h0 else "zero")
    direct = S.grads_direct(net)
    assert not (set().union(*[e.free_symbols for M in direct.values() for e in M])
                & {s for s, _ in net.definitions})  # (a) uses no intermediate symbols
    fn = S.lambdify_grads(net, direct)
    params, xs, ps, h_0 = _case(np.random.default_rng(200 + case), k, N, d, m, q, sym_h0)
    sym, num = fn(params, xs, ps, h_0), _numeric(params, xs, ps, h_0, f, g, loss_at)
    for key, value in sym.items():
        assert rel_error(value, num[key]) < 1e-10 or np.abs(value - num[key]).max() < 1e-13, key


@pytest.mark.parametrize("f", ACTS)
@pytest.mark.parametrize("k", [1, 2, 3])
def test_the_two_derivations_agree_symbolically_scalar_case(f, k):
    net = S.unroll(k, f=f, loss_at="all")
    assert S.equal_symbolically(net, S.grads_direct(net), S.grads_bptt(net))


def test_the_two_derivations_agree_symbolically_small_m_with_symbolic_h0():
    net = S.unroll(2, m=2, f="tanh", g="sigmoid", h_0="symbol")
    assert S.equal_symbolically(net, S.grads_direct(net), S.grads_bptt(net))


def test_symbolic_comparison_can_fail():
    net = S.unroll(3)
    good = S.grads_bptt(net)
    bad = dict(good)
    fprime1 = net.f.sym_deriv(net.a[0][0])
    bad["w_x"] = good["w_x"] + sp.Matrix([[fprime1 * net.xs[0][0]]])  # one extra path term
    assert not S.equal_symbolically(net, S.grads_direct(net), bad)
    with pytest.raises(ValueError, match=r"^b: expected the same gradients as the other argument, received a dict "
                                         r"missing \['b_y'\]"):
        S.equal_symbolically(net, good, {k: v for k, v in good.items() if k != "b_y"})  # a comparison of nothing
    assert S.equal_symbolically(net, sp.tanh(net.a[0][0]), net.h[0][0])  # h_1 = tanh(a_1)


def test_k10_scalar_direct_and_bptt_agree_numerically():
    result = S.derive_and_verify(10, m=1, n_points=3)
    assert result["max_rel_error"] < 1e-12
    assert result["symbolic_equal"] is None
    assert set(result["seconds"]) >= {"direct", "bptt", "lambdify", "total"}


def test_derive_and_verify_small_k_checks_symbolically():
    result = S.derive_and_verify(2, m=2, f="sigmoid", n_points=2)
    assert result["symbolic_equal"] is True and result["max_rel_error"] < 1e-12


# ----------------------------------------------------------------------------- total vs partial

def test_total_and_immediate_partial_derivatives():
    net = S.unroll(3)  # scalar, tanh, h_0 = 0
    h_full = [S.unrolled(net, net.h[t][0]) for t in range(3)]
    for wrt in ("w_x", "w_h", "b_h"):
        theta = net.params[wrt][0]
        for t in (1, 2, 3):
            total = S.total_derivative(net, t, wrt)
            assert total.shape == (1, 1)
            # the forward recursion equals sympy.diff of the unrolled h_t
            assert S.equal_symbolically(net, total[0], sp.diff(h_full[t - 1], theta))
    w_x, x_1, x_2 = net.params["w_x"][0], net.xs[0][0], net.xs[1][0]
    a_1, a_2 = net.a[0][0], net.a[1][0]
    # ∂⁺h_2/∂w_x = tanh'(a_2) x_2, while dh_2/dw_x also has the path through h_1
    assert sp.simplify(S.immediate_partial(net, 2, "w_x")[0] - (1 - sp.tanh(a_2) ** 2) * x_2) == 0
    extra = S.total_derivative(net, 2, "w_x")[0] - S.immediate_partial(net, 2, "w_x")[0]
    expected = (1 - sp.tanh(a_2) ** 2) * net.params["w_h"][0] * (1 - sp.tanh(a_1) ** 2) * x_1
    assert sp.simplify(extra - expected) == 0
    # at t = 1 (h_0 = 0 is a constant) total and partial coincide
    assert S.total_derivative(net, 1, "w_x") == S.immediate_partial(net, 1, "w_x")
    assert S.immediate_partial(net, 1, "w_h")[0] == 0  # h_0 = 0
    assert sp.simplify(S.jacobian(net, 2)[0] - (1 - sp.tanh(a_2) ** 2) * net.params["w_h"][0]) == 0


def test_jacobian_equals_diff_of_the_step_for_m_2():
    net = S.unroll(2, m=2, f="sigmoid")
    J = S.jacobian(net, 2)
    step = [net.f.sym(e) for e in net.step_a(2)]  # h_2 as a function of the symbols h_1
    direct = sp.Matrix(2, 2, lambda i, j: sp.diff(step[i], net.h[0][j]))
    J_expanded = J.xreplace(dict(zip(net.a[1], net.step_a(2))))  # a_2 -> w_x x_2 + w_h h_1 + b_h
    assert sp.simplify(J_expanded - direct) == sp.zeros(2, 2)


def test_unroll_symbols_and_shapes():
    net = S.unroll(3, m=2, d=3, q=2, h_0="symbol")
    assert net.params["w_x"].shape == (2, 3) and net.params["w_y"].shape == (2, 2)
    assert net.params["b_h"].shape == (2, 1) and net.params["h_0"].shape == (2, 1)
    assert len(net.xs) == len(net.h) == 3 and net.xs[0].shape == (3, 1)
    assert str(net.params["w_h"][0, 1]) == "w_h_0_1"
    scalar = S.unroll(2)
    assert [str(s) for s in scalar.params["w_h"]] == ["w_h"] and str(scalar.h[1][0]) == "h_2"
    assert S.unrolled(scalar, scalar.h[1][0]) == sp.tanh(
        sp.Symbol("w_x", real=True) * sp.Symbol("x_2", real=True) + sp.Symbol("b_h", real=True)
        + sp.Symbol("w_h", real=True) * sp.tanh(sp.Symbol("w_x", real=True) * sp.Symbol("x_1", real=True)
                                                + sp.Symbol("b_h", real=True)))


def test_bad_arguments():
    with pytest.raises(ValueError, match="k: expected a positive integer, received 0"):
        S.unroll(0)
    with pytest.raises(ValueError, match="m: expected a positive integer"):
        S.unroll(2, m=1.5)
    with pytest.raises(ValueError, match="expected an activation name, one of"):
        S.unroll(2, f="gelu")
    with pytest.raises(ValueError, match="loss_at: expected 'all' or 'last'"):
        S.unroll(2, loss_at="first")
    with pytest.raises(ValueError, match="h_0: expected 'zero' or 'symbol'"):
        S.unroll(2, h_0="random")
    net = S.unroll(2, m=2)
    with pytest.raises(ValueError, match=r"t: expected a step 1 <= t <= k = 2, received 3"):
        S.jacobian(net, 3)
    with pytest.raises(ValueError, match="wrt: expected one of"):
        S.immediate_partial(net, 1, "h_0")
    with pytest.raises(ValueError, match="net: expected an UnrolledRNN"):
        S.grads_bptt("net")
    fn = S.lambdify_grads(net, S.grads_bptt(net))
    params, xs, ps, _ = _case(np.random.default_rng(0), 2, 1, 1, 2, 1)
    with pytest.raises(ValueError, match=r"xs: expected shape \(2, \*, 1\)"):
        fn(params, xs[:1], ps)
    with pytest.raises(ValueError, match=r"params\['w_x'\]: expected shape \(2, 1\)"):
        fn({**params, "w_x": np.zeros((2, 3))}, xs, ps)
    net_h0 = S.unroll(1, m=2, h_0="symbol")
    with pytest.raises(ValueError, match="h_0: expected an array of shape"):
        S.lambdify_grads(net_h0, S.grads_bptt(net_h0))(params, xs[:1], ps[:1])
