"""The long short-term memory (LSTM) cell, exactly as PyTorch's ``nn.LSTM`` defines it.

For one step, with column vectors, ``σ`` the logistic sigmoid and ``⊙`` the
element-wise product::

    i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)        input gate
    f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)        forget gate
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)     candidate values ("cell gate")
    o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)        output gate
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                       cell state
    h_t = o_t ⊙ tanh(c_t)                                 hidden state (the output)

The cell state is updated by addition, and its only multiplicative factor from
one step to the next is ``f_t``: with ``f_t ≈ 1`` the gradient ``∂c_t/∂c_{t-1}``
is close to the identity, so it survives many steps.

Parameters (PyTorch's names in brackets), the four gates stacked in the order
``(i, f, g, o)``, with two bias vectors exactly as in PyTorch (only their sum
matters for the output, but both are kept so that weights copy one-to-one)::

    w_ih : (4m, d)  = [W_ii; W_if; W_ig; W_io]   (weight_ih_l0)
    w_hh : (4m, m)  = [W_hi; W_hf; W_hg; W_ho]   (weight_hh_l0)
    b_ih : (4m,)    = [b_ii; b_if; b_ig; b_io]   (bias_ih_l0)
    b_hh : (4m,)    = [b_hi; b_hf; b_hg; b_ho]   (bias_hh_l0)

Copying to PyTorch (float64)::

    lstm = torch.nn.LSTM(d, m).double()
    with torch.no_grad():
        for key, name in TORCH_NAMES.items():
            getattr(lstm, name).copy_(torch.from_numpy(params[key]))

and back: ``params = {k: getattr(lstm, n).detach().double().numpy() for k, n in TORCH_NAMES.items()}``.
The state is the pair ``(h, c)``, each ``(N, m)``; data are ``xs (T, N, d)``, ``hs (T, N, m)``.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from rnn_tutor.cells import Cell
from rnn_tutor.gru import PARAM_KEYS, TORCH_NAMES, check_gated_params, check_sequence, check_state
from rnn_tutor.validation import (overflow_is_error, ArgumentError, ArgumentTypeError, Cache, as_float_array, check_array, check_cache,
                                  check_elements, check_int, check_real, check_rng, check_shape, describe)

__all__ = ["GATES", "PARAM_KEYS", "TORCH_NAMES", "init_lstm_params", "lstm_step", "lstm_step_backward",
           "lstm_forward", "lstm_backward", "lstm_step_jacobians", "LSTM"]

GATES = ("i", "f", "g", "o")


def _sigmoid_(a: np.ndarray) -> np.ndarray:
    """In place: ``a <- σ(a) = (1 + tanh(a/2)) / 2`` (no overflow); returns ``a``."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def init_lstm_params(d: int, m: int, rng: np.random.Generator, forget_bias: float = 0.0) -> dict[str, np.ndarray]:
    """PyTorch's initialisation (every entry uniform in ``[-1/sqrt(m), 1/sqrt(m)]``), plus an optional forget bias.

    ``forget_bias`` is added to the ``f`` rows of ``b_ih`` (PyTorch's default is 0; a value near 1
    starts the cell with ``f_t ≈ σ(1) ≈ 0.73``, i.e. with a longer memory).

    Returns ``w_ih (4m, d)``, ``w_hh (4m, m)``, ``b_ih (4m,)``, ``b_hh (4m,)``, gates stacked (i, f, g, o).
    """
    check_rng(rng)
    d, m = check_int(d, "d"), check_int(m, "m")
    check_elements((4 * m, max(d, m)), "w_ih (4m, d) or w_hh (4m, m)", "m")
    forget_bias = check_real(forget_bias, "forget_bias")
    s = 1.0 / np.sqrt(m)
    shapes = {"w_ih": (4 * m, d), "w_hh": (4 * m, m), "b_ih": (4 * m,), "b_hh": (4 * m,)}
    p = {k: rng.uniform(-s, s, size=shape) for k, shape in shapes.items()}
    p["b_ih"][m:2 * m] += forget_bias
    return p


