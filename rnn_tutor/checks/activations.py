"""Checks for exercise 02 (activation functions and their derivatives).

Graded tasks of ``solutions/02_activations_solutions.ipynb``:

* ``sigmoid(a)``             ->  ``σ(a) = 1 / (1 + e^{-a})``, element-wise, without overflow for |a| up to 1e4
* ``sigmoid_prime(a)``       ->  ``σ'(a) = σ(a) (1 - σ(a))``, evaluated at the pre-activation a
* ``tanh_derivative(a)``     ->  the SymPy expression of ``d tanh(a) / da`` in the given symbol a
* ``gradient_factor(as_, w_h, f)`` -> ``∂h_T/∂h_0 = Π_{t=1}^{T} w_h f'(a_t)`` for a scalar RNN

The references are plain NumPy / SymPy, written independently of :mod:`rnn_tutor.activations`.
"""

from __future__ import annotations

import numpy as np
from rnn_tutor._lazy import sympy as sp

from rnn_tutor.checks.core import Check, mistakes, register, run_check

__all__ = ["check_sigmoid", "check_sigmoid_prime", "check_tanh_derivative", "check_gradient_factor",
           "SIGMOID", "SIGMOID_PRIME", "TANH_DERIVATIVE", "GRADIENT_FACTOR"]

NOTEBOOK = "02_activations"




# ============================================================================ task 1: sigmoid

def sigmoid_reference(a):
    """``σ(a)`` from ``e = exp(-|a|) ≤ 1``: ``1/(1+e)`` for a ≥ 0 and ``e/(1+e)`` for a < 0 (never overflows)."""
    a = np.asarray(a, dtype=float)
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _pre_activations(rng: np.random.Generator) -> np.ndarray:
    shape = [(7,), (3, 4), (2, 3, 2)][int(rng.integers(3))]
    a = rng.normal(0, 3, size=shape)
    flat = a.reshape(-1)
    flat[:4] = rng.permutation([-1e4, 1e4, -800.0, 750.0])  # large enough to overflow a naive exp
    return a


SIGMOID = register(Check(
    notebook=NOTEBOOK, grade_id="check_sigmoid", target="sigmoid",
    forbidden=("rnn_tutor.activations._sigmoid", "rnn_tutor.gru._sigmoid", "rnn_tutor.lstm._sigmoid_",), points=2,
    make_inputs=lambda rng: {"a": _pre_activations(rng)}, reference=sigmoid_reference, rtol=1e-9, atol=1e-12,
    mistakes=mistakes(("a sign error: σ(a) = 1 / (1 + exp(-a)); you computed 1 / (1 + exp(+a)) = σ(-a).",
         lambda a: 1 / (1 + np.exp(a))),
        ("exp(a) / (1 + exp(a)) overflows for large a (inf / inf = NaN). Compute exp(-|a|), which is at "
         "most 1, and use 1/(1+e) for a >= 0 and e/(1+e) for a < 0 (np.where).",
         lambda a: np.exp(a) / (1 + np.exp(a))),
        ("that is tanh(a), not the sigmoid: σ(a) = (1 + tanh(a/2)) / 2.", lambda a: np.tanh(a)),
        ("you returned exp(-a) / (1 + exp(-a)) = 1 - σ(a) = σ(-a).", lambda a: np.exp(-a) / (1 + np.exp(-a))),
    ),
))


def check_sigmoid(fn, hidden: bool = False) -> int:
    """Check your ``sigmoid(a)`` on arrays that include ±1e4 (``hidden=True``: fresh random cases)."""
    return run_check(SIGMOID, fn, hidden=hidden)


# ============================================================================ task 2: sigmoid'

def sigmoid_prime_reference(a):
    """``σ'(a) = σ(a)(1 - σ(a)) = e / (1 + e)²`` with ``e = exp(-|a|)``."""
    e = np.exp(-np.abs(np.asarray(a, dtype=float)))
    return e / (1.0 + e) ** 2


def _sig(a):
    return sigmoid_reference(a)


