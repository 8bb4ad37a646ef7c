"""Parameter updates as pure functions: plain gradient descent and Adam.

Parameters and gradients are dicts of arrays with the same keys.  Nothing is
updated in place: each step returns new dicts, so a learner can keep the old
parameters for comparison.

Both steps refuse to return NaN or ``inf``: a non-finite gradient, or an update that
overflows, raises :class:`~rnn_tutor.validation.NonFiniteError` (a ``FloatingPointError``)
naming the parameter, with advice (a smaller learning rate, clipping).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from rnn_tutor.validation import (ArgumentError, NonFiniteError, all_finite, as_float_array, check_array, check_int,
                                  check_mapping, check_real, check_shape, training_advice)

__all__ = ["sgd_step", "adam_init", "adam_step"]


def _check_params(params: Mapping, name: str = "params") -> dict[str, np.ndarray]:
    check_mapping(params, name, (), "a dict of parameter arrays")
    if not params:
        raise ArgumentError(name, f"{name}: expected a dict of parameter arrays with at least one entry, received {{}}.")
    return {k: check_array(v, f"{name}[{k!r}]") for k, v in params.items()}


def _check_grads(p: Mapping, grads: Mapping, lr: float, name: str = "grads") -> dict[str, np.ndarray]:
    check_mapping(grads, name, list(p), "a dict of gradients with the keys of params")
    g = {}
    for k in p:
        arr = as_float_array(grads[k], f"{name}[{k!r}]")
        check_shape(arr, p[k].shape, f"{name}[{k!r}]", f"The gradient is shaped like params[{k!r}].")
        if not np.isfinite(arr).all():
            raise NonFiniteError(f"{name}[{k!r}]: the gradient of {k!r} holds NaN or inf, so no update is possible. "
                                 f"{training_advice(lr)}", None, k)
        g[k] = arr
    return g


def _check_lr(lr) -> float:
    return check_real(lr, "lr", 0.0, None, low_open=True, what="a positive learning rate")


def _finite_update(new: dict, lr: float) -> dict:
    for k, v in new.items():
        if not all_finite(v):
            raise NonFiniteError(f"params[{k!r}]: the update overflowed to NaN or inf. {training_advice(lr)}", None, k)
    return new


def sgd_step(params: Mapping, grads: Mapping, lr: float) -> dict:
    """Gradient descent: ``θ ← θ - lr · ∂L/∂θ`` for every parameter ``θ`` in ``params``.

    Extra keys in ``grads`` (such as ``"h_0"`` or ``"xs"``) are ignored.

    Raises
    ------
    ValueError
        For a bad ``lr``, a missing gradient or a gradient of the wrong shape.
    FloatingPointError
        If a gradient holds NaN or ``inf``, or the update overflows.
    """
    lr = _check_lr(lr)
    p = _check_params(params)
    g = _check_grads(p, grads, lr)
    with np.errstate(over="ignore", invalid="ignore"):
        return _finite_update({k: p[k] - lr * g[k] for k in p}, lr)


def adam_init(params: Mapping) -> dict:
    """Zero first and second moments for :func:`adam_step`; ``state = {"t": 0, "m": ..., "v": ...}``."""
    p = _check_params(params)
    return {"t": 0, "m": {k: np.zeros_like(v) for k, v in p.items()},
            "v": {k: np.zeros_like(v) for k, v in p.items()}}


def _check_state(state, p: Mapping) -> tuple[int, dict, dict]:
    check_mapping(state, "state", ("t", "m", "v"), "an Adam state from adam_init")
    t = check_int(state["t"], "state['t']", 0, None, "a step count")
    moments = []
    for key in ("m", "v"):
        check_mapping(state[key], f"state[{key!r}]", list(p), "a dict of moments with the keys of params")
        arrs = {}
        for k in p:
            arr = check_array(state[key][k], f"state[{key!r}][{k!r}]")
            check_shape(arr, p[k].shape, f"state[{key!r}][{k!r}]", f"Moments are shaped like params[{k!r}].")
            arrs[k] = arr
        moments.append(arrs)
    bad = [k for k, v in moments[1].items() if (v < 0).any()]
    if bad:
        raise ArgumentError("state", f"state['v'][{bad[0]!r}]: expected second moments >= 0, received negative values.")
    return t, moments[0], moments[1]


def adam_step(params: Mapping, grads: Mapping, state: Mapping, lr: float = 1e-2,
              beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> tuple[dict, dict]:
    """One Adam update (Kingma & Ba, 2015), the default optimiser for the course's tasks.

    ``m ← β1 m + (1-β1) g``, ``v ← β2 v + (1-β2) g²``,
    ``θ ← θ - lr · m̂ / (sqrt(v̂) + ε)`` with bias-corrected ``m̂ = m / (1-β1^t)``, ``v̂ = v / (1-β2^t)``.

    Parameters
    ----------
    params, grads : dicts of arrays with the same keys and shapes (extra keys in ``grads`` are ignored)
    state : from :func:`adam_init` or the previous ``adam_step``
    lr : learning rate > 0;  beta1, beta2 : decay rates in ``[0, 1)``;  eps : > 0

    Returns
    -------
    (new_params, new_state)

    Raises
    ------
    ValueError
        For bad hyper-parameters, keys or shapes.
    FloatingPointError
        If a gradient holds NaN or ``inf``, or the update overflows.
    """
    lr = _check_lr(lr)
    beta1 = check_real(beta1, "beta1", 0.0, 1.0, high_open=True, what="a decay rate")
    beta2 = check_real(beta2, "beta2", 0.0, 1.0, high_open=True, what="a decay rate")
    eps = check_real(eps, "eps", 0.0, None, low_open=True, what="a positive number")
    p = _check_params(params)
    g = _check_grads(p, grads, lr)
    t, m0, v0 = _check_state(state, p)
    return _adam_step(p, g, {"t": t, "m": m0, "v": v0}, lr, beta1, beta2, eps)


def _adam_step(p: Mapping, g: Mapping, state: Mapping, lr: float, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8) -> tuple[dict, dict]:
    """:func:`adam_step` on checked arguments: finite float64 ``p`` and ``g`` of equal keys and shapes, a
    checked ``state`` and hyper-parameters.  Still raises :class:`NonFiniteError` if the update overflows."""
    t, m0, v0 = state["t"] + 1, state["m"], state["v"]
    with np.errstate(over="ignore", invalid="ignore"):
        m = {k: beta1 * m0[k] + (1 - beta1) * g[k] for k in p}
        v = {k: beta2 * v0[k] + (1 - beta2) * g[k] ** 2 for k in p}
        c1, c2 = 1 - beta1**t, 1 - beta2**t
        new = {k: p[k] - lr * (m[k] / c1) / (np.sqrt(v[k] / c2) + eps) for k in p}
    _finite_update(new, lr)
    for k in p:
        if not (all_finite(m[k]) and all_finite(v[k])):
            raise NonFiniteError(f"grads[{k!r}]: the squared gradient of {k!r} overflows the Adam moments. "
                                 f"{training_advice(lr)}", None, k)
    return new, {"t": t, "m": m, "v": v}
