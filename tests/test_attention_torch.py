"""Attention forward and backward equal PyTorch's (float64): the same computation built from torch
operations, and for the dot score PyTorch's own ``scaled_dot_product_attention`` (with scale 1).

Skipped when PyTorch is not installed.  The loss is ``L = Σ G ⊙ context + Σ GW ⊙ weights`` with
fixed random ``G``, ``GW``, so the gradient reaches the weights by both paths.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnn_tutor import attention as A  # noqa: E402

SHAPES = [(1, 1, 1, 1, 1), (1, 3, 2, 4, 2), (5, 1, 3, 2, 4), (6, 4, 3, 5, 2)]  # (S, N, m, m_g, a)
TOL = {"rtol": 1e-10, "atol": 1e-12}


def tensor(a, grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def _case(S, N, m, m_g, a):
    rng = np.random.default_rng(S * 100 + N * 10 + m)
    mask = np.ones((S, N))
    for n in range(N):
        mask[rng.integers(1, S + 1):, n] = 0.0
    return (rng, rng.normal(size=(N, m_g)), rng.normal(size=(S, N, m)), mask, A.init_additive_params(m_g, m, a, rng),
            rng.normal(size=(N, m)), rng.normal(size=(S, N)))


def _torch_attend(scores, hs, mask):
    """Masked softmax over positions (dim 0) and the weighted sum, in torch."""
    alpha = torch.softmax(scores.masked_fill(torch.from_numpy(mask == 0), float("-inf")), dim=0)  # (S, N)
    return (alpha[..., None] * hs).sum(dim=0), alpha


@pytest.mark.parametrize("S, N, m, m_g, a", SHAPES)
def test_additive_attention_matches_torch(S, N, m, m_g, a):
    _, g, hs, mask, p, G, GW = _case(S, N, m, m_g, a)
    tg, ths = tensor(g, True), tensor(hs, True)
    tp = {k: tensor(v, True) for k, v in p.items()}
    u = torch.tanh(ths @ tp["w_k"].T + (tg @ tp["w_q"].T)[None])
    c_t, alpha_t = _torch_attend(u @ tp["v"], ths, mask)
    ((c_t * tensor(G)).sum() + (alpha_t * tensor(GW)).sum()).backward()

    c, alpha, cache = A.additive_attention(g, hs, p, mask)
    grads = A.additive_attention_backward(G, cache, GW)
    np.testing.assert_allclose(c, c_t.detach().numpy(), **TOL)
    np.testing.assert_allclose(alpha, alpha_t.detach().numpy(), **TOL)
    np.testing.assert_allclose(grads["query"], tg.grad.numpy(), **TOL)
    np.testing.assert_allclose(grads["hs"], ths.grad.numpy(), **TOL)
    for k in A.ADDITIVE_NAMES:
        np.testing.assert_allclose(grads[k], tp[k].grad.numpy(), err_msg=k, **TOL)


@pytest.mark.parametrize("S, N, m, m_g, a", SHAPES)
def test_general_attention_matches_torch(S, N, m, m_g, a):
    rng, g, hs, mask, _, G, GW = _case(S, N, m, m_g, a)
    w_a = rng.normal(size=(m_g, m))
    tg, ths, tw = tensor(g, True), tensor(hs, True), tensor(w_a, True)
    scores = ((ths @ tw.T) * tg[None]).sum(dim=-1)  # gᵀ w_a h_s
    c_t, alpha_t = _torch_attend(scores, ths, mask)
    ((c_t * tensor(G)).sum() + (alpha_t * tensor(GW)).sum()).backward()

    c, alpha, cache = A.dot_attention(g, hs, mask, w_a)
    grads = A.dot_attention_backward(G, cache, GW)
    np.testing.assert_allclose(c, c_t.detach().numpy(), **TOL)
    np.testing.assert_allclose(alpha, alpha_t.detach().numpy(), **TOL)
    for ours, t in (("query", tg), ("hs", ths), ("w_a", tw)):
        np.testing.assert_allclose(grads[ours], t.grad.numpy(), err_msg=ours, **TOL)


@pytest.mark.parametrize("U", [1, 4])
@pytest.mark.parametrize("S, N, m, m_g, a", SHAPES)
def test_dot_attention_matches_torch_scaled_dot_product_attention(S, N, m, m_g, a, U):
    """``dot_attention`` is PyTorch's ``scaled_dot_product_attention`` with scale 1, keys = values = hs."""
    rng, _, hs, mask, _, _, _ = _case(S, N, m, m_g, a)
    gs, G = rng.normal(size=(U, N, m)), rng.normal(size=(U, N, m))
    tq, ths = tensor(gs, True), tensor(hs, True)
    keys = ths.transpose(0, 1)  # (N, S, m): torch wants batch-first
    allowed = torch.from_numpy(mask.T[:, None, :] > 0).expand(N, U, S)  # True = may attend
    out = torch.nn.functional.scaled_dot_product_attention(tq.transpose(0, 1), keys, keys, attn_mask=allowed, scale=1.0)
    (out * tensor(G).transpose(0, 1)).sum().backward()

    c, _, cache = A.dot_attention(gs, hs, mask)
    grads = A.dot_attention_backward(G, cache)
    np.testing.assert_allclose(c, out.detach().numpy().transpose(1, 0, 2), **TOL)
    np.testing.assert_allclose(grads["query"], tq.grad.numpy(), **TOL)
    np.testing.assert_allclose(grads["hs"], ths.grad.numpy(), **TOL)
