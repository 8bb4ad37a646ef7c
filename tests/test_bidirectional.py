"""Unit tests for the bidirectional layer (rnn_tutor.bidirectional) over the Elman RNN, the GRU and the LSTM.

References: each sequence run alone, forwards and on its reversed valid part, with the
cell's own forward pass; central finite differences for every parameter of both
directions, the inputs and both initial states.  PyTorch is in test_torch_parity.py.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from rnn_tutor.bidirectional import (BIDIRECTIONAL_ELMAN, CAUSAL_PEAK_CEILING, SUFFIX, bidirectional,
                                     bidirectional_backward, bidirectional_forward, init_bidirectional_params,
                                     peak_task, reverse_sequences, split_params)
from rnn_tutor.cells import ELMAN, Cell
from rnn_tutor.gradcheck import numerical_gradients, rel_error
from rnn_tutor.gru import GRU
from rnn_tutor.lstm import LSTM

CELLS = {"elman": ELMAN, "gru": GRU, "lstm": LSTM}
SHAPES = [(1, 1, 1, 1), (4, 1, 3, 2), (3, 3, 2, 2), (5, 2, 1, 3)]  # (T, N, d, m)


def random_state(cell, N, m, rng):
    zeros = cell.init_state(N, m)
    if isinstance(zeros, tuple):
        return tuple(rng.normal(0, 0.7, z.shape) for z in zeros)
    return rng.normal(0, 0.7, zeros.shape)


def flatten_state(prefix, state):
    if isinstance(state, tuple):
        return {f"{prefix}{i}": s for i, s in enumerate(state)}
    return {prefix: state}


def unflatten_state(prefix, flat, like):
    if isinstance(like, tuple):
        return tuple(flat[f"{prefix}{i}"] for i in range(len(like)))
    return flat[prefix]


def inner(a, b):
    if isinstance(a, tuple):
        return sum(float(np.sum(x * y)) for x, y in zip(a, b))
    return float(np.sum(a * b))


def per_sequence_reference(cell, xs, params, state_0, lengths):
    """Run each sequence alone over its valid steps: forwards, and backwards on the reversed valid part."""
    p_f, p_b = split_params(params, cell)
    T, N, _ = xs.shape
    outs = []
    for n in range(N):
        L = lengths[n]
        take = (lambda s: tuple(a[n:n + 1] for a in s) if isinstance(s, tuple) else s[n:n + 1])
        hs_f, _, _ = cell.forward(xs[:L, n:n + 1], p_f, take(state_0[0]))
        hs_b, _, _ = cell.forward(xs[:L, n:n + 1][::-1], p_b, take(state_0[1]))
        out = np.zeros((T, 1, 2 * hs_f.shape[2]))
        out[:L] = np.concatenate([hs_f, hs_b[::-1]], axis=2)
        outs.append(out)
    return np.concatenate(outs, axis=1)


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("with_lengths", [False, True])
def test_matches_per_sequence_reference(name, with_lengths):
    cell, rng = CELLS[name], np.random.default_rng(0)
    T, N, d, m = 6, 4, 2, 3
    params = init_bidirectional_params(d, m, rng, cell)
    xs = rng.normal(size=(T, N, d))
    state_0 = (random_state(cell, N, m, rng), random_state(cell, N, m, rng))
    lengths = np.array([6, 2, 4, 1]) if with_lengths else np.full(N, T)
    hs, state_T, _ = bidirectional_forward(xs, params, cell, state_0, lengths if with_lengths else None)
    np.testing.assert_allclose(hs, per_sequence_reference(cell, xs, params, state_0, lengths), rtol=1e-12, atol=1e-14)
    # final states: forward after x_{L_n}, backward after x_1 (its last step), as in PyTorch's h_n
    for n, L in enumerate(lengths):
        h_f = state_T[0][0] if isinstance(state_T[0], tuple) else state_T[0]
        h_b = state_T[1][0] if isinstance(state_T[1], tuple) else state_T[1]
        np.testing.assert_allclose(h_f[n], hs[L - 1, n, :m], rtol=1e-12)
        np.testing.assert_allclose(h_b[n], hs[0, n, m:], rtol=1e-12)


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("T, N, d, m", SHAPES)
@pytest.mark.parametrize("with_lengths", [False, True])
def test_backward_matches_finite_differences(name, T, N, d, m, with_lengths):
    cell = CELLS[name]
    rng = np.random.default_rng(T + 10 * N + 100 * d + 1000 * m)
    params = init_bidirectional_params(d, m, rng, cell)
    params = {k: rng.normal(0, 0.6, v.shape) for k, v in params.items()}
    xs = rng.normal(size=(T, N, d))
    s_f, s_b = random_state(cell, N, m, rng), random_state(cell, N, m, rng)
    lengths = rng.integers(1, T + 1, size=N) if with_lengths else None
    G = rng.normal(size=(T, N, 2 * m))
    dsT = (random_state(cell, N, m, rng), random_state(cell, N, m, rng))

    def loss(q):
        p = {k: q[k] for k in params}
        state = (unflatten_state("f", q, s_f), unflatten_state("b", q, s_b))
        hs, sT, _ = bidirectional_forward(q["xs"], p, cell, state, lengths)
        return float(np.sum(G * hs)) + inner(sT[0], dsT[0]) + inner(sT[1], dsT[1])

    _, _, cache = bidirectional_forward(xs, params, cell, (s_f, s_b), lengths)
    grads, dxs, (d0_f, d0_b) = bidirectional_backward(G, cache, dsT)
    flat = {**params, "xs": xs, **flatten_state("f", s_f), **flatten_state("b", s_b)}
    num = numerical_gradients(loss, flat)
    analytic = {**grads, "xs": dxs, **flatten_state("f", d0_f), **flatten_state("b", d0_b)}
    assert set(grads) == set(params)
    for key in num:
        assert rel_error(analytic[key], num[key]) < 1e-7, key


def test_reverse_sequences():
    xs = np.arange(12.0).reshape(4, 3, 1)
    np.testing.assert_array_equal(reverse_sequences(xs), xs[::-1])
    out = reverse_sequences(xs, [4, 2, 1])
    np.testing.assert_array_equal(out[:, 0, 0], [9, 6, 3, 0])
    np.testing.assert_array_equal(out[:, 1, 0], [4, 1, 7, 10])  # 2 valid steps reversed, padding kept
    np.testing.assert_array_equal(out[:, 2, 0], [2, 5, 8, 11])
    np.testing.assert_array_equal(reverse_sequences(out, [4, 2, 1]), xs)


def test_inputs_not_modified_and_default_states():
    rng = np.random.default_rng(1)
    params = init_bidirectional_params(2, 3, rng, LSTM)
    xs = rng.normal(size=(4, 2, 2))
    before = copy.deepcopy((params, xs))
    hs, _, cache = bidirectional_forward(xs, params, LSTM)
    zero = (LSTM.init_state(2, 3), LSTM.init_state(2, 3))
    np.testing.assert_allclose(hs, bidirectional_forward(xs, params, LSTM, zero)[0])
    bidirectional_backward(np.ones_like(hs), cache)
    np.testing.assert_array_equal(xs, before[1])
    assert all(np.array_equal(params[k], before[0][k]) for k in params)


def test_cell_interface_and_width():
    assert isinstance(BIDIRECTIONAL_ELMAN, Cell)
    cell = bidirectional(GRU)
    assert cell.param_names == (*GRU.param_names, *(k + SUFFIX for k in GRU.param_names))
    rng = np.random.default_rng(2)
    p = cell.init_params(3, 4, rng)
    assert p["w_ih"].shape == p["w_ih_reverse"].shape == (12, 3)
    assert not np.array_equal(p["w_ih"], p["w_ih_reverse"])  # independent directions
    xs, G = rng.normal(size=(5, 2, 3)), rng.normal(size=(5, 2, 8))
    hs, (h_f, h_b), cache = cell.forward(xs, p)
    assert hs.shape == (5, 2, 8) and h_f.shape == h_b.shape == (2, 4)
    grads, dxs, (d_f, d_b) = cell.backward(G, cache)
    assert set(grads) == set(p) and dxs.shape == xs.shape and d_f.shape == (2, 4)
    s_f, s_b = cell.init_state(2, 4)
    assert s_f.shape == s_b.shape == (2, 4)


def test_works_inside_the_architectures_with_lengths():
    """The bidirectional Cell plugs into H4's many-to-many model; lengths make it start each sequence at its end."""
    from rnn_tutor import architectures as A
    from rnn_tutor.heads import init_head

    rng = np.random.default_rng(3)
    params = {**BIDIRECTIONAL_ELMAN.init_params(1, 3, rng), **init_head(6, 2, rng)}
    xs, labels = peak_task(4, 5, rng)
    lengths = np.array([5, 3, 2, 5])
    L, grads = A.many_to_many_loss(BIDIRECTIONAL_ELMAN, xs, params, labels, lengths=lengths)
    assert np.isfinite(L) and set(grads) == set(params)
    os_, _ = A.many_to_many_forward(BIDIRECTIONAL_ELMAN, xs, params, lengths=lengths)
    hs, _, _ = bidirectional_forward(xs, {k: params[k] for k in BIDIRECTIONAL_ELMAN.param_names}, lengths=lengths)
    np.testing.assert_allclose(os_[:2, 1], (hs[:2, 1] @ params["w_y"].T + params["b_y"]), rtol=1e-12)


