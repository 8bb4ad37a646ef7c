"""rnn_tutor.attention and rnn_tutor.attention_seq2seq: values, finite-difference gradients, errors.

PyTorch parity is in tests/test_attention_torch.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnn_tutor import attention as A
from rnn_tutor import attention_seq2seq as AS
from rnn_tutor.architectures import available_cells
from rnn_tutor.gradcheck import max_rel_error, numerical_gradients

SHAPES = [(1, 1, 1, 1, 1), (1, 3, 2, 4, 2), (5, 1, 3, 2, 4), (6, 4, 3, 5, 2)]  # (S, N, m, m_g, a)


def _mask(rng, S, N):
    mask = np.ones((S, N))
    for n in range(N):
        mask[rng.integers(1, S + 1):, n] = 0.0  # right padding, at least one real step
    return mask


def _inputs(S, N, m, m_g, a, U=None, seed=0):
    rng = np.random.default_rng(seed)
    lead = () if U is None else (U,)
    return (rng, rng.normal(size=lead + (N, m_g)), rng.normal(size=(S, N, m)), _mask(rng, S, N),
            A.init_additive_params(m_g, m, a, rng))


def _loss_of(fn, G, GW):
    """L = Σ G ⊙ context + Σ GW ⊙ weights: every output is used, with random weights."""
    def loss(v):
        c, w, _ = fn(v)
        return float((G * c).sum() + (GW * w).sum())
    return loss


# ----------------------------------------------------------------------------- values

def test_masked_softmax_is_zero_at_padding_and_sums_to_one():
    scores = np.array([[1.0, 5.0], [2.0, 1e4], [3.0, -2.0]])
    mask = np.array([[1, 1], [1, 0], [0, 1]])
    w = A.masked_softmax(scores, mask)
    assert np.allclose(w.sum(axis=0), 1.0) and w[2, 0] == 0.0 and w[1, 1] == 0.0
    np.testing.assert_allclose(w[:2, 0], np.exp([1, 2]) / np.exp([1, 2]).sum(), rtol=1e-14)
    # a huge score at a padded step changes nothing (it is not even used for the max)
    np.testing.assert_allclose(w[[0, 2], 1], np.exp([5, -2]) / np.exp([5, -2]).sum(), rtol=1e-14)
    # zeroing padding after an unmasked softmax is a different, wrong answer
    naive = np.exp(scores - scores.max(0)) / np.exp(scores - scores.max(0)).sum(0) * mask
    assert not np.allclose(naive, w)


def test_masked_softmax_backward_matches_finite_differences():
    rng = np.random.default_rng(1)
    scores, G, mask = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)), _mask(rng, 5, 3)
    w = A.masked_softmax(scores, mask)
    de = A.masked_softmax_backward(G, w)
    num = numerical_gradients(lambda v: float((G * A.masked_softmax(v["e"], mask)).sum()), {"e": scores})["e"]
    assert max_rel_error({"e": de}, {"e": num})["e"] < 1e-8
    assert np.all(de[mask == 0] == 0.0)


@pytest.mark.parametrize("S, N, m, m_g, a", SHAPES)
def test_additive_attention_matches_a_loop_over_positions(S, N, m, m_g, a):
    _, g, hs, mask, p = _inputs(S, N, m, m_g, a)
    c, w, _ = A.additive_attention(g, hs, p, mask)
    for n in range(N):
        e = np.array([p["v"] @ np.tanh(p["w_q"] @ g[n] + p["w_k"] @ hs[s, n]) for s in range(S)])
        real = mask[:, n] > 0
        alpha = np.where(real, np.exp(e - e[real].max()), 0.0)
        alpha /= alpha.sum()
        np.testing.assert_allclose(w[:, n], alpha, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(c[n], alpha @ hs[:, n], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("general", [False, True])
def test_dot_attention_matches_a_loop_over_positions(general):
    rng = np.random.default_rng(2)
    S, N, m = 4, 3, 5
    g, hs, mask = rng.normal(size=(N, m)), rng.normal(size=(S, N, m)), _mask(rng, S, N)
    w_a = rng.normal(size=(m, m)) if general else None
    c, w, _ = A.dot_attention(g, hs, mask, w_a)
    for n in range(N):
        e = np.array([g[n] @ (hs[s, n] if w_a is None else w_a @ hs[s, n]) for s in range(S)])
        alpha = np.where(mask[:, n] > 0, np.exp(e - e[mask[:, n] > 0].max()), 0.0)
        alpha /= alpha.sum()
        np.testing.assert_allclose(w[:, n], alpha, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(c[n], alpha @ hs[:, n], rtol=1e-12, atol=1e-14)


def test_many_queries_at_once_equal_one_at_a_time():
    rng, gs, hs, mask, p = _inputs(5, 3, 4, 4, 6, U=7)
    c_all, w_all, _ = A.additive_attention(gs, hs, p, mask)
    d_all, v_all, _ = A.dot_attention(gs, hs, mask)
    for u in range(7):
        c, w, _ = A.additive_attention(gs[u], hs, p, mask)
        np.testing.assert_allclose(c_all[u], c, rtol=1e-13)
        np.testing.assert_allclose(w_all[u], w, rtol=1e-13)
        d, v, _ = A.dot_attention(gs[u], hs, mask)
        np.testing.assert_allclose(d_all[u], d, rtol=1e-13)
        np.testing.assert_allclose(v_all[u], v, rtol=1e-13)


def test_padding_changes_nothing_real():
    """Garbage in padded encoder states changes neither the context nor any real gradient."""
    rng, g, hs, mask, p = _inputs(6, 4, 3, 5, 4, seed=3)
    hs2 = np.where(mask[..., None] > 0, hs, 1e3 * rng.normal(size=hs.shape))
    G = rng.normal(size=(4, 3))
    c1, _, k1 = A.additive_attention(g, hs, p, mask)
    c2, _, k2 = A.additive_attention(g, hs2, p, mask)
    np.testing.assert_allclose(c1, c2, rtol=1e-13)
    g1, g2 = A.additive_attention_backward(G, k1), A.additive_attention_backward(G, k2)
    for k in ("query", "w_q", "v"):
        np.testing.assert_allclose(g1[k], g2[k], rtol=1e-12, atol=1e-14)
    assert np.all(g2["hs"][mask == 0] == 0.0)


# ----------------------------------------------------------------------------- gradients

@pytest.mark.parametrize("U", [None, 3])
@pytest.mark.parametrize("S, N, m, m_g, a", SHAPES)
def test_additive_gradients_match_finite_differences(S, N, m, m_g, a, U):
    rng, g, hs, mask, p = _inputs(S, N, m, m_g, a, U, seed=S + N)
    lead = () if U is None else (U,)
    G, GW = rng.normal(size=lead + (N, m)), rng.normal(size=lead + (S, N))
    _, _, cache = A.additive_attention(g, hs, p, mask)
    grads = A.additive_attention_backward(G, cache, GW)
    loss = _loss_of(lambda v: A.additive_attention(v["query"], v["hs"], {k: v[k] for k in A.ADDITIVE_NAMES}, mask), G, GW)
    errors = max_rel_error(grads, numerical_gradients(loss, {"query": g, "hs": hs, **p}))
    assert set(errors) == {"query", "hs", "w_q", "w_k", "v"} and max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("U", [None, 3])
@pytest.mark.parametrize("general", [False, True])
@pytest.mark.parametrize("S, N, m", [(1, 1, 1), (4, 3, 2), (6, 2, 5)])
def test_dot_gradients_match_finite_differences(S, N, m, general, U):
    rng = np.random.default_rng(S * N * m)
    m_g = m + 1 if general else m
    lead = () if U is None else (U,)
    g, hs, mask = rng.normal(size=lead + (N, m_g)), rng.normal(size=(S, N, m)), _mask(rng, S, N)
    G, GW = rng.normal(size=lead + (N, m)), rng.normal(size=lead + (S, N))
    values = {"query": g, "hs": hs, **({"w_a": rng.normal(size=(m_g, m))} if general else {})}
    _, _, cache = A.dot_attention(g, hs, mask, values.get("w_a"))
    grads = A.dot_attention_backward(G, cache, GW)
    loss = _loss_of(lambda v: A.dot_attention(v["query"], v["hs"], mask, v.get("w_a")), G, GW)
    errors = max_rel_error(grads, numerical_gradients(loss, values))
    assert set(errors) == set(values) and max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("score", AS.SCORES)
@pytest.mark.parametrize("cell_name", sorted(available_cells()))
def test_attention_seq2seq_gradients_match_finite_differences(cell_name, score):
    cell = available_cells()[cell_name]
    rng = np.random.default_rng(4)
    xs, targets = rng.normal(size=(4, 3, 2)), np.array([[1, 2, 0], [0, 2, 2], [2, 2, 1]])
    p = AS.init_attention_seq2seq_params(cell, d=2, m=3, q=3, rng=rng, score=score)
    p = {k: 3 * v for k, v in p.items()}  # larger weights: gradients well above finite-difference noise

    def loss(p):
        return AS.attention_seq2seq_loss(cell, xs, targets, p, score, lengths=[4, 2, 1], target_lengths=[3, 1, 2],
                                         reduction="sum")
    errors = max_rel_error(loss(p)[1], numerical_gradients(lambda v: loss(v)[0], p))
    assert set(errors) == set(p) and max(errors.values()) < 1e-7, errors


def test_attention_seq2seq_ignores_padded_inputs():
    rng = np.random.default_rng(5)
    from rnn_tutor.cells import ELMAN
    p = AS.init_attention_seq2seq_params(ELMAN, d=3, m=4, q=3, rng=rng)
    xs = rng.normal(size=(5, 2, 3))
    xs2 = xs.copy()
    xs2[2:, 1] = 1e3
    tg = np.array([[0, 1], [2, 2], [1, 1]])
    L1, g1 = AS.attention_seq2seq_loss(ELMAN, xs, tg, p, lengths=[5, 2])
    L2, g2 = AS.attention_seq2seq_loss(ELMAN, xs2, tg, p, lengths=[5, 2])
    L3, _ = AS.attention_seq2seq_loss(ELMAN, xs2[:2, 1:], tg[:, 1:], p)
    L4, _ = AS.attention_seq2seq_loss(ELMAN, xs[:, :1], tg[:, :1], p)
    assert L1 == pytest.approx(L2, rel=1e-13) and L1 == pytest.approx((L3 + L4) / 2, rel=1e-12)
    assert max(max_rel_error(g1, g2).values()) < 1e-12


def test_greedy_decode_agrees_with_teacher_forcing_on_its_own_output():
    from rnn_tutor.cells import ELMAN
    from rnn_tutor.seq2seq import teacher_forcing_inputs
    rng = np.random.default_rng(6)
    for score in AS.SCORES:
        p = AS.init_attention_seq2seq_params(ELMAN, d=3, m=4, q=4, rng=rng, score=score)
        p = {k: 2 * v for k, v in p.items()}
        xs = rng.normal(size=(5, 3, 3))
        tokens, lengths, alphas = AS.attention_greedy_decode(ELMAN, xs, p, eos=3, max_len=6, score=score, lengths=[5, 3, 1])
        os, al2, _ = AS.attention_seq2seq_forward(ELMAN, xs, teacher_forcing_inputs(tokens, 4), p, score, lengths=[5, 3, 1])
        for n, L in enumerate(lengths):
            np.testing.assert_array_equal(os[:L, n].argmax(axis=1), tokens[:L, n])
            np.testing.assert_allclose(alphas[:L, :, n], al2[:L, :, n], rtol=1e-12, atol=1e-15)
            assert np.all(tokens[L:, n] == 3)
        assert np.all(alphas[:, 3:, 1] == 0) and np.all(alphas[:, 1:, 2] == 0)


def test_reverse_task():
    tokens, lengths, targets, tl = AS.reverse_task(np.random.default_rng(0), 50, 2, 7, K=5)
    assert tokens.shape == (7, 50) and targets.shape == (8, 50) and lengths.min() >= 2 and lengths.max() <= 7
    for n, S in enumerate(lengths):
        assert list(targets[:S, n]) == list(tokens[:S, n][::-1]) and targets[S, n] == 5 and tl[n] == S + 1
    assert tokens.max() < 5


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("call, match", [
    (lambda g, hs, p, mk: A.additive_attention(g, hs[0], p), r"hs: expected a 3-D array \(S, N, m\)"),
    (lambda g, hs, p, mk: A.additive_attention(g[:2], hs, p), r"query: expected shape \(N, m_g\) = \(3, \*\)"),
    (lambda g, hs, p, mk: A.additive_attention(g, hs, {"w_q": p["w_q"]}), r"params: missing key\(s\) \['w_k', 'v'\]"),
    (lambda g, hs, p, mk: A.additive_attention(g, hs, {**p, "w_k": p["w_k"].T}), r"params\['w_k'\]: expected shape \(2, 4\)"),
    (lambda g, hs, p, mk: A.additive_attention(g, hs, p, mk.T), r"mask: expected shape \(5, 3\)"),
    (lambda g, hs, p, mk: A.additive_attention(g, hs, p, 2 * mk), r"mask: expected only 0 \(padding\) and 1"),
    (lambda g, hs, p, mk: A.additive_attention(g, hs, p, mk * [1, 0, 1]), r"in every column, received none in column 1"),
    (lambda g, hs, p, mk: A.dot_attention(g, hs), r"query: expected m_g = m = 4 features"),
    (lambda g, hs, p, mk: A.dot_attention(g, hs, w_a=np.ones((4, 6))), r"w_a: expected shape \(6, 4\)"),
    (lambda g, hs, p, mk: A.masked_softmax(np.ones(3)), r"scores: expected a 2-D array"),
    (lambda g, hs, p, mk: A.masked_softmax_backward(np.ones((2, 3)), np.ones((3, 3))), r"dweights: expected shape \(3, 3\)"),
])
def test_bad_input_raises_clear_errors(call, match):
    rng = np.random.default_rng(0)
    g, hs, mask = rng.normal(size=(3, 6)), rng.normal(size=(5, 3, 4)), np.ones((5, 3))
    with pytest.raises(ValueError, match=match):
        call(g, hs, A.init_additive_params(6, 4, 2, rng), mask)


def test_backward_rejects_a_wrong_dcontext_shape():
    rng = np.random.default_rng(0)
    _, _, cache = A.dot_attention(rng.normal(size=(3, 4)), rng.normal(size=(5, 3, 4)))
    with pytest.raises(ValueError, match=r"dcontext: expected shape \(3, 4\)"):
        A.dot_attention_backward(np.ones((4, 3)), cache)


def test_model_rejects_unknown_score_and_missing_attention_parameters():
    from rnn_tutor.cells import ELMAN
    rng = np.random.default_rng(0)
    p = AS.init_attention_seq2seq_params(ELMAN, 2, 3, 4, rng, score="dot")
    xs, tg = rng.normal(size=(3, 2, 2)), np.zeros((2, 2), dtype=int)
    with pytest.raises(ValueError, match=r"score: expected one of \('additive', 'general', 'dot'\)"):
        AS.attention_seq2seq_loss(ELMAN, xs, tg, p, score="cosine")
    with pytest.raises(ValueError, match=r"missing key\(s\) \['att_w_a'\] of the 'general' attention score"):
        AS.attention_seq2seq_loss(ELMAN, xs, tg, p, score="general")
    with pytest.raises(ValueError, match=r"eos: expected a class index in 0..3"):
        AS.attention_greedy_decode(ELMAN, xs, p, eos=4, max_len=3, score="dot")


def test_model_names_a_badly_shaped_attention_vector():
    from rnn_tutor.cells import ELMAN
    rng = np.random.default_rng(0)
    p = AS.init_attention_seq2seq_params(ELMAN, 2, 3, 4, rng)
    xs, tg = rng.normal(size=(3, 2, 2)), np.zeros((2, 2), dtype=int)
    with pytest.raises(ValueError, match=r"params\['att_v'\]: expected shape \(\*,\)"):
        AS.attention_seq2seq_loss(ELMAN, xs, tg, {**p, "att_v": np.ones((3, 1))})
    with pytest.raises(ValueError, match=r"params: missing output-layer key\(s\) \['w_y'\]"):
        AS.attention_seq2seq_loss(ELMAN, xs, tg, {k: v for k, v in p.items() if k != "w_y"})


# ----------------------------------------------------------------------------- bad input (issue 16, fuzz report)

def _reverse_batch(score="additive"):
    from rnn_tutor.cells import ELMAN
    rng = np.random.default_rng(0)
    params = AS.init_attention_seq2seq_params(ELMAN, 2, 4, 3, np.random.default_rng(3), score=score)
    return ELMAN, rng.normal(size=(5, 3, 2)), rng.integers(0, 3, size=(4, 3)), params


@pytest.mark.parametrize("eos, max_len", [(np.uint64(2), 4), (np.array(2), np.array(4)), (np.int8(2), np.uint16(4))])
def test_attention_greedy_decode_takes_numpy_integers(eos, max_len):
    cell, xs, _, params = _reverse_batch()
    want = AS.attention_greedy_decode(cell, xs, params, 2, 4)
    got = AS.attention_greedy_decode(cell, xs, params, eos, max_len)
    assert got[0].dtype == np.int64 and all(np.array_equal(a, b) for a, b in zip(got, want))


def test_attention_greedy_decode_refuses_attention_weights_beyond_max_elements():
    cell, _, _, params = _reverse_batch()
    xs = np.zeros((60, 100, 2))  # alphas (max_len, S, N) = (10000, 60, 100): 6e7 entries
    with pytest.raises(ValueError, match=r"^max_len: expected sizes whose attention weights \(max_len, S, N\) has at most"):
        AS.attention_greedy_decode(cell, xs, params, 2, 10_000)


def test_init_attention_seq2seq_params_treats_numpy_sizes_like_ints():
    from rnn_tutor.cells import ELMAN
    a = AS.init_attention_seq2seq_params(ELMAN, np.int8(2), np.int8(4), np.uint8(3), np.random.default_rng(0))
    b = AS.init_attention_seq2seq_params(ELMAN, 2, 4, 3, np.random.default_rng(0))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_attention_seq2seq_loss_names_params_when_the_gradients_overflow():
    import warnings
    cell, xs, targets, params = _reverse_batch()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"^params\['\w+'\]: expected values small enough for attention_seq2seq_loss") as info:
            AS.attention_seq2seq_loss(cell, xs, targets, {k: v * 1e300 for k, v in params.items()})
    assert info.value.argument == "params" and isinstance(info.value, FloatingPointError)


def _one_huge(x, value=1.7e308):
    x = x.copy()
    x.flat[0] = value
    return x


@pytest.mark.parametrize("general", [False, True])
def test_dot_attention_with_huge_queries_is_a_hard_argmax_not_nan(general):
    """Scores beyond float64 (gᵀh ~ 1e300): the softmax is exactly one-hot at the largest score."""
    rng = np.random.default_rng(0)
    query, hs = rng.normal(size=(3, 4)), rng.normal(size=(5, 3, 4))
    w_a = rng.normal(size=(4, 4)) if general else None
    context, weights, cache = A.dot_attention(query * 1e300, hs * 1e10, w_a=w_a)  # scores ~ 1e310
    keys = hs if w_a is None else hs @ w_a.T
    best = np.einsum("snk,nk->sn", keys, query).argmax(axis=0)
    np.testing.assert_array_equal(weights, np.eye(5)[best].T)
    np.testing.assert_array_equal(context, hs[best, np.arange(3)] * 1e10)
    assert all(np.isfinite(v).all() for v in cache.values() if isinstance(v, np.ndarray))


@pytest.mark.parametrize("which", ["query", "hs", "w_a"])
def test_dot_attention_with_one_huge_entry_stays_finite(which):
    import warnings
    rng = np.random.default_rng(1)
    args = {"query": rng.normal(size=(3, 4)), "hs": rng.normal(size=(5, 3, 4)), "w_a": rng.normal(size=(4, 4))}
    args[which] = _one_huge(args[which])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        context, weights, cache = A.dot_attention(args["query"], args["hs"], w_a=args["w_a"])
    assert np.isfinite(context).all() and np.isfinite(weights).all() and np.isfinite(cache["keys"]).all()
    np.testing.assert_allclose(weights.sum(axis=0), 1.0)


def test_dot_attention_scaling_changes_nothing_at_ordinary_magnitudes():
    rng = np.random.default_rng(2)
    query, hs, w_a = rng.normal(size=(2, 3, 4)) * 7, rng.normal(size=(5, 3, 4)) * 300, rng.normal(size=(4, 4))
    context, weights, _ = A.dot_attention(query, hs, w_a=w_a)
    scores = np.einsum("snk,unk->usn", hs @ w_a.T, query)
    ref = np.exp(scores - scores.max(axis=1, keepdims=True))
    ref /= ref.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(weights, ref, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(context, np.einsum("usn,snm->unm", ref, hs), rtol=1e-12)


@pytest.mark.parametrize("kind", ["additive", "dot"])
def test_attention_backward_with_a_huge_incoming_gradient_is_the_scaled_gradient(kind):
    """The gradients are linear in dcontext: one entry of 1.7e308 must not overflow an intermediate product.

    With equal encoder states, ∂L/∂α_s = h_s · ∂L/∂c is the same for every s, so ∂L/∂e = 0 exactly and
    ∂L/∂h_s = α_s ∂L/∂c is finite, although each ∂L/∂α_s lies beyond float64 (inf - inf was NaN)."""
    import warnings
    rng = np.random.default_rng(3)
    query, hs = rng.normal(size=(3, 4)), np.repeat(rng.normal(size=(1, 3, 4)) * 2 + 2, 5, axis=0)
    if kind == "additive":
        _, _, cache = A.additive_attention(query, hs, A.init_additive_params(4, 4, 3, rng))
        backward = A.additive_attention_backward
    else:
        _, _, cache = A.dot_attention(query, hs)
        backward = A.dot_attention_backward
    dcontext = _one_huge(np.zeros((3, 4)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        big = backward(dcontext, cache)
    small = backward(dcontext * 2.0**-1000, cache)
    for k in small:
        assert np.isfinite(big[k]).all(), k
        np.testing.assert_allclose(big[k], small[k] * 2.0**1000, rtol=1e-12, err_msg=k)


@pytest.mark.parametrize("change", [lambda w: w * 1e300, lambda w: w * -1e300, lambda w: w + 1.0])
def test_masked_softmax_backward_refuses_weights_outside_0_1(change):
    weights = A.masked_softmax(np.random.default_rng(4).normal(size=(5, 3)))
    with pytest.raises(ValueError, match=r"^weights: expected attention weights in \[0, 1\]"):
        A.masked_softmax_backward(np.ones((5, 3)), change(weights))


def test_dot_attention_backward_needs_the_exponent_of_the_scaled_keys():
    rng = np.random.default_rng(5)
    _, _, cache = A.dot_attention(rng.normal(size=(3, 4)), rng.normal(size=(5, 3, 4)))
    with pytest.raises(ValueError, match=r"^cache: expected the cache returned by dot_attention, received a dict missing "
                                         r"the key\(s\) \['keys_exp'\]"):
        A.dot_attention_backward(np.ones((3, 4)), {k: v for k, v in cache.items() if k != "keys_exp"})


def test_dot_attention_handles_each_sequence_at_its_own_scale():
    """Huge keys in one sequence must not flush the ordinary scores of another to zero."""
    rng = np.random.default_rng(6)
    query, hs = rng.normal(size=(3, 4)), rng.normal(size=(5, 3, 4))
    plain_context, plain_weights, _ = A.dot_attention(query, hs)
    hs_big = hs.copy()
    hs_big[:, 0] *= 1e300  # sequence 0: scores ~1e300, beyond nothing yet ...
    hs_big[0, 0, 0] = 1.7e308  # ... but one key at the top of float64
    query_big = query.copy()
    query_big[0] *= 1e10  # sequence 0's scores now lie beyond float64
    context, weights, cache = A.dot_attention(query_big, hs_big)
    np.testing.assert_array_equal(weights[:, 1:], plain_weights[:, 1:])
    np.testing.assert_array_equal(context[1:], plain_context[1:])
    assert np.isin(weights[:, 0], [0.0, 1.0]).all() and weights[:, 0].sum() == 1.0
    assert np.isfinite(cache["keys"]).all()


def test_dot_attention_splits_a_tie_beyond_float64_and_finds_the_least_negative_score():
    u = np.array([1.0, 2.0, -1.0])
    hs = np.stack([u * c for c in (3.0, 1.0, 3.0, 2.0)])[:, None, :]  # (S=4, N=1, m=3): keys c_s u
    up = A.dot_attention(u[None] * 1e300, hs * 1e10)[1][:, 0]  # scores 6e310 c_s: a tie of the two largest
    np.testing.assert_array_equal(up, [0.5, 0.0, 0.5, 0.0])
    down = A.dot_attention(-u[None] * 1e300, hs * 1e10)[1][:, 0]  # every score below -1.8e308: the smallest c_s wins
    np.testing.assert_array_equal(down, [0.0, 1.0, 0.0, 0.0])
