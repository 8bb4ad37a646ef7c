"""The gated recurrent unit (GRU), exactly as PyTorch's ``nn.GRU`` defines it.

For one step, with column vectors and ``σ`` the logistic sigmoid (``⊙`` is the
element-wise product)::

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)            reset gate
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)            update gate
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))  candidate ("new gate")
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

Where r sits: the reset gate multiplies ``W_hn h_{t-1} + b_hn`` *after* the
matrix product, bias included.  The GRU paper's final version (Cho et al. 2014,
v3) puts it before, ``W_hn (r_t ⊙ h_{t-1})``; the two are different functions,
so copied weights agree with PyTorch only in PyTorch's form, used here.
``z_t`` close to 1 keeps the old state (``h_t ≈ h_{t-1}``), which is what lets
gradients cross many steps.

Parameters (PyTorch's names in brackets), the three gates stacked in the
order ``(r, z, n)``::

    w_ih : (3m, d)  = [W_ir; W_iz; W_in]   (weight_ih_l0)
    w_hh : (3m, m)  = [W_hr; W_hz; W_hn]   (weight_hh_l0)
    b_ih : (3m,)    = [b_ir; b_iz; b_in]   (bias_ih_l0)
    b_hh : (3m,)    = [b_hr; b_hz; b_hn]   (bias_hh_l0)

Copying weights to PyTorch (float64)::

    gru = torch.nn.GRU(d, m).double()
    with torch.no_grad():
        for key, name in TORCH_NAMES.items():
            getattr(gru, name).copy_(torch.from_numpy(params[key]))

and back: ``params = {k: getattr(gru, n).detach().double().numpy() for k, n in TORCH_NAMES.items()}``.
Data follow the package convention: ``xs (T, N, d)``, ``hs (T, N, m)``, ``h_0 (N, m)``.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from rnn_tutor.cells import Cell
from rnn_tutor.validation import (overflow_is_error, ArgumentError, ArgumentTypeError, Cache, as_float_array, check_array, check_cache,
                                  check_elements, check_finite, check_int, check_rng, check_shape, describe)

__all__ = ["GATES", "PARAM_KEYS", "TORCH_NAMES", "check_gated_params", "check_sequence", "check_state",
           "init_gru_params", "gru_step", "gru_step_backward", "gru_forward", "gru_backward", "gru_step_jacobians", "GRU"]

GATES = ("r", "z", "n")
PARAM_KEYS = ("w_ih", "w_hh", "b_ih", "b_hh")
TORCH_NAMES = {"w_ih": "weight_ih_l0", "w_hh": "weight_hh_l0", "b_ih": "bias_ih_l0", "b_hh": "bias_hh_l0"}
_LAYOUTS = {1: "an Elman RNN's single block", 3: "the GRU layout (r, z, n)", 4: "the LSTM layout (i, f, g, o)"}


def _sigmoid(a: np.ndarray) -> np.ndarray:
    """σ(a) = (1 + tanh(a/2)) / 2: the logistic function without overflow in exp."""
    return 0.5 * np.tanh(0.5 * a) + 0.5


def check_gated_params(params: Mapping, gates: tuple = GATES, name: str = "params") -> dict[str, np.ndarray]:
    """Validate a gated cell's stacked parameters; return float64 arrays.

    With ``k = len(gates)`` gates, expects ``w_ih (k m, d)``, ``w_hh (k m, m)``,
    ``b_ih (k m,)`` and ``b_hh (k m,)``; ``m`` is read from the columns of ``w_hh``.
    A wrong number of rows raises a ``ValueError`` that names the gate layout.
    """
    if not isinstance(gates, (tuple, list)) or not gates or not all(isinstance(g, str) for g in gates):
        raise ArgumentTypeError("gates", f"gates: expected a tuple of gate names such as {GATES}, received {describe(gates)}")
    k, layout = len(gates), "(" + ", ".join(gates) + ")"
    if not isinstance(params, Mapping):
        raise ArgumentTypeError(name, f"{name}: expected a dict with keys {list(PARAM_KEYS)} (gates stacked {layout}), "
                                f"received {describe(params)}")
    missing = [key for key in PARAM_KEYS if key not in params]
    if missing:
        raise ArgumentError(name, f"{name}: missing key(s) {missing}; expected keys {list(PARAM_KEYS)} (PyTorch's "
                            f"weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0), received {sorted(params)}")
    p = {key: as_float_array(params[key], f"{name}['{key}']") for key in PARAM_KEYS}
    w_hh = p["w_hh"]
    if w_hh.ndim != 2 or w_hh.shape[1] == 0:
        raise ArgumentError(name, f"{name}['w_hh']: expected a 2-D array ({k}m, m) stacking the {layout} gates, "
                         f"received shape {w_hh.shape}")
    m = w_hh.shape[1]
    d = p["w_ih"].shape[1] if p["w_ih"].ndim == 2 else "d"
    expected = {"w_ih": ((k * m, d), f"({k}m, d)"), "w_hh": ((k * m, m), f"({k}m, m)"),
                "b_ih": ((k * m,), f"({k}m,)"), "b_hh": ((k * m,), f"({k}m,)")}
    for key in ("w_hh", "w_ih", "b_ih", "b_hh"):
        shape, symbolic = expected[key]
        if p[key].shape != shape:
            rows = p[key].shape[0] if p[key].ndim >= 1 else None
            hint = ""
            if rows is not None and rows % m == 0 and rows // m != k and rows // m in _LAYOUTS:
                hint = f" ({rows} = {rows // m}m rows is {_LAYOUTS[rows // m]})"
            shown = "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
            raise ArgumentError(name, f"{name}['{key}'] must stack the {layout} gates: expected {symbolic} = {shown} "
                             f"with m = {m} (the columns of w_hh), received {p[key].shape}{hint}")
    if p["w_ih"].shape[1] == 0:
        raise ArgumentError(name, f"{name}['w_ih']: expected at least one input column (d >= 1), received shape {p['w_ih'].shape}")
    for key in PARAM_KEYS:
        check_finite(p[key], f"{name}['{key}']")
    return p


def check_sequence(xs, d: int, name: str = "xs") -> np.ndarray:
    """Validate a time-major batch ``xs (T, N, d)`` with ``T, N >= 1``; return it as float64."""
    d = check_int(d, "d")
    xs = as_float_array(xs, name)
    if xs.ndim != 3:
        raise ArgumentError(name, f"{name}: expected a 3-D array (T, N, d) = (*, *, {d}), received shape {xs.shape}; "
                         "use rnn_tutor.rnn.as_sequence for a plain list of numbers")
    if xs.shape[0] == 0 or xs.shape[1] == 0:
        raise ArgumentError(name, f"{name}: expected at least one time step and one sequence (T, N >= 1), received shape {xs.shape}")
    check_shape(xs, (None, None, d), name, f"The last axis holds the d = {d} input features that w_ih expects.")
    check_finite(xs, name)
    return xs


def check_state(state, N: int, m: int, name: str) -> np.ndarray:
    """``None`` -> zeros ``(N, m)``; otherwise validate an ``(N, m)`` state and return it as float64."""
    N, m = check_int(N, "N"), check_int(m, "m")
    if state is None:
        check_elements((N, m), "state (N, m)", "N")
        return np.zeros((N, m))
    state = as_float_array(state, name)
    check_shape(state, (N, m), name, f"{name} holds m = {m} values for each of the N = {N} sequences.")
    check_finite(state, name)
    return state


def init_gru_params(d: int, m: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """PyTorch's initialisation: every entry uniform in ``[-1/sqrt(m), 1/sqrt(m)]``.

    Returns ``w_ih (3m, d)``, ``w_hh (3m, m)``, ``b_ih (3m,)``, ``b_hh (3m,)``, gates stacked (r, z, n).
    """
    check_rng(rng)
    d, m = check_int(d, "d"), check_int(m, "m")
    check_elements((3 * m, max(d, m)), "w_ih (3m, d) or w_hh (3m, m)", "m")
    s = 1.0 / np.sqrt(m)
    shapes = {"w_ih": (3 * m, d), "w_hh": (3 * m, m), "b_ih": (3 * m,), "b_hh": (3 * m,)}
    return {k: rng.uniform(-s, s, size=shape) for k, shape in shapes.items()}


@overflow_is_error
def gru_step(x_t, h_prev, params: Mapping):
    """One GRU step (equations in the module docstring).

    Parameters
    ----------
    x_t : (N, d)
    h_prev : (N, m), or None for zeros
    params : dict ``w_ih (3m, d)``, ``w_hh (3m, m)``, ``b_ih (3m,)``, ``b_hh (3m,)``, gates (r, z, n)

    Returns
    -------
    h_t : (N, m)
    cache : dict with ``x_t, h_prev, r_t, z_t, n_t, hn_t`` (``hn_t = W_hn h_prev + b_hn``) and ``params``
    """
    p = check_gated_params(params, GATES)
    m, d = p["w_hh"].shape[1], p["w_ih"].shape[1]
    x_t = check_array(x_t, "x_t", ndim=2, names=("N", "d"), nonempty=True)
    check_shape(x_t, (None, d), "x_t", f"x_t holds one row of d = {d} inputs per sequence.")
    h_prev = check_state(h_prev, x_t.shape[0], m, "h_prev")
    gi = x_t @ p["w_ih"].T + p["b_ih"]  # (N, d) @ (d, 3m) -> (N, 3m)
    gh = h_prev @ p["w_hh"].T + p["b_hh"]  # (N, m) @ (m, 3m) -> (N, 3m)
    r_t = _sigmoid(gi[:, :m] + gh[:, :m])
    z_t = _sigmoid(gi[:, m:2 * m] + gh[:, m:2 * m])
    hn_t = gh[:, 2 * m:]  # W_hn h_prev + b_hn: r_t multiplies it after the product
    n_t = np.tanh(gi[:, 2 * m:] + r_t * hn_t)
    h_t = (1.0 - z_t) * n_t + z_t * h_prev
    cache = Cache("gru_step", {"x_t": x_t, "h_prev": h_prev, "r_t": r_t, "z_t": z_t, "n_t": n_t, "hn_t": hn_t, "params": p})
    return h_t, cache


@overflow_is_error
def gru_step_backward(dh_t, cache) -> dict[str, np.ndarray]:
    """Backward pass of :func:`gru_step` given ``dh_t = ∂L/∂h_t (N, m)``.

    With ``a^r, a^z, a^n`` the gates' pre-activations::

        ∂L/∂a^n = dh_t ⊙ (1 - z_t) ⊙ (1 - n_t²)
        ∂L/∂a^z = dh_t ⊙ (h_prev - n_t) ⊙ z_t (1 - z_t)
        ∂L/∂a^r = ∂L/∂a^n ⊙ (W_hn h_prev + b_hn) ⊙ r_t (1 - r_t)
        ∂L/∂h_prev = dh_t ⊙ z_t + W_hhᵀ [∂L/∂a^r; ∂L/∂a^z; r_t ⊙ ∂L/∂a^n]

    Returns
    -------
    dict with ``x_t (N, d)``, ``h_prev (N, m)``, ``w_ih``, ``w_hh``, ``b_ih``, ``b_hh`` (parameter shapes).
    """
    check_cache(cache, "gru_step", ("params", "r_t", "z_t", "n_t", "hn_t", "h_prev", "x_t"))
    p, r, z, n, hn, h_prev = (cache[k] for k in ("params", "r_t", "z_t", "n_t", "hn_t", "h_prev"))
    dh_t = check_array(dh_t, "dh_t", shape=n.shape, names=("N", "m"), hint="dh_t is ∂L/∂h_t, shaped like h_t.")
    da_n = dh_t * (1.0 - z) * (1.0 - n * n)
    da_z = dh_t * (h_prev - n) * z * (1.0 - z)
    da_r = da_n * hn * r * (1.0 - r)
    dgi = np.concatenate([da_r, da_z, da_n], axis=1)  # (N, 3m): ∂L/∂(W_ih x + b_ih)
    dgh = np.concatenate([da_r, da_z, da_n * r], axis=1)  # (N, 3m): ∂L/∂(W_hh h + b_hh)
    return {
        "x_t": dgi @ p["w_ih"],  # (N, 3m) @ (3m, d) -> (N, d)
        "h_prev": dh_t * z + dgh @ p["w_hh"],  # (N, 3m) @ (3m, m) -> (N, m)
        "w_ih": dgi.T @ cache["x_t"],  # (3m, N) @ (N, d) -> (3m, d)
        "w_hh": dgh.T @ h_prev,  # (3m, N) @ (N, m) -> (3m, m)
        "b_ih": dgi.sum(axis=0),
        "b_hh": dgh.sum(axis=0),
    }


@overflow_is_error
def gru_forward(xs, params: Mapping, h_0=None):
    """Run the GRU over a batch of sequences: :func:`gru_step` for ``t = 1..T``.

    The input projection ``W_ih x_t + b_ih`` does not depend on the state, so it is
    one matmul for all steps; only ``W_hh h_{t-1}`` is computed inside the loop.
    (For speed, the loop evaluates ``σ(a) = (1 + tanh(a/2)) / 2`` with the halving
    folded into copies of the weights; the result is the same function.)

    Parameters
    ----------
    xs : (T, N, d)
    params : dict ``w_ih (3m, d)``, ``w_hh (3m, m)``, ``b_ih (3m,)``, ``b_hh (3m,)``, gates (r, z, n)
    h_0 : (N, m), optional (zeros)

    Returns
    -------
    hs : (T, N, m)    ``hs[t-1]`` is ``h_t``
    h_T : (N, m)      the final state (a view of ``hs[-1]``)
    cache : dict for :func:`gru_backward` (gates ``r_t, z_t, n_t`` for every step, ...)
    """
    p = check_gated_params(params, GATES)
    m, d = p["w_hh"].shape[1], p["w_ih"].shape[1]
    xs = check_sequence(xs, d)
    T, N, _ = xs.shape
    check_elements((T, N, 3 * m), "gates (T, N, 3m)", "xs")
    h_0 = check_state(h_0, N, m, "h_0")
    return _gru_forward(xs, p, h_0)


def _gru_forward(xs: np.ndarray, p: dict, h_0: np.ndarray):
    """:func:`gru_forward` on checked arguments (float64 ``xs (T, N, d)``, ``h_0 (N, m)``, checked ``p``)."""
    T, N, _ = xs.shape
    m = p["w_hh"].shape[1]
    half = np.full(3 * m, 0.5)  # halve the r and z rows: σ(a) = (1 + tanh(a/2)) / 2
    half[2 * m:] = 1.0
    b_in = p["b_ih"].copy()  # b_hr, b_hz add like input biases; b_hn stays inside r ⊙ (.)
    b_in[:2 * m] += p["b_hh"][:2 * m]
    gi = xs @ (p["w_ih"].T * half) + b_in * half  # (T, N, d) @ (d, 3m) -> (T, N, 3m), all steps at once
    w_hhT = p["w_hh"].T * half  # (m, 3m)
    b_hn = p["b_hh"][2 * m:]
    rz, ns, hns, hs = np.empty((T, N, 2 * m)), np.empty((T, N, m)), np.empty((T, N, m)), np.empty((T, N, m))
    h = h_0
    for t in range(T):
        gh = h @ w_hhT  # (N, m) @ (m, 3m) -> (N, 3m)
        g = np.add(gi[t, :, :2 * m], gh[:, :2 * m], out=rz[t])
        np.tanh(g, out=g)
        g *= 0.5
        g += 0.5  # g = [r_t, z_t]
        hn = np.add(gh[:, 2 * m:], b_hn, out=hns[t])  # W_hn h_{t-1} + b_hn
        n = np.multiply(g[:, :m], hn, out=ns[t])  # r_t sits outside the product W_hn h_{t-1}
        n += gi[t, :, 2 * m:]
        np.tanh(n, out=n)
        h_new = np.subtract(h, n, out=hs[t])  # h_t = n_t + z_t ⊙ (h_{t-1} - n_t)
        h_new *= g[:, m:]
        h_new += n
        h = h_new
    cache = Cache("gru_forward", {"xs": xs, "h_0": h_0, "rz": rz, "ns": ns, "hns": hns, "hs": hs, "params": p})
    return hs, hs[-1], cache


@overflow_is_error
def gru_backward(dhs, cache, dh_T=None) -> dict[str, np.ndarray]:
    """Full BPTT through :func:`gru_forward` (the step rules of :func:`gru_step_backward`, unrolled).

    Only ``∂L/∂h_t`` has to be carried backwards step by step: every gate gradient is
    ``∂L/∂h_t`` times a factor known from the forward pass, so those factors are computed
    for all steps at once, and so are the weight gradients after the loop.

    Parameters
    ----------
    dhs : (T, N, m) or None
        ``∂L/∂h_t`` from outside the recurrence (e.g. an output layer); ``None`` means zeros.
    cache : the cache of :func:`gru_forward`
    dh_T : (N, m), optional
        Extra gradient on the final state ``h_T`` (e.g. from a decoder).

    Returns
    -------
    dict with ``w_ih, w_hh, b_ih, b_hh`` (parameter shapes), ``h_0 (N, m)`` and ``xs (T, N, d)``.
    """
    check_cache(cache, "gru_forward", ("params", "xs", "h_0", "rz", "ns", "hns", "hs"))
    T, N, m = cache["hs"].shape
    dhs = None if dhs is None else check_array(dhs, "dhs", shape=(T, N, m), names=("T", "N", "m"),
                                               hint="dhs holds ∂L/∂h_t for every step, shaped like hs.")
    dh_T = None if dh_T is None else check_array(dh_T, "dh_T", shape=(N, m), names=("N", "m"),
                                                 hint="It is ∂L/∂h_T, shaped like the final state.")
    return _gru_backward(dhs, cache, dh_T)


def _gru_backward(dhs, cache, dh_T) -> dict[str, np.ndarray]:
    """:func:`gru_backward` on checked arguments (``None`` or float64 arrays of the right shapes)."""
    p, xs, h_0, rz, ns, hns, hs = (cache[k] for k in ("params", "xs", "h_0", "rz", "ns", "hns", "hs"))
    T, N, m = hs.shape
    dhs = np.zeros((T, N, m)) if dhs is None else dhs
    dh = np.zeros((N, m)) if dh_T is None else dh_T
    r, z = rz[..., :m], rz[..., m:]
    one_minus_z = 1.0 - z
    a_n = ns * ns  # ∂L/∂a^n = ∂L/∂h_t ⊙ a_n with a_n = (1 - z_t)(1 - n_t²), in place
    np.subtract(1.0, a_n, out=a_n)
    a_n *= one_minus_z
    k = np.empty((T, N, 3, m))  # ∂L/∂(W_hh h_{t-1} + b_hh) = ∂L/∂h_t ⊙ k, gates (r, z, n)
    # Each factor is built in a contiguous temporary and written into its strided slice of k once.
    k_r = a_n * hns  # k^r = a_n (W_hn h_{t-1} + b_hn) r_t (1 - r_t)
    k_r *= r
    np.multiply(k_r, 1.0 - r, out=k[:, :, 0])
    k_z = np.empty((T, N, m))  # k^z = (h_{t-1} - n_t) z_t (1 - z_t); h_0 for t = 1
    np.subtract(hs[:-1], ns[1:], out=k_z[1:])
    np.subtract(h_0, ns[0], out=k_z[0])
    k_z *= z
    np.multiply(k_z, one_minus_z, out=k[:, :, 1])
    np.multiply(a_n, r, out=k[:, :, 2])  # k^n = a_n r_t
    w_hh = p["w_hh"]
    dh_tot, dgh = np.empty((T, N, m)), np.empty((T, N, 3, m))
    for t in reversed(range(T)):
        d_t = np.add(dhs[t], dh, out=dh_tot[t])  # all of ∂L/∂h_t
        g = np.multiply(d_t[:, None, :], k[t], out=dgh[t]).reshape(N, 3 * m)
        dh = d_t * z[t]
        dh += g @ w_hh  # (N, 3m) @ (3m, m) -> (N, m): ∂L/∂h_{t-1}
    dgh = dgh.reshape(T, N, 3 * m)
    dgi = dgh.copy()
    np.multiply(dh_tot, a_n, out=dgi[..., 2 * m:])  # the input side of n has no r in front
    dgi2, dgh2 = dgi.reshape(T * N, 3 * m), dgh.reshape(T * N, 3 * m)
    return {
        "w_ih": dgi2.T @ xs.reshape(T * N, -1),  # (3m, TN) @ (TN, d) -> (3m, d)
        # Σ_t δ_t h_{t-1}ᵀ without stacking h_{t-1}: steps 2..T read hs[:-1], step 1 reads h_0
        "w_hh": dgh2[N:].T @ hs[:-1].reshape((T - 1) * N, m) + dgh[0].T @ h_0,  # (3m, TN) @ (TN, m) -> (3m, m)
        "b_ih": dgi2.sum(axis=0),
        "b_hh": dgh2.sum(axis=0),
        "h_0": dh,
        "xs": dgi @ p["w_ih"],  # (T, N, 3m) @ (3m, d) -> (T, N, d)
    }


@overflow_is_error
def gru_step_jacobians(cache) -> np.ndarray:
    """Step Jacobians ``J_t = ∂h_t/∂h_{t-1}`` of a :func:`gru_forward` pass, for :mod:`rnn_tutor.gradflow`.

    Differentiating ``h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}`` gives::

        J_t = diag(z_t) + diag(k^r_t) W_hr + diag(k^z_t) W_hz + diag(k^n_t) W_hn
        k^z = (h_{t-1} - n_t) ⊙ z_t(1 - z_t)         k^n = (1 - z_t) ⊙ (1 - n_t²) ⊙ r_t
        k^r = (1 - z_t) ⊙ (1 - n_t²) ⊙ (W_hn h_{t-1} + b_hn) ⊙ r_t(1 - r_t)

    The first term is the update gate's direct path: with ``z_t ≈ 1`` the Jacobian is
    close to the identity and gradients cross the step almost unchanged.

    Returns
    -------
    (T, N, m, m) array; ``out[t-1, n]`` is ``J_t`` for sequence ``n``.
    """
    check_cache(cache, "gru_forward", ("rz", "ns", "hns", "hs", "h_0", "params"))
    rz, ns, hns, hs, h_0 = (cache[k] for k in ("rz", "ns", "hns", "hs", "h_0"))
    m = hs.shape[2]
    r, z = rz[..., :m], rz[..., m:]
    h_prevs = np.concatenate([h_0[None], hs[:-1]])
    a_n = (1.0 - z) * (1.0 - ns * ns)
    k = np.stack([a_n * hns * r * (1.0 - r), (h_prevs - ns) * z * (1.0 - z), a_n * r], axis=2)  # (T, N, 3, m)
    w = cache["params"]["w_hh"].reshape(3, m, m)  # [W_hr, W_hz, W_hn]
    jac = np.einsum("tngi,gij->tnij", k, w)  # Σ_g diag(k^g) W_hg: (T, N, m, m)
    idx = np.arange(m)
    jac[..., idx, idx] += z
    return jac


def _init_state(N: int, m: int) -> np.ndarray:
    return check_state(None, N, m, "state_0")


def _cell_forward(xs, params, state_0=None):
    if state_0 is not None:  # name the Cell interface's argument, not gru_forward's h_0
        p = check_gated_params(params, GATES)
        xs = as_float_array(xs, "xs")  # a ragged list is named here, before its shape is read
        state_0 = check_array(state_0, "state_0", shape=(xs.shape[1] if xs.ndim == 3 else None,
                                                          p["w_hh"].shape[1]), names=("N", "m"))
    return gru_forward(xs, params, state_0)


def _cell_backward(dhs, cache, dstate_T=None):
    if dstate_T is not None:
        check_cache(cache, "gru_forward", ("hs",))
        dstate_T = check_array(dstate_T, "dstate_T", shape=cache["hs"].shape[1:], names=("N", "m"))
    g = gru_backward(dhs, cache, dstate_T)
    return {k: g[k] for k in PARAM_KEYS}, g["xs"], g["h_0"]


def _cell_check(params, name="params"):
    p = check_gated_params(params, GATES, name)
    return p["w_ih"].shape[1], p["w_hh"].shape[1]


def _cell_forward_unchecked(xs, params, state_0=None):
    h_0 = np.zeros((xs.shape[1], params["w_hh"].shape[1])) if state_0 is None else state_0
    return _gru_forward(xs, params, h_0)


def _cell_backward_unchecked(dhs, cache, dstate_T=None):
    g = _gru_backward(dhs, cache, dstate_T)
    return {k: g[k] for k in PARAM_KEYS}, g["xs"], g["h_0"]


GRU = Cell("gru", PARAM_KEYS, init_gru_params, _init_state, _cell_forward, _cell_backward, _cell_check,
           _cell_forward_unchecked, _cell_backward_unchecked)
"""The GRU as a :class:`rnn_tutor.cells.Cell`: state ``h (N, m)``, parameters ``w_ih, w_hh, b_ih, b_hh``."""
