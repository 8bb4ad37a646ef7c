"""rnn_tutor.self_attention: the computation, and the counted steps and work of an RNN and of self-attention."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_tutor import self_attention as SA
from rnn_tutor.rnn import rnn_forward


def test_self_attention_matches_a_loop():
    rng = np.random.default_rng(0)
    xs, p = rng.normal(size=(5, 2, 3)), SA.init_self_attention_params(3, 4, 2, rng)
    ys, alphas = SA.self_attention(xs, p)
    assert ys.shape == (5, 2, 2) and alphas.shape == (5, 5, 2)
    for n in range(2):
        for t in range(5):
            e = np.array([(p["w_q"] @ xs[t, n]) @ (p["w_k"] @ xs[s, n]) / 2.0 for s in range(5)])
            a = np.exp(e - e.max()) / np.exp(e - e.max()).sum()
            np.testing.assert_allclose(alphas[t, :, n], a, rtol=1e-12)
            np.testing.assert_allclose(ys[t, n], a @ (xs[:, n] @ p["w_v"].T), rtol=1e-12)


def test_self_attention_is_blind_to_order():
    """Permuting the positions permutes the outputs: without positional information, order is invisible."""
    rng = np.random.default_rng(1)
    xs, p = rng.normal(size=(6, 3, 4)), SA.init_self_attention_params(4, 4, 4, rng)
    perm = rng.permutation(6)
    np.testing.assert_allclose(SA.self_attention(xs[perm], p)[0], SA.self_attention(xs, p)[0][perm], rtol=1e-12)


def test_counting_does_not_change_the_results():
    rng = np.random.default_rng(2)
    xs, p = rng.normal(size=(4, 2, 3)), SA.init_self_attention_params(3, 3, 3, rng)
    counted, work = SA.count_work(lambda x: SA._self_attention(x, p)[0], xs)
    np.testing.assert_allclose(counted, SA.self_attention(xs, p)[0], rtol=1e-14)
    params = {"w_x": rng.normal(size=(5, 3)), "w_h": rng.normal(size=(5, 5)), "b_h": rng.normal(size=5),
              "w_y": np.zeros((1, 5)), "b_y": np.zeros(1)}
    hs_counted, rnn = SA.count_work(lambda x: SA.rnn_chain(x, params), xs)
    np.testing.assert_allclose(hs_counted, rnn_forward(xs, params)[0], rtol=1e-14)
    np.testing.assert_allclose(np.stack(SA.rnn_chain(xs, params)), hs_counted, rtol=1e-14)
    assert rnn["steps"] == 4 and work["steps"] == 4


@pytest.mark.parametrize("T", [1, 2, 7, 50])
def test_rnn_steps_grow_with_T_and_attention_steps_do_not(T):
    d, m, N = 3, 5, 2
    r, s = SA.rnn_work(T, d, m, N), SA.self_attention_work(T, d, N)
    assert r["steps"] == T and s["steps"] == 4  # projections, scores, softmax, weighted sum
    # per step: x_t w_x (2Nmd), h w_h (2Nmm, not at t = 1), + b_h, + and tanh (Nm each)
    assert r["flops"] == T * (2 * N * m * d + 2 * N * m) + (T - 1) * (2 * N * m * m + N * m)
    # projections 3 x 2TNd², scores 2NT²d + scaling NT², softmax 4NT², weighted sum 2NT²d
    assert s["flops"] == 3 * 2 * T * N * d * d + 2 * N * T * T * d + N * T * T + 4 * N * T * T + 2 * N * T * T * d


def test_bad_sizes_and_params_are_refused():
    with pytest.raises(ValueError, match=r"T: expected a positive integer, received 0"):
        SA.rnn_work(0, 2, 2)
    with pytest.raises(ValueError, match=r"params: missing key\(s\) \['w_v'\]"):
        SA.self_attention(np.ones((2, 1, 3)), {"w_q": np.ones((2, 3)), "w_k": np.ones((2, 3))})
    with pytest.raises(ValueError, match=r"params\['w_k'\]: expected shape \(2, 3\)"):
        SA.self_attention(np.ones((2, 1, 3)), {"w_q": np.ones((2, 3)), "w_k": np.ones((3, 3)), "w_v": np.ones((2, 3))})
    with pytest.raises(ValueError, match="fn: expected it to return a Counted"):
        SA.count_work(lambda x: 3.0, np.ones(2))


# ----------------------------------------------------------------------------- bad input (issue 16, fuzz report)

def _textbook(xs, p):
    """The unscaled formula, on plain arrays (overflows for huge inputs)."""
    qs, ks, vs = xs @ p["w_q"].T, xs @ p["w_k"].T, xs @ p["w_v"].T
    scores = np.einsum("tnk,snk->nts", qs, ks) / np.sqrt(p["w_q"].shape[0])
    w = np.exp(scores - scores.max(axis=2, keepdims=True))
    alphas = w / w.sum(axis=2, keepdims=True)
    return np.einsum("nts,snv->tnv", alphas, vs), alphas.transpose(1, 2, 0)


def test_self_attention_equals_the_textbook_formula_to_the_last_bit():
    """The power-of-two scaling that protects huge inputs changes nothing at ordinary magnitudes."""
    rng = np.random.default_rng(5)
    xs, p = rng.normal(size=(6, 3, 4)) * 3, SA.init_self_attention_params(4, 3, 2, rng)
    ys, alphas = SA.self_attention(xs, p)
    counted, _ = SA.count_work(lambda x: SA._self_attention(x, p)[0], xs)  # the textbook computation, counted
    np.testing.assert_array_equal(ys, counted)
    ref_ys, ref_alphas = _textbook(xs, p)
    np.testing.assert_allclose(ys, ref_ys, rtol=1e-12)
    np.testing.assert_allclose(alphas, ref_alphas, rtol=1e-12)


@pytest.mark.parametrize("scale_xs, scale_p", [(1e154, 1.0), (1e300, 1.0), (-1e300, 1.0), (1.0, 1e154), (1.0, 1e300)])
def test_self_attention_with_huge_scores_is_a_hard_argmax_not_nan(scale_xs, scale_p):
    import warnings
    rng = np.random.default_rng(6)
    xs, p = rng.normal(size=(5, 3, 2)), SA.init_self_attention_params(2, 3, 3, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ys, alphas = SA.self_attention(xs * scale_xs, {k: v * scale_p for k, v in p.items()})
    _, small = _textbook(xs, p)
    best = small.argmax(axis=1)  # the scores scale by scale_xs² or scale_p² > 0: the largest stays the largest, (T, N)
    np.testing.assert_array_equal(alphas, np.moveaxis(np.eye(5)[best], -1, 1))
    vs = (xs * scale_xs) @ (p["w_v"] * scale_p).T
    np.testing.assert_allclose(ys, vs[best, np.arange(3)], rtol=1e-12)


def test_self_attention_with_one_huge_input_stays_finite():
    import warnings
    rng = np.random.default_rng(7)
    xs, p = rng.normal(size=(5, 3, 2)), SA.init_self_attention_params(2, 3, 3, rng)
    xs[0, 0, 0] = 1.7e308
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ys, alphas = SA.self_attention(xs, p)
    assert np.isfinite(ys).all() and np.isfinite(alphas).all()
    np.testing.assert_allclose(alphas.sum(axis=1), 1.0)


@pytest.mark.parametrize("fn", [3, "rnn_chain", None])
def test_count_work_needs_a_function(fn):
    with pytest.raises(TypeError, match=r"^fn: expected a function, received"):
        SA.count_work(fn, np.ones((2, 1, 3)))


def _elman():
    rng = np.random.default_rng(8)
    return {"w_x": rng.normal(size=(4, 2)), "w_h": rng.normal(size=(4, 4)) / 2, "b_h": rng.normal(size=4)}


@pytest.mark.parametrize("inputs, match", [
    (np.array(1.0), r"inputs\[0\]: expected a 3-D array \(T, N, d\), received shape \(\)"),
    (0.5, r"inputs\[0\]: expected a 3-D array"),
    (np.ones((5, 3, 2, 1)), r"inputs\[0\]: expected a 3-D array"),
    (np.ones((5, 3, 3)), r"inputs\[0\]: expected shape \(\*, \*, 2\), received shape \(5, 3, 3\)"),
    (np.ones((0, 3, 2)), r"inputs\[0\]: expected at least one step"),
    (np.full((5, 3, 2), np.nan), r"inputs\[0\]: expected finite numbers"),
    (np.full((5, 3, 2), np.inf), r"inputs\[0\]: expected finite numbers"),
    (np.ones((5, 3, 2)) + 1j, r"inputs\[0\]: expected an array of numbers \(real"),
])
def test_count_work_of_rnn_chain_names_the_bad_input(inputs, match):
    params = _elman()
    with pytest.raises(ValueError, match=match) as info:
        SA.count_work(lambda x: SA.rnn_chain(x, params), inputs)
    assert info.value.argument == "inputs[0]"


@pytest.mark.parametrize("change, match", [
    (lambda p: None, r"^params: expected an Elman RNN parameter dict"),
    (lambda p: list(p.items()), r"^params: expected an Elman RNN parameter dict"),
    (lambda p: {k: v for k, v in p.items() if k != "w_x"}, r"^params: missing key\(s\) \['w_x'\]"),
    (lambda p: {**p, "w_x": None}, r"^params\['w_x'\]: expected an array of numbers"),
    (lambda p: {**p, "w_x": "abc"}, r"^params\['w_x'\]: expected an array of numbers"),
    (lambda p: {**p, "w_x": p["w_x"].T}, r"^params\['w_x'\]: expected shape \(4, \*\)"),
    (lambda p: {**p, "w_h": p["w_h"][..., None]}, r"^params\['w_h'\]: expected a square \(m, m\) matrix"),
    (lambda p: {**p, "b_h": np.ones(5)}, r"^params\['b_h'\]: expected shape \(4,\)"),
    (lambda p: {**p, "w_h": p["w_h"] + 1j}, r"^params\['w_h'\]: expected an array of numbers \(real"),
    (lambda p: {**p, "w_x": p["w_x"] != 0}, r"^params\['w_x'\]: expected an array of numbers .*booleans"),
    (lambda p: {**p, "b_h": p["b_h"] * np.nan}, r"^params\['b_h'\]: expected finite numbers"),
    (lambda p: {**p, "w_h": p["w_h"] * np.inf}, r"^params\['w_h'\]: expected finite numbers"),
])
def test_rnn_chain_checks_its_params_on_counted_inputs_too(change, match):
    params = change(_elman())
    with pytest.raises(ValueError, match=match):
        SA.count_work(lambda x: SA.rnn_chain(x, params), np.ones((5, 3, 2)))
    with pytest.raises(ValueError, match=match):
        SA.rnn_chain(np.ones((5, 3, 2)), params)


def test_work_counts_take_0d_integer_arrays():
    assert SA.rnn_work(np.array(5), np.array(2), np.array(4), np.array(1)) == SA.rnn_work(5, 2, 4, 1)
    assert SA.self_attention_work(np.array(5), np.array(2), np.array(1)) == SA.self_attention_work(5, 2, 1)


def test_self_attention_handles_each_sequence_at_its_own_scale():
    """A sequence whose scores lie beyond float64 must not change another's (no global rescaling)."""
    rng = np.random.default_rng(9)
    xs, p = rng.normal(size=(5, 2, 3)), SA.init_self_attention_params(3, 3, 2, rng)
    plain_ys, plain_alphas = SA.self_attention(xs, p)
    big = xs.copy()
    big[:, 0] *= 1e200  # sequence 0: scores ~1e400
    ys, alphas = SA.self_attention(big, p)
    np.testing.assert_array_equal(alphas[:, :, 1], plain_alphas[:, :, 1])
    np.testing.assert_array_equal(ys[:, 1], plain_ys[:, 1])
    assert np.isin(alphas[:, :, 0], [0.0, 1.0]).all()
