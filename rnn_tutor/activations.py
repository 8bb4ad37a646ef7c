"""Activation functions f (hidden layer) and g (output layer), with derivatives.

Each activation is an :class:`Activation` with four faces:

* ``fn(a)``        – the NumPy function, element-wise on any array ``a``;
* ``deriv(a)``     – its derivative ``f'(a)``, evaluated at the *pre-activation* ``a``;
* ``sym(a)``       – the SymPy expression for symbolic work;
* ``sym_deriv(a)`` – the derivative of ``sym``, derived by SymPy (not typed in by hand).

    sigmoid   σ(a) = 1 / (1 + e^{-a})       range (0, 1)    σ'(a) = σ(a)(1 - σ(a)) ≤ 1/4
    tanh      tanh(a)                       range (-1, 1)   tanh'(a) = 1 - tanh²(a) ≤ 1
    relu      max(0, a)                     range [0, ∞)    relu'(a) = 1 if a > 0 else 0
    identity  a                             range ℝ         1

The NumPy versions never overflow and never return NaN for finite inputs (tested
up to ``±1e300``, with warnings turned into errors), and they keep full *relative*
precision in the tails: with ``e = exp(-|a|)`` (which is at most 1),

    σ(a) = 1 / (1 + e)  for a ≥ 0,   e / (1 + e)  for a < 0,     σ'(a) = e / (1 + e)²
    tanh'(a) = sech²(a) = 4 e₂ / (1 + e₂)²   with e₂ = exp(-2|a|)

so ``σ(-50) ≈ 1.9e-22`` and ``tanh'(20) ≈ 1.7e-17`` instead of a rounded 0.
ReLU's derivative at 0 is taken as 0, as in PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
from rnn_tutor._lazy import sympy as sp

from rnn_tutor.validation import ArgumentError, ArgumentTypeError, as_float_array, check_array, check_int, check_elements, check_real, check_rng, describe

__all__ = ["Activation", "ACTIVATIONS", "get_activation", "sigmoid", "tanh", "relu", "identity",
           "hidden_dynamics", "dynamics_summary"]


def _scalar_or_array(out: np.ndarray):
    """Return a NumPy scalar for 0-d results (like ``np.tanh(0.5)``), the array otherwise."""
    return out[()] if out.ndim == 0 else out


@dataclass(frozen=True)
class Activation:
    """An element-wise activation function and its derivative.

    Attributes
    ----------
    name : str
    fn : callable, ``a -> f(a)`` (any shape in, same shape out)
    deriv : callable, ``a -> f'(a)`` at the pre-activation ``a``
    sym : callable, SymPy expression ``a -> f(a)``
    deriv_bound : float
        ``sup_a |f'(a)|`` (1/4 for sigmoid, 1 for tanh, ReLU and identity).
    """

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    deriv: Callable[[np.ndarray], np.ndarray]
    sym: Callable[[sp.Expr], sp.Expr]
    deriv_bound: float

    def __call__(self, a):
        return self.fn(a)

    def sym_deriv(self, a: sp.Expr) -> sp.Expr:
        """``f'(a)`` as SymPy derives it from :attr:`sym` (``Heaviside(a)`` for ReLU)."""
        z, deriv = _sym_deriv_template(self)
        return deriv.xreplace({z: sp.sympify(a)})


@lru_cache(maxsize=None)
def _sym_deriv_template(act: Activation) -> tuple[sp.Symbol, sp.Expr]:
    z = sp.Dummy("z", real=True)
    return z, sp.diff(act.sym(z), z)


def _sigmoid(a):
    a = as_float_array(a, "a")
    e = np.exp(-np.abs(a))  # in (0, 1]: never overflows
    return _scalar_or_array(np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e)))


def _sigmoid_deriv(a):
    e = np.exp(-np.abs(as_float_array(a, "a")))  # σ'(a) = σ(|a|) σ(-|a|) is even in a
    return _scalar_or_array(e / (1.0 + e) ** 2)


def _tanh(a):
    return _scalar_or_array(np.tanh(as_float_array(a, "a")))


def _tanh_deriv(a):
    # sech²(a) = 4 e^{-2|a|} / (1 + e^{-2|a|})², in place on two temporaries
    x = as_float_array(a, "a")
    e2 = np.abs(x, out=np.empty(x.shape))  # a fresh array even for 0-d input
    np.negative(e2, out=e2)
    np.exp(e2, out=e2)
    e2 *= e2  # e^{-2|a|} as (e^{-|a|})², which cannot overflow even for |a| near the float64 limit
    den = e2 + 1.0
    den *= den
    e2 *= 4.0
    e2 /= den
    return _scalar_or_array(e2)


def _relu(a):
    return _scalar_or_array(np.maximum(as_float_array(a, "a"), 0.0))


def _relu_deriv(a):
    return _scalar_or_array((as_float_array(a, "a") > 0).astype(float))


def _identity(a):
    return _scalar_or_array(as_float_array(a, "a").copy())


def _identity_deriv(a):
    return _scalar_or_array(np.ones_like(as_float_array(a, "a")))


sigmoid = Activation("sigmoid", _sigmoid, _sigmoid_deriv, lambda a: 1 / (1 + sp.exp(-a)), 0.25)
tanh = Activation("tanh", _tanh, _tanh_deriv, lambda a: sp.tanh(a), 1.0)
relu = Activation("relu", _relu, _relu_deriv, lambda a: sp.Max(0, a), 1.0)
identity = Activation("identity", _identity, _identity_deriv, lambda a: a, 1.0)