SIGMOID_PRIME = register(Check(
    notebook=NOTEBOOK, grade_id="check_sigmoid_prime", target="sigmoid_prime",
    forbidden=("rnn_tutor.activations._sigmoid", "rnn_tutor.activations._sigmoid_deriv", "rnn_tutor.gru._sigmoid", "rnn_tutor.lstm._sigmoid_",), points=1,
    make_inputs=lambda rng: {"a": _pre_activations(rng)}, reference=sigmoid_prime_reference, rtol=1e-8, atol=1e-12,
    mistakes=mistakes(("you applied s (1 - s) to the pre-activation a itself: the formula needs s = σ(a) first.",
         lambda a: a * (1 - a)),
        ("a factor is missing: σ'(a) = σ(a) (1 - σ(a)), not σ(a).", lambda a: _sig(a)),
        ("that is the tanh rule 1 - f², not the sigmoid's σ(1 - σ).", lambda a: 1 - _sig(a) ** 2),
        ("a sign slip: σ'(a) = σ(a) (1 - σ(a)), you computed σ(a) (1 + σ(a)).", lambda a: _sig(a) * (1 + _sig(a))),
        ("the chain rule gives exp(-a) / (1 + exp(-a))**2: the denominator is squared.",
         lambda a: np.exp(-a) / (1 + np.exp(-a))),
    ),
))


def check_sigmoid_prime(fn, hidden: bool = False) -> int:
    """Check your ``sigmoid_prime(a)`` (``hidden=True``: fresh random cases)."""
    return run_check(SIGMOID_PRIME, fn, hidden=hidden)


# ============================================================================ task 3: tanh' with SymPy

def tanh_derivative_reference(a):
    """``sympy.diff(tanh(a), a)``, i.e. ``1 - tanh(a)**2``."""
    return sp.diff(sp.tanh(a), a)


def _symbol_inputs(rng: np.random.Generator) -> dict:
    # A name from millions (e.g. z_48213): an answer hard-coded for one symbol cannot pass.
    return {"a": sp.Symbol(f"{'azus'[int(rng.integers(4))]}_{int(rng.integers(10**6))}")}


_GRID = np.linspace(-2.5, 2.5, 11)

# Common wrong answers, each with its hint.  They are recognised numerically on _GRID inside the
# comparison (fast and deterministic), not by sympy.simplify.
_TANH_MISTAKES = (
    ("the square is missing: d tanh(a)/da = 1 - tanh(a)**2.", lambda a: 1 - sp.tanh(a)),
    ("the sign is flipped: d tanh(a)/da = 1 - tanh(a)**2 is positive.", lambda a: sp.tanh(a) ** 2 - 1),
    ("you wrote the derivative in terms of a instead of tanh(a): it is 1 - tanh(a)**2, not 1 - a**2 "
     "(1 - h² holds with h = tanh(a), the *output*).", lambda a: 1 - a ** 2),
    ("you returned tanh(a) itself; differentiate it (sp.diff(expr, a)).", lambda a: sp.tanh(a)),
    ("1 + tanh(a)**2 is not right: the derivative of tanh is 1 - tanh(a)**2 = sech(a)**2.",
     lambda a: 1 + sp.tanh(a) ** 2),
    ("that is the sigmoid's derivative; this task asks for tanh.", lambda a: sp.exp(-a) / (1 + sp.exp(-a)) ** 2),
)


def _on_grid(expr, a) -> np.ndarray:
    return np.broadcast_to(np.asarray(sp.lambdify(a, expr, "numpy")(_GRID), dtype=float), _GRID.shape)


def _compare_expression(received, expected, inputs) -> list[str]:
    a = inputs["a"]
    if not isinstance(received, sp.Basic):
        return [f"tanh_derivative: expected a SymPy expression in the symbol {a}, received {type(received).__name__}"
                + (" (build it from SymPy objects, e.g. sp.tanh(a), not from a string)" if isinstance(received, str) else "")]
    others = sorted(str(s) for s in received.free_symbols if s != a)
    if others:
        return [f"tanh_derivative: the expression uses the symbol(s) {others}, but the argument is {a}: "
                f"build the expression from the symbol you are given"]
    try:
        with np.errstate(all="ignore"):
            values = _on_grid(received, a)
    except (TypeError, ValueError, NameError, AttributeError) as exc:
        return [f"tanh_derivative: could not evaluate {received} numerically ({type(exc).__name__}: {exc})"]
    truth = 1 / np.cosh(_GRID) ** 2
    bad = ~np.isclose(values, truth, rtol=1e-10, atol=1e-12)
    if bad.any():
        i = int(np.argmax(np.where(np.isfinite(values), np.abs(values - truth), np.inf)))
        problems = [f"tanh_derivative: your expression {received} is not the derivative of tanh; at {a} = "
                    f"{_GRID[i]:g} it gives {values[i]:.6g}, but d tanh/d{a} = {truth[i]:.6g} there "
                    f"({int(bad.sum())} of {_GRID.size} test points differ)"]
        for hint, wrong in _TANH_MISTAKES:
            if np.allclose(values, _on_grid(wrong(a), a), rtol=1e-10, atol=1e-12):
                problems.append(f"likely cause: {hint}")
                break
        return problems
    if sp.simplify(received - expected) != 0:
        return [f"tanh_derivative: {received} agrees numerically but SymPy cannot show that it equals the derivative"]
    return []


