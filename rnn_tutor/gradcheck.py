"""Gradient checking: central finite differences in float64 and a relative-error measure."""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from rnn_tutor.validation import ArgumentError

__all__ = ["numerical_gradient", "rel_error", "numerical_gradients", "max_rel_error"]


def numerical_gradient(fun: Callable[[np.ndarray], float], x, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of a scalar function: ``(fun(x + εe_i) - fun(x - εe_i)) / 2ε``.

    ``x`` is never modified: ``fun`` is called on a float64 copy that is perturbed
    one element at a time.  Cost: ``2 x.size`` calls of ``fun``.

    Returns an array shaped like ``x``.
    """
    if not eps > 0:
        raise ArgumentError("eps", f"eps: expected a positive step, received {eps!r}")
    x = np.array(x, dtype=float)  # a private copy
    grad = np.empty_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = float(fun(x))
        flat[i] = old - eps
        down = float(fun(x))
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


def numerical_gradients(loss: Callable[[dict], float], params: Mapping[str, np.ndarray], eps: float = 1e-6) -> dict:
    """Finite-difference gradients of ``loss(params)`` for every entry of the dict ``params``.

    ``loss`` receives a dict in which one entry at a time is a perturbed copy;
    the caller's arrays are never modified.
    """
    base = {k: np.array(v, dtype=float) for k, v in params.items()}
    out = {}
    for key in base:
        def fun(value, key=key):
            return loss({**base, key: value})
        out[key] = numerical_gradient(fun, base[key], eps)
    return out


def rel_error(a, b) -> float:
    """Relative error ``‖a - b‖ / max(‖a‖, ‖b‖)`` (Frobenius norms); 0 when both are 0.

    Values below about 1e-7 mean agreement to float64 finite-difference precision.
    Shapes must match; a mismatch raises ``ValueError``.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ArgumentError("b", f"b: expected shape {a.shape} (the shape of a), received shape {b.shape}")
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def max_rel_error(grads_a: Mapping, grads_b: Mapping) -> dict[str, float]:
    """``rel_error`` for every key the two gradient dicts share, as a dict."""
    return {k: rel_error(grads_a[k], grads_b[k]) for k in grads_a if k in grads_b}
