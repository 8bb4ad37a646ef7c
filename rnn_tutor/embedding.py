"""The embedding layer: a learned vector for every token of a vocabulary.

A token id ``c`` in ``0 .. V-1`` becomes row ``c`` of the embedding matrix ``w_e``:

    x_t = w_eᵀ onehot(c_t) = w_e[c_t]              w_e : (V, e),  x_t : (e,)

so the layer is a matrix product with a one-hot vector, computed as a row lookup (no
``V``-wide product is ever formed).  Its gradient is the transpose of that product:

    ∂L/∂w_e = Σ_positions onehot(c) (∂L/∂x)ᵀ,   i.e.   ∂L/∂w_e[c] = Σ_{positions holding c} ∂L/∂x

a *scatter-add*: every position adds its gradient into the row of its token, and a token
that occurs several times collects the sum of all its gradients.  (Writing
``dw_e[ids] = dxs`` instead keeps only one of them: NumPy's fancy assignment does not
accumulate.  :func:`embedding_backward` uses ``np.add.at``, which does.)

Token arrays may have any shape: ``ids (...)`` gives ``xs (..., e)``, e.g. time-major
``(T, N) -> (T, N, e)``.  Positions where ``mask`` is 0 (padding) add nothing to the gradient.
"""

from __future__ import annotations

import numpy as np

from rnn_tutor.validation import as_float_array

__all__ = ["init_embedding", "check_ids", "embedding_forward", "embedding_backward", "one_hot_embedding"]


def init_embedding(V: int, e: int, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """Random embedding matrix ``w_e (V, e)`` with entries ``N(0, scale²)`` (PyTorch's ``nn.Embedding`` default)."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected a numpy.random.Generator (np.random.default_rng(seed)), received {type(rng).__name__}")
    for name, value in (("V", V), ("e", e)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}: expected a positive integer, received {value!r}")
    if not (isinstance(scale, (int, float, np.floating)) and np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale: expected a positive number, received {scale!r}")
    return rng.normal(0.0, float(scale), size=(V, e))


def check_ids(ids, V: int, name: str = "ids") -> np.ndarray:
    """Return ``ids`` as an int64 array after checking that every entry is a token id in ``0 .. V-1``."""
    arr = np.asarray(ids)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "b" or arr.dtype == object:
            raise ValueError(f"{name}: expected integer token ids in 0..{V - 1}, received dtype {arr.dtype}")
        f = as_float_array(ids, name)
        if not np.all(np.isfinite(f)) or not np.all(f == np.round(f)):
            raise ValueError(f"{name}: expected integer token ids in 0..{V - 1}, received non-integer values")
        arr = f
    arr = arr.astype(np.int64)
    bad = (arr < 0) | (arr >= V)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name}: expected token ids in 0..{V - 1} (V = {V} rows of w_e), "
                         f"received {int(arr[idx])} at index {idx}")
    return arr


def _check_w_e(w_e) -> np.ndarray:
    w_e = as_float_array(w_e, "w_e")
    if w_e.ndim != 2 or w_e.shape[0] < 1 or w_e.shape[1] < 1:
        raise ValueError(f"w_e: expected an embedding matrix (V, e) with V, e >= 1, received shape {w_e.shape}")
    return w_e


def embedding_forward(ids, w_e) -> tuple[np.ndarray, dict]:
    """Look up the embedding of every token: ``xs[..., :] = w_e[ids[...]]``.

    Parameters
    ----------
    ids : (...) ints in ``0 .. V-1``, e.g. ``(T, N)``
    w_e : (V, e)

    Returns
    -------
    xs : (..., e)
    cache : dict with ``ids`` and ``V`` for :func:`embedding_backward`
    """
    w_e = _check_w_e(w_e)
    ids = check_ids(ids, w_e.shape[0])
    return w_e[ids], {"ids": ids, "V": w_e.shape[0]}  # (..., ) -> (..., e): a copy, not a view


def embedding_backward(dxs, cache, mask=None) -> np.ndarray:
    """Gradient of the lookup: ``dw_e[c] = Σ_{positions with ids = c} dxs[position]`` (scatter-add).

    Parameters
    ----------
    dxs : (..., e)   ``∂L/∂xs``
    cache : from :func:`embedding_forward`
    mask : (...), optional; positions with 0 (padding) contribute nothing

    Returns
    -------
    dw_e : (V, e)   rows of tokens that never occur stay 0
    """
    if not isinstance(cache, dict) or "ids" not in cache or "V" not in cache:
        raise ValueError(f"cache: expected the cache returned by embedding_forward (keys 'ids', 'V'), "
                         f"received {type(cache).__name__}")
    ids = cache["ids"]
    dxs = as_float_array(dxs, "dxs")
    if dxs.shape[:-1] != ids.shape or dxs.ndim != ids.ndim + 1:
        raise ValueError(f"dxs: expected shape {ids.shape + ('e',)} (the shape of the looked-up xs), received shape {dxs.shape}")
    if mask is not None:
        mask = as_float_array(mask, "mask")
        if mask.shape != ids.shape:
            raise ValueError(f"mask: expected shape {ids.shape} (the shape of ids), received shape {mask.shape}")
        dxs = dxs * mask[..., None]
    dw_e = np.zeros((cache["V"], dxs.shape[-1]))
    np.add.at(dw_e, ids.reshape(-1), dxs.reshape(-1, dxs.shape[-1]))  # repeated ids accumulate
    return dw_e


def one_hot_embedding(ids, w_e) -> np.ndarray:
    """The same layer written as a product, ``onehot(ids) @ w_e``: ``(..., V) @ (V, e) -> (..., e)``.

    Equal to :func:`embedding_forward` (a lesson shows it); ``V`` times more work.
    """
    w_e = _check_w_e(w_e)
    ids = check_ids(ids, w_e.shape[0])
    return np.eye(w_e.shape[0])[ids] @ w_e  # (..., V) @ (V, e) -> (..., e)
