"""The checks of exercise 09 (rnn_tutor.checks.attention).

The contract every check keeps (pass the solution, fail stubs, mistakes, mutation) is in
tests/check_contract.py; here the functions of solutions/09_attention_solutions.ipynb are its
learner-style solutions.  The checks' plain-NumPy references are compared with the library
(rnn_tutor.attention) and with finite differences.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from check_contract import CheckContract

from rnn_tutor import attention as A
from rnn_tutor.checks import attention as C
from rnn_tutor.checks.core import CheckFailed
from rnn_tutor.gradcheck import max_rel_error, numerical_gradients
from rnn_tutor.heads import softmax

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions" / "09_attention_solutions.ipynb"


def _solution_functions(*names: str) -> dict:
    """The solution cells of the notebook, executed: the learner's functions as the course's answer."""
    cells = json.loads(SOLUTIONS.read_text(encoding="utf-8"))["cells"]
    namespace = {"np": np}
    for cell in cells:
        if cell["cell_type"] == "code" and cell["metadata"].get("nbgrader", {}).get("solution"):
            exec("".join(cell["source"]), namespace)
    return {name: namespace[name] for name in names}


# ----------------------------------------------------------------------------- references vs the library

@pytest.mark.parametrize("seed", range(8))
def test_references_agree_with_the_library(seed):
    rng = np.random.default_rng(seed)
    inp = C.MASKED_SOFTMAX.make_inputs(rng)
    np.testing.assert_allclose(C.masked_softmax_reference(**inp), A.masked_softmax(inp["scores"], inp["mask"]),
                               rtol=1e-13, atol=1e-300)

    inp = C.ADDITIVE_BACKWARD.make_inputs(rng)
    params = {"w_q": inp["w_q"], "w_k": inp["w_k"], "v": inp["v"]}
    context, weights, cache = A.additive_attention(inp["query"], inp["hs"], params, inp["mask"])
    ref_c, ref_w = C.additive_attention_reference(**{k: v for k, v in inp.items() if k != "dcontext"})
    np.testing.assert_allclose(ref_c, context, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ref_w, weights, rtol=1e-12, atol=1e-300)
    grads = A.additive_attention_backward(inp["dcontext"], cache)
    for name, value in zip(("query", "hs", "w_q", "w_k", "v"), C.additive_backward_reference(**inp)):
        np.testing.assert_allclose(value, grads[name], rtol=1e-10, atol=1e-12, err_msg=name)


def test_backward_reference_matches_finite_differences():
    inp = C.ADDITIVE_BACKWARD.make_inputs(np.random.default_rng(7))
    G, mask = inp["dcontext"], inp["mask"]
    names = ("query", "hs", "w_q", "w_k", "v")

    def loss(v):
        return float((G * C.additive_attention_reference(**v, mask=mask)[0]).sum())
    num = numerical_gradients(loss, {k: inp[k] for k in names})
    errors = max_rel_error(dict(zip(names, C.additive_backward_reference(**inp))), num)
    assert max(errors.values()) < 1e-7, errors


def test_every_case_has_padding_and_a_full_sequence():
    for seed in range(30):
        for check in (C.MASKED_SOFTMAX, C.ADDITIVE_ATTENTION):
            mask = check.make_inputs(np.random.default_rng(seed))["mask"]
            assert (mask == 0).any() and (mask.sum(axis=0) == mask.shape[0]).any() and (mask[0] == 1).all()


# ----------------------------------------------------------------------------- the contract

def renormalising_softmax(scores, mask):
    scores -= scores.max(axis=0, keepdims=True)  # an in-place shift
    return C.masked_softmax_reference(scores, mask)


def library_softmax_via_dot_attention(scores, mask):
    """The weights of dot attention with a one-feature query 1 and keys ``scores``: the masked softmax."""
    return A.dot_attention(np.ones((scores.shape[1], 1)), scores[..., None], mask)[1]


def library_softmax_via_self_attention(scores, mask):
    """Self-attention of position 0 (query 1) over keys that hold the scores (-1e300 at padding): the masked softmax."""
    from rnn_tutor.self_attention import self_attention
    S, N = scores.shape
    xs = np.stack([np.broadcast_to((np.arange(S) == 0)[:, None], (S, N)), np.where(mask == 1, scores, -1e300)], axis=-1)
    return self_attention(xs, {"w_q": np.array([[1.0, 0.0]]), "w_k": np.array([[0.0, 1.0]]), "w_v": np.eye(2)})[1][0]


def library_additive_attention(query, hs, w_q, w_k, v, mask):
    context, weights, _ = A.additive_attention(query, hs, {"w_q": w_q, "w_k": w_k, "v": v}, mask)
    return context, weights


def hand_scores_library_softmax(query, hs, w_q, w_k, v, mask):
    weights = A.masked_softmax(np.tanh(hs @ w_k.T + query @ w_q.T) @ v, mask)
    return (weights[..., None] * hs).sum(axis=0), weights


def library_additive_backward(dcontext, query, hs, w_q, w_k, v, mask):
    _, _, cache = A.additive_attention(query, hs, {"w_q": w_q, "w_k": w_k, "v": v}, mask)
    g = A.additive_attention_backward(dcontext, cache)
    return g["query"], g["hs"], g["w_q"], g["w_k"], g["v"]


class TestContract(CheckContract):
    """The contract of every check (tests/check_contract.py), for exercise 09."""

    NOTEBOOK = "09_attention"
    CHECKS = {"masked_softmax": (C.MASKED_SOFTMAX, C.check_masked_softmax),
              "additive_attention": (C.ADDITIVE_ATTENTION, C.check_additive_attention),
              "additive_attention_backward": (C.ADDITIVE_BACKWARD, C.check_additive_attention_backward)}
    GOOD = _solution_functions(*CHECKS)
    SHORTCUTS = {"masked_softmax": [lambda scores, mask: A.masked_softmax(scores, mask),
                                    lambda scores, mask: softmax(np.where(mask == 1, scores, -np.inf), axis=0),
                                    library_softmax_via_dot_attention, library_softmax_via_self_attention],
                 "additive_attention": [library_additive_attention, hand_scores_library_softmax],
                 "additive_attention_backward": [library_additive_backward]}
    MUTATIONS = [("masked_softmax", renormalising_softmax, "scores")]


# ----------------------------------------------------------------------------- special cases

def test_a_softmax_without_the_max_shift_that_masks_first_passes():
    """Masking first makes the shift unnecessary for these scores: not a mistake."""
    def unshifted(scores, mask):
        with np.errstate(over="ignore"):
            w = np.where(mask == 1, np.exp(np.where(mask == 1, scores, 0.0)), 0.0)
        return w / w.sum(axis=0)
    C.check_masked_softmax(unshifted)  # raises CheckFailed on a failure


def test_a_wrong_shape_names_the_output():
    def transposed_weights(query, hs, w_q, w_k, v, mask):
        c, w = solution(query, hs, w_q, w_k, v, mask)
        return c, w.T
    solution = TestContract.GOOD["additive_attention"]
    with pytest.raises(CheckFailed, match=r"\['weights'\]: expected shape \(\d, \d\), received shape \(\d, \d\) \(the axes are swapped"):
        C.check_additive_attention(transposed_weights)
