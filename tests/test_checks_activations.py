"""Exercise 02 checks (rnn_tutor.checks.activations).

The contract every check keeps (pass the solution, fail a stub, name the likely mistake, catch
mutation) is in tests/check_contract.py; here the library's activations are its learner-style
solutions, and the SymPy task's special answers and mistakes are tested.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from check_contract import CheckContract, without_guard

from rnn_tutor import gru
from rnn_tutor.activations import ACTIVATIONS
from rnn_tutor.checks import CheckFailed
from rnn_tutor.checks import activations as C

# ----------------------------------------------------------------------------- the library as the learner

def library_sigmoid(a):
    return ACTIVATIONS["sigmoid"].fn(a)


def library_sigmoid_prime(a):
    return ACTIVATIONS["sigmoid"].deriv(a)


def sympy_tanh_derivative(a):
    return sp.diff(sp.tanh(a), a)


def library_gradient_factor(as_, w_h, f):
    return float(np.prod(w_h * ACTIVATIONS[f].deriv(as_)))


def clipping_sigmoid(a):
    np.clip(a, -500, 500, out=a)
    return C.sigmoid_reference(a)


def zeroing_gradient_factor(as_, w_h, f):
    out = C.gradient_factor_reference(as_, w_h, f)
    as_ *= 0
    return out


class TestContract(CheckContract):
    """The contract of every check (tests/check_contract.py), for exercise 02."""

    NOTEBOOK = "02_activations"
    CHECKS = {"sigmoid": (C.SIGMOID, C.check_sigmoid), "sigmoid_prime": (C.SIGMOID_PRIME, C.check_sigmoid_prime),
              "tanh_derivative": (C.TANH_DERIVATIVE, C.check_tanh_derivative),
              "gradient_factor": (C.GRADIENT_FACTOR, C.check_gradient_factor)}
    GOOD = {"tanh_derivative": sympy_tanh_derivative}
    SHORTCUTS = {"sigmoid": [library_sigmoid, lambda a: ACTIVATIONS["sigmoid"](a), lambda a: gru._sigmoid(a)],
                 "sigmoid_prime": [library_sigmoid_prime],
                 "tanh_derivative": [lambda a: ACTIVATIONS["tanh"].sym_deriv(a)],
                 "gradient_factor": [library_gradient_factor]}
    MUTATIONS = [("sigmoid", clipping_sigmoid, "a"), ("gradient_factor", zeroing_gradient_factor, "as_")]
    HIDDEN_MAY_REPEAT = frozenset({"tanh_derivative"})  # a case is one of 4 symbols
    SOMETIMES_RIGHT = frozenset({"gradient_factor"})  # a ReLU unit that is off makes every product 0


# ----------------------------------------------------------------------------- special cases

def test_sigmoid_overflow_is_reported_with_the_index():
    def naive(a):
        with np.errstate(all="ignore"):
            return np.exp(a) / (1 + np.exp(a))
    with pytest.raises(CheckFailed, match=r"(?s)element \(\d+(, \d+)*\) is nan where 1 was expected.*likely cause: exp\(a\) / \(1 \+ exp\(a\)\) overflows"):
        C.check_sigmoid(naive)


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


@without_guard
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
