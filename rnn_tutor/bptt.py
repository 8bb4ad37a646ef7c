"""Backpropagation through time (BPTT) for the Elman RNN of :mod:`rnn_tutor.rnn`.

With ``a_t = w_x x_t + w_h h_{t-1} + b_h``, ``h_t = f(a_t)``, ``o_t = w_y h_t + b_y``
and ``y_t = g(o_t)``, the backward recursion is (``⊙`` is the element-wise product)

    δo_t = ∂L/∂y_t ⊙ g'(o_t)
    ∂L/∂h_t (total) = w_yᵀ δo_t + w_hᵀ δa_{t+1}        (the second term is 0 at t = T)
    δa_t = ∂L/∂h_t ⊙ f'(a_t)
    ∂L/∂w_x = Σ_t δa_t x_tᵀ,   ∂L/∂w_h = Σ_t δa_t h_{t-1}ᵀ,   ∂L/∂b_h = Σ_t δa_t
    ∂L/∂w_y = Σ_t δo_t h_tᵀ,   ∂L/∂b_y = Σ_t δo_t,           ∂L/∂h_0 = w_hᵀ δa_1

In the batched row layout every ``Σ_t`` also sums over the ``N`` sequences.
Gradients are returned in a dict with the parameter names as keys
(``"w_x"``, ``"w_h"``, ``"b_h"``, ``"w_y"``, ``"b_y"``) plus ``"h_0"`` and ``"xs"``.
"""

from __future__ import annotations

import numpy as np

from rnn_tutor.validation import overflow_is_error, ArgumentError, check_array, check_cache, check_choice, check_shape

__all__ = ["squared_error", "rnn_step_backward", "rnn_backward"]


@overflow_is_error
def squared_error(ys, ps, reduction: str = "sum"):
    """Squared-error loss ``L = ½ Σ (y - p)²`` and its gradient ``∂L/∂y = y - p``.

    Parameters
    ----------
    ys, ps : arrays of the same shape, e.g. ``(T, N, q)``: outputs and targets
    reduction : ``"sum"`` (the tutorial's loss, summed over time, batch and outputs)
        or ``"mean"`` (the same sum divided by the batch size ``N = ys.shape[-2]``, which is
        the ``N`` of ``(T, N, q)`` and of ``(N, q)``;
        for arrays of fewer than two dimensions, ``"mean"`` equals ``"sum"``).

    Returns
    -------
    L : float
    dys : array like ``ys``
    """
    ys = check_array(ys, "ys")
    ps = check_array(ps, "ps", finite=False)
    check_shape(ps, ys.shape, "ps", "Targets must have the same shape as the outputs ys.")
    check_array(ps, "ps")
    check_choice(reduction, "reduction", ("sum", "mean"))
    if reduction == "mean" and ys.ndim >= 2 and ys.shape[-2] == 0:
        raise ArgumentError("ys", f"ys: expected at least one sequence (N >= 1) for reduction='mean', received shape {ys.shape}")
    scale = 1.0 / ys.shape[-2] if (reduction == "mean" and ys.ndim >= 2) else 1.0  # N: (T, N, q) or (N, q)
    e = ys - ps
    return 0.5 * scale * float(np.sum(e * e)), scale * e


@overflow_is_error
def rnn_step_backward(dh_t, cache, dy_t=None):
    """Backward pass of one :func:`rnn_tutor.rnn.rnn_step`.

    Parameters
    ----------
    dh_t : (N, m) gradient of the loss with respect to ``h_t`` arriving from
        later time steps (zeros for the last step); the output path is added here.
    cache : the cache returned by ``rnn_step``
    dy_t : (N, q), optional gradient of the loss with respect to ``y_t``

    Returns
    -------
    dict with ``x_t (N, d)``, ``h_prev (N, m)``, ``w_x (m, d)``, ``w_h (m, m)``,
    ``b_h (m,)``, ``w_y (q, m)``, ``b_y (q,)``.
    """
    check_cache(cache, "rnn_step", ("x_t", "h_prev", "a_t", "h_t", "o_t", "params", "f", "g"))
    p, f, g = cache["params"], cache["f"], cache["g"]
    N, m = cache["h_t"].shape
    q = p["w_y"].shape[0]
    dh_t = check_array(dh_t, "dh_t", shape=(N, m), names=("N", "m"))
    dy_t = np.zeros((N, q)) if dy_t is None else check_array(dy_t, "dy_t", shape=(N, q), names=("N", "q"))
    do = dy_t * g.deriv(cache["o_t"])  # (N, q)
    dh = dh_t + do @ p["w_y"]  # (N, q) @ (q, m) -> (N, m)
    da = dh * f.deriv(cache["a_t"])  # (N, m)
    return {
        "x_t": da @ p["w_x"],  # (N, m) @ (m, d) -> (N, d)
        "h_prev": da @ p["w_h"],  # (N, m) @ (m, m) -> (N, m)
        "w_x": da.T @ cache["x_t"],  # (m, N) @ (N, d) -> (m, d)
        "w_h": da.T @ cache["h_prev"],  # (m, N) @ (N, m) -> (m, m)
        "b_h": da.sum(axis=0),
        "w_y": do.T @ cache["h_t"],  # (q, N) @ (N, m) -> (q, m)
        "b_y": do.sum(axis=0),
    }


