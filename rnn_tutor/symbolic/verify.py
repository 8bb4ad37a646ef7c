"""Check the two derivations of :mod:`rnn_tutor.symbolic.unrolled` against each other, and compile
them to NumPy: :func:`equal_symbolically`, :func:`lambdify_grads`, :func:`derive_and_verify`."""

from __future__ import annotations

import time
from typing import Callable, Mapping

import numpy as np
import sympy as sp

from rnn_tutor.symbolic.unrolled import PARAMS, UnrolledRNN, _check_net, grads_bptt, grads_direct, unroll, unrolled
from rnn_tutor.validation import (ArgumentError, ArgumentTypeError, as_float_array, check_finite, check_int, check_params,
                                  check_rng, check_shape, describe, overflow_is_error)

__all__ = ["equal_symbolically", "lambdify_grads", "derive_and_verify"]


def _atoms_as_symbols(expr: sp.Expr) -> sp.Expr:
    """Replace function applications (tanh(…), exp(…), Max(…), ...) and reciprocals such as
    ``(1 + exp(-a))**-2`` by independent symbols, leaving a polynomial in those symbols."""
    apps = expr.atoms(sp.Function, sp.Max, sp.Min)
    apps |= {p for p in expr.atoms(sp.Pow) if p.exp.is_negative and not p.base.is_Symbol}
    return expr.xreplace({app: sp.Dummy() for app in apps})


def equal_symbolically(net: UnrolledRNN, a, b) -> bool:
    """True when ``simplify(a - b) == 0`` for every entry, after unrolling the intermediate symbols.

    ``a`` and ``b`` are dicts of matrices (as returned by ``grads_*``), matrices or expressions.
    A fast sufficient test runs first: with every function application (``tanh(…)``, ``exp(…)``,
    ...) and every reciprocal of a sum replaced by an independent symbol, the difference must
    expand to the zero polynomial.  When it does not, a difference that is clearly non-zero at a
    random point (30-digit arithmetic) gives ``False`` at once; otherwise ``sympy.simplify`` decides.
    """
    _check_net(net)
    for name, value in (("a", a), ("b", b)):
        ok = isinstance(value, (Mapping, sp.MatrixBase, sp.Basic)) or (
            isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) and np.isfinite(value))
        if not ok:
            raise ArgumentTypeError(name, f"{name}: expected SymPy expressions (an expression, a Matrix or a dict of "
                                          f"them, as from grads_*), received {describe(value)}")
    if isinstance(a, Mapping) or isinstance(b, Mapping):
        if not (isinstance(a, Mapping) and isinstance(b, Mapping)):
            other = "b" if isinstance(a, Mapping) else "a"
            raise ArgumentTypeError(other, f"{other}: expected a dict of gradients like the other argument, received "
                                           f"{describe(a if other == 'a' else b)}")
        if set(a) != set(b):
            missing = sorted(set(a) - set(b)) or sorted(set(b) - set(a))
            name = "b" if set(a) - set(b) else "a"
            raise ArgumentError(name, f"{name}: expected the same gradients as the other argument, received a dict "
                                      f"missing {missing} (keys {sorted(a) if name == 'a' else sorted(b)})")
        return all(equal_symbolically(net, a[key], b[key]) for key in a)
    a = a if isinstance(a, sp.MatrixBase) else sp.Matrix([sp.sympify(a)])
    b = b if isinstance(b, sp.MatrixBase) else sp.Matrix([sp.sympify(b)])
    if a.shape != b.shape:
        return False
    for u, v in zip(a, b):
        diff = unrolled(net, u) - unrolled(net, v)
        if diff == 0 or sp.expand(_atoms_as_symbols(diff)) == 0:
            continue
        if _differs_numerically(diff) or sp.simplify(diff) != 0:
            return False
    return True


def _differs_numerically(expr: sp.Expr, n: int = 3) -> bool:
    """True if ``expr`` is clearly non-zero (|value| > 1e-20) at one of ``n`` random points (30 digits)."""
    rng = np.random.default_rng(0)
    symbols = sorted(expr.free_symbols, key=str)
    for _ in range(n):
        point = {s: sp.Float(rng.uniform(-1, 1), 30) for s in symbols}
        value = expr.xreplace(point).evalf(30)
        if value.is_number and abs(complex(value)) > 1e-20:
            return True
    return False


def _arguments(net: UnrolledRNN) -> list:
    args = [s for w in net.params for s in net.params[w]]
    return args + [s for x in net.xs for s in x] + [s for p in net.ps for s in p]


