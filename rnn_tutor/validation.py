"""Input validation shared by the public functions: clear ValueErrors for learners."""

from __future__ import annotations

from typing import Mapping

import numpy as np

__all__ = ["as_float_array", "check_shape", "check_params", "PARAM_NAMES"]

PARAM_NAMES = ("w_x", "w_h", "b_h", "w_y", "b_y")


def as_float_array(value, name: str) -> np.ndarray:
    """Convert ``value`` to a float64 array, or raise a ValueError naming ``name``."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected an array of numbers, received {type(value).__name__} ({exc})") from None
    return arr


def check_shape(arr: np.ndarray, expected: tuple, name: str, hint: str = "") -> None:
    """Raise ``ValueError`` unless ``arr.shape`` matches ``expected``.

    ``expected`` may hold ``None`` for a free size.  The message names the
    argument, the expected shape and the received shape.
    """
    ok = arr.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, arr.shape))
    if not ok:
        shown = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ("," if len(expected) == 1 else "") + ")"
        extra = f" {hint}" if hint else ""
        raise ValueError(f"{name}: expected shape {shown}, received shape {arr.shape}.{extra}")


def check_params(params: Mapping, names=PARAM_NAMES) -> dict[str, np.ndarray]:
    """Validate an Elman RNN parameter dict and return float64 copies-by-view.

    Expected shapes: ``w_x (m, d)``, ``w_h (m, m)``, ``b_h (m,)``,
    ``w_y (q, m)``, ``b_y (q,)``.  Missing keys, wrong ranks and inconsistent
    sizes raise ``ValueError`` with the argument, expected and received shape.
    """
    if not isinstance(params, Mapping):
        raise ValueError(f"params: expected a dict with keys {list(names)}, received {type(params).__name__}")
    missing = [k for k in names if k not in params]
    if missing:
        raise ValueError(f"params: missing key(s) {missing}; expected keys {list(names)}, received {sorted(params)}")
    p = {k: as_float_array(params[k], f"params['{k}']") for k in names}
    w_h = p["w_h"]
    if w_h.ndim != 2 or w_h.shape[0] != w_h.shape[1]:
        raise ValueError(f"params['w_h']: expected a square (m, m) matrix, received shape {w_h.shape}")
    m = w_h.shape[0]
    if "w_x" in p:
        check_shape(p["w_x"], (m, None), "params['w_x']", f"w_x must have m = {m} rows, like w_h.")
    if "b_h" in p:
        check_shape(p["b_h"], (m,), "params['b_h']")
    if "w_y" in p:
        check_shape(p["w_y"], (None, m), "params['w_y']", f"w_y must have m = {m} columns.")
    if "b_y" in p:
        check_shape(p["b_y"], (p["w_y"].shape[0],), "params['b_y']")
    return p
