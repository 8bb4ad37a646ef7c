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
from rnn_tutor.heads import softmax_cross_entropy


def embedding_backward(ids, dxs, V):  # the one-hot product, transposed
    onehot = np.eye(V)[ids.reshape(-1)]  # (T N, V)
    return onehot.T @ dxs.reshape(-1, dxs.shape[-1])  # (V, T N) @ (T N, e) -> (V, e)


def perplexity(logits, targets, mask):  # position by position, log-sum-exp written out
    total, count = 0.0, 0
    for t, n in zip(*np.nonzero(mask)):
        o = logits[t, n]
        total += np.log(np.sum(np.exp(o - o.max()))) + o.max() - o[targets[t, n]]
        count += 1
    return float(np.exp(total / count))


def nucleus_filter(probs, top_p):  # vectorised over rows
    order = np.argsort(-probs, axis=-1, kind="stable")
    sorted_p = np.take_along_axis(probs, order, axis=-1)
    before = np.concatenate([np.zeros((probs.shape[0], 1)), np.cumsum(sorted_p, axis=-1)[:, :-1]], axis=-1)
    keep = np.zeros(probs.shape, bool)
    np.put_along_axis(keep, order, before < top_p, axis=-1)
    kept = np.where(keep, probs, 0.0)
    return kept / kept.sum(axis=-1, keepdims=True)


def beam_search(log_p_first, log_p_next, eos, beam_width, max_len):  # arrays of prefixes, scores in one matrix
    V = len(log_p_first)
    prefixes, scores = np.zeros((1, 0), int), np.zeros(1)
    done = []
    for t in range(max_len):
        rows = log_p_first[None] if t == 0 else log_p_next[prefixes[:, -1]]  # (B, V)
        total = (scores[:, None] + rows).ravel()
        best = np.argsort(-total, kind="stable")[:beam_width]
        grown = np.hstack([prefixes[best // V], (best % V)[:, None]])
        ended = grown[:, -1] == eos
        done += [(list(p), s) for p, s in zip(grown[ended], total[best][ended])]
        prefixes, scores = grown[~ended], total[best][~ended]
        if not len(scores):
            break
    return max(done + [(list(p), s) for p, s in zip(prefixes, scores)], key=lambda c: c[1])


def library_beam_search(log_p_first, log_p_next, eos, beam_width, max_len):
    table = np.vstack([log_p_next, log_p_first[None]])  # START = V reads log_p_first
    return decoding.beam_search(lambda tok, s: (table[tok], s), np.zeros((1, 1)), len(log_p_first), eos,
                                beam_width, max_len)


def library_embedding_gradient(ids, dxs, V):
    _, cache = embedding_forward(ids, np.zeros((V, dxs.shape[-1])))
    return library_embedding_backward(dxs, cache)


def scaling_perplexity(logits, targets, mask):
    out = perplexity(logits, targets, mask)
    logits -= logits.max(axis=-1, keepdims=True)  # in place: the caller's logits change
    return out


def sorting_nucleus(probs, top_p):
    out = nucleus_filter(probs, top_p)
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
    SHORTCUTS = {"embedding_backward": [library_embedding_gradient],
                 "perplexity": [lm.perplexity, lambda logits, targets, mask: float(np.exp(
                     softmax_cross_entropy(logits, targets, mask)[0]))],
                 "nucleus_filter": [decoding.nucleus_filter, lambda probs, top_p: decoding.decoding_probs(
                     np.log(probs), "nucleus", top_p=top_p)],
                 "beam_search": [library_beam_search]}
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
    lib_tokens, lib_score = library_beam_search(**inp)
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
    run_check(C.BEAM, lambda **inp: (list(map(int, beam_search(**inp)[0])), beam_search(**inp)[1]), quiet=True)
    with pytest.raises(CheckFailed, match=r"expected shape \(\d,\), received shape"):
        run_check(C.BEAM, lambda **inp: (list(beam_search(**inp)[0]) + [0], beam_search(**inp)[1]))
