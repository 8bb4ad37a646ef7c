"""The checks of exercise 08 (rnn_tutor.checks.language_modelling).

The contract every check keeps (pass the reference and a solution, fail stubs, mistakes and
in-place mutation) is in tests/check_contract.py; this file gives it the lesson's solutions and
tests the references against the library.
"""

import numpy as np
import pytest
from check_contract import CheckContract

from rnn_tutor import decoding, lm
from rnn_tutor.checks import language_modelling as C
from rnn_tutor.checks.core import CheckFailed, run_check
from rnn_tutor.embedding import embedding_backward as library_embedding_backward
from rnn_tutor.embedding import embedding_forward


def embedding_backward(ids, dxs, V):  # the one-hot product, transposed
    onehot = np.eye(V)[ids.reshape(-1)]  # (T N, V)
    return onehot.T @ dxs.reshape(-1, dxs.shape[-1])  # (V, T N) @ (T N, e) -> (V, e)


def perplexity(logits, targets, mask):
    return lm.perplexity(logits, targets, mask)


def nucleus_filter(probs, top_p):
    return decoding.nucleus_filter(probs, top_p)


def beam_search(log_p_first, log_p_next, eos, beam_width, max_len):
    table = np.vstack([log_p_next, log_p_first[None]])  # START = V reads log_p_first
    return decoding.beam_search(lambda tok, s: (table[tok], s), np.zeros((1, 1)), len(log_p_first), eos,
                                beam_width, max_len)


def scaling_perplexity(logits, targets, mask):
    logits -= logits.max(axis=-1, keepdims=True)  # in place: the caller's logits change
    return lm.perplexity(logits, targets, mask)


def sorting_nucleus(probs, top_p):
    out = decoding.nucleus_filter(probs, top_p)
    probs.sort(axis=-1)
    return out


class TestContract(CheckContract):
    """The contract of every check (tests/check_contract.py), for exercise 08."""

    NOTEBOOK = "08_language_modelling"
    CHECKS = {"embedding_backward": (C.EMBEDDING_BACKWARD, C.check_embedding_backward),
              "perplexity": (C.PERPLEXITY, C.check_perplexity),
              "nucleus_filter": (C.NUCLEUS, C.check_nucleus_filter),
              "beam_search": (C.BEAM, C.check_beam_search)}
    GOOD = {"embedding_backward": embedding_backward, "perplexity": perplexity,
            "nucleus_filter": nucleus_filter, "beam_search": beam_search}
    MUTATIONS = [("perplexity", scaling_perplexity, "logits"), ("nucleus_filter", sorting_nucleus, "probs")]


@pytest.mark.parametrize("seed", range(20))
def test_references_agree_with_the_library(seed):
    rng = np.random.default_rng(seed)
    inp = C.EMBEDDING_BACKWARD.make_inputs(rng)
    _, cache = embedding_forward(inp["ids"], np.zeros((inp["V"], inp["dxs"].shape[-1])))
    np.testing.assert_allclose(C.EMBEDDING_BACKWARD.reference(**inp), library_embedding_backward(inp["dxs"], cache))
    inp = C.PERPLEXITY.make_inputs(rng)
    assert C.PERPLEXITY.reference(**inp) == pytest.approx(lm.perplexity(**inp), rel=1e-12)
    inp = C.NUCLEUS.make_inputs(rng)
    np.testing.assert_allclose(C.NUCLEUS.reference(**inp), decoding.nucleus_filter(**inp), atol=1e-15)
    inp = C.BEAM.make_inputs(rng)
    tokens, score = C.BEAM.reference(**inp)
    lib_tokens, lib_score = beam_search(**inp)
    assert list(tokens) == lib_tokens and score == pytest.approx(lib_score, abs=1e-12)


def test_cases_have_repeats_padding_and_beams_that_beat_greedy():
    for seed in range(10):
        rng = np.random.default_rng(seed)
        ids = C.EMBEDDING_BACKWARD.make_inputs(rng)["ids"]
        assert np.unique(ids).size < ids.size                      # some token repeats
        mask = C.PERPLEXITY.make_inputs(rng)["mask"]
        assert 0 < mask.sum() < mask.size                          # some padding
        inp = C.BEAM.make_inputs(rng)
        assert C.BEAM.reference(**inp)[1] > C._beam_greedy(**inp)[1]   # greedy is wrong on every case


def test_naive_softmax_overflow_is_reported():
    def naive(logits, targets, mask):
        with np.errstate(all="ignore"):
            p = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
            nll = -np.log(np.take_along_axis(p, targets[..., None], axis=-1)[..., 0])
            return float(np.exp((mask * nll).sum() / mask.sum()))
    with pytest.raises(CheckFailed, match="overflow"):
        run_check(C.PERPLEXITY, naive)


def test_plain_list_tokens_are_accepted_and_wrong_length_is_named():
    run_check(C.BEAM, lambda **inp: (list(map(int, C.BEAM.reference(**inp)[0])), C.BEAM.reference(**inp)[1]),
              quiet=True)
    with pytest.raises(CheckFailed, match=r"expected shape \(\d,\), received shape"):
        run_check(C.BEAM, lambda **inp: (list(C.BEAM.reference(**inp)[0]) + [0], C.BEAM.reference(**inp)[1]))
