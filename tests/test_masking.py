"""Padding and masking (rnn_tutor.masking): padding changes neither the outputs nor the gradients.

Every claim is checked by comparing a padded batch with each sequence run alone (no padding at
all), for every available cell (Elman, GRU, LSTM when present) and for a tuple-state test cell.
The padding is filled with large numbers, or NaN, so that any leak shows.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnn_tutor import architectures as A
from rnn_tutor import masking as M
from rnn_tutor import seq2seq as S
from rnn_tutor.cells import ELMAN
from rnn_tutor.gradcheck import max_rel_error

from test_architectures import CELLS  # noqa: E402  (the same cells, including the tuple-state test cell)

ALL = pytest.mark.parametrize("cell", list(CELLS.values()), ids=list(CELLS))


def _padded_batch(rng, lengths, d, fill):
    T = max(lengths)
    seqs = [rng.normal(size=(L, 1, d)) for L in lengths]
    xs = np.full((T, len(lengths), d), fill)
    for n, s in enumerate(seqs):
        xs[: len(s), n] = s[:, 0]
    return seqs, xs


def _leaves(state):
    return list(state) if isinstance(state, tuple) else [state]


# ----------------------------------------------------------------------------- masks and lengths

def test_lengths_and_mask_round_trip():
    lengths = np.array([3, 1, 4, 4])
    mask = M.lengths_to_mask(lengths)
    assert mask.shape == (4, 4)
    np.testing.assert_array_equal(mask[:, 1], [1, 0, 0, 0])
    np.testing.assert_array_equal(M.mask_to_lengths(mask), lengths)
    assert M.lengths_to_mask([2], T=5).shape == (5, 1)
    np.testing.assert_array_equal(M.resolve_lengths(4, 2, None, None), [4, 4])


@pytest.mark.parametrize("mask, match", [
    (np.array([[1, 1], [0, 1], [1, 1]]), r"mask: expected right padding \(1s then 0s\) in every column, received \[1, 0, 1\] for sequence 0"),
    (np.array([[1, 1], [0, 0]]) * 0.5, r"mask: expected only 0 \(padding\) and 1"),
    (np.array([[1, 0], [1, 0]]), r"lengths\): expected every length in 1\.\.2 .* received 0 for sequence 1 \(an empty sequence\)"),
])
def test_bad_masks(mask, match):
    with pytest.raises(ValueError, match=match):
        M.mask_to_lengths(mask)


def test_mask_shape_must_match_the_sequences():
    with pytest.raises(ValueError, match=r"mask: expected shape \(3, 2\) \(T, N: the first two axes of the sequences\), received shape \(2, 3\)"):
        A.many_to_one_forward(ELMAN, np.zeros((3, 2, 1)), A.init_params(ELMAN, 1, 2, 2, np.random.default_rng(0)),
                              mask=np.ones((2, 3)))
    with pytest.raises(ValueError, match="mask: expected either lengths or mask, received both"):
        M.resolve_lengths(3, 2, [3, 3], np.ones((3, 2)))


@pytest.mark.parametrize("lengths, match", [
    ([2, 0], r"lengths: expected every length in 1\.\.3 .* received 0 for sequence 1 \(an empty sequence\)"),
    ([4, 1], r"lengths: expected every length in 1\.\.3 .* received 4 for sequence 0"),
    ([1.5, 2], r"lengths: expected integer sequence lengths"),
    ([[1, 2]], r"lengths: expected shape \(2,\)"),
])
def test_bad_lengths(lengths, match):
    with pytest.raises(ValueError, match=match):
        M.check_lengths(lengths, 3, 2)


def test_pad_sequences_and_tokens():
    xs, lengths = M.pad_sequences([[1.0, 2.0], [3.0], [4.0, 5.0, 6.0]], pad_value=-1)
    assert xs.shape == (3, 3, 1)
    np.testing.assert_array_equal(lengths, [2, 1, 3])
    np.testing.assert_array_equal(xs[:, 1, 0], [3, -1, -1])
    tokens, lengths = M.pad_tokens([[4, 2], [7]], pad_id=9)
    np.testing.assert_array_equal(tokens, [[4, 7], [2, 9]])
    with pytest.raises(ValueError, match=r"seqs\[1\]: expected a non-empty .* \(an empty sequence\)"):
        M.pad_sequences([[1.0], []])
    with pytest.raises(ValueError, match=r"seqs\[1\]: expected a non-empty sequence of tokens, received an empty sequence"):
        M.pad_tokens([[1], []])
    with pytest.raises(ValueError, match=r"seqs\[1\]: expected d = 2 features like seqs\[0\]"):
        M.pad_sequences([np.zeros((2, 2)), np.zeros((2, 3))])
    with pytest.raises(ValueError, match=r"tokens: expected token ids in 0\.\.2 \(V = 3\), received 3"):
        M.one_hot(np.array([0, 3]), 3)


def test_last_valid_and_its_backward_are_adjoint():
    rng = np.random.default_rng(0)
    hs, lengths = rng.normal(size=(5, 4, 3)), np.array([5, 1, 3, 2])
    h_last = M.last_valid(hs, lengths)
    for n, L in enumerate(lengths):
        np.testing.assert_array_equal(h_last[n], hs[L - 1, n])
    g = rng.normal(size=(4, 3))
    dhs = M.last_valid_backward(g, lengths, 5)
    assert np.sum(h_last * g) == pytest.approx(np.sum(hs * dhs), rel=1e-12)  # <Ax, g> = <x, Aᵀg>
    assert np.count_nonzero(np.abs(dhs).sum(axis=2)) == 4


# ----------------------------------------------------------------------------- the cell on a padded batch

@ALL
@pytest.mark.parametrize("fill", [1e3, np.nan])
def test_padding_changes_no_state_and_is_never_read(cell, fill):
    rng = np.random.default_rng(1)
    lengths = [4, 1, 3, 4]
    seqs, xs = _padded_batch(rng, lengths, 2, fill)
    p = cell.init_params(2, 3, rng)
    hs, state_last, _ = M.masked_cell_forward(cell, xs, p, lengths)
    for n, s in enumerate(seqs):
        hs_alone, state_alone, _ = cell.forward(s, p)
        np.testing.assert_allclose(hs[: lengths[n], n], hs_alone[:, 0], rtol=0, atol=1e-13)
        assert np.all(hs[lengths[n]:, n] == 0)
        for a, b in zip(_leaves(state_last), _leaves(state_alone)):
            np.testing.assert_allclose(a[n], b[0], rtol=0, atol=1e-13)


@ALL
def test_padding_changes_no_gradient_of_the_cell(cell):
    rng = np.random.default_rng(2)
    lengths = [3, 1, 3, 2]
    seqs, xs = _padded_batch(rng, lengths, 2, 50.0)
    p = cell.init_params(2, 3, rng)
    state_0 = cell.forward(rng.normal(size=(2, 4, 2)), p)[1]  # a non-zero initial state
    hs, state_last, cache = M.masked_cell_forward(cell, xs, p, lengths, state_0)
    dhs = rng.normal(size=hs.shape)
    dstate = tuple(rng.normal(size=a.shape) for a in state_last) if isinstance(state_last, tuple) \
        else rng.normal(size=state_last.shape)
    grads, dxs, dstate_0 = M.masked_cell_backward(dhs, cache, dstate)
    total = {k: np.zeros_like(v) for k, v in p.items()}
    for n, s in enumerate(seqs):
        L = lengths[n]
        take = (lambda st: M.state_take(st, [n]))
        _, _, c = cell.forward(s, p, take(state_0))
        g, dx, ds0 = cell.backward(dhs[:L, n:n + 1], c, take(dstate))
        total = {k: total[k] + g[k] for k in total}
        np.testing.assert_allclose(dxs[:L, n], dx[:, 0], rtol=1e-10, atol=1e-13)
        assert np.all(dxs[L:, n] == 0)
        for a, b in zip(_leaves(dstate_0), _leaves(ds0)):
            np.testing.assert_allclose(a[n], b[0], rtol=1e-10, atol=1e-13)
    assert max(max_rel_error(grads, total).values()) < 1e-12


# ----------------------------------------------------------------------------- architectures: padded batch = sum of singles

@ALL
def test_many_to_one_and_many_to_many_padding_invariance(cell):
    rng = np.random.default_rng(3)
    lengths = np.array([5, 2, 4])
    seqs, xs = _padded_batch(rng, list(lengths), 3, -7.0)
    p = A.init_params(cell, 3, 4, 3, rng)
    y1, ym = rng.integers(0, 3, 3), rng.integers(0, 3, (5, 3))
    o_batch, _ = A.many_to_one_forward(cell, xs, p, lengths=lengths)
    L1, g1 = A.many_to_one_loss(cell, xs, p, y1, lengths=lengths)              # mean over N
    Lm, gm = A.many_to_many_loss(cell, xs, p, ym, mask=M.lengths_to_mask(lengths), reduction="sum")
    sums = [0.0, 0.0, {k: 0.0 for k in p}, {k: 0.0 for k in p}]
    for n, s in enumerate(seqs):
        o_alone, _ = A.many_to_one_forward(cell, s, p)
        np.testing.assert_allclose(o_batch[n], o_alone[0], rtol=1e-12, atol=1e-14)
        l1, h1 = A.many_to_one_loss(cell, s, p, y1[n:n + 1])
        lm, hm = A.many_to_many_loss(cell, s, p, ym[: lengths[n], n:n + 1], reduction="sum")
        sums = [sums[0] + l1 / 3, sums[1] + lm, {k: sums[2][k] + h1[k] / 3 for k in p},
                {k: sums[3][k] + hm[k] for k in p}]
    assert L1 == pytest.approx(sums[0], rel=1e-12) and Lm == pytest.approx(sums[1], rel=1e-12)
    assert max(max_rel_error(g1, sums[2]).values()) < 1e-12
    assert max(max_rel_error(gm, sums[3]).values()) < 1e-12


@ALL
def test_encoder_decoder_padding_invariance_on_both_sides(cell):
    rng = np.random.default_rng(4)
    lengths, target_lengths = np.array([4, 1, 3]), np.array([2, 3, 1])
    seqs, xs = _padded_batch(rng, list(lengths), 2, 9.0)
    p = S.init_seq2seq_params(cell, 2, 3, 4, rng)
    targets = rng.integers(0, 4, (3, 3))
    targets_padded = targets.copy()
    for n, U in enumerate(target_lengths):
        targets_padded[U:, n] = 99  # out of range, but padding: ignored
    L, g = S.encoder_decoder_loss(cell, xs, targets_padded, p, lengths, target_lengths, reduction="sum")
    L_sum, g_sum = 0.0, {k: 0.0 for k in p}
    for n, s in enumerate(seqs):
        l_n, g_n = S.encoder_decoder_loss(cell, s, targets[: target_lengths[n], n:n + 1], p, reduction="sum")
        L_sum, g_sum = L_sum + l_n, {k: g_sum[k] + g_n[k] for k in p}
    assert L == pytest.approx(L_sum, rel=1e-12)
    assert max(max_rel_error(g, g_sum).values()) < 1e-12
    toks, _ = S.greedy_decode(cell, xs, p, eos=3, max_len=4, lengths=lengths)
    for n, s in enumerate(seqs):
        np.testing.assert_array_equal(toks[:, n], S.greedy_decode(cell, s, p, eos=3, max_len=4)[0][:, 0])


@ALL
def test_same_weights_on_lengths_3_to_50(cell):
    """One set of weights reads any length; the many-to-one answer on a prefix equals the aligned output there."""
    rng = np.random.default_rng(5)
    p = A.init_params(cell, 2, 3, 2, rng)
    xs = rng.normal(size=(50, 1, 2))
    om, _ = A.many_to_many_forward(cell, xs, p)
    lengths = np.arange(3, 51)
    batch = np.repeat(xs, len(lengths), axis=1)  # 48 copies, each cut at its own length
    o1, _ = A.many_to_one_forward(cell, batch, p, lengths=lengths)
    np.testing.assert_allclose(o1, om[lengths - 1, 0], rtol=1e-12, atol=1e-14)
    assert sum(v.size for v in p.values()) == sum(v.size for v in A.init_params(cell, 2, 3, 2, rng).values())