ACTIVATIONS: dict[str, Activation] = {a.name: a for a in (sigmoid, tanh, relu, identity)}


def get_activation(name: str | Activation, argument: str = "f") -> Activation:
    """Look up an activation by name (``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"identity"``).

    ``argument`` names the caller's parameter in the error message.

    Raises
    ------
    ValueError
        If ``name`` is not one of the valid names; the message lists them.
    """
    if isinstance(name, Activation):
        return name
    if not isinstance(argument, str):
        raise ArgumentTypeError("argument", f"argument: expected the caller's argument name (a str), received {describe(argument)}")
    valid = ", ".join(repr(k) for k in ACTIVATIONS)
    if not isinstance(name, str):
        raise ArgumentTypeError(argument, f"{argument}: expected an activation name, one of {valid}, received "
                                          f"{describe(name)}.")
    if name not in ACTIVATIONS:
        close = name.strip().lower()
        hint = f" Did you mean {close!r}? Names are lower case, without spaces." if close in ACTIVATIONS else ""
        raise ArgumentError(argument, f"{argument}: expected an activation name, one of {valid}, received {name!r}.{hint}")
    return ACTIVATIONS[name]


# ----------------------------------------------------------------------------- hidden-state dynamics

def hidden_dynamics(f: str | Activation = "tanh", w_h_scale: float = 1.0, T: int = 40, m: int = 16,
                    N: int = 3, rng: np.random.Generator | None = None) -> np.ndarray:
    """Hidden states of a random RNN whose recurrent weights have spectral radius ``w_h_scale``.

    ``h_t = f(w_x x_t + w_h h_{t-1} + b_h)`` with ``h_0 = 0``, inputs ``x_t ~ N(0, 1)`` (d = 1),
    ``w_x ~ N(0, 1)``, ``b_h = 0`` and ``w_h = w_h_scale · W / ρ(W)`` for a Gaussian ``W``
    (``ρ`` is the spectral radius, the largest ``|eigenvalue|``: the factor per step by which
    *repeated* products ``w_h^n`` stretch a state in the long run, ``‖w_h^n‖^{1/n} → ρ``; one
    single step can stretch by up to the largest singular value ``σ_max ≥ ρ``).

    Parameters
    ----------
    f : activation name or :class:`Activation`
    w_h_scale : float ≥ 0, the spectral radius of ``w_h``
    T, m, N : steps, hidden units, sequences (positive ints)
    rng : numpy Generator (default ``np.random.default_rng(0)``); the same seed gives the same
        weights and inputs for every activation, so curves are comparable.

    Returns
    -------
    hs : (T, N, m) array, ``hs[t-1]`` is ``h_t``.  With ReLU and ``w_h_scale > 1`` it can grow
    without bound (overflow to ``inf`` is allowed and silent here); tanh keeps ``|h_t| < 1``.
    """
    from rnn_tutor.rnn import rnn_forward  # rnn imports this module: import here to avoid a cycle

    act = get_activation(f, "f")
    w_h_scale = check_real(w_h_scale, "w_h_scale", 0.0, None, what="a spectral radius")
    T, m, N = check_int(T, "T"), check_int(m, "m", 1, 4096), check_int(N, "N")
    check_elements((T, N, m), "hidden states (T, N, m)", "T")
    rng = np.random.default_rng(0) if check_rng(rng, allow_none=True) is None else rng
    W = rng.normal(size=(m, m))
    rho = float(np.max(np.abs(np.linalg.eigvals(W))))
    params = {"w_x": rng.normal(size=(m, 1)), "w_h": float(w_h_scale) * W / rho, "b_h": np.zeros(m),
              "w_y": np.zeros((1, m)), "b_y": np.zeros(1)}
    xs = rng.normal(size=(T, N, 1))
    with np.errstate(over="ignore", invalid="ignore"):  # a ReLU blow-up is the point of the demo
        hs, _, _ = rnn_forward(xs, params, f=act, g="identity")
    return hs


def dynamics_summary(hs: np.ndarray) -> str:
    """One line describing a trajectory ``hs (T, N, m)``: the largest ``|h_t|`` overall and at the last step.

    Values just below 1 (a saturated tanh) are written as ``1 - 1.2e-08`` rather than rounded
    up to ``1``, so the text never claims that tanh reached its bound when it did not; a value
    that float64 has rounded to exactly 1 is flagged as such.
    """
    hs = check_array(hs, "hs", finite=False, ndim=3, names=("T", "N", "m"), nonempty=True)
    with np.errstate(invalid="ignore"):
        peak = float(np.max(np.abs(hs))) if np.isfinite(hs).all() else float("inf")
    last = float(np.abs(hs[-1]).max()) if hs.size else 0.0
    return f"max |h_t| = {_magnitude(peak)}, max |h_T| at the last step = {_magnitude(last)}"


def _magnitude(v: float) -> str:
    """``v ≥ 0`` for a readout: 6 significant digits, but never round a value below 1 up to 1."""
    if v == 1.0:
        return "1 (exactly, after float64 rounding)"
    text = f"{v:.6g}"
    return f"1 - {1.0 - v:.2g}" if v < 1.0 and text == "1" else text