def _check_states(h_prev, c_prev, N: int, m: int, names=("h_prev", "c_prev")):
    return check_state(h_prev, N, m, names[0]), check_state(c_prev, N, m, names[1])


@overflow_is_error
def lstm_step(x_t, h_prev, c_prev, params: Mapping):
    """One LSTM step (equations in the module docstring).

    Parameters
    ----------
    x_t : (N, d)
    h_prev, c_prev : (N, m) each, or None for zeros
    params : dict ``w_ih (4m, d)``, ``w_hh (4m, m)``, ``b_ih (4m,)``, ``b_hh (4m,)``, gates (i, f, g, o)

    Returns
    -------
    h_t, c_t : (N, m) each
    cache : dict with ``x_t, h_prev, c_prev, i_t, f_t, g_t, o_t, c_t`` and ``params``
    """
    p = check_gated_params(params, GATES)
    m, d = p["w_hh"].shape[1], p["w_ih"].shape[1]
    x_t = check_array(x_t, "x_t", ndim=2, names=("N", "d"), nonempty=True)
    check_shape(x_t, (None, d), "x_t", f"x_t holds one row of d = {d} inputs per sequence.")
    h_prev, c_prev = _check_states(h_prev, c_prev, x_t.shape[0], m)
    a = x_t @ p["w_ih"].T + p["b_ih"] + h_prev @ p["w_hh"].T + p["b_hh"]  # (N, d)@(d, 4m) + (N, m)@(m, 4m) -> (N, 4m)
    i_t, f_t = _sigmoid_(a[:, :m].copy()), _sigmoid_(a[:, m:2 * m].copy())
    g_t, o_t = np.tanh(a[:, 2 * m:3 * m]), _sigmoid_(a[:, 3 * m:].copy())
    c_t = f_t * c_prev + i_t * g_t
    h_t = o_t * np.tanh(c_t)
    cache = Cache("lstm_step", {"x_t": x_t, "h_prev": h_prev, "c_prev": c_prev, "i_t": i_t, "f_t": f_t, "g_t": g_t,
                                "o_t": o_t, "c_t": c_t, "params": p})
    return h_t, c_t, cache


@overflow_is_error
def lstm_step_backward(dh_t, dc_t, cache) -> dict[str, np.ndarray]:
    """Backward pass of :func:`lstm_step`.

    ``dh_t = ∂L/∂h_t`` and ``dc_t = ∂L/∂c_t`` (from the next step; ``None`` means zeros)::

        dc   = dc_t + dh_t ⊙ o_t ⊙ (1 - tanh²(c_t))           all the gradient reaching c_t
        ∂L/∂a^i = dc ⊙ g_t ⊙ i_t (1 - i_t)      ∂L/∂a^f = dc ⊙ c_prev ⊙ f_t (1 - f_t)
        ∂L/∂a^g = dc ⊙ i_t ⊙ (1 - g_t²)         ∂L/∂a^o = dh_t ⊙ tanh(c_t) ⊙ o_t (1 - o_t)
        ∂L/∂c_prev = dc ⊙ f_t                   ∂L/∂h_prev = W_hhᵀ ∂L/∂a

    Returns
    -------
    dict with ``x_t (N, d)``, ``h_prev (N, m)``, ``c_prev (N, m)``, ``w_ih``, ``w_hh``, ``b_ih``, ``b_hh``.
    """
    check_cache(cache, "lstm_step", ("params", "i_t", "f_t", "g_t", "o_t", "c_t", "c_prev", "x_t", "h_prev"))
    p, i, f, g, o, c = (cache[k] for k in ("params", "i_t", "f_t", "g_t", "o_t", "c_t"))
    dh_t = check_array(dh_t, "dh_t", shape=c.shape, names=("N", "m"), hint="dh_t is ∂L/∂h_t, shaped like h_t.")
    dc_t = np.zeros_like(c) if dc_t is None else check_array(dc_t, "dc_t", shape=c.shape, names=("N", "m"),
                                                             hint="dc_t is ∂L/∂c_t, shaped like c_t.")
    tc = np.tanh(c)
    dc = dc_t + dh_t * o * (1.0 - tc * tc)
    da = np.concatenate([dc * g * i * (1.0 - i), dc * cache["c_prev"] * f * (1.0 - f),
                         dc * i * (1.0 - g * g), dh_t * tc * o * (1.0 - o)], axis=1)  # (N, 4m)
    db = da.sum(axis=0)
    return {
        "x_t": da @ p["w_ih"],  # (N, 4m) @ (4m, d) -> (N, d)
        "h_prev": da @ p["w_hh"],  # (N, 4m) @ (4m, m) -> (N, m)
        "c_prev": dc * f,
        "w_ih": da.T @ cache["x_t"],  # (4m, N) @ (N, d) -> (4m, d)
        "w_hh": da.T @ cache["h_prev"],  # (4m, N) @ (N, m) -> (4m, m)
        "b_ih": db,
        "b_hh": db.copy(),
    }


