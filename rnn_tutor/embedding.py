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

from rnn_tutor.validation import (overflow_is_error, ArgumentError, check_array, check_cache, check_elements, check_int,
                                  check_real, check_rng, check_token_ids, Cache)

__all__ = ["init_embedding", "check_ids", "embedding_forward", "embedding_backward", "one_hot_embedding"]


def init_embedding(V: int, e: int, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """Random embedding matrix ``w_e (V, e)`` with entries ``N(0, scale²)`` (PyTorch's ``nn.Embedding`` default)."""
    V, e = check_int(V, "V"), check_int(e, "e")
    check_rng(rng)
    scale = check_real(scale, "scale", 0.0, None, low_open=True)
    check_elements((V, e), "embedding matrix (V, e)", "V")
    return rng.normal(0.0, scale, size=(V, e))


def check_ids(ids, V: int, name: str = "ids") -> np.ndarray:
    """Return ``ids`` as an int64 array after checking that every entry is a token id in ``0 .. V-1``."""
    V = check_int(V, "V")
    if isinstance(ids, (bool, np.bool_)) or (isinstance(ids, np.ndarray) and ids.dtype.kind == "b"):
        raise ArgumentError(name, f"{name}: expected integer token ids in 0..{V - 1}, received booleans")
    return check_token_ids(ids, name, V, what=f"integer token ids in 0..{V - 1}")


def _check_w_e(w_e) -> np.ndarray:
    w_e = check_array(w_e, "w_e", ndim=2, names=("V", "e"))
    if w_e.shape[0] < 1 or w_e.shape[1] < 1:
        raise ArgumentError("w_e", f"w_e: expected an embedding matrix (V, e) with V, e >= 1, received shape {w_e.shape}")
    return w_e


@overflow_is_error
def embedding_forward(ids, w_e) -> tuple[np.ndarray, dict]:
    """Look up the embedding of every token: ``xs[..., :] = w_e[ids[...]]``.

    Parameters
    ----------
    ids : (...) ints in ``0 .. V-1``, e.g. ``(T, N)``
    w_e : (V, e)

    Returns
    -------
    xs : (..., e)
    cache : dict with ``ids``, ``V`` and ``e`` for :func:`embedding_backward`
    """
    w_e = _check_w_e(w_e)
    ids = check_ids(ids, w_e.shape[0])
    return w_e[ids], Cache("embedding_forward", ids=ids, V=w_e.shape[0], e=w_e.shape[1])  # (...) -> (..., e): a copy


@overflow_is_error
def embedding_backward(dxs, cache, mask=None) -> np.ndarray:
    """Gradient of the lookup: ``dw_e[c] = Σ_{positions with ids = c} dxs[position]`` (scatter-add).

    Parameters
    ----------
    dxs : (..., e)   ``∂L/∂xs``, shaped like the looked-up ``xs``
    cache : from :func:`embedding_forward`
    mask : (...), optional 0s and 1s (or booleans); positions with 0 (padding) contribute nothing

    Returns
    -------
    dw_e : (V, e)   rows of tokens that never occur stay 0
    """
    check_cache(cache, "embedding_forward", ("ids", "V", "e"))
    ids, e = cache["ids"], cache["e"]
    dxs = check_array(dxs, "dxs")
    if dxs.shape != ids.shape + (e,):
        raise ArgumentError("dxs", f"dxs: expected shape {ids.shape + (e,)} (the shape of the looked-up xs: ids "
                                   f"{ids.shape} and e = {e} columns of w_e), received shape {dxs.shape}")
    if mask is not None:
        mask = check_array(mask, "mask", allow_bool=True)
        if mask.shape != ids.shape:
            raise ArgumentError("mask", f"mask: expected shape {ids.shape} (the shape of ids), received shape {mask.shape}")
        if ((mask != 0) & (mask != 1)).any():
            raise ArgumentError("mask", f"mask: expected only 0 (padding) and 1 (a real position), received values "
                                        f"{np.unique(mask)[:8]}")
        dxs = dxs * mask[..., None]
    dw_e = np.zeros((cache["V"], dxs.shape[-1]))
    np.add.at(dw_e, ids.reshape(-1), dxs.reshape(-1, dxs.shape[-1]))  # repeated ids accumulate
    return dw_e


@overflow_is_error
def one_hot_embedding(ids, w_e) -> np.ndarray:
    """The same layer written as a product, ``onehot(ids) @ w_e``: ``(..., V) @ (V, e) -> (..., e)``.

    Equal to :func:`embedding_forward` (a lesson shows it); ``V`` times more work.
    """
    w_e = _check_w_e(w_e)
    ids = check_ids(ids, w_e.shape[0])
    check_elements(ids.shape + (w_e.shape[0],), "one-hot array (..., V)", "ids")
    return np.eye(w_e.shape[0])[ids] @ w_e  # (..., V) @ (V, e) -> (..., e)
