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