@overflow_is_error
def lstm_forward(xs, params: Mapping, h_0=None, c_0=None):
    """Run the LSTM over a batch of sequences: :func:`lstm_step` for ``t = 1..T``.

    The input projection (and both biases) for all steps is one matmul; the loop
    only adds ``W_hh h_{t-1}``.  For speed the loop stores the gates internally in the
    order ``(i, f, o, g)``, so that one ``tanh`` call per step serves all four gates
    (``σ(a) = (1 + tanh(a/2)) / 2``, with the halving folded into copies of the
    weights); parameters and gradients keep PyTorch's ``(i, f, g, o)`` layout.

    Parameters
    ----------
    xs : (T, N, d)
    params : dict ``w_ih (4m, d)``, ``w_hh (4m, m)``, ``b_ih (4m,)``, ``b_hh (4m,)``, gates (i, f, g, o)
    h_0, c_0 : (N, m) each, optional (zeros)

    Returns
    -------
    hs : (T, N, m)            ``hs[t-1]`` is ``h_t``
    (h_T, c_T) : (N, m) each  the final state
    cache : dict for :func:`lstm_backward` (``ifog (T, N, 4m)``: the gates ``i_t, f_t, o_t, g_t``; ``cs``: ``c_t``)
    """
    p = check_gated_params(params, GATES)
    m, d = p["w_hh"].shape[1], p["w_ih"].shape[1]
    xs = check_sequence(xs, d)
    T, N, _ = xs.shape
    check_elements((T, N, 4 * m), "gates (T, N, 4m)", "xs")
    h_0, c_0 = _check_states(h_0, c_0, N, m, ("h_0", "c_0"))
    return _lstm_forward(xs, p, h_0, c_0)


def _lstm_forward(xs: np.ndarray, p: dict, h_0: np.ndarray, c_0: np.ndarray):
    """:func:`lstm_forward` on checked arguments (float64 ``xs (T, N, d)``, states ``(N, m)``, checked ``p``)."""
    T, N, _ = xs.shape
    m = p["w_hh"].shape[1]
    order = np.concatenate([np.arange(2 * m), np.arange(3 * m, 4 * m), np.arange(2 * m, 3 * m)])  # (i, f, g, o) -> (i, f, o, g)
    half = np.full(4 * m, 0.5)  # σ(a) = (1 + tanh(a/2)) / 2 for i, f, o
    half[3 * m:] = 1.0
    ifog = xs @ (p["w_ih"][order].T * half) + (p["b_ih"] + p["b_hh"])[order] * half  # (T, N, d) @ (d, 4m) -> (T, N, 4m)
    w_hhT = p["w_hh"][order].T * half  # (m, 4m)
    cs, tcs, hs = np.empty((T, N, m)), np.empty((T, N, m)), np.empty((T, N, m))
    h, c = h_0, c_0
    for t in range(T):
        a = ifog[t]
        a += h @ w_hhT  # (N, m) @ (m, 4m) -> (N, 4m)
        np.tanh(a, out=a)
        s = a[:, :3 * m]
        s *= 0.5
        s += 0.5  # a = [i_t, f_t, o_t, g_t]
        c = np.multiply(a[:, m:2 * m], c, out=cs[t])  # c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
        c += a[:, :m] * a[:, 3 * m:]
        tc = np.tanh(c, out=tcs[t])
        h = np.multiply(a[:, 2 * m:3 * m], tc, out=hs[t])  # h_t = o_t ⊙ tanh(c_t)
    cache = Cache("lstm_forward", {"xs": xs, "h_0": h_0, "c_0": c_0, "ifog": ifog, "cs": cs, "tcs": tcs, "hs": hs,
                                   "params": p})
    return hs, (hs[-1], cs[-1]), cache


