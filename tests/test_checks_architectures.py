"""The checks of exercise 04 (rnn_tutor.checks.architectures).

The contract every check keeps (pass the solution, fail stubs, mistakes, mutation) is in
tests/check_contract.py; here the functions of solutions/04_architectures_solutions.ipynb are its
learner-style solutions.  The checks' plain-NumPy references are compared with the library
(heads, masking, seq2seq) and with finite differences.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from check_contract import CheckContract, without_guard

from rnn_tutor import seq2seq as S
from rnn_tutor.cells import ELMAN
from rnn_tutor.checks import architectures as C
from rnn_tutor.checks.core import CheckFailed
from rnn_tutor.gradcheck import max_rel_error, numerical_gradients
from rnn_tutor.heads import softmax_cross_entropy
from rnn_tutor.masking import last_valid, last_valid_backward

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions" / "04_architectures_solutions.ipynb"


def _solution_functions(*names: str) -> dict:
    """The solution cells of the notebook, executed: the learner's functions as the course's answer."""
    cells = json.loads(SOLUTIONS.read_text(encoding="utf-8"))["cells"]
    namespace = {"np": np}
    for cell in cells:
        if cell["cell_type"] == "code" and cell["metadata"].get("nbgrader", {}).get("solution"):
            exec("".join(cell["source"]), namespace)
    return {name: namespace[name] for name in names}


# ----------------------------------------------------------------------------- references vs the library

@pytest.mark.parametrize("seed", range(5))
def test_references_agree_with_the_library(seed):
    rng = np.random.default_rng(seed)
    inp = C.SOFTMAX_CE.make_inputs(rng)
    L, d = C.softmax_ce_reference(**inp)
    L2, d2 = softmax_cross_entropy(inp["logits"], inp["labels"])
    assert np.isfinite(L) and L == pytest.approx(L2, rel=1e-12) and np.allclose(d, d2, rtol=1e-12, atol=1e-15)

    inp = C.MASKED_CE.make_inputs(rng)
    L, d = C.masked_ce_reference(**inp)
    L2, d2 = softmax_cross_entropy(inp["logits"], inp["labels"], mask=inp["mask"])
    assert L == pytest.approx(L2, rel=1e-12) and np.allclose(d, d2, rtol=1e-12, atol=1e-15)

    inp = C.MANY_TO_ONE.make_inputs(rng)
    h_last = last_valid(inp["hs"], inp["lengths"])
    L, dhs, dw, db = C.many_to_one_reference(**inp)
    assert L == pytest.approx(softmax_cross_entropy(h_last @ inp["w_y"].T + inp["b_y"], inp["labels"])[0], rel=1e-12)

    inp = C.GREEDY_DECODE.make_inputs(rng)
    q, m = inp["params"]["w_y"].shape
    p = {"enc_w_x": np.zeros((m, 1)), "enc_w_h": np.zeros((m, m)), "enc_b_h": np.zeros(m),
         **{f"dec_{k}": inp["params"][k] for k in ("w_x", "w_h", "b_h")}, "w_y": inp["params"]["w_y"],
         "b_y": inp["params"]["b_y"]}
    tokens, _ = S.decode_greedy(ELMAN, p, inp["h_0"], inp["eos"], inp["max_len"])
    np.testing.assert_array_equal(C.greedy_reference(**inp), tokens)


def test_many_to_one_reference_gradients_match_finite_differences():
    inp = C.MANY_TO_ONE.make_inputs(np.random.default_rng(7))
    _, dhs, dw, db = C.many_to_one_reference(**inp)
    base = {k: inp[k] for k in ("hs", "w_y", "b_y")}
    num = numerical_gradients(lambda v: C.many_to_one_reference(v["hs"], inp["lengths"], inp["labels"],
                                                                v["w_y"], v["b_y"])[0], base)
    errors = max_rel_error({"hs": dhs, "w_y": dw, "b_y": db}, num)
    assert max(errors.values()) < 1e-7, errors


def test_greedy_cases_exercise_the_stopping_rule():
    for seed in range(20):
        inp = C.GREEDY_DECODE.make_inputs(np.random.default_rng(seed))
        tokens = C.greedy_reference(**inp)
        assert tokens.shape == (inp["max_len"], inp["h_0"].shape[0]) and tokens.dtype.kind == "i"
        assert tokens[1, 0] == inp["eos"] and np.all(tokens[1:, 0] == inp["eos"])
        assert (tokens != inp["eos"]).any()


# ----------------------------------------------------------------------------- the contract

def library_many_to_one_loss(hs, lengths, labels, w_y, b_y):
    h_last = last_valid(hs, lengths)
    L, dlogits = softmax_cross_entropy(h_last @ w_y.T + b_y, labels)
    return L, last_valid_backward(dlogits @ w_y, lengths, hs.shape[0]), dlogits.T @ h_last, dlogits.sum(axis=0)


def library_greedy_decode(params, h_0, eos, max_len):
    q, m = params["w_y"].shape
    p = {"enc_w_x": np.zeros((m, 1)), "enc_w_h": np.zeros((m, m)), "enc_b_h": np.zeros(m),
         **{f"dec_{k}": params[k] for k in ("w_x", "w_h", "b_h")}, "w_y": params["w_y"], "b_y": params["b_y"]}
    return S.decode_greedy(ELMAN, p, h_0, eos, max_len)[0]


def shifting_softmax_cross_entropy(logits, labels):
    logits -= logits.max(axis=1, keepdims=True)  # the log-sum-exp shift, done in place
    return C.softmax_ce_reference(logits, labels)


class TestContract(CheckContract):
    """The contract of every check (tests/check_contract.py), for exercise 04."""

    NOTEBOOK = "04_architectures"
    CHECKS = {"softmax_cross_entropy": (C.SOFTMAX_CE, C.check_softmax_cross_entropy),
              "many_to_one_loss": (C.MANY_TO_ONE, C.check_many_to_one_loss),
              "masked_cross_entropy": (C.MASKED_CE, C.check_masked_cross_entropy),
              "greedy_decode": (C.GREEDY_DECODE, C.check_greedy_decode)}
    GOOD = _solution_functions(*CHECKS)
    SHORTCUTS = {"softmax_cross_entropy": [softmax_cross_entropy],
                 "many_to_one_loss": [library_many_to_one_loss],
                 "masked_cross_entropy": [lambda logits, labels, mask: softmax_cross_entropy(logits, labels, mask=mask)],
                 "greedy_decode": [library_greedy_decode]}
    MUTATIONS = [("softmax_cross_entropy", shifting_softmax_cross_entropy, "logits")]


# ----------------------------------------------------------------------------- special cases

def test_unstable_softmax_gets_the_log_sum_exp_hint():
    def naive(logits, labels):
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        d = p.copy()
        d[np.arange(len(labels)), labels] -= 1
        return -np.log(p[np.arange(len(labels)), labels]).mean(), d / len(labels)
    with np.errstate(all="ignore"), pytest.raises(CheckFailed) as info:
        C.check_softmax_cross_entropy(naive)
    assert "Subtract each row's largest logit" in str(info.value)


@without_guard
def test_masked_loss_ignoring_the_mask_in_the_gradient_only_is_caught():
    def half_masked(logits, labels, mask):
        L, _ = C.masked_ce_reference(logits, labels, mask)
        _, d = C.masked_ce_reference(logits, labels, np.ones_like(mask))
        return L, d
    with pytest.raises(CheckFailed, match=r"masked_cross_entropy fails case 1 of 3"):
        C.check_masked_cross_entropy(half_masked)


@without_guard
def test_messages_name_shape_and_worst_element():
    def transposed_dw(hs, lengths, labels, w_y, b_y):
        L, dhs, dw, db = C.many_to_one_reference(hs, lengths, labels, w_y, b_y)
        return L, dhs, dw.T, db
    with pytest.raises(CheckFailed, match=r"many_to_one_loss\['dw_y'\]: expected shape \(\d, \d\), received shape "
                                          r"\(\d, \d\) \(the axes are swapped"):
        C.check_many_to_one_loss(transposed_dw)

    def one_off(params, h_0, eos, max_len):
        t = C.greedy_reference(params, h_0, eos, max_len)
        t[-1, -1] = (t[-1, -1] + 1) % params["w_y"].shape[0]
        return t
    with pytest.raises(CheckFailed, match=r"greedy_decode: shape \(\d, \d\) is right, but 1 of \d+ elements differ; "
                                          r"the worst at index \(\d, \d\)"):
        C.check_greedy_decode(one_off)
