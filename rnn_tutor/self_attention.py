"""From attention over RNN states to self-attention, and what each costs in sequential steps and work.

In an encoder–decoder with attention the queries come from the decoder and the keys and values
are the encoder's states, which an RNN made one after the other.  *Self-attention* drops the
RNN: every position of one sequence queries every position of the same sequence, with learned
projections (Vaswani et al. 2017, one head, no positional encoding):

    q_t = w_q x_t,   k_t = w_k x_t,   v_t = w_v x_t          w_q, w_k : (d_k, d),  w_v : (d_v, d)
    α_{t,s} = softmax_s(q_tᵀ k_s / sqrt(d_k)),   y_t = Σ_s α_{t,s} v_s

Shapes: ``xs (T, N, d) -> ys (T, N, d_v)``, weights ``(T, T, N)`` (query, key, sequence).

:func:`count_work` runs a computation on :class:`Counted` arrays, which carry two tallies: the
number of floating-point operations, and the *depth*: the longest chain of operations that must
wait for one another, counted in matrix products (or row-wise softmaxes).  Operations at the same
depth could all run at once on parallel hardware; the depth is the number of sequential steps no
amount of hardware removes.  The RNN's depth grows with ``T`` because ``h_t`` needs ``h_{t-1}``;
self-attention's does not, but its work grows with ``T²``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from rnn_tutor.attention import _pair_softmax, _scaled_rows, _usable
from rnn_tutor.validation import (overflow_is_error, MAX_SIZE, ArgumentError, check_array, check_callable, check_elements, check_int,
                                  check_mapping, check_params, check_rng, check_shape)

__all__ = ["init_self_attention_params", "self_attention", "Counted", "count_work", "rnn_chain", "rnn_work",
           "self_attention_work"]


def init_self_attention_params(d: int, d_k: int, d_v: int, rng: np.random.Generator) -> dict:
    """``w_q, w_k (d_k, d)`` and ``w_v (d_v, d)``, uniform in ``±1/sqrt(d)``."""
    check_rng(rng)
    d, d_k, d_v = (check_int(v, n, 1, 4096) for v, n in ((d, "d"), (d_k, "d_k"), (d_v, "d_v")))
    s = 1.0 / np.sqrt(d)
    return {"w_q": rng.uniform(-s, s, (d_k, d)), "w_k": rng.uniform(-s, s, (d_k, d)), "w_v": rng.uniform(-s, s, (d_v, d))}


def _softmax(scores, axis: int):
    """Softmax along ``axis``, for plain arrays and :class:`Counted` ones alike."""
    if isinstance(scores, Counted):
        return scores.softmax(axis)
    with np.errstate(over="ignore"):  # a gap beyond float64 is -inf: weight 0, the true weight
        w = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return w / w.sum(axis=axis, keepdims=True)


@overflow_is_error
def self_attention(xs, params: Mapping) -> tuple[np.ndarray, np.ndarray]:
    """Single-head scaled dot-product self-attention over each sequence of ``xs (T, N, d)``.

    Returns ``ys (T, N, d_v)`` and the weights ``alphas (T, T, N)`` (``alphas[t, s, n]``: how much
    position ``t`` reads position ``s``).  All ``T`` outputs come from the same few matrix
    products; no output waits for another.
    """
    xs = check_array(xs, "xs")
    if xs.ndim != 3 or 0 in xs.shape:
        raise ArgumentError("xs", f"xs: expected a 3-D array (T, N, d) with T, N, d >= 1, received shape {xs.shape}")
    check_mapping(params, "params", (), "a self-attention parameter dict")
    missing = [k for k in ("w_q", "w_k", "w_v") if k not in params]
    if missing:
        raise ArgumentError("params", f"params: missing key(s) {missing}; expected keys ['w_q', 'w_k', 'w_v'], received {sorted(params)}")
    p = {k: check_array(params[k], f"params['{k}']") for k in ("w_q", "w_k", "w_v")}
    d = xs.shape[2]
    check_shape(p["w_q"], (None, d), "params['w_q']", f"w_q reads the d = {d} input features.")
    check_shape(p["w_k"], p["w_q"].shape, "params['w_k']", "w_k must have the shape of w_q (queries meet keys).")
    check_shape(p["w_v"], (None, d), "params['w_v']", f"w_v reads the d = {d} input features.")
    return _self_attention(xs, p)


def _self_attention(xs, p):
    """The computation, written once for plain and :class:`Counted` arrays; ``xs (T, N, d)``."""
    if not isinstance(xs, Counted):
        return _scaled_self_attention(xs, p)
    qs, ks, vs = xs @ p["w_q"].T, xs @ p["w_k"].T, xs @ p["w_v"].T  # three independent products: (T, N, d_k)
    scale = 1.0 / np.sqrt(p["w_q"].shape[0])
    scores = (qs.transpose(1, 0, 2) @ ks.transpose(1, 2, 0)) * scale  # every pair at once: (N, T, d_k) @ (N, d_k, T) -> (N, T, T)
    alphas = _softmax(scores, axis=2)  # over the keys
    ys = alphas @ vs.transpose(1, 0, 2)  # (N, T, T) @ (N, T, d_v) -> (N, T, d_v)
    return ys.transpose(1, 0, 2), alphas.transpose(1, 2, 0)  # (T, N, d_v), (T, T, N)


def _scaled_self_attention(xs, p):
    """:func:`_self_attention` on plain arrays, exact where the scores lie beyond float64.

    The plain computation is used whenever its scores are usable (then nothing changes); otherwise the
    scores are computed again from copies scaled by powers of two and the softmax is taken on mantissas
    and exponents (:func:`rnn_tutor.attention._pair_softmax`): huge scores give the hard argmax, not NaN.
    """
    scale = 1.0 / np.sqrt(p["w_q"].shape[0])
    with np.errstate(over="ignore", invalid="ignore"):  # a plain pass that overflows is redone below
        qs, ks = xs @ p["w_q"].T, xs @ p["w_k"].T  # (T, N, d) @ (d, d_k) -> (T, N, d_k)
        scores = (qs.transpose(1, 0, 2) @ ks.transpose(1, 2, 0)) * scale  # (N, T, d_k) @ (N, d_k, T) -> (N, T, T)
    if _usable(scores, 2):
        alphas = _softmax(scores, axis=2)  # over the keys
    else:
        (q_m, q_e), (k_m, k_e) = _scaled_rows(xs, p["w_q"]), _scaled_rows(xs, p["w_k"])  # (T, N, d_k), (T, N, 1)
        m = (q_m.transpose(1, 0, 2) @ k_m.transpose(1, 2, 0)) * scale  # (N, T, T)
        alphas = _pair_softmax(m, q_e.transpose(1, 0, 2) + k_e.transpose(1, 2, 0))  # exponents (N, T, 1) + (N, 1, T)
    ys = alphas @ (xs @ p["w_v"].T).transpose(1, 0, 2)  # (N, T, T) @ (N, T, d_v) -> (N, T, d_v)
    return ys.transpose(1, 0, 2), alphas.transpose(1, 2, 0)  # (T, N, d_v), (T, T, N)


# ----------------------------------------------------------------------------- counting work and depth

@dataclass
class _Tally:
    flops: int = 0


@dataclass
class Counted:
    """An array that counts the floating-point operations made from it and tracks its depth.

    ``depth`` is the number of dependent matrix products (or softmaxes) on the longest path
    from the inputs to this value; plain arrays (weights, inputs) have depth 0.  Elementwise
    operations add their work but no depth (they can be fused into the product before them).
    """

    value: np.ndarray
    depth: int = 0
    tally: _Tally = field(default_factory=_Tally)
    name: str = "xs"  # the argument it stands for, in error messages (count_work: ``inputs[i]``)

    def _wrap(self, value, depth, flops):
        self.tally.flops += int(flops)
        return Counted(value, depth, self.tally)

    @staticmethod
    def _parts(other):
        return (other.value, other.depth) if isinstance(other, Counted) else (np.asarray(other), 0)

    def __matmul__(self, other):
        o, od = self._parts(other)
        out = self.value @ o
        return self._wrap(out, max(self.depth, od) + 1, 2 * out.size * self.value.shape[-1])

    def __rmatmul__(self, other):
        o, od = self._parts(other)
        out = o @ self.value
        return self._wrap(out, max(self.depth, od) + 1, 2 * out.size * o.shape[-1])

    def __add__(self, other):
        o, od = self._parts(other)
        out = self.value + o
        return self._wrap(out, max(self.depth, od), out.size)

    __radd__ = __add__

    def __mul__(self, other):
        o, od = self._parts(other)
        out = self.value * o
        return self._wrap(out, max(self.depth, od), out.size)

    __rmul__ = __mul__

    def __getitem__(self, idx):
        return Counted(self.value[idx], self.depth, self.tally)

    def transpose(self, *axes):
        return Counted(self.value.transpose(*axes), self.depth, self.tally)

    def tanh(self):
        return self._wrap(np.tanh(self.value), self.depth, self.value.size)

    def softmax(self, axis: int):
        """A softmax along ``axis``: one more step (it needs the whole row), about 4 operations per entry."""
        w = np.exp(self.value - self.value.max(axis=axis, keepdims=True))
        return self._wrap(w / w.sum(axis=axis, keepdims=True), self.depth + 1, 4 * self.value.size)


def count_work(fn: Callable, *inputs) -> tuple[np.ndarray, dict]:
    """Run ``fn`` on the ``inputs`` wrapped as :class:`Counted`; return its plain result and the tallies.

    ``inputs`` are arrays of finite real numbers; ``fn`` must return a :class:`Counted` (or a list
    of them).  Returns ``(value, {"steps": depth, "flops": count})``, where ``steps`` is the depth of
    the deepest result.  A library function run by ``fn`` (e.g. :func:`rnn_chain`) names a bad input
    ``inputs[i]``.
    """
    check_callable(fn, "fn")
    tally = _Tally()
    wrapped = [Counted(check_array(x, f"inputs[{i}]"), 0, tally, f"inputs[{i}]") for i, x in enumerate(inputs)]
    out = fn(*wrapped)
    outs = out if isinstance(out, (list, tuple)) else [out]
    if not outs or not all(isinstance(o, Counted) for o in outs):
        raise ArgumentError("fn", f"fn: expected it to return a Counted array (or a list of them), received {type(out).__name__}")
    value = np.stack([o.value for o in outs]) if isinstance(out, (list, tuple)) else out.value
    return value, {"steps": max(o.depth for o in outs), "flops": tally.flops}


def rnn_chain(xs, params: Mapping) -> list:
    """The Elman recurrence ``h_t = tanh(w_x x_t + w_h h_{t-1} + b_h)`` from ``h_0 = 0``, written to run on
    :class:`Counted` arrays (or plain ones); returns ``[h_1, ..., h_T]``.

    ``xs (T, N, d)`` (plain or counted) and ``params`` (``w_x (m, d)``, ``w_h (m, m)``, ``b_h (m,)``,
    finite real numbers) are checked either way.
    """
    p = check_params(params, names=("w_x", "w_h", "b_h"))
    name = xs.name if isinstance(xs, Counted) else "xs"
    arr = check_array(xs.value if isinstance(xs, Counted) else xs, name, ndim=3, names=("T", "N", "d"), nonempty=True)
    check_shape(arr, (None, None, p["w_x"].shape[1]), name, f"The last axis holds the d = {p['w_x'].shape[1]} inputs "
                                                             "that w_x expects.")
    if not isinstance(xs, Counted):
        xs = arr
    w_x, w_h, b_h = p["w_x"], p["w_h"], p["b_h"]
    h, hs = None, []
    for t in range(arr.shape[0]):
        a = xs[t] @ w_x.T + b_h  # (N, d) @ (d, m) -> (N, m): needs only x_t
        h = (a if h is None else a + h @ w_h.T).tanh() if isinstance(a, Counted) else np.tanh(a if h is None else a + h @ w_h.T)
        hs.append(h)
    return hs


def rnn_work(T: int, d: int, m: int, N: int = 1, seed: int = 0) -> dict:
    """Sequential steps and flops of an Elman layer over ``T`` steps, counted by running it (h_0 = 0)."""
    T, d, m, N = _check_sizes(T=T, d=d, m=m, N=N)
    check_elements((T, N, max(d, m)), "inputs (T, N, d)", "T")
    rng = np.random.default_rng(check_int(seed, "seed", 0, None))
    params = {"w_x": rng.normal(size=(m, d)), "w_h": rng.normal(size=(m, m)) / np.sqrt(m), "b_h": rng.normal(size=m)}
    _, work = count_work(lambda xs: rnn_chain(xs, params), rng.normal(size=(T, N, d)))
    return work


def self_attention_work(T: int, d: int, N: int = 1, seed: int = 0) -> dict:
    """Sequential steps and flops of single-head self-attention (``d_k = d_v = d``) over ``T`` positions, counted by running it."""
    T, d, N = _check_sizes(T=T, d=d, N=N)
    check_elements((T, T, N, d), "attention weights (T, T, N) over d features", "T")
    rng = np.random.default_rng(check_int(seed, "seed", 0, None))
    p = init_self_attention_params(d, d, d, rng)

    _, work = count_work(lambda xs: _self_attention(xs, p)[0], rng.normal(size=(T, N, d)))
    return work


def _check_sizes(**sizes) -> list[int]:
    """The sizes as Python ints (0-d integer arrays and NumPy integers are accepted)."""
    for name, value in sizes.items():
        check_int(value, name, 1, None)  # "a positive integer" first, then the limit
    return [check_int(value, name, 1, 4096 if name != "N" else MAX_SIZE) for name, value in sizes.items()]
