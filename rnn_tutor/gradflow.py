"""How gradients flow backwards through time: Jacobian chains, their norms, and the bound on them.

For the Elman RNN ``h_t = f(a_t)`` with ``a_t = w_x x_t + w_h h_{t-1} + b_h``, one
step back in time multiplies the gradient by the *step Jacobian*

    J_t = ∂h_t/∂h_{t-1} = diag(f'(a_t)) w_h                      (m, m)

so the gradient that reaches ``h_t`` from a loss at step ``T`` goes through the chain

    ∂h_T/∂h_t = J_T J_{T-1} ... J_{t+1}        (T - t factors; the identity when t = T).

Because the spectral norm is sub-multiplicative and ``|f'| ≤ γ`` (``γ = 1`` for tanh,
``1/4`` for sigmoid), every factor has ``‖J_t‖₂ ≤ γ σ_max(w_h)``, hence

    ‖∂h_T/∂h_t‖₂ ≤ (γ σ_max)^(T - t)

(Pascanu, Mikolov & Bengio, 2013).  ``γ σ_max < 1`` is therefore *sufficient* for the
gradient to vanish exponentially, and ``γ σ_max > 1`` is *necessary* (not sufficient)
for it to explode.

The chain functions are generic: they take any sequence of per-step Jacobians, so the
same code measures a GRU or an LSTM once their step Jacobians are known.  Arrays of
Jacobians are ``(T, m, m)``, or ``(T, N, m, m)`` for a batch of ``N`` sequences.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from rnn_tutor.activations import Activation, get_activation
from rnn_tutor.validation import (ArgumentError, ArgumentTypeError, NonFiniteArgumentError, all_finite, as_float_array, check_array,
                                  check_cache, check_choice, check_elements, check_finite, check_int, check_params,
                                  check_real, check_rng, describe)

__all__ = ["check_square", "singular_values", "spectral_radius", "deriv_bound", "decay_rate_bound",
           "norm_bound_by_distance", "random_recurrent_matrix", "elman_step_jacobians", "jacobian_chain",
           "gradient_norms_by_distance", "elman_gradient_norms", "fit_decay_rate", "gradient_decay_curve"]


def check_square(w_h, name: str = "w_h") -> np.ndarray:
    """Return ``w_h`` as a float64 ``(m, m)`` array, or raise ``ValueError`` naming its shape."""
    w = as_float_array(w_h, name)
    if not isinstance(name, str):
        raise ArgumentTypeError("name", f"name: expected the argument's name (a str), received {describe(name)}")
    if w.ndim != 2 or w.shape[0] != w.shape[1] or w.shape[0] == 0:
        raise ArgumentError(name, f"{name}: expected a square (m, m) recurrent matrix with m >= 1, received shape {w.shape}; "
                         "the recurrence h_t = f(w_x x_t + w_h h_(t-1) + b_h) maps m hidden units to m hidden units")
    check_finite(w, name)
    return w


def singular_values(w_h) -> np.ndarray:
    """Singular values ``σ_1 ≥ σ_2 ≥ ... ≥ σ_m ≥ 0`` of the recurrent matrix ``w_h (m, m)``.

    ``σ_1 = σ_max = ‖w_h‖₂`` is the most any vector can be stretched by ``w_h``.
    Returns an ``(m,)`` array in descending order.
    """
    return np.linalg.svd(check_square(w_h), compute_uv=False)


def spectral_radius(w_h) -> float:
    """Spectral radius ``ρ(w_h) = max_i |λ_i|`` of ``w_h (m, m)``; always ``ρ ≤ σ_max``.

    ``ρ`` sets the growth of ``w_h^k`` for large ``k``; ``σ_max`` bounds every single step.
    """
    return float(np.max(np.abs(np.linalg.eigvals(check_square(w_h)))))


def deriv_bound(f: str | Activation = "tanh") -> float:
    """``γ = sup_a |f'(a)|``: 1 for tanh, ReLU and identity, 1/4 for sigmoid."""
    return float(get_activation(f, "f").deriv_bound)


