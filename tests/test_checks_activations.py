"""Exercise 02 checks: they pass the reference, fail a stub, name the likely mistake and catch mutation."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from rnn_tutor.activations import ACTIVATIONS
from rnn_tutor.checks import REGISTRY, CheckFailed
from rnn_tutor.checks import activations as C

CHECKS = [(C.SIGMOID, C.check_sigmoid), (C.SIGMOID_PRIME, C.check_sigmoid_prime),
          (C.TANH_DERIVATIVE, C.check_tanh_derivative), (C.GRADIENT_FACTOR, C.check_gradient_factor)]


def _stub(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("check,friendly", CHECKS)
def test_reference_passes_visible_and_hidden_cases(check, friendly, capsys):
    assert REGISTRY[("02_activations", check.grade_id)] is check
    assert friendly(check.reference) == check.n_cases
    assert friendly(check.reference, hidden=True) == check.n_cases
    assert "✔" in capsys.readouterr().out


@pytest.mark.parametrize("check,friendly", CHECKS)
def test_stub_fails_with_not_implemented(check, friendly):
    with pytest.raises(CheckFailed, match="not implemented yet"):
        friendly(_stub)


@pytest.mark.parametrize("check,friendly", [c for c in CHECKS if c[0] is not C.TANH_DERIVATIVE])
def test_each_mistake_fails_with_its_own_hint(check, friendly):
    for mistake in check.mistakes:
        def wrong(**kwargs):
            with np.errstate(all="ignore"):
                return mistake.fn(**kwargs)  # the raw mistake, unguarded
        with pytest.raises(CheckFailed) as info:
            friendly(lambda **kw: wrong(**kw))
        assert f"likely cause: {mistake.hint}" in str(info.value), mistake.hint


def test_library_activations_pass_the_checks():
    C.check_sigmoid(lambda a: ACTIVATIONS["sigmoid"].fn(a))
    C.check_sigmoid_prime(lambda a: ACTIVATIONS["sigmoid"].deriv(a))

    def factor(as_, w_h, f):
        return float(np.prod(w_h * ACTIVATIONS[f].deriv(as_)))
    C.check_gradient_factor(factor)


def test_sigmoid_overflow_is_reported_with_the_index():
    def naive(a):
        with np.errstate(all="ignore"):
            return np.exp(a) / (1 + np.exp(a))
    with pytest.raises(CheckFailed, match=r"(?s)element \(\d+(, \d+)*\) is nan where 1 was expected.*likely cause: exp\(a\) / \(1 \+ exp\(a\)\) overflows"):
        C.check_sigmoid(naive)


def test_in_place_mutation_is_caught():
    def mutating(a):
        np.clip(a, -500, 500, out=a)
        return C.sigmoid_reference(a)
    with pytest.raises(CheckFailed, match=r"changed its input\(s\) \['a'\] in place"):
        C.check_sigmoid(mutating)

    def mutating_factor(as_, w_h, f):
        out = C.gradient_factor_reference(as_, w_h, f)
        as_ *= 0
        return out
    with pytest.raises(CheckFailed, match="in place"):
        C.check_gradient_factor(mutating_factor)


@pytest.mark.parametrize("answer", [lambda a: 1 - sp.tanh(a) ** 2, lambda a: sp.sech(a) ** 2,
                                    lambda a: sp.diff(sp.tanh(a), a), lambda a: 4 / (sp.exp(a) + sp.exp(-a)) ** 2,
                                    lambda a: 1 / sp.cosh(a) ** 2])
def test_tanh_derivative_accepts_every_equivalent_form(answer):
    C.check_tanh_derivative(answer)


@pytest.mark.parametrize("wrong,cause", [
    (lambda a: 1 - sp.tanh(a), "the square is missing"),
    (lambda a: sp.tanh(a) ** 2 - 1, "the sign is flipped"),
    (lambda a: 1 - a ** 2, "in terms of a instead of tanh"),
    (lambda a: sp.tanh(a), "you returned tanh"),
    (lambda a: sp.exp(-a) / (1 + sp.exp(-a)) ** 2, "sigmoid's derivative"),
])
def test_tanh_derivative_mistakes_are_named_without_giving_the_answer_away(wrong, cause):
    with pytest.raises(CheckFailed) as info:
        C.check_tanh_derivative(wrong)
    text = str(info.value)
    assert "likely cause:" in text and cause in text.split("likely cause:")[1] and "is not the derivative of tanh" in text
    assert "expected an expression equal to" not in text


def test_every_tanh_mistake_is_recognised():
    for hint, wrong in C._TANH_MISTAKES:
        with pytest.raises(CheckFailed) as info:
            C.check_tanh_derivative(wrong)
        assert f"likely cause: {hint}" in str(info.value)


def test_tanh_derivative_rejects_strings_and_foreign_symbols():
    with pytest.raises(CheckFailed, match="expected a SymPy expression.*not from a string"):
        C.check_tanh_derivative(lambda a: "1 - tanh(a)**2")
    with pytest.raises(CheckFailed, match=r"uses the symbol\(s\) \['x'\]"):
        C.check_tanh_derivative(lambda a: 1 - sp.tanh(sp.Symbol("x")) ** 2)
