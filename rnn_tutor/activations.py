"""Activation functions f (hidden layer) and g (output layer), with derivatives.

Each activation is an :class:`Activation` with three faces:

* ``fn(a)``     – the NumPy function, element-wise on any array ``a``;
* ``deriv(a)``  – its derivative ``f'(a)``, evaluated at the *pre-activation* ``a``;
* ``sym(a)``    – the SymPy expression for symbolic work.

All NumPy versions are overflow-free for inputs up to at least ``±1e4``: sigmoid
is computed as ``(1 + tanh(a / 2)) / 2``, which never evaluates ``exp`` of a
large number.  ReLU's derivative at 0 is taken as 0, as in PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp

__all__ = ["Activation", "ACTIVATIONS", "get_activation", "sigmoid", "tanh", "relu", "identity"]


@dataclass(frozen=True)
class Activation:
    """An element-wise activation function and its derivative.

    Attributes
    ----------
    name : str
    fn : callable, ``a -> f(a)``
    deriv : callable, ``a -> f'(a)``
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


def _sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(a, dtype=float)))


def _sigmoid_deriv(a):
    s = _sigmoid(a)
    return s * (1.0 - s)


def _tanh_deriv(a):
    t = np.tanh(np.asarray(a, dtype=float))
    return 1.0 - t * t


def _relu(a):
    return np.maximum(np.asarray(a, dtype=float), 0.0)


def _relu_deriv(a):
    return (np.asarray(a, dtype=float) > 0).astype(float)


def _identity(a):
    return np.asarray(a, dtype=float).copy()


def _identity_deriv(a):
    return np.ones_like(np.asarray(a, dtype=float))


sigmoid = Activation("sigmoid", _sigmoid, _sigmoid_deriv, lambda a: 1 / (1 + sp.exp(-a)), 0.25)
tanh = Activation("tanh", lambda a: np.tanh(np.asarray(a, dtype=float)), _tanh_deriv, sp.tanh, 1.0)
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
    if not isinstance(name, str) or name not in ACTIVATIONS:
        valid = ", ".join(repr(k) for k in ACTIVATIONS)
        raise ValueError(f"{argument}: unknown activation {name!r}; valid names are {valid}")
    return ACTIVATIONS[name]