def decay_rate_bound(w_h, f: str | Activation = "tanh") -> float:
    """The per-step factor ``γ σ_max(w_h)`` that bounds every step Jacobian: ``‖J_t‖₂ ≤ γ σ_max``.

    Below 1, ``‖∂h_T/∂h_t‖₂ ≤ (γ σ_max)^(T-t)`` decays exponentially whatever the inputs.
    """
    return deriv_bound(f) * float(singular_values(w_h)[0])


def norm_bound_by_distance(rate: float, T: int) -> np.ndarray:
    """The bound ``rate^k`` for the distances ``k = T - t = 0, 1, ..., T``; shape ``(T + 1,)``."""
    rate = check_real(rate, "rate", 0.0, None, what="a rate")
    T = _check_T(T)
    with np.errstate(over="ignore"):
        return float(rate) ** np.arange(T + 1, dtype=float)


def _check_T(T) -> int:
    return check_int(T, "T")


def random_recurrent_matrix(m: int, sigma_max: float, rng: np.random.Generator, kind: str = "gaussian") -> np.ndarray:
    """A random ``(m, m)`` matrix whose largest singular value is exactly ``sigma_max``.

    ``kind="gaussian"``: i.i.d. normal entries, rescaled (the other singular values spread below).
    ``kind="orthogonal"``: ``sigma_max`` times a random orthogonal matrix (all singular values equal).
    """
    check_rng(rng)
    m = check_int(m, "m", 1, 4096, "a number of hidden units")
    sigma_max = check_real(sigma_max, "sigma_max", 0.0, None, what="a singular value")
    check_choice(kind, "kind", ("gaussian", "orthogonal"))
    a = rng.standard_normal((m, m))
    if kind == "gaussian":
        return float(sigma_max) * a / np.linalg.norm(a, 2)
    if kind == "orthogonal":
        q, r = np.linalg.qr(a)
        return float(sigma_max) * q * np.sign(np.diag(r))  # sign fix: Haar-distributed q
    raise ArgumentError("kind", f"kind: expected 'gaussian' or 'orthogonal', received {kind!r}")


def elman_step_jacobians(cache: Mapping) -> np.ndarray:
    """Step Jacobians ``J_t = ∂h_t/∂h_{t-1} = diag(f'(a_t)) w_h`` of an Elman RNN forward pass.

    Parameters
    ----------
    cache : the cache of :func:`rnn_tutor.rnn.rnn_forward` (uses ``as_`` (T, N, m), ``params``, ``f``)

    Returns
    -------
    (T, N, m, m) array; ``out[t-1, n]`` is ``J_t`` for sequence ``n``.
    """
    check_cache(cache, "rnn_forward", ("params", "as_", "f"))
    w_h = check_square(cache["params"]["w_h"], "cache['params']['w_h']")
    fprime = cache["f"].deriv(cache["as_"])  # (T, N, m)
    return fprime[..., :, None] * w_h  # diag(f') @ w_h scales row i by f'_i: (T, N, m, 1) * (m, m) -> (T, N, m, m)


def _as_jacobians(jacobians) -> np.ndarray:
    js = check_array(jacobians, "jacobians", finite=False)
    if js.ndim < 3 or js.shape[-1] != js.shape[-2] or js.shape[0] == 0:
        raise ArgumentError("jacobians", "jacobians: expected a sequence of T >= 1 square step Jacobians, shape (T, m, m) or "
                         f"(T, N, m, m), received shape {js.shape}")
    return js


