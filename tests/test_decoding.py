"""Decoding rules: greedy, top-k, nucleus, sampling, beam search (against exhaustive search), exposure bias."""

import itertools

import numpy as np
import pytest

from rnn_tutor import decoding
from rnn_tutor.cells import ELMAN
from rnn_tutor.seq2seq import greedy_decode, init_seq2seq_params, encode


def test_top_k_keeps_k_largest_and_renormalises():
    p = np.array([[0.1, 0.4, 0.2, 0.3], [0.25, 0.25, 0.25, 0.25]])
    out = decoding.top_k_filter(p, 2)
    np.testing.assert_allclose(out[0], [0, 4 / 7, 0, 3 / 7])
    np.testing.assert_allclose(out[1], [0.5, 0.5, 0, 0])  # ties: the smaller ids
    np.testing.assert_allclose(decoding.top_k_filter(p, 4), p)
    assert (p == [[0.1, 0.4, 0.2, 0.3], [0.25] * 4]).all()  # input unchanged


@pytest.mark.parametrize("top_p, kept", [(0.3, [1]), (0.4, [1]), (0.41, [1, 3]), (0.7, [1, 3]),
                                         (0.71, [1, 3, 2]), (1.0, [0, 1, 2, 3])])
def test_nucleus_keeps_the_token_that_crosses_p(top_p, kept):
    p = np.array([0.1, 0.4, 0.2, 0.3])
    out = decoding.nucleus_filter(p, top_p)
    assert sorted(np.flatnonzero(out)) == sorted(kept)
    np.testing.assert_allclose(out[kept], p[kept] / p[kept].sum())


def test_nucleus_never_keeps_zero_probability_tokens():
    out = decoding.nucleus_filter(np.array([0.5, 0.5, 0.0]), 1.0)
    assert out[2] == 0


def test_decoding_probs_and_validation():
    logits = np.array([[1.0, 3.0, 2.0]])
    np.testing.assert_array_equal(decoding.decoding_probs(logits, "greedy"), [[0, 1, 0]])
    with pytest.raises(ValueError, match="strategy: expected one of"):
        decoding.decoding_probs(logits, "beam")
    with pytest.raises(ValueError, match=r"k: expected a positive integer \(at most 3\)"):
        decoding.decoding_probs(logits, "top_k", k=4)
    with pytest.raises(ValueError, match=r"top_p: expected a number in \(0, 1\]"):
        decoding.decoding_probs(logits, "nucleus", top_p=0)
    with pytest.raises(ValueError, match="sum to 1"):
        decoding.top_k_filter(np.array([0.5, 0.6]), 1)


def test_sample_from_follows_the_distribution():
    p = np.array([0.2, 0.0, 0.5, 0.3])
    draws = decoding.sample_from(np.tile(p, (20000, 1)), np.random.default_rng(0))
    freq = np.bincount(draws, minlength=4) / draws.size
    assert np.abs(freq - p).max() < 0.015 and freq[1] == 0


def markov_step(log_first, log_next):
    """A toy step function: the next token depends on the previous one (START = V)."""
    table = np.vstack([log_next, log_first[None]])

    def step(tokens, state):
        return table[np.asarray(tokens)], state + 1
    return step


def exhaustive_best(log_first, log_next, eos, max_len):
    V = log_next.shape[0]
    best = (-np.inf, None)
    for L in range(1, max_len + 1):
        for seq in itertools.product(range(V), repeat=L):
            if eos in seq[:-1] or (seq[-1] != eos and L < max_len):
                continue
            s = log_first[seq[0]] + sum(log_next[a, b] for a, b in zip(seq, seq[1:]))
            best = max(best, (s, list(seq)), key=lambda x: x[0])
    return best


@pytest.mark.parametrize("seed", range(8))
def test_wide_beam_finds_the_exhaustive_optimum_and_never_scores_below_greedy(seed):
    rng = np.random.default_rng(seed)
    V, eos, max_len = 4, 0, 4
    log_first = np.log(rng.dirichlet(np.ones(V)))
    log_next = np.log(rng.dirichlet(np.ones(V) * 0.5, size=V))
    step = markov_step(log_first, log_next)
    best_score, best_seq = exhaustive_best(log_first, log_next, eos, max_len)
    seq, score = decoding.beam_search(step, np.zeros((1, 1)), V, eos, beam_width=V ** max_len, max_len=max_len)
    assert seq == best_seq and abs(score - best_score) < 1e-12
    greedy_seq, greedy_score = decoding.beam_search(step, np.zeros((1, 1)), V, eos, 1, max_len)
    for B in (2, 3):
        assert decoding.beam_search(step, np.zeros((1, 1)), V, eos, B, max_len)[1] >= greedy_score - 1e-12
    # beam width 1 is greedy decoding
    tok, g = V, []
    for _ in range(max_len):
        tok = int(np.argmax(step(np.array([tok]), 0)[0][0]))
        g.append(tok)
        if tok == eos:
            break
    assert greedy_seq == g


