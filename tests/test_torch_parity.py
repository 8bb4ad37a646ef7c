"""Outputs and gradients of our GRU, LSTM and bidirectional layers equal PyTorch's (float64, copied weights).

Skipped when PyTorch is not installed.  The loss is ``L = Σ G ⊙ hs + Σ G_T ⊙ (final state)`` with
fixed random ``G``, so every gradient path (outputs, final states, inputs, initial states) is used.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnn_tutor.bidirectional import bidirectional_backward, bidirectional_forward, init_bidirectional_params  # noqa: E402
from rnn_tutor.cells import ELMAN  # noqa: E402
from rnn_tutor.gru import GRU, TORCH_NAMES, gru_backward, gru_forward, gru_step  # noqa: E402
from rnn_tutor.lstm import LSTM, lstm_backward, lstm_forward, lstm_step  # noqa: E402

SHAPES = [(1, 1, 1, 1), (1, 3, 2, 4), (5, 1, 3, 2), (6, 4, 3, 5)]  # (T, N, d, m)
ELMAN_NAMES = {"w_x": "weight_ih_l0", "w_h": "weight_hh_l0", "b_h": "bias_ih_l0"}


def tensor(a, grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def copy_into(module, params, names, reverse=False):
    """Copy our arrays into the module (``names``: our key -> PyTorch name); zero everything else first
    (e.g. the Elman RNN's second bias, which we do not have).  ``reverse``: also the ``_reverse`` direction."""
    with torch.no_grad():
        for p in module.parameters():
            p.zero_()
        for ours, theirs in names.items():
            getattr(module, theirs).copy_(torch.from_numpy(params[ours]))
            if reverse:
                getattr(module, theirs + "_reverse").copy_(torch.from_numpy(params[ours + "_reverse"]))


def grad_of(module, name):
    return getattr(module, name).grad.numpy()


@pytest.mark.parametrize("T, N, d, m", SHAPES)
def test_gru_matches_torch(T, N, d, m):
    rng = np.random.default_rng(T + N + d + m)
    p = GRU.init_params(d, m, rng)
    xs, h_0 = rng.normal(size=(T, N, d)), rng.normal(size=(N, m))
    G, G_T = rng.normal(size=(T, N, m)), rng.normal(size=(N, m))
    module = torch.nn.GRU(d, m).double()
    copy_into(module, p, TORCH_NAMES)
    X, H = tensor(xs, True), tensor(h_0[None], True)
    out, h_n = module(X, H)
    ((out * tensor(G)).sum() + (h_n[0] * tensor(G_T)).sum()).backward()

    hs, h_T, cache = gru_forward(xs, p, h_0)
    g = gru_backward(G, cache, G_T)
    np.testing.assert_allclose(hs, out.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(h_T, h_n[0].detach().numpy(), rtol=1e-12, atol=1e-13)
    for ours, theirs in TORCH_NAMES.items():
        np.testing.assert_allclose(g[ours], grad_of(module, theirs), rtol=1e-10, atol=1e-12, err_msg=ours)
    np.testing.assert_allclose(g["xs"], X.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g["h_0"], H.grad.numpy()[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("T, N, d, m", SHAPES)
def test_lstm_matches_torch(T, N, d, m):
    rng = np.random.default_rng(10 + T + N + d + m)
    p = LSTM.init_params(d, m, rng)
    xs, h_0, c_0 = rng.normal(size=(T, N, d)), rng.normal(size=(N, m)), rng.normal(size=(N, m))
    G, G_h, G_c = rng.normal(size=(T, N, m)), rng.normal(size=(N, m)), rng.normal(size=(N, m))
    module = torch.nn.LSTM(d, m).double()
    copy_into(module, p, TORCH_NAMES)
    X, H, C = tensor(xs, True), tensor(h_0[None], True), tensor(c_0[None], True)
    out, (h_n, c_n) = module(X, (H, C))
    ((out * tensor(G)).sum() + (h_n[0] * tensor(G_h)).sum() + (c_n[0] * tensor(G_c)).sum()).backward()

    hs, (h_T, c_T), cache = lstm_forward(xs, p, h_0, c_0)
    g = lstm_backward(G, cache, G_h, G_c)
    np.testing.assert_allclose(hs, out.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(c_T, c_n[0].detach().numpy(), rtol=1e-12, atol=1e-13)
    for ours, theirs in TORCH_NAMES.items():
        np.testing.assert_allclose(g[ours], grad_of(module, theirs), rtol=1e-10, atol=1e-12, err_msg=ours)
    np.testing.assert_allclose(g["xs"], X.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g["h_0"], H.grad.numpy()[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g["c_0"], C.grad.numpy()[0], rtol=1e-10, atol=1e-12)


def test_single_steps_match_torch_cells():
    rng = np.random.default_rng(0)
    d, m, N = 3, 4, 2
    x, h, c = rng.normal(size=(N, d)), rng.normal(size=(N, m)), rng.normal(size=(N, m))
    names = {"w_ih": "weight_ih", "w_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}
    p = GRU.init_params(d, m, rng)
    cell = torch.nn.GRUCell(d, m).double()
    copy_into(cell, p, names)
    np.testing.assert_allclose(gru_step(x, h, p)[0], cell(tensor(x), tensor(h)).detach().numpy(), rtol=1e-12)
    p = LSTM.init_params(d, m, rng)
    cell = torch.nn.LSTMCell(d, m).double()
    copy_into(cell, p, names)
    h_t, c_t, _ = lstm_step(x, h, c, p)
    th, tc = cell(tensor(x), (tensor(h), tensor(c)))
    np.testing.assert_allclose(h_t, th.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(c_t, tc.detach().numpy(), rtol=1e-12)


CASES = {"RNN": (ELMAN, ELMAN_NAMES), "GRU": (GRU, TORCH_NAMES), "LSTM": (LSTM, TORCH_NAMES)}


@pytest.mark.parametrize("kind", CASES)
@pytest.mark.parametrize("with_lengths", [False, True])
def test_bidirectional_matches_torch(kind, with_lengths):
    cell, names = CASES[kind]
    rng = np.random.default_rng(7)
    T, N, d, m = 6, 4, 3, 2
    params = init_bidirectional_params(d, m, rng, cell)
    xs = rng.normal(size=(T, N, d))
    lengths = np.array([6, 3, 1, 5]) if with_lengths else None
    G = rng.normal(size=(T, N, 2 * m))
    if lengths is not None:
        G[np.arange(T)[:, None] >= lengths[None, :]] = 0.0  # PyTorch's padded outputs are constants
    lstm = kind == "LSTM"
    s0 = [rng.normal(size=(2, N, m)) for _ in range(2 if lstm else 1)]  # (directions, N, m), as in PyTorch
    gT = [rng.normal(size=(2, N, m)) for _ in range(2 if lstm else 1)]

    module = getattr(torch.nn, kind)(d, m, bidirectional=True).double()
    copy_into(module, params, names, reverse=True)
    X = tensor(xs, True)
    S0 = [tensor(s, True) for s in s0]
    inp = torch.nn.utils.rnn.pack_padded_sequence(X, torch.tensor(lengths), enforce_sorted=False) if with_lengths else X
    out, state = module(inp, tuple(S0) if lstm else S0[0])
    if with_lengths:
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
    state = state if lstm else (state,)
    loss = (out * tensor(G)).sum() + sum((s * tensor(g)).sum() for s, g in zip(state, gT))
    loss.backward()

    def ours_state(arrays, direction):
        return tuple(a[direction] for a in arrays) if lstm else arrays[0][direction]

    hs, sT, cache = bidirectional_forward(xs, params, cell, (ours_state(s0, 0), ours_state(s0, 1)), lengths)
    grads, dxs, (d0_f, d0_b) = bidirectional_backward(G, cache, (ours_state(gT, 0), ours_state(gT, 1)))
    np.testing.assert_allclose(hs, out.detach().numpy(), rtol=1e-12, atol=1e-13)
    for direction, ours in enumerate(sT):
        ours = ours if lstm else (ours,)
        for a, s in zip(ours, state):
            np.testing.assert_allclose(a, s[direction].detach().numpy(), rtol=1e-12, atol=1e-13)
    for ours, theirs in names.items():
        np.testing.assert_allclose(grads[ours], grad_of(module, theirs), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(grads[ours + "_reverse"], grad_of(module, theirs + "_reverse"), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dxs, X.grad.numpy(), rtol=1e-10, atol=1e-12)
    for direction, d0 in enumerate((d0_f, d0_b)):
        d0 = d0 if lstm else (d0,)
        for a, s in zip(d0, S0):
            np.testing.assert_allclose(a, s.grad.numpy()[direction], rtol=1e-10, atol=1e-12)
