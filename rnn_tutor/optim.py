"""Parameter updates as pure functions: plain gradient descent and Adam.

Parameters and gradients are dicts of arrays with the same keys.  Nothing is
updated in place: each step returns new dicts, so a learner can keep the old
parameters for comparison.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

__all__ = ["sgd_step", "adam_init", "adam_step"]


def _check_keys(params: Mapping, grads: Mapping) -> None:
    missing = [k for k in params if k not in grads]
    if missing:
        raise ValueError(f"grads: missing gradient(s) for {missing}; expected keys {sorted(params)}, received {sorted(grads)}")
    for k in params:
        if np.shape(grads[k]) != np.shape(params[k]):
            raise ValueError(f"grads['{k}']: expected shape {np.shape(params[k])} (the shape of params['{k}']), "
                             f"received shape {np.shape(grads[k])}")


def _check_lr(lr: float) -> float:
    if not (isinstance(lr, (int, float, np.floating)) and np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr: expected a positive learning rate, received {lr!r}")
    return float(lr)


def sgd_step(params: Mapping, grads: Mapping, lr: float) -> dict:
    """Gradient descent: ``θ ← θ - lr · ∂L/∂θ`` for every parameter ``θ`` in ``params``.

    Extra keys in ``grads`` (such as ``"h_0"`` or ``"xs"``) are ignored.
    """
    lr = _check_lr(lr)
    _check_keys(params, grads)
    return {k: params[k] - lr * grads[k] for k in params}


def adam_init(params: Mapping) -> dict:
    """Zero first and second moments for :func:`adam_step`; ``state = {"t": 0, "m": ..., "v": ...}``."""
    return {"t": 0, "m": {k: np.zeros_like(v, dtype=float) for k, v in params.items()},
            "v": {k: np.zeros_like(v, dtype=float) for k, v in params.items()}}


def adam_step(params: Mapping, grads: Mapping, state: Mapping, lr: float = 1e-2,
              beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> tuple[dict, dict]:
    """One Adam update (Kingma & Ba, 2015), the default optimiser for the course's tasks.

    ``m ← β1 m + (1-β1) g``, ``v ← β2 v + (1-β2) g²``,
    ``θ ← θ - lr · m̂ / (sqrt(v̂) + ε)`` with bias-corrected ``m̂ = m / (1-β1^t)``, ``v̂ = v / (1-β2^t)``.

    Returns
    -------
    (new_params, new_state)
    """
    lr = _check_lr(lr)
    _check_keys(params, grads)
    t = state["t"] + 1
    m = {k: beta1 * state["m"][k] + (1 - beta1) * grads[k] for k in params}
    v = {k: beta2 * state["v"][k] + (1 - beta2) * grads[k] ** 2 for k in params}
    new = {k: params[k] - lr * (m[k] / (1 - beta1**t)) / (np.sqrt(v[k] / (1 - beta2**t)) + eps) for k in params}
    return new, {"t": t, "m": m, "v": v}