TANH_DERIVATIVE = register(Check(
    notebook=NOTEBOOK, grade_id="check_tanh_derivative", target="tanh_derivative", points=2,
    forbidden=("rnn_tutor.activations.Activation.sym_deriv", "rnn_tutor.activations._sym_deriv_template", "rnn_tutor.activations._tanh_deriv",),
    make_inputs=_symbol_inputs, reference=tanh_derivative_reference, compare=_compare_expression, n_cases=3,
    sympy_functions=("tanh", "sinh", "cosh", "sech", "csch", "coth", "exp", "log"),
))


def check_tanh_derivative(fn, hidden: bool = False) -> int:
    """Check your ``tanh_derivative(a)`` (a SymPy symbol in, a SymPy expression out)."""
    return run_check(TANH_DERIVATIVE, fn, hidden=hidden)


# ============================================================================ task 4: gradient factor

_DERIVS = {
    "sigmoid": sigmoid_prime_reference,
    "tanh": lambda a: 1.0 / np.cosh(np.clip(a, -300, 300)) ** 2,
    "relu": lambda a: (np.asarray(a) > 0).astype(float),
}
_FUNCS = {"sigmoid": sigmoid_reference, "tanh": np.tanh, "relu": lambda a: np.maximum(a, 0.0)}


def gradient_factor_reference(as_, w_h, f):
    """``∂h_T/∂h_0 = Π_{t=1}^{T} w_h f'(a_t)`` for a scalar RNN (m = 1) with pre-activations ``as_ (T,)``."""
    return float(np.prod(w_h * _DERIVS[f](np.asarray(as_, dtype=float))))


def _factor_inputs(rng: np.random.Generator) -> dict:
    T = int(rng.integers(3, 12))
    f = ["sigmoid", "tanh", "relu"][int(rng.integers(3))]
    as_ = rng.normal(0, 1.2, T)
    if f == "relu":
        as_ = np.abs(as_) * np.where(rng.random(T) < 0.9, 1, -1)  # mostly active units: a non-zero product
    return {"as_": as_, "w_h": float(rng.choice([-1, 1]) * rng.uniform(0.6, 1.8)), "f": f}


GRADIENT_FACTOR = register(Check(
    notebook=NOTEBOOK, grade_id="check_gradient_factor", target="gradient_factor", points=2,
    forbidden=("rnn_tutor.activations._sigmoid_deriv", "rnn_tutor.activations._tanh_deriv", "rnn_tutor.activations._relu_deriv", "rnn_tutor.activations._sigmoid", "rnn_tutor.gradflow.jacobian_chain", "rnn_tutor.gradflow.elman_step_jacobians", "rnn_tutor.gradflow.gradient_decay_curve",),
    make_inputs=_factor_inputs, reference=gradient_factor_reference, rtol=1e-8, atol=1e-14, n_cases=9,
    mistakes=mistakes(("f'(a_t) is missing: each step multiplies the gradient by w_h AND by f'(a_t) (the chain rule "
         "through h_t = f(a_t)).", lambda as_, w_h, f: float(w_h ** len(as_))),
        ("w_h is missing: a_t = w_x x_t + w_h h_{t-1} + b_h, so ∂a_t/∂h_{t-1} = w_h multiplies every step.",
         lambda as_, w_h, f: float(np.prod(_DERIVS[f](np.asarray(as_))))),
        ("you used f(a_t) where the derivative f'(a_t) belongs.",
         lambda as_, w_h, f: float(np.prod(w_h * _FUNCS[f](np.asarray(as_))))),
        ("the factors multiply (chain rule), they do not add.",
         lambda as_, w_h, f: float(np.sum(w_h * _DERIVS[f](np.asarray(as_))))),
        ("off by one: there are T factors, one per step t = 1 … T.",
         lambda as_, w_h, f: float(np.prod(w_h * _DERIVS[f](np.asarray(as_)[1:])))),
    ),
))


def check_gradient_factor(fn, hidden: bool = False) -> int:
    """Check your ``gradient_factor(as_, w_h, f)`` (``hidden=True``: fresh random cases)."""
    return run_check(GRADIENT_FACTOR, fn, hidden=hidden)