def jacobian_chain(jacobians) -> np.ndarray:
    """All products ``∂h_T/∂h_{T-k} = J_T J_{T-1} ... J_{T-k+1}`` for ``k = 0 .. T``.

    Parameters
    ----------
    jacobians : (T, m, m) or (T, N, m, m)
        ``jacobians[t-1]`` is the step Jacobian ``J_t = ∂h_t/∂h_{t-1}`` (any recurrent cell).

    Returns
    -------
    (T + 1, m, m) or (T + 1, N, m, m); ``out[k]`` is ``∂h_T/∂h_{T-k}``, ``out[0]`` the identity.
    The newest Jacobian stands on the left: the chain is built as ``out[k] = out[k-1] @ J_{T-k+1}``.
    """
    js = _as_jacobians(jacobians)
    check_finite(js, "jacobians")
    T, m = js.shape[0], js.shape[-1]
    out = np.empty((T + 1,) + js.shape[1:])
    out[0] = np.eye(m)  # broadcasts over a batch axis
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, T + 1):
            out[k] = out[k - 1] @ js[T - k]  # (.., m, m) @ (.., m, m) -> (.., m, m)
    if not all_finite(out):
        k = int(np.argwhere(~np.isfinite(out.reshape(T + 1, -1)).any(axis=1))[0, 0])
        raise NonFiniteArgumentError("jacobians", f"jacobians: expected step Jacobians whose products fit in float64, "
                                                  f"received a chain that overflows at distance k = {k} (entries up to "
                                                  f"{float(np.abs(js).max()):.3g}). gradient_norms_by_distance(jacobians, "
                                                  "log10=True) gives the norms of any chain.")
    return out


def _matrix_norm(a: np.ndarray, ord) -> np.ndarray:
    if ord == 2:
        return np.linalg.svd(a, compute_uv=False)[..., 0]
    return np.sqrt(np.sum(a * a, axis=(-2, -1)))


def gradient_norms_by_distance(jacobians, ord: int | str = 2, log10: bool = False) -> np.ndarray:
    """Norms ``‖∂h_T/∂h_{T-k}‖`` of the Jacobian chain for the distances ``k = 0 .. T``.

    The product is renormalised at every step and its scale kept as a logarithm, so the
    result is exact even where the norm itself lies far outside the float64 range
    (``1e-400`` or ``1e400``).

    Parameters
    ----------
    jacobians : (T, m, m) or (T, N, m, m), per-step Jacobians as in :func:`jacobian_chain`
    ord : ``2`` (spectral norm, the largest singular value; the default) or ``"fro"``
    log10 : return ``log10`` of the norms (never overflows; ``-inf`` only for an exact zero)

    Returns
    -------
    (T + 1,) or (T + 1, N); element ``k`` belongs to the distance ``k = T - t``.
    Without ``log10``, norms below the float64 range become ``0``; a norm above it is an error
    (pass ``log10=True``).

    Raises
    ------
    FloatingPointError
        If a Jacobian holds NaN or ``inf`` (the norms would be meaningless), or, without
        ``log10``, if a norm is beyond float64 (both are also ``ValueError``).
    """
    if not isinstance(log10, (bool, np.bool_)):
        raise ArgumentTypeError("log10", f"log10: expected True or False, received {describe(log10)}")
    ord = _check_ord(ord)
    js = _as_jacobians(jacobians)
    if not np.all(np.isfinite(js)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(js))[0])
        raise NonFiniteArgumentError("jacobians", f"jacobians: expected finite step Jacobians, received {js[bad]} at "
                                                  f"index {bad} (an overflow in the forward pass?)")
    T, m = js.shape[0], js.shape[-1]
    prod = np.broadcast_to(np.eye(m), js.shape[1:]).copy()
    log_scale = np.zeros(js.shape[1:-2])
    out = np.empty((T + 1,) + js.shape[1:-2])
    out[0] = np.log10(_matrix_norm(prod, ord))
    # A Jacobian with entries beyond 2**400 is brought down to that size by a power of two (exact), the
    # exponent kept in the log scale: otherwise prod @ J, or the squares in its norm, could overflow.
    exps = np.maximum(np.frexp(np.abs(js).max(axis=(-2, -1)))[1] - 400, 0)  # (T, ...)
    for k in range(1, T + 1):
        e = exps[T - k]
        if np.any(e):
            prod = prod @ np.ldexp(js[T - k], -e[..., None, None])  # (.., m, m) @ (.., m, m) -> (.., m, m)
            log_scale = log_scale + e * np.log10(2.0)
        else:
            prod = prod @ js[T - k]
        s = np.sqrt(np.sum(prod * prod, axis=(-2, -1)))  # Frobenius scale of the running product
        zero = s == 0
        s_safe = np.where(zero, 1.0, s)
        prod = prod / s_safe[..., None, None]
        with np.errstate(divide="ignore"):
            log_scale = np.where(zero, -np.inf, log_scale + np.log10(s_safe))
            out[k] = log_scale + np.log10(np.where(zero, 1.0, _matrix_norm(prod, ord)))
    if log10:
        return out
    if np.any(out > np.log10(np.finfo(float).max)):
        k = int(np.argwhere(out > np.log10(np.finfo(float).max))[0][0])
        raise NonFiniteArgumentError("jacobians", f"jacobians: expected a chain whose norms fit in float64, received "
                                                  f"one whose norm at distance k = {k} is 10^{float(np.max(out[k])):.4g}. "
                                                  "Pass log10=True for the exact logarithms.")
    return 10.0 ** out  # beyond float64 only downwards: those norms are 0