@overflow_is_error
def lstm_backward(dhs, cache, dh_T=None, dc_T=None) -> dict[str, np.ndarray]:
    """Full BPTT through :func:`lstm_forward` (the rules of :func:`lstm_step_backward`, unrolled).

    Only ``∂L/∂h_t`` and ``∂L/∂c_t`` are carried backwards step by step; the factors that
    turn them into gate gradients come from the forward pass and are computed for all
    steps at once, and so are the weight gradients after the loop.

    Parameters
    ----------
    dhs : (T, N, m) or None
        ``∂L/∂h_t`` from outside the recurrence; ``None`` means zeros.
    cache : the cache of :func:`lstm_forward`
    dh_T, dc_T : (N, m), optional
        Extra gradients on the final state ``(h_T, c_T)``.

    Returns
    -------
    dict with ``w_ih, w_hh, b_ih, b_hh``, ``h_0 (N, m)``, ``c_0 (N, m)`` and ``xs (T, N, d)``.
    """
    check_cache(cache, "lstm_forward", ("params", "xs", "h_0", "c_0", "ifog", "cs", "tcs", "hs"))
    T, N, m = cache["hs"].shape
    dhs = None if dhs is None else check_array(dhs, "dhs", shape=(T, N, m), names=("T", "N", "m"),
                                               hint="dhs holds ∂L/∂h_t for every step, shaped like hs.")
    dh_T = None if dh_T is None else check_array(dh_T, "dh_T", shape=(N, m), names=("N", "m"),
                                                 hint="It is ∂L/∂h_T, shaped like the final hidden state.")
    dc_T = None if dc_T is None else check_array(dc_T, "dc_T", shape=(N, m), names=("N", "m"),
                                                 hint="It is ∂L/∂c_T, shaped like the final cell state.")
    return _lstm_backward(dhs, cache, dh_T, dc_T)


