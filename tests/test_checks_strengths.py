"""The checks of exercise 07 (rnn_tutor.checks.strengths).

The contract every check keeps (pass the reference and a solution, fail stubs, mistakes and
in-place mutation) is in tests/check_contract.py; this file gives it the lesson's solutions.
"""

import numpy as np
import pytest
from check_contract import CheckContract, without_guard

from rnn_tutor.charlm import softmax_with_temperature
from rnn_tutor.heads import softmax
from rnn_tutor.checks import strengths as C
from rnn_tutor.checks.core import CheckFailed, run_check
from rnn_tutor.strengths import sliding_windows


def sample_next(probs, u):
    return np.array([int(np.searchsorted(np.cumsum(p), x, side="right")) for p, x in zip(probs, u)])


def doubling_sliding_windows(xs, w):
    out = sliding_windows(xs, w)
    xs *= 2
    return out


class TestContract(CheckContract):
    """The contract of every check (tests/check_contract.py), for exercise 07."""

    NOTEBOOK = "07_strengths_and_shortcomings"
    CHECKS = {"softmax_with_temperature": (C.SOFTMAX_T, C.check_softmax_with_temperature),
              "sample_next": (C.SAMPLE_NEXT, C.check_sample_next),
              "sliding_windows": (C.WINDOWS, C.check_sliding_windows)}
    GOOD = {"sample_next": sample_next}
    SHORTCUTS = {"softmax_with_temperature": [softmax_with_temperature,
                                              lambda logits, temperature: softmax(logits / temperature)],
                 "sliding_windows": [sliding_windows]}
    # the library has no inverse-CDF sampler of given uniforms (charlm.sample uses Generator.choice)
    NO_LIBRARY_ROUTE = frozenset({"sample_next"})
    MUTATIONS = [("sliding_windows", doubling_sliding_windows, "xs")]


def test_naive_softmax_overflow_is_caught_with_the_element():
    def naive(logits, temperature):
        with np.errstate(all="ignore"):
            e = np.exp(logits / temperature)
            return e / e.sum(axis=-1, keepdims=True)
    with pytest.raises(CheckFailed, match=r"element \(0, \d\) is nan"):
        run_check(C.SOFTMAX_T, naive)


@without_guard
def test_wrong_shape_is_reported():
    with pytest.raises(CheckFailed, match=r"expected shape \(\d+, \d+, \d+\), received shape"):
        run_check(C.WINDOWS, lambda xs, w: sliding_windows(xs, w)[:, :, :-1])