def _check_ord(ord) -> int | str:
    """``2`` (any integer type, 0-d arrays too) or ``"fro"``."""
    expected = "2 (spectral norm) or 'fro' (Frobenius norm)"
    if not isinstance(ord, str):
        ord = check_int(ord, "ord", None, None, expected)
    if ord not in (2, "fro"):
        raise ArgumentError("ord", f"ord: expected {expected}, received {ord!r}.")
    return ord


def elman_gradient_norms(xs, params: Mapping, f: str | Activation = "tanh", h_0=None,
                         ord: int | str = 2, log10: bool = False) -> np.ndarray:
    """Run :func:`rnn_tutor.rnn.rnn_forward` and return ``‖∂h_T/∂h_{T-k}‖`` for ``k = 0 .. T``.

    Parameters
    ----------
    xs : (T, N, d)
    params : dict of ``w_x (m, d)``, ``w_h (m, m)``, ``b_h (m,)`` (``w_y``, ``b_y`` optional)
    f : hidden activation
    h_0 : (N, m), optional

    Returns
    -------
    (T + 1, N) norms (or their ``log10``), one column per sequence.
    """
    from rnn_tutor.rnn import rnn_forward

    p = check_params(params, names=("w_x", "w_h", "b_h"))
    w_h = p["w_h"]
    full = dict(p)
    if "w_y" in params and "b_y" in params:
        full.update(check_params(params)) 
    full.setdefault("w_y", np.zeros((1, w_h.shape[0])))
    full.setdefault("b_y", np.zeros(1))
    _, _, cache = rnn_forward(xs, full, h_0=h_0, f=f)
    return gradient_norms_by_distance(elman_step_jacobians(cache), ord=ord, log10=log10)