def _lstm_backward(dhs, cache, dh_T, dc_T) -> dict[str, np.ndarray]:
    """:func:`lstm_backward` on checked arguments (``None`` or float64 arrays of the right shapes)."""
    p, xs, h_0, c_0, ifog, cs, tcs, hs = (cache[k] for k in ("params", "xs", "h_0", "c_0", "ifog", "cs", "tcs", "hs"))
    T, N, m = hs.shape
    dhs = np.zeros((T, N, m)) if dhs is None else dhs
    dh = np.zeros((N, m)) if dh_T is None else dh_T
    dc = np.zeros((N, m)) if dc_T is None else dc_T
    i, f, o, g = ifog[..., :m], ifog[..., m:2 * m], ifog[..., 2 * m:3 * m], ifog[..., 3 * m:]
    # The factors below are built in place, to keep the number of (T, N, m) temporaries low.
    to_c = tcs * tcs  # ∂c-gradient from h: ∂L/∂c_t += ∂L/∂h_t ⊙ to_c, to_c = o_t (1 - tanh²(c_t))
    np.subtract(1.0, to_c, out=to_c)
    to_c *= o
    k_o = tcs * o  # ∂L/∂a^o = ∂L/∂h_t ⊙ k_o, k_o = tanh(c_t) o_t (1 - o_t)
    k_o *= 1.0 - o
    k = np.empty((T, N, 3, m))  # ∂L/∂a^{i, f, g} = ∂L/∂c_t ⊙ k
    # Each factor is built in a contiguous temporary and written into its strided slice of k once.
    k_i = g * i  # g_t i_t (1 - i_t)
    np.multiply(k_i, 1.0 - i, out=k[:, :, 0])
    k_f = np.empty((T, N, m))  # c_{t-1} f_t (1 - f_t); c_0 for t = 1
    np.multiply(cs[:-1], f[1:], out=k_f[1:])
    np.multiply(c_0, f[0], out=k_f[0])
    np.multiply(k_f, 1.0 - f, out=k[:, :, 1])
    k_g = g * g  # i_t (1 - g_t²)
    np.subtract(1.0, k_g, out=k_g)
    np.multiply(k_g, i, out=k[:, :, 2])
    w_hh = p["w_hh"]
    das = np.empty((T, N, 4, m))  # ∂L/∂(pre-activations), PyTorch's gate order (i, f, g, o)
    dh_tot, dc_tot = np.empty((T, N, m)), np.empty((T, N, m))
    for t in reversed(range(T)):
        dh_t = np.add(dhs[t], dh, out=dh_tot[t])  # all of ∂L/∂h_t
        dc_t = np.multiply(dh_t, to_c[t], out=dc_tot[t])
        dc_t += dc  # all of ∂L/∂c_t
        np.multiply(dc_t[:, None, :], k[t], out=das[t, :, :3])
        np.multiply(dh_t, k_o[t], out=das[t, :, 3])
        dc = dc_t * f[t]  # ∂L/∂c_{t-1}: the forget gate is the only factor on this path
        dh = das[t].reshape(N, 4 * m) @ w_hh  # (N, 4m) @ (4m, m) -> (N, m): ∂L/∂h_{t-1}
    da2 = das.reshape(T * N, 4 * m)
    db = da2.sum(axis=0)
    return {
        "w_ih": da2.T @ xs.reshape(T * N, -1),  # (4m, TN) @ (TN, d) -> (4m, d)
        # Σ_t δ_t h_{t-1}ᵀ without stacking h_{t-1}: steps 2..T read hs[:-1], step 1 reads h_0
        "w_hh": da2[N:].T @ hs[:-1].reshape((T - 1) * N, m) + da2[:N].T @ h_0,  # (4m, TN) @ (TN, m) -> (4m, m)
        "b_ih": db,
        "b_hh": db.copy(),
        "h_0": dh,
        "c_0": dc,
        "xs": das.reshape(T, N, 4 * m) @ p["w_ih"],  # (T, N, 4m) @ (4m, d) -> (T, N, d)
    }


@overflow_is_error
def lstm_step_jacobians(cache) -> np.ndarray:
    """Step Jacobians of the full LSTM state ``s_t = (h_t, c_t)``, for :mod:`rnn_tutor.gradflow`.

    ``J_t = ∂s_t/∂s_{t-1}`` is ``(2m, 2m)`` with blocks (rows ``h_t, c_t``; columns ``h_{t-1}, c_{t-1}``)::

        ∂c_t/∂c_{t-1} = diag(f_t)                                  the cell state's direct path
        ∂c_t/∂h_{t-1} = diag(k^i) W_hi + diag(k^f) W_hf + diag(k^g) W_hg
        ∂h_t/∂c_{t-1} = diag(o_t ⊙ (1 - tanh²c_t) ⊙ f_t)
        ∂h_t/∂h_{t-1} = diag(tanh c_t ⊙ o_t(1 - o_t)) W_ho + diag(o_t ⊙ (1 - tanh²c_t)) ∂c_t/∂h_{t-1}

    with ``k^i = g_t ⊙ i_t(1 - i_t)``, ``k^f = c_{t-1} ⊙ f_t(1 - f_t)``, ``k^g = i_t ⊙ (1 - g_t²)``.
    With ``f_t ≈ 1`` the ``c``-block is close to the identity.

    Returns
    -------
    (T, N, 2m, 2m) array; ``out[t-1, n]`` is ``J_t`` for sequence ``n``, state order ``(h, c)``.
    """
    check_cache(cache, "lstm_forward", ("ifog", "cs", "tcs", "c_0", "params"))
    ifog, cs, tcs, c_0 = (cache[k] for k in ("ifog", "cs", "tcs", "c_0"))
    T, N, m = cs.shape
    i, f, o, g = ifog[..., :m], ifog[..., m:2 * m], ifog[..., 2 * m:3 * m], ifog[..., 3 * m:]
    c_prevs = np.concatenate([c_0[None], cs[:-1]])
    w = cache["params"]["w_hh"].reshape(4, m, m)  # [W_hi, W_hf, W_hg, W_ho]
    k = np.stack([g * i * (1.0 - i), c_prevs * f * (1.0 - f), i * (1.0 - g * g)], axis=2)  # (T, N, 3, m)
    dc_dh = np.einsum("tngi,gij->tnij", k, w[:3])  # (T, N, m, m)
    to_h = o * (1.0 - tcs * tcs)  # ∂h_t/∂c_t (diagonal)
    jac = np.zeros((T, N, 2 * m, 2 * m))
    idx = np.arange(m)
    jac[..., :m, :m] = (tcs * o * (1.0 - o))[..., None] * w[3] + to_h[..., None] * dc_dh
    jac[..., m + idx, m + idx] = f
    jac[..., idx, m + idx] = to_h * f
    jac[..., m:, :m] = dc_dh
    return jac


