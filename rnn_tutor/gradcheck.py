"""Gradient checking: central finite differences in float64 and a relative-error measure."""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from rnn_tutor.validation import (overflow_is_error, MAX_SIZE, ArgumentError, NonFiniteArgumentError, check_array, check_callable,
                                  check_mapping, check_real, describe)

__all__ = ["numerical_gradient", "rel_error", "numerical_gradients", "max_rel_error"]


@overflow_is_error
def numerical_gradient(fun: Callable[[np.ndarray], float], x, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of a scalar function: ``(fun(x + εe_i) - fun(x - εe_i)) / 2ε``.

    ``x`` is never modified: ``fun`` is called on a float64 copy that is perturbed
    one element at a time.  Cost: ``2 x.size`` calls of ``fun``.  An overflow inside ``fun`` (or in
    ``x ± ε``) is an error that names the largest of the inputs: a difference of infinities is no
    derivative.

    Returns an array shaped like ``x``.
    """
    check_callable(fun, "fun")
    eps = check_real(eps, "eps", 0.0, None, low_open=True, what="a positive step")
    x = check_array(x, "x").copy()  # a private copy
    if x.size > MAX_SIZE:
        raise ArgumentError("x", f"x: expected at most MAX_SIZE = {MAX_SIZE} entries (2 calls of fun each), received {x.size}")
    grad = np.empty_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = _value(fun(x))
        flat[i] = old - eps
        down = _value(fun(x))
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


def _value(v) -> float:
    try:
        out = float(v)
    except (TypeError, ValueError):
        raise ArgumentError("fun", f"fun: expected a function returning a real number, received {describe(v)}") from None
    if not np.isfinite(out):
        raise NonFiniteArgumentError("fun", f"fun: expected a finite value, received {out} (a point where the loss is not finite)")
    return out


@overflow_is_error
def numerical_gradients(loss: Callable[[dict], float], params: Mapping[str, np.ndarray], eps: float = 1e-6) -> dict:
    """Finite-difference gradients of ``loss(params)`` for every entry of the dict ``params``.

    ``loss`` receives a dict in which one entry at a time is a perturbed copy;
    the caller's arrays are never modified.
    """
    check_callable(loss, "loss")
    check_mapping(params, "params", ())
    base = {k: check_array(v, f"params[{k!r}]").copy() for k, v in params.items()}
    eps = check_real(eps, "eps", 0.0, None, low_open=True, what="a positive step")
    out = {}
    for key in base:
        def fun(value, key=key):
            try:
                return _value(loss({**base, key: value}))
            except ArgumentError as exc:
                if exc.argument == "fun":
                    raise ArgumentError("loss", str(exc).replace("fun:", "loss:", 1)) from None
                raise
        out[key] = numerical_gradient(fun, base[key], eps)
    return out


def rel_error(a, b) -> float:
    """Relative error ``‖a - b‖ / max(‖a‖, ‖b‖)`` (Frobenius norms); 0 when both are 0.

    Values below about 1e-7 mean agreement to float64 finite-difference precision.
    Shapes must match; a mismatch raises ``ValueError``.
    """
    a, b = check_array(a, "a"), check_array(b, "b")
    if a.shape != b.shape:
        raise ArgumentError("b", f"b: expected shape {a.shape} (the shape of a), received shape {b.shape}")
    return _rel_error(a, b)


def _rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """:func:`rel_error` of checked arrays of one shape.  The ratio does not change when both are
    scaled, so they are first scaled (exactly, by a power of two) to a largest entry below 1: the
    squares in the norms can then neither overflow (1e300) nor underflow (1e-300)."""
    big = max(float(np.abs(a).max(initial=0.0)), float(np.abs(b).max(initial=0.0)))
    if big == 0:
        return 0.0
    e = int(np.frexp(big)[1])
    a, b = np.ldexp(a, -e), np.ldexp(b, -e)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b)))


def max_rel_error(grads_a: Mapping, grads_b: Mapping) -> dict[str, float]:
    """``rel_error`` for every key the two gradient dicts share, as a dict."""
    check_mapping(grads_a, "grads_a", ())
    check_mapping(grads_b, "grads_b", ())
    out = {}
    for k in grads_a:
        if k in grads_b:
            a, b = check_array(grads_a[k], f"grads_a[{k!r}]"), check_array(grads_b[k], f"grads_b[{k!r}]")
            if a.shape != b.shape:
                raise ArgumentError("grads_b", f"grads_b[{k!r}]: expected shape {a.shape} (the shape of grads_a[{k!r}]), "
                                               f"received shape {b.shape}")
            out[k] = _rel_error(a, b)
    return out