def fit_decay_rate(norms, start: int = 0, log10: bool = False) -> float:
    """The measured per-step factor ``r`` in ``‖∂h_T/∂h_{T-k}‖ ≈ C r^k``: a least-squares line through ``log norm``.

    Parameters
    ----------
    norms : (K,) norms for the distances ``k = 0 .. K-1`` (or their ``log10`` with ``log10=True``)
    start : first distance used (skip a transient)

    Returns
    -------
    float ``r = 10^slope``; ``r < 1`` means vanishing, ``r > 1`` exploding.
    """
    if not isinstance(log10, (bool, np.bool_)):
        raise ArgumentTypeError("log10", f"log10: expected True or False, received {describe(log10)}")
    v = as_float_array(norms, "norms")
    if np.isnan(v).any() or (not log10 and np.isinf(v).any()) or (log10 and np.isposinf(v).any()):
        raise NonFiniteArgumentError("norms", "norms: expected finite norms (log10 values may be -inf for an exact 0), "
                                              "received NaN or inf")
    if v.ndim != 1:
        raise ArgumentError("norms", f"norms: expected a 1-D array of norms by distance, received shape {v.shape}")
    start = check_int(start, "start", None, None, f"an integer in [0, {v.size - 1}]")
    if not 0 <= start < v.size:
        raise ArgumentError("start", f"start: expected an integer in [0, {v.size - 1}], received {start!r}.")
    if not log10 and np.any(v < 0):
        raise ArgumentError("norms", "norms: expected norms >= 0 (or pass log10=True for log10 values), received negative values")
    k = np.arange(v.size)[start:]
    with np.errstate(divide="ignore"):
        y = v[start:] if log10 else np.log10(v[start:])
    keep = np.isfinite(y)
    if keep.sum() < 2:
        raise ArgumentError("norms", f"norms: need at least two finite, positive norms from distance {start} on to fit a rate, "
                         f"received {int(keep.sum())}")
    slope = np.polyfit(k[keep], y[keep], 1)[0]
    return float(10.0 ** slope)


def gradient_decay_curve(sigma_max: float, f: str | Activation = "tanh", T: int = 50, m: int = 16, seed: int = 0,
                         kind: str = "orthogonal", input_scale: float = 0.5) -> dict:
    """The gradient-norm decay of one random Elman RNN with a chosen ``σ_max(w_h)`` (the explorer's logic).

    ``w_h = random_recurrent_matrix(m, sigma_max, rng, kind)``, ``w_x (m, 1) ~ N(0, 1)``,
    ``b_h = 0``, ``h_0 = 0`` and one input sequence ``x_t ~ N(0, input_scale²)`` of length ``T``,
    all from ``default_rng(seed)``.

    Returns
    -------
    dict with ``log10_norms (T + 1,)`` (``log10 ‖∂h_T/∂h_{T-k}‖``, ``k = 0 .. T``), ``log10_bound (T + 1,)``
    (``k log10(γσ_max)``), ``rate_bound = γσ_max``, ``rate_measured`` (fitted, see :func:`fit_decay_rate`)
    and ``norm_T1 = ‖∂h_T/∂h_1‖`` (distance ``T - 1``; ``inf``/``0`` beyond float64).
    """
    T = _check_T(T)
    m = check_int(m, "m", 1, 4096, "a number of hidden units")
    sigma_max = check_real(sigma_max, "sigma_max", 0.0, 1e3, what="a singular value")
    input_scale = check_real(input_scale, "input_scale", 0.0, 1e3, what="a standard deviation")
    check_choice(kind, "kind", ("gaussian", "orthogonal"))
    seed = check_int(seed, "seed", 0, None)
    check_elements((T, m, m), "Jacobians (T, m, m)", "T")
    act = get_activation(f, "f")
    rng = np.random.default_rng(seed)
    w_h = random_recurrent_matrix(m, sigma_max, rng, kind)
    params = {"w_x": rng.standard_normal((m, 1)), "w_h": w_h, "b_h": np.zeros(m)}
    xs = float(input_scale) * rng.standard_normal((T, 1, 1))
    log_norms = elman_gradient_norms(xs, params, f=act, log10=True)[:, 0]
    rate = act.deriv_bound * float(sigma_max)
    with np.errstate(divide="ignore"):
        log_bound = np.arange(T + 1) * np.log10(rate) if rate > 0 else np.r_[0.0, np.full(T, -np.inf)]
    measured = fit_decay_rate(log_norms, log10=True) if np.isfinite(log_norms).sum() >= 2 else 0.0
    with np.errstate(over="ignore"):
        norm_T1 = float(10.0 ** log_norms[T - 1])
    return {"log10_norms": log_norms, "log10_bound": log_bound, "rate_bound": rate,
            "rate_measured": measured, "norm_T1": norm_T1}