def _init_state(N: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    h = check_state(None, N, m, "state_0")
    return h, h.copy()


def _split_state(state, name: str):
    if state is None:
        return None, None
    if not (isinstance(state, (tuple, list)) and len(state) == 2):
        kind = ArgumentTypeError if not isinstance(state, (tuple, list)) else ArgumentError
        raise kind(name, f"{name}: expected the LSTM state as a pair (h, c) of (N, m) arrays (or None), "
                         f"received {describe(state)}")
    return state


def _named_pair(pair, name, shape):
    return tuple(None if v is None else check_array(v, f"{name}[{i}]", shape=shape, names=("N", "m"))
                 for i, v in enumerate(pair))


def _cell_forward(xs, params, state_0=None):
    h_0 = c_0 = None
    if state_0 is not None:  # name the Cell interface's argument, not lstm_forward's h_0 and c_0
        p = check_gated_params(params, GATES)
        xs = as_float_array(xs, "xs")  # a ragged list is named here, before its shape is read
        h_0, c_0 = _split_state(state_0, "state_0")
        h_0, c_0 = _named_pair((h_0, c_0), "state_0", (xs.shape[1] if xs.ndim == 3 else None, p["w_hh"].shape[1]))
    return lstm_forward(xs, params, h_0, c_0)


def _cell_backward(dhs, cache, dstate_T=None):
    dh_T, dc_T = _split_state(dstate_T, "dstate_T")
    if dstate_T is not None:
        check_cache(cache, "lstm_forward", ("hs",))
        dh_T, dc_T = _named_pair((dh_T, dc_T), "dstate_T", cache["hs"].shape[1:])
    g = lstm_backward(dhs, cache, dh_T, dc_T)
    return {k: g[k] for k in PARAM_KEYS}, g["xs"], (g["h_0"], g["c_0"])


def _cell_check(params, name="params"):
    p = check_gated_params(params, GATES, name)
    return p["w_ih"].shape[1], p["w_hh"].shape[1]


def _cell_forward_unchecked(xs, params, state_0=None):
    if state_0 is None:
        shape = (xs.shape[1], params["w_hh"].shape[1])
        state_0 = (np.zeros(shape), np.zeros(shape))
    return _lstm_forward(xs, params, *state_0)


def _cell_backward_unchecked(dhs, cache, dstate_T=None):
    g = _lstm_backward(dhs, cache, *((None, None) if dstate_T is None else dstate_T))
    return {k: g[k] for k in PARAM_KEYS}, g["xs"], (g["h_0"], g["c_0"])


LSTM = Cell("lstm", PARAM_KEYS, init_lstm_params, _init_state, _cell_forward, _cell_backward, _cell_check,
            _cell_forward_unchecked, _cell_backward_unchecked)
"""The LSTM as a :class:`rnn_tutor.cells.Cell`: state ``(h, c)``, parameters ``w_ih, w_hh, b_ih, b_hh``."""