def test_beam_of_one_equals_seq2seq_greedy_decode():
    rng = np.random.default_rng(3)
    params = init_seq2seq_params(ELMAN, d=3, m=5, q=4, rng=rng)
    xs = rng.normal(size=(4, 6, 3))
    tokens, lengths = greedy_decode(ELMAN, xs, params, eos=0, max_len=5)
    state, _ = encode(ELMAN, xs, params)
    step = decoding.seq2seq_step(ELMAN, params)
    for n in range(6):
        seq, _ = decoding.beam_search(step, state[n:n + 1], 4, 0, 1, 5)
        assert seq == list(tokens[:lengths[n], n])


def test_beam_search_validates():
    step = markov_step(np.log([0.5, 0.5]), np.log([[0.5, 0.5], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="beam_width: expected a positive integer"):
        decoding.beam_search(step, np.zeros((1, 1)), 2, 0, 0, 3)


def test_progression_task_and_exposure_bias_shapes():
    xs, ys = decoding.progression_task(np.random.default_rng(0), 5, U=4)
    assert xs.shape == (2, 5, 10) and ys.shape == (5, 5) and (ys[-1] == 10).all()
    a, b = xs[0].argmax(1), xs[1].argmax(1)
    np.testing.assert_array_equal(ys[2], (a + 2 * b) % 10)
    params = init_seq2seq_params(ELMAN, d=10, m=4, q=11, rng=np.random.default_rng(1))
    tf, fr = decoding.exposure_bias(ELMAN, xs, ys, params, 10)
    assert tf.shape == fr.shape == (5,) and tf[0] == fr[0]  # the first token reads START in both modes


def test_scheduled_sampling_is_teacher_forcing_at_eps_one_and_free_running_at_zero():
    from rnn_tutor.seq2seq import encoder_decoder_loss, teacher_forcing_inputs
    rng = np.random.default_rng(5)
    xs, ys = decoding.progression_task(rng, 6, U=3)
    params = init_seq2seq_params(ELMAN, d=10, m=4, q=11, rng=rng)
    L_tf, g_tf = encoder_decoder_loss(ELMAN, xs, ys, params)
    L_ss, g_ss = decoding.scheduled_sampling_loss(ELMAN, xs, ys, params, 1.0, np.random.default_rng(0))
    assert abs(L_tf - L_ss) < 1e-12 and all(np.allclose(g_tf[k], g_ss[k], atol=1e-14) for k in g_tf)
    np.testing.assert_array_equal(decoding.scheduled_sampling_inputs(ELMAN, xs, ys, params, 1.0, rng),
                                  teacher_forcing_inputs(ys, 11))
    free, _ = greedy_decode(ELMAN, xs, params, eos=10, max_len=4)
    read = decoding.scheduled_sampling_inputs(ELMAN, xs, ys, params, 0.0, rng).argmax(-1)
    np.testing.assert_array_equal(read[1:], free[:3])  # free running reads its own greedy outputs
    with pytest.raises(ValueError, match=r"eps: expected a probability in \[0, 1\]"):
        decoding.scheduled_sampling_inputs(ELMAN, xs, ys, params, 1.5, rng)


def test_scheduled_sampling_gradients_match_finite_differences():
    from rnn_tutor.gradcheck import numerical_gradients, rel_error
    rng = np.random.default_rng(6)
    xs, ys = decoding.progression_task(rng, 4, U=3)
    params = init_seq2seq_params(ELMAN, d=10, m=3, q=11, rng=rng)
    loss = lambda p: decoding.scheduled_sampling_loss(ELMAN, xs, ys, p, 0.5, np.random.default_rng(1))  # noqa: E731
    _, grads = loss(params)
    numeric = numerical_gradients(lambda p: loss(p)[0], params)
    for k in params:
        assert rel_error(grads[k], numeric[k]) < 1e-7, k


def test_beam_search_names_a_step_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"step: expected log-probabilities \(B, V\) = \(1, V\)"):
        decoding.beam_search(lambda tok, s: (np.zeros(3), s), np.zeros((1, 1)), 0, 1, 2, 3)


# ----------------------------------------------------------------------------- bad input (issue 16, fuzz report)

def _s2s_step():
    params = init_seq2seq_params(ELMAN, d=2, m=4, q=3, rng=np.random.default_rng(0))
    return decoding.seq2seq_step(ELMAN, params), np.random.default_rng(1).normal(size=(1, 4)), params


@pytest.mark.parametrize("start", [4, 10**12, 2**63, 10**30])
def test_beam_search_names_start(start):
    """start = q + 1 is not a token the decoder reads; huge ids are refused before they reach NumPy."""
    step, state, _ = _s2s_step()
    with pytest.raises(ValueError, match=r"^start: expected a token") as info:
        decoding.beam_search(step, state, start, 2, 2, 4)
    assert info.value.argument == "start" and str(start) in str(info.value)


@pytest.mark.parametrize("eos", [3, 10**12, 2**63, 10**30])
def test_beam_search_refuses_an_eos_outside_the_vocabulary(eos):
    step, state, _ = _s2s_step()
    with pytest.raises(ValueError, match=rf"^eos: expected a token id in 0\.\.\d+.*received {eos}\."):
        decoding.beam_search(step, state, 3, eos, 2, 4)


def test_beam_search_accepts_numpy_integers_for_start_and_eos():
    step, state, _ = _s2s_step()
    want = decoding.beam_search(step, state, 3, 2, 2, 4)
    assert decoding.beam_search(step, state, np.uint64(3), np.array(2), 2, 4) == want


@pytest.mark.parametrize("bad, match", [
    (lambda lp, s: lp, r"step: expected it to return a pair \(log_probs \(B, V\), state\), received an array"),
    (lambda lp, s: None, r"step: expected it to return a pair .*received None"),
    (lambda lp, s: (lp + 1j, s), r"step: expected it to return real log-probabilities .*complex128"),
    (lambda lp, s: (lp * np.nan, s), r"step: expected log-probabilities \(<= 0, no NaN\), received nan"),
    (lambda lp, s: (lp + 1.0, s), r"step: expected log-probabilities \(<= 0, no NaN\), received 0\.\d+"),
    (lambda lp, s: (lp - np.inf, s), r"step: expected at least one possible token"),
])
def test_beam_search_blames_a_step_that_returns_the_wrong_thing(bad, match):
    step, state, _ = _s2s_step()
    with pytest.raises(ValueError, match=match) as info:
        decoding.beam_search(lambda t, s: bad(*step(t, s)), state, 3, 2, 2, 4)
    assert info.value.argument == "step"


def test_beam_search_never_returns_a_nan_or_impossible_score():
    """-inf log-probabilities are impossible tokens: they never win, the score stays finite."""
    with np.errstate(divide="ignore"):
        table = np.log(np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))  # START = 3
    seq, score = decoding.beam_search(lambda t, s: (table[np.asarray(t)], s), None, 3, 0, 3, 4)
    assert np.isfinite(score) and seq[-1] == 0


def test_seq2seq_step_checks_params_when_built():
    _, _, params = _s2s_step()
    with pytest.raises(ValueError, match=r"^params\['w_y'\]: expected shape \(\*, 4\), received shape \(3, 5\)"):
        decoding.seq2seq_step(ELMAN, {**params, "w_y": np.ones((3, 5))})


@pytest.mark.parametrize("fn", [decoding.check_probs, lambda p: decoding.top_k_filter(p, 1),
                                lambda p: decoding.nucleus_filter(p, 0.5),
                                lambda p: decoding.sample_from(p, np.random.default_rng(0))])
@pytest.mark.parametrize("probs", [np.array([[0.5, np.nan, 0.5]]), np.full((2, 3), np.nan)])
def test_nan_probabilities_are_reported_as_nan_without_a_warning(fn, probs):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"^probs: expected finite numbers.*received nan at index"):
            fn(probs)


def test_negative_probabilities_name_the_value():
    with pytest.raises(ValueError, match=r"probs: expected non-negative probabilities, received -0\.1 at index \(1,\)"):
        decoding.check_probs(np.array([0.5, -0.1, 0.6]))