def test_peak_task_labels_and_causal_ceiling():
    rng = np.random.default_rng(0)
    xs, labels = peak_task(50, 7, rng)
    x = xs[..., 0]
    for n in range(50):
        for t in range(7):
            left = x[t - 1, n] if t > 0 else -np.inf
            right = x[t + 1, n] if t < 6 else -np.inf
            assert labels[t, n] == int(x[t, n] > left and x[t, n] > right)
    # the best left-to-right rule reaches 7/8 on average
    xs, labels = peak_task(40000, 9, np.random.default_rng(1))
    x = xs[..., 0]
    prev = np.concatenate([np.full((1, x.shape[1]), -np.inf), x[:-1]])
    guess = (x > prev) & (x > 0.5)
    guess[-1] = labels[-1]  # at t = T the past decides
    assert abs((guess == labels).mean() - CAUSAL_PEAK_CEILING) < 0.005


def test_bad_input():
    rng = np.random.default_rng(0)
    params = init_bidirectional_params(2, 3, rng)
    xs = rng.normal(size=(4, 2, 2))
    with pytest.raises(ValueError, match=r"missing key\(s\) \['w_x_reverse', 'w_h_reverse', 'b_h_reverse'\]"):
        bidirectional_forward(xs, {k: params[k] for k in ("w_x", "w_h", "b_h")})
    with pytest.raises(ValueError, match=r"lengths: expected every length in 1\.\.4"):
        bidirectional_forward(xs, params, lengths=[5, 1])
    with pytest.raises(ValueError, match=r"lengths: expected shape \(2,\)"):
        bidirectional_forward(xs, params, lengths=[1, 2, 3])
    with pytest.raises(ValueError, match=r"state_0: expected a pair \(forward direction, backward direction\)"):
        bidirectional_forward(xs, params, state_0=np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"cell: expected a rnn_tutor.cells.Cell"):
        bidirectional_forward(xs, params, cell="gru")
    hs, _, cache = bidirectional_forward(xs, params)
    with pytest.raises(ValueError, match=r"dhs: expected shape \(4, 2, 6\)"):
        bidirectional_backward(np.zeros((4, 2, 3)), cache)
    with pytest.raises(ValueError, match=r"T: expected an integer >= 2"):
        peak_task(3, 1, rng)


