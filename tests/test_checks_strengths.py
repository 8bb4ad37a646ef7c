"""The checks of exercise 07 pass the reference, fail stubs, mistakes and in-place mutation."""

import numpy as np
import pytest

from rnn_tutor.charlm import softmax_with_temperature
from rnn_tutor.checks.core import CheckFailed, run_check
from rnn_tutor.checks.strengths import SAMPLE_NEXT, SOFTMAX_T, WINDOWS
from rnn_tutor.strengths import sliding_windows


def sample_next(probs, u):
    return np.array([int(np.searchsorted(np.cumsum(p), x, side="right")) for p, x in zip(probs, u)])


SOLUTIONS = {SOFTMAX_T: softmax_with_temperature, SAMPLE_NEXT: sample_next, WINDOWS: sliding_windows}


@pytest.mark.parametrize("check", list(SOLUTIONS), ids=lambda c: c.target)
def test_passes_on_an_independent_solution_visible_and_hidden(check):
    assert run_check(check, SOLUTIONS[check], quiet=True) == check.n_cases
    assert run_check(check, SOLUTIONS[check], hidden=True, quiet=True) == check.n_cases


@pytest.mark.parametrize("check", list(SOLUTIONS), ids=lambda c: c.target)
def test_fails_on_the_stub(check):
    def stub(**kwargs):
        raise NotImplementedError()
    with pytest.raises(CheckFailed, match="not implemented yet"):
        run_check(check, stub)


@pytest.mark.parametrize("check,i", [(c, i) for c in SOLUTIONS for i in range(len(c.mistakes))],
                         ids=lambda v: getattr(v, "target", str(v)))
def test_each_mistake_fails_with_its_hint(check, i):
    mistake = check.mistakes[i]
    with pytest.raises(CheckFailed) as info:
        run_check(check, mistake.fn)
    assert mistake.hint in str(info.value)


def test_naive_softmax_overflow_is_caught_with_the_element():
    def naive(logits, temperature):
        with np.errstate(all="ignore"):
            e = np.exp(logits / temperature)
            return e / e.sum(axis=-1, keepdims=True)
    with pytest.raises(CheckFailed, match=r"element \(0, \d\) is nan"):
        run_check(SOFTMAX_T, naive)


def test_in_place_mutation_is_caught():
    def mutating(xs, w):
        out = sliding_windows(xs, w)
        xs *= 2
        return out
    with pytest.raises(CheckFailed, match=r"changed its input\(s\) \['xs'\] in place"):
        run_check(WINDOWS, mutating)


def test_wrong_shape_is_reported():
    with pytest.raises(CheckFailed, match=r"expected shape \(\d+, \d+, \d+\), received shape"):
        run_check(WINDOWS, lambda xs, w: sliding_windows(xs, w)[:, :, :-1])
