"""Attention gradients against a SymPy derivation: the third reference, beside finite differences
(tests/test_attention.py) and PyTorch (tests/test_attention_torch.py).

For one sequence with a padded last step, the loss ``L = Σ G ⊙ c`` is built symbolically from the
definitions (scores, softmax over the real steps only, weighted sum), differentiated by SymPy and
evaluated at random numbers; the library's backward pass must agree to 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from rnn_tutor import attention as A

S, REAL, m, a = 3, 2, 2, 2  # three encoder steps, the last one padding


def _symbols():
    g = sp.Matrix(sp.symbols(f"g0:{m}"))
    hs = [sp.Matrix(sp.symbols(f"h{s}_0:{m}")) for s in range(S)]
    return g, hs


def _context(scores, hs):
    """Softmax over the real steps only (the padded step is left out), then the weighted sum."""
    exps = [sp.exp(e) for e in scores[:REAL]]
    total = sum(exps)
    return sum(((x / total) * h for x, h in zip(exps, hs[:REAL])), sp.zeros(m, 1))


def _compare(L, variables, values, grads):
    """SymPy's derivatives of ``L``, lambdified to NumPy and evaluated at ``values``, against ``grads``."""
    names = list(values)
    for name, syms in variables.items():
        derived = sp.lambdify(names, [sp.diff(L, x) for x in syms], "numpy")(*values.values())
        np.testing.assert_allclose(np.ravel(grads[name]), np.array(derived, dtype=float), rtol=1e-12, atol=1e-14,
                                   err_msg=name)


@pytest.mark.parametrize("seed", [0, 1])
def test_additive_attention_gradients_match_sympy(seed):
    g, hs = _symbols()
    w_q, w_k, v = sp.Matrix(a, m, sp.symbols(f"q0:{a * m}")), sp.Matrix(a, m, sp.symbols(f"k0:{a * m}")), \
        sp.Matrix(sp.symbols(f"v0:{a}"))
    scores = [(v.T * (w_q * g + w_k * h).applyfunc(sp.tanh))[0] for h in hs]
    G = sp.Matrix(sp.symbols(f"G0:{m}"))
    L = (G.T * _context(scores, hs))[0]

    rng = np.random.default_rng(seed)
    num = {"query": rng.normal(size=m), "hs": rng.normal(size=(S, m)), "w_q": rng.normal(size=(a, m)),
           "w_k": rng.normal(size=(a, m)), "v": rng.normal(size=a), "G": rng.normal(size=m)}
    variables = {"query": list(g), "hs": [x for h in hs for x in h], "w_q": list(w_q), "w_k": list(w_k), "v": list(v)}
    values = dict(zip(variables["query"], num["query"]))
    values.update(zip(variables["hs"], num["hs"].ravel()))
    values.update(zip(variables["w_q"], num["w_q"].ravel()))
    values.update(zip(variables["w_k"], num["w_k"].ravel()))
    values.update(zip(variables["v"], num["v"]))
    values.update(zip(list(G), num["G"]))

    mask = np.array([[1.0], [1.0], [0.0]])
    _, _, cache = A.additive_attention(num["query"][None], num["hs"][:, None], {k: num[k] for k in ("w_q", "w_k", "v")}, mask)
    grads = A.additive_attention_backward(num["G"][None], cache)
    _compare(L, variables, values, grads)


@pytest.mark.parametrize("general", [False, True])
def test_dot_attention_gradients_match_sympy(general):
    g, hs = _symbols()
    w_a = sp.Matrix(m, m, sp.symbols(f"a0:{m * m}")) if general else sp.eye(m)
    scores = [(g.T * w_a * h)[0] for h in hs]
    G = sp.Matrix(sp.symbols(f"G0:{m}"))
    L = (G.T * _context(scores, hs))[0]

    rng = np.random.default_rng(3)
    num = {"query": rng.normal(size=m), "hs": rng.normal(size=(S, m)), "w_a": rng.normal(size=(m, m)), "G": rng.normal(size=m)}
    variables = {"query": list(g), "hs": [x for h in hs for x in h]}
    if general:
        variables["w_a"] = list(w_a)
    values = dict(zip(variables["query"], num["query"]))
    values.update(zip(variables["hs"], num["hs"].ravel()))
    values.update(zip(list(G), num["G"]))
    if general:
        values.update(zip(variables["w_a"], num["w_a"].ravel()))

    mask = np.array([[1.0], [1.0], [0.0]])
    _, _, cache = A.dot_attention(num["query"][None], num["hs"][:, None], mask, num["w_a"] if general else None)
    grads = A.dot_attention_backward(num["G"][None], cache)
    _compare(L, variables, values, grads)