# ----------------------------------------------------------------------------- bad arguments (regressions)

def test_reverse_sequences_names_an_empty_xs():
    # regression: xs[:0] was reported as "T: expected a positive integer" (T is not an argument)
    xs = np.zeros((5, 3, 2))
    for lengths in (None, [1, 1, 1]):
        with pytest.raises(ValueError, match=r"^xs: expected an array \(T, N, \.\.\.\) with time on axis 0 and T, N >= 1, "
                                             r"received shape \(0, 3, 2\)"):
            reverse_sequences(xs[:0], lengths)


@pytest.mark.parametrize("lengths", [None, [5, 3, 2]])
def test_the_pair_of_states_is_checked_against_the_cell(lengths):
    rng = np.random.default_rng(0)
    xs, params = rng.normal(size=(5, 3, 2)), init_bidirectional_params(2, 4, rng)
    with pytest.raises(ValueError, match=r"state_0\[1\]: expected shape \(N, m\) = \(3, 4\), received shape \(3, 5\)"):
        bidirectional_forward(xs, params, state_0=(np.zeros((3, 4)), np.zeros((3, 5))), lengths=lengths)
    _, _, cache = bidirectional_forward(xs, params, lengths=lengths)
    # the masked path used to name masked_cell_backward's dstate_last, not this function's dstate_T
    with pytest.raises(ValueError, match=r"^dstate_T\[0\]: expected shape \(N, m\) = \(3, 4\), received shape \(3, 5\)"):
        bidirectional_backward(None, cache, (np.zeros((3, 5)), np.zeros((3, 4))))
    lstm_params = init_bidirectional_params(2, 4, rng, LSTM)
    with pytest.raises(ValueError, match=r"state_0\[0\]: expected a tuple of 2 .* \(part of the bi-lstm cell's state"):
        bidirectional_forward(xs, lstm_params, LSTM, state_0=(np.zeros((3, 4)), np.zeros((3, 4))), lengths=lengths)