@overflow_is_error
def rnn_backward(dys, cache, dh_T=None, dhs=None):
    """Full BPTT through a whole :func:`rnn_tutor.rnn.rnn_forward` pass.

    Parameters
    ----------
    dys : (T, N, q) or None
        ``∂L/∂y_t`` for every step (``None``: the loss does not read the outputs).
    cache : the cache returned by ``rnn_forward``
    dh_T : (N, m), optional
        Extra gradient on the final hidden state (e.g. from a decoder).
    dhs : (T, N, m), optional
        Extra gradient on every hidden state (e.g. from a layer stacked on top).

    Returns
    -------
    dict with ``w_x, w_h, b_h, w_y, b_y`` (parameter shapes), ``h_0 (N, m)`` and ``xs (T, N, d)``.
    """
    check_cache(cache, "rnn_forward", ("xs", "h_0", "as_", "hs", "os", "params", "f", "g"))
    T, N, m = cache["hs"].shape
    q = cache["params"]["w_y"].shape[0]
    if dhs is not None:
        dhs = check_array(dhs, "dhs", shape=(T, N, m), names=("T", "N", "m"))
    if dh_T is not None:
        dh_T = check_array(dh_T, "dh_T", shape=(N, m), names=("N", "m"))
    if dys is not None:
        dys = check_array(dys, "dys", shape=(T, N, q), names=("T", "N", "q"),
                          hint="dys holds ∂L/∂y_t for every step, shaped like ys.")
    return _rnn_backward(dys, cache, dh_T, dhs)


def _rnn_backward(dys, cache, dh_T, dhs) -> dict:
    """:func:`rnn_backward` on arguments that are already checked (``None`` or float64 arrays of the right shapes).

    The library's training loops validate once and then call this on every update.
    """
    p, f, g = cache["params"], cache["f"], cache["g"]
    xs, hs, as_, os_, h_0 = cache["xs"], cache["hs"], cache["as_"], cache["os"], cache["h_0"]
    T, N, m = hs.shape
    q = p["w_y"].shape[0]
    # The output path does not depend on the recurrence: one matmul for all steps.
    if dys is None:
        dos = None
        dh_out = np.zeros((T, N, m)) if dhs is None else dhs  # only read below (copied if dh_T is added)
        if dh_T is not None and dhs is not None:
            dh_out = dh_out.copy()
    else:
        dos = dys * g.deriv(os_)  # (T, N, q)
        dh_out = dos @ p["w_y"]  # (T, N, q) @ (q, m) -> (T, N, m)
        if dhs is not None:
            dh_out += dhs
    if dh_T is not None:
        dh_out[-1] += dh_T
    das = np.asarray(f.deriv(as_), dtype=np.float64)  # (T, N, m): f'(a_t), turned into δa_t in place below
    if np.may_share_memory(das, as_):  # a hand-made Activation may return its argument
        das = das.copy()
    dh = np.zeros((N, m))  # what step t + 1 sends back to h_t (nothing after the last step)
    for t in reversed(range(T)):
        dh += dh_out[t]  # all of ∂L/∂h_t: the output path plus the path through h_{t+1}
        das[t] *= dh  # δa_t = ∂L/∂h_t ⊙ f'(a_t)
        dh = das[t] @ p["w_h"]  # (N, m) @ (m, m) -> (N, m): multiply by J_t and pass back
    da2 = das.reshape(T * N, m)
    # Σ_t δa_t h_{t-1}ᵀ without stacking h_{t-1}: steps 2..T read hs[:-1], step 1 reads h_0
    dw_h = da2[N:].T @ hs[:-1].reshape((T - 1) * N, m) + das[0].T @ h_0  # (m, TN) @ (TN, m) -> (m, m)
    if dos is None:
        dw_y, db_y = np.zeros_like(p["w_y"]), np.zeros(q)
    else:
        dos2 = dos.reshape(T * N, q)
        dw_y, db_y = dos2.T @ hs.reshape(T * N, m), dos2.sum(axis=0)  # (q, TN) @ (TN, m) -> (q, m)
    return {
        "w_x": da2.T @ xs.reshape(T * N, -1),  # (m, TN) @ (TN, d) -> (m, d)
        "w_h": dw_h,
        "b_h": da2.sum(axis=0),
        "w_y": dw_y,
        "b_y": db_y,
        "h_0": dh,
        "xs": das @ p["w_x"],  # (T, N, m) @ (m, d) -> (T, N, d)
    }
