"""Hidden cases that cannot be guessed: for every registered check, a hard-coded answer passes
all ``n_cases`` fresh cases with probability below 1e-6.

A hard-coded answer is one fixed result (or a table keyed by the visible inputs).  It passes a
fresh case only when the reference's answer to that case equals it, so the best it can do is
``p_max ** n_cases``, where ``p_max`` is the probability of the most likely reference answer.
The test draws ``M`` cases with random seeds, counts the pairs of equal answers ``C`` and bounds
``sum(p_i**2)`` by ``(C + 3) / (M (M - 1) / 2)`` (an upper confidence bound for a Poisson count:
3 when no pair collides); ``p_max <= sqrt(sum(p_i**2))``.  Answers are compared after rounding
to 6 decimals, so answers a tolerance would confuse count as equal.

The registry is read at run time: checks added by later lessons are covered too.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import rnn_tutor.checks  # noqa: F401 - registers every course check
from rnn_tutor.checks.core import REGISTRY, Check

BOUND = 1e-6
M = 500                 # cases drawn per check


def _answer_key(value) -> object:
    """A hashable form of a reference answer; equal under a 1e-6 tolerance -> equal key."""
    if isinstance(value, dict):
        return ("dict", tuple(sorted((repr(k), _answer_key(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return ("seq", tuple(_answer_key(v) for v in value))
    if type(value).__module__.startswith("sympy"):
        import sympy as sp

        return ("sympy", sp.srepr(value))
    arr = np.asarray(value)
    if arr.dtype.kind in "biufc":
        return ("array", arr.shape, np.round(arr.astype(complex), 6).tobytes())
    return ("other", repr(value))


def guess_probability(check: Check, m: int = M, seed: int = 20261207) -> float:
    """Upper bound on the chance that one fixed answer passes one fresh case of ``check``."""
    counts: dict = {}
    for s in np.random.default_rng(seed).integers(0, 2**32, size=m):
        inputs = check.make_inputs(np.random.default_rng(int(s)))
        key = _answer_key(check.reference(**copy.deepcopy(inputs)))
        counts[key] = counts.get(key, 0) + 1
    pairs = sum(n * (n - 1) // 2 for n in counts.values())
    return math.sqrt((pairs + 3) / (m * (m - 1) / 2))


def _course_checks() -> list[Check]:
    # judged_alone checks (a trained model, judged on held-out text) rename the characters in every
    # case instead: tests/test_checks_strengths.py::test_a_model_trained_once_fails_every_other_case
    return [REGISTRY[k] for k in sorted(REGISTRY) if not k[0].startswith("98_") and not REGISTRY[k].judged_alone]


def test_the_registry_is_not_empty():
    assert len(_course_checks()) >= 20


@pytest.mark.parametrize("key", [c.key for c in _course_checks()], ids="/".join)
def test_a_hard_coded_answer_passes_with_probability_below_1e6(key):
    check = REGISTRY[key]
    p = guess_probability(check)
    assert p ** check.n_cases < BOUND, (
        f"{key}: one answer matches a fresh case with probability up to {p:.3g}, so a hard-coded "
        f"answer passes all {check.n_cases} cases with probability up to {p ** check.n_cases:.2g}; "
        f"draw inputs from a larger space or raise n_cases")


def test_the_bound_catches_a_guessable_check():
    coin = Check("x", "g", "f", lambda rng: {"b": int(rng.integers(2))}, lambda b: b, n_cases=10)
    p = guess_probability(coin)
    assert 0.5 <= p <= 0.8 and p ** coin.n_cases > BOUND
    wide = Check("x", "g", "f", lambda rng: {"b": float(rng.normal())}, lambda b: 2 * b, n_cases=3)
    assert guess_probability(wide) ** 3 < BOUND