def lambdify_grads(net: UnrolledRNN, grads: Mapping[str, sp.Matrix]) -> Callable:
    """Compile gradient expressions to one NumPy function.

    The generated code first evaluates the intermediate symbols that the expressions use (in the
    order of ``net.definitions``), then common subexpressions found by ``sympy.cse``, then the
    gradients.

    Returns
    -------
    fn(params, xs, ps, h_0=None) -> dict
        ``params`` in the package layout (``w_x (m, d)``, ..., ``b_y (q,)``), ``xs (k, N, d)``,
        ``ps (k, N, q)``, ``h_0 (N, m)`` (only when the net has a symbolic ``h_0``).  Returns the
        gradients of ``Σ_n L_n`` (summed over the N sequences) in the shapes of ``params``, and
        ``h_0`` as ``(N, m)`` (one row per sequence).
    """
    _check_net(net)
    if not isinstance(grads, Mapping) or not grads or not all(
            isinstance(v, sp.MatrixBase) and k in net.params and v.shape == net.params[k].shape for k, v in grads.items()):
        raise ArgumentTypeError("grads", f"grads: expected a dict of SymPy matrices shaped like net.params (from "
                                         f"grads_direct or grads_bptt), received {describe(grads)}")
    keys = list(grads)
    exprs = [v for key in keys for v in grads[key]]
    used = set().union(*[e.free_symbols for e in exprs]) if exprs else set()
    defs = [(s, v) for s, v in net.definitions]
    if not used & {s for s, _ in defs}:
        defs = []  # an unrolled expression needs no intermediate symbols

    def cse(expressions):
        replacements, reduced = sp.cse(expressions, symbols=sp.numbered_symbols("cse_"), order="none")
        return defs + replacements, reduced

    compiled = sp.lambdify(_arguments(net), exprs, modules="numpy", cse=cse)
    symbolic_h0 = "h_0" in net.params

    @overflow_is_error
    def fn(params, xs, ps, h_0=None):
        p = check_params(params)
        xs, ps = as_float_array(xs, "xs"), as_float_array(ps, "ps")
        check_shape(xs, (net.k, None, net.d), "xs", f"The network is unfolded over k = {net.k} steps.")
        N = xs.shape[1]
        check_shape(ps, (net.k, N, net.q), "ps", "Targets are shaped like the outputs ys.")
        check_finite(xs, "xs")
        check_finite(ps, "ps")
        for key, shape in (("w_x", (net.m, net.d)), ("w_y", (net.q, net.m))):
            check_shape(p[key], shape, f"params['{key}']")
        values = [p[w].reshape(-1)[i] for w in PARAMS for i in range(p[w].size)]
        if symbolic_h0:
            if h_0 is None:
                raise ArgumentError("h_0", f"h_0: expected an array of shape ({N}, {net.m}) for this net, received None")
            h_0 = as_float_array(h_0, "h_0")
            check_shape(h_0, (N, net.m), "h_0")
            check_finite(h_0, "h_0")
            values += [h_0[:, i] for i in range(net.m)]
        values += [xs[t, :, i] for t in range(net.k) for i in range(net.d)]
        values += [ps[t, :, j] for t in range(net.k) for j in range(net.q)]
        flat = [np.broadcast_to(np.asarray(v, dtype=float), (N,)) for v in compiled(*values)]
        out, start = {}, 0
        for key in keys:
            rows, cols = grads[key].shape
            block = np.stack(flat[start:start + rows * cols], axis=1) if rows * cols else np.zeros((N, 0))
            start += rows * cols
            if key == "h_0":
                out[key] = block  # (N, m): one gradient per sequence
            else:
                total = block.sum(axis=0)
                out[key] = total.reshape(rows) if key in ("b_h", "b_y") else total.reshape(rows, cols)
        return out

    return fn


def derive_and_verify(k: int, m: int = 1, f: str = "tanh", g: str = "identity", loss_at: str = "all",
                      n_points: int = 3, symbolic: bool | None = None,
                      rng: np.random.Generator | None = None) -> dict:
    """Derive the gradients both ways, verify that they agree, and time each stage (a benchmark).

    Both derivations are compiled with :func:`lambdify_grads` and evaluated at ``n_points`` random
    parameter sets and sequences (drawn from ``rng``, default seed 0).  ``symbolic`` (default:
    ``k ≤ 3``) also runs :func:`equal_symbolically`.

    Returns
    -------
    dict with ``max_rel_error`` (float), ``symbolic_equal`` (bool or None) and ``seconds`` (a dict
    of wall-clock times: ``unroll, direct, bptt, lambdify, evaluate, symbolic, total``).
    """
    from rnn_tutor.gradcheck import rel_error

    rng = np.random.default_rng(0) if check_rng(rng, allow_none=True) is None else rng
    n_points = check_int(n_points, "n_points", 1, 100)
    if symbolic is not None and not isinstance(symbolic, (bool, np.bool_)):
        raise ArgumentTypeError("symbolic", f"symbolic: expected True, False or None, received {describe(symbolic)}")
    stamps = [time.perf_counter()]
    net = unroll(k, m, f=f, g=g, loss_at=loss_at)
    stamps.append(time.perf_counter())
    direct = grads_direct(net)
    stamps.append(time.perf_counter())
    bptt = grads_bptt(net)
    stamps.append(time.perf_counter())
    fa, fb = lambdify_grads(net, direct), lambdify_grads(net, bptt)
    stamps.append(time.perf_counter())
    worst = 0.0
    for _ in range(n_points):
        params = {"w_x": rng.normal(0, 0.7, (m, 1)), "w_h": rng.normal(0, 0.7, (m, m)), "b_h": rng.normal(0, 0.3, m),
                  "w_y": rng.normal(0, 0.7, (1, m)), "b_y": rng.normal(0, 0.3, 1)}
        xs, ps = rng.normal(size=(k, 2, 1)), rng.normal(size=(k, 2, 1))
        ga, gb = fa(params, xs, ps), fb(params, xs, ps)
        worst = max(worst, max(rel_error(ga[w], gb[w]) for w in ga))
    stamps.append(time.perf_counter())
    equal = equal_symbolically(net, direct, bptt) if (k <= 3 if symbolic is None else symbolic) else None
    stamps.append(time.perf_counter())
    names = ("unroll", "direct", "bptt", "lambdify", "evaluate", "symbolic")
    seconds = {name: b - a for name, a, b in zip(names, stamps, stamps[1:])}
    seconds["total"] = stamps[-1] - stamps[0]
    return {"max_rel_error": worst, "symbolic_equal": equal, "seconds": seconds}
