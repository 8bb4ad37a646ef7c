"""The Elman RNN unfolded over k steps in SymPy (intermediate symbols), and its gradients derived
directly (``sympy.diff``) and by backpropagation through time (a sum of Jacobian products).

See :mod:`rnn_tutor.symbolic` for the equations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnn_tutor.validation import ArgumentError, ArgumentTypeError, describe
import sympy as sp

from rnn_tutor.activations import Activation, get_activation

__all__ = ["PARAMS", "UnrolledRNN", "unroll", "unrolled", "immediate_partial", "jacobian", "total_derivative",
           "grads_direct", "grads_bptt"]

PARAMS = ("w_x", "w_h", "b_h", "w_y", "b_y")


def _matrix(base: str, rows: int, cols: int, scalar: bool) -> sp.Matrix:
    """A matrix of real symbols ``base_i_j`` (0-based, like NumPy); just ``base`` when 1 × 1 and ``scalar``."""
    if scalar and rows == cols == 1:
        return sp.Matrix([[sp.Symbol(base, real=True)]])
    if cols == 1:
        return sp.Matrix(rows, 1, lambda i, _: sp.Symbol(f"{base}_{i}", real=True))
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{base}_{i}_{j}", real=True))


@dataclass(frozen=True)
class UnrolledRNN:
    """An Elman RNN unfolded over ``k`` steps, in SymPy.  Build it with :func:`unroll`.

    Attributes
    ----------
    k, d, m, q : steps, inputs, hidden units, outputs
    f, g : the hidden and output activations
    loss_at : ``"all"`` (L sums over every step) or ``"last"`` (only step k)
    params : dict of symbol matrices ``w_x (m, d)``, ``w_h (m, m)``, ``b_h (m, 1)``, ``w_y (q, m)``,
        ``b_y (q, 1)`` (plus ``h_0 (m, 1)`` when the initial state is symbolic)
    h_0 : (m, 1) zeros or symbols
    xs, ps : tuples of k input (d, 1) and target (q, 1) symbol matrices
    a, h, o, y : tuples of k intermediate-symbol matrices, ``a[t-1]`` is ``a_t``
    definitions : tuple of ``(symbol, one-step expression)`` in evaluation order
    loss : the loss in the symbols ``y_t`` and ``p_t``
    """

    k: int
    d: int
    m: int
    q: int
    f: Activation
    g: Activation
    loss_at: str
    params: dict
    h_0: sp.Matrix
    xs: tuple
    ps: tuple
    a: tuple
    h: tuple
    o: tuple
    y: tuple
    definitions: tuple
    loss: sp.Expr

    def h_prev(self, t: int) -> sp.Matrix:
        """``h_{t-1}`` as a matrix of symbols (``h_0`` for t = 1)."""
        return self.h_0 if t == 1 else self.h[t - 2]

    def step_a(self, t: int) -> sp.Matrix:
        """The one-step pre-activation ``w_x x_t + w_h h_{t-1} + b_h`` in the symbol ``h_{t-1}``."""
        p = self.params
        return p["w_x"] * self.xs[t - 1] + p["w_h"] * self.h_prev(t) + p["b_h"]


MAX_STEPS = 40
"""Largest ``k`` that :func:`unroll` accepts (the unrolled expressions grow with every step)."""
MAX_WIDTH = 8
"""Largest ``m``, ``d`` and ``q`` that :func:`unroll` accepts (every entry is a symbol)."""


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        kind = ArgumentError if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else ArgumentTypeError
        raise kind(name, f"{name}: expected a positive integer, received {value!r}")
    limit = MAX_STEPS if name == "k" else MAX_WIDTH
    if value > limit:
        raise ArgumentError(name, f"{name}: expected at most {limit} for a symbolic network (the expressions grow "
                                  f"with every {'step' if name == 'k' else 'unit'}), received {value!r}")
    return int(value)


def unroll(k: int, m: int = 1, d: int = 1, q: int = 1, f: str | Activation = "tanh",
           g: str | Activation = "identity", loss_at: str = "all", h_0: str = "zero") -> UnrolledRNN:
    """Unfold the Elman RNN over ``k`` steps with symbols for every parameter, input and target.

    Parameters
    ----------
    k : number of steps (≥ 1)
    m, d, q : hidden units, input features, outputs; with ``d = m = q = 1`` (the tutorial's scalar
        case) the symbols are plain ``w_x, w_h, b_h, w_y, b_y, x_1, p_1, h_1, ...``
    f, g : activation names
    loss_at : ``"all"`` for ``L = ½ Σ_t ‖y_t - p_t‖²`` or ``"last"`` for ``L = ½ ‖y_k - p_k‖²``
    h_0 : ``"zero"`` (the tutorial's ``h_0 = 0``) or ``"symbol"`` (then ``dL/dh_0`` is derived too)
    """
    k, m, d, q = (_positive_int(v, n) for v, n in ((k, "k"), (m, "m"), (d, "d"), (q, "q")))
    f, g = get_activation(f, "f"), get_activation(g, "g")
    if loss_at not in ("all", "last"):
        raise ArgumentError("loss_at", f"loss_at: expected 'all' or 'last', received {loss_at!r}")
    if h_0 not in ("zero", "symbol"):
        raise ArgumentError("h_0", f"h_0: expected 'zero' or 'symbol', received {h_0!r}")
    scalar = d == m == q == 1
    params = {"w_x": _matrix("w_x", m, d, scalar), "w_h": _matrix("w_h", m, m, scalar),
              "b_h": _matrix("b_h", m, 1, scalar), "w_y": _matrix("w_y", q, m, scalar),
              "b_y": _matrix("b_y", q, 1, scalar)}
    h0 = sp.zeros(m, 1) if h_0 == "zero" else _matrix("h_0", m, 1, scalar)
    if h_0 == "symbol":
        params["h_0"] = h0
    xs = tuple(_matrix(f"x_{t}", d, 1, scalar) for t in range(1, k + 1))
    ps = tuple(_matrix(f"p_{t}", q, 1, scalar) for t in range(1, k + 1))
    a, h, o, y, defs = [], [], [], [], []
    for t in range(1, k + 1):
        a_t, h_t = _matrix(f"a_{t}", m, 1, scalar), _matrix(f"h_{t}", m, 1, scalar)
        o_t, y_t = _matrix(f"o_{t}", q, 1, scalar), _matrix(f"y_{t}", q, 1, scalar)
        h_prev = h0 if t == 1 else h[-1]
        a_def = params["w_x"] * xs[t - 1] + params["w_h"] * h_prev + params["b_h"]  # (m, 1)
        defs += list(zip(a_t, a_def))
        defs += [(s, f.sym(v)) for s, v in zip(h_t, a_t)]
        defs += list(zip(o_t, params["w_y"] * h_t + params["b_y"]))  # (q, m) (m, 1) -> (q, 1)
        defs += [(s, g.sym(v)) for s, v in zip(y_t, o_t)]
        a.append(a_t), h.append(h_t), o.append(o_t), y.append(y_t)
    steps = range(1, k + 1) if loss_at == "all" else [k]
    loss = sp.Rational(1, 2) * sp.Add(*[(y[t - 1][j] - ps[t - 1][j]) ** 2 for t in steps for j in range(q)])
    return UnrolledRNN(k, d, m, q, f, g, loss_at, params, h0, xs, ps, tuple(a), tuple(h), tuple(o),
                       tuple(y), tuple(defs), loss)


def _check_net(net) -> UnrolledRNN:
    if not isinstance(net, UnrolledRNN):
        raise ArgumentError("net", f"net: expected an UnrolledRNN from rnn_tutor.symbolic.unroll, received {type(net).__name__}")
    return net


def _check_t(net: UnrolledRNN, t, wrt=None, need_wrt=False):
    if need_wrt and wrt is None:
        raise ArgumentTypeError("wrt", f"wrt: expected one of {list(net.params)}, received None")
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 1 <= t <= net.k:
        raise ArgumentError("t", f"t: expected a step 1 <= t <= k = {net.k}, received {t!r}")
    if wrt is not None and (not isinstance(wrt, str) or wrt not in net.params):
        raise ArgumentError("wrt", f"wrt: expected one of {list(net.params)}, received {wrt!r}")
    return int(t)


def unrolled(net: UnrolledRNN, expr):
    """``expr`` with every intermediate symbol replaced by its full expression in parameters and inputs.

    This is the network "unrolled" into one formula, e.g. for k = 2 and the scalar case
    ``h_2 -> tanh(b_h + w_h tanh(b_h + w_x x_1) + w_x x_2)``.
    """
    _check_net(net)
    if expr is None or isinstance(expr, (str, bytes, np.ndarray)):
        raise ArgumentTypeError("expr", f"expr: expected a SymPy expression or matrix in the net's symbols, received {describe(expr)}")
    full: dict = {}
    for sym, value in net.definitions:
        full[sym] = value.xreplace(full)
    return sp.sympify(expr).xreplace(full)


def jacobian(net: UnrolledRNN, t: int) -> sp.Matrix:
    """``J_t = ∂h_t/∂h_{t-1} = diag(f'(a_t)) w_h`` (m, m), in the symbols ``a_t``.

    Row i is ``f'(a_t,i)`` times row i of ``w_h``: ``h_{t-1}`` enters step t only through ``w_h h_{t-1}``.
    """
    t = _check_t(_check_net(net), t)
    fprime = sp.diag(*[net.f.sym_deriv(v) for v in net.a[t - 1]])
    return fprime * net.params["w_h"]  # (m, m) (m, m) -> (m, m)


def immediate_partial(net: UnrolledRNN, t: int, wrt: str) -> sp.Matrix:
    """``∂⁺h_t/∂θ`` (m, size of θ): the derivative of one step with ``h_{t-1}`` *held fixed*.

    Columns follow the row-major order of θ's entries.  Example (scalar, tanh):
    ``∂⁺h_t/∂w_h = (1 - tanh²(a_t)) h_{t-1}``, whereas the total derivative ``dh_t/dw_h`` also
    counts the path through ``h_{t-1}`` (see :func:`total_derivative`).
    """
    t = _check_t(_check_net(net), t, wrt, need_wrt=True)
    fprime = sp.diag(*[net.f.sym_deriv(v) for v in net.a[t - 1]])
    return fprime * net.step_a(t).jacobian(list(net.params[wrt]))  # (m, m) (m, |θ|) -> (m, |θ|)


def total_derivative(net: UnrolledRNN, t: int, wrt: str) -> sp.Matrix:
    """``dh_t/dθ`` (m, size of θ) by the forward recursion ``dh_t/dθ = ∂⁺h_t/∂θ + J_t dh_{t-1}/dθ``.

    The recursion starts from ``dh_0/dθ = 0``.  The result is in the
    intermediate symbols; ``unrolled(net, ...)`` of it equals ``sympy.diff`` of the unrolled ``h_t``.
    """
    t = _check_t(_check_net(net), t, wrt, need_wrt=True)
    total = sp.zeros(net.m, len(net.params[wrt]))  # h_0 depends on no parameter; a symbolic h_0
    for s in range(1, t + 1):                      # enters through ∂⁺h_1/∂h_0 = J_1
        total = immediate_partial(net, s, wrt) + jacobian(net, s) * total  # (m, |θ|) + (m, m) (m, |θ|)
    return total


def _loss_partials(net: UnrolledRNN):
    """``∂⁺L/∂h_t`` as (1, m) rows for every t, with the output layer differentiated locally."""
    gprime = [sp.Matrix([net.g.sym_deriv(v) for v in o_t]) for o_t in net.o]
    dL_dy = [sp.Matrix([sp.diff(net.loss, v) for v in y_t]) for y_t in net.y]  # (q, 1): y_t - p_t or 0
    do = [dL_dy[t].multiply_elementwise(gprime[t]) for t in range(net.k)]  # δo_t (q, 1)
    return [(do[t].T * net.params["w_y"]) for t in range(net.k)], do  # (1, q) (q, m) -> (1, m)


def grads_bptt(net: UnrolledRNN) -> dict[str, sp.Matrix]:
    """``dL/dθ`` as the sum over time of products of Jacobians (derivation (b), module docstring).

    Returns a dict of matrices shaped like ``net.params`` (``b_h``, ``b_y``, ``h_0`` as columns),
    written in the intermediate symbols ``a_t, h_t, o_t, y_t``.
    """
    _check_net(net)
    dL_dh, do = _loss_partials(net)
    hidden = [w for w in net.params if w not in ("w_y", "b_y")]  # w_x, w_h, b_h (and h_0)
    partial = {(s, w): immediate_partial(net, s, w) for s in range(1, net.k + 1) for w in hidden}
    jac = {s: jacobian(net, s) for s in range(2, net.k + 1)}
    terms: dict = {w: [] for w in hidden}
    for t in range(net.k, 0, -1):
        row = dL_dh[t - 1]  # (1, m): ∂⁺L/∂h_t J_t ⋯ J_{s+1}, grown one Jacobian at a time
        if row.is_zero_matrix:  # no loss at step t (loss_at="last")
            continue
        for s in range(t, 0, -1):
            for w in hidden:
                terms[w].append(row * partial[(s, w)])  # (1, m) (m, |θ|) -> (1, |θ|)
            if s > 1:
                row = row * jac[s]  # (1, m) (m, m) -> (1, m)
    grads = {}
    for w in hidden:
        rows, cols = net.params[w].shape
        grads[w] = sp.Matrix(rows, cols, [sp.Add(*[term[i] for term in terms[w]]) for i in range(rows * cols)])
    grads["w_y"] = sp.Matrix(net.q, net.m, lambda j, i: sp.Add(*[do[t][j] * net.h[t][i] for t in range(net.k)]))
    grads["b_y"] = sp.Matrix(net.q, 1, lambda j, _: sp.Add(*[do[t][j] for t in range(net.k)]))
    return {w: grads[w] for w in net.params}


def grads_direct(net: UnrolledRNN) -> dict[str, sp.Matrix]:
    """``dL/dθ`` by ``sympy.diff`` of the fully unrolled loss (derivation (a)).

    The expressions grow quickly with ``k`` (and exponentially in ``k`` when ``m > 1``), which is
    why (b) exists; use ``k ≤ 10`` for the scalar case and ``k ≤ 4`` when ``m = 2``.
    """
    L = unrolled(_check_net(net), net.loss)
    return {w: sym.applyfunc(lambda v: sp.diff(L, v)) for w, sym in net.params.items()}
