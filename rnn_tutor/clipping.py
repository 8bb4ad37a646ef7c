"""Gradient-norm clipping (Pascanu, Mikolov & Bengio, 2013): a cap on the size of one update.

All gradients are treated as one long vector ``g`` (every parameter's entries together):

    ‖g‖ = sqrt(Σ_k Σ_ij (∂L/∂θ_k)_ij²)          the global norm
    g ← g · max_norm / ‖g‖    if ‖g‖ > max_norm  (otherwise g is left alone)

Scaling every parameter by the *same* factor keeps the direction of the step and only
shortens it, which is what rescues a training run from a gradient "cliff".

Non-finite gradients (``inf`` or NaN) cannot be rescaled into anything meaningful: a
direction times 0 or ``inf/inf`` is not a gradient.  :func:`clip_grad_norm` therefore raises
:class:`FloatingPointError` naming the offending parameters instead of returning NaN.  Huge but
finite gradients are fine, even when ``‖g‖`` itself overflows float64: the norm is computed
after dividing by the largest magnitude, so the clipped gradients stay exact (the reported
``total_norm`` is then ``inf``).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from rnn_tutor.validation import ArgumentError, ArgumentTypeError, as_float_array, describe

__all__ = ["global_norm", "clip_grad_norm"]


def _as_grads(grads) -> dict[str, np.ndarray]:
    if not isinstance(grads, Mapping):
        raise ArgumentTypeError("grads", f"grads: expected a dict of gradient arrays (e.g. {{'w_h': dw_h, ...}}), "
                         f"received {describe(grads)}")
    return {k: as_float_array(v, f"grads[{k!r}]") for k, v in grads.items()}


def _scaled_norm(g: Mapping[str, np.ndarray]) -> tuple[float, float]:
    """``(s, r)`` with ``‖g‖ = s · r``: ``s`` the largest magnitude, ``r = ‖g / s‖`` in ``[1, sqrt(size)]``."""
    s = max((float(np.max(np.abs(v))) for v in g.values() if v.size), default=0.0)
    if s == 0.0 or not np.isfinite(s):
        return s, 1.0
    r = float(np.sqrt(sum(float(np.sum((v / s) ** 2)) for v in g.values())))
    return s, r


def _nonfinite_message(g: Mapping[str, np.ndarray]) -> str:
    bad = [k for k, v in g.items() if not np.all(np.isfinite(v))]
    return (f"grads: non-finite values (inf or NaN) in {bad}; the gradient norm is undefined, so clipping cannot "
            "rescue this step. Clip earlier, lower the learning rate, or check for an overflow in the forward pass.")


def _check_max_norm(max_norm) -> float:
    """``max_norm`` as a float > 0 (a Python or NumPy number, or a 0-d array), else ``ValueError``."""
    ok = not isinstance(max_norm, (bool, np.bool_, str, bytes)) and np.ndim(max_norm) == 0 \
        and np.asarray(max_norm).dtype.kind in "iuf"
    if not ok:
        raise ArgumentTypeError("max_norm", f"max_norm: expected a clipping threshold > 0, received {describe(max_norm)}")
    value = float(max_norm)
    if not value > 0:  # also refuses NaN
        raise ArgumentError("max_norm", f"max_norm: expected a clipping threshold > 0, received {max_norm!r}")
    return value


def global_norm(grads: Mapping) -> float:
    """The global norm ``sqrt(Σ_k ‖∂L/∂θ_k‖_F²)`` of a dict of gradients of any shapes.

    Overflow-safe: computed after dividing by the largest magnitude, so it is ``inf`` only if the
    true norm exceeds the float64 range, or if a gradient holds ``inf``.  It is NaN if a gradient
    holds NaN.  An empty dict has norm 0.
    """
    g = _as_grads(grads)
    if any(np.isnan(v).any() for v in g.values()):
        return float("nan")
    s, r = _scaled_norm(g)
    with np.errstate(over="ignore"):
        return float(s * r)


def clip_grad_norm(grads: Mapping, max_norm: float) -> tuple[dict[str, np.ndarray], float]:
    """Scale all gradients by one factor so that their global norm is at most ``max_norm``.

    ``clipped_k = ∂L/∂θ_k · min(1, max_norm / ‖g‖)`` with ``‖g‖`` from :func:`global_norm`.

    Parameters
    ----------
    grads : dict of arrays of any shapes, e.g. ``{"w_x": (m, d), "w_h": (m, m), ...}``
    max_norm : float > 0, the threshold (``inf`` disables clipping)

    Returns
    -------
    clipped : a new dict with new arrays (the input is never modified)
    total_norm : float, the global norm *before* clipping (``inf`` if it exceeds float64)

    Raises
    ------
    ValueError
        If ``max_norm`` is not a number > 0, or ``grads`` is not a dict of numeric arrays.
    FloatingPointError
        If any gradient holds ``inf`` or NaN; the message names the parameters.
    """
    max_norm = _check_max_norm(max_norm)
    g = _as_grads(grads)
    if not all(np.all(np.isfinite(v)) for v in g.values()):
        raise FloatingPointError(_nonfinite_message(g))
    clipped, total = _clip_grad_norm(g, max_norm)
    return {k: v.copy() if v is g[k] else v for k, v in clipped.items()}, total


def _clip_grad_norm(g: Mapping[str, np.ndarray], max_norm: float) -> tuple[dict[str, np.ndarray], float]:
    """:func:`clip_grad_norm` on checked arguments: finite float64 gradients, a float ``max_norm > 0``.

    Below the threshold it returns the input arrays themselves (:func:`clip_grad_norm` copies them).
    """
    s, r = _scaled_norm(g)
    with np.errstate(over="ignore"):
        total = float(s * r)
    if total <= max_norm:
        return dict(g), total  # the same arrays: clip_grad_norm copies them, training loops need not
    # g · max_norm / (s r) = (g / s) · (max_norm / r): no overflow even if s r does not fit in float64
    return {k: (v / s) * (max_norm / r) for k, v in g.items()}, total
