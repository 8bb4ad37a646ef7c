"""Padding and masking (rnn_tutor.masking): padding changes neither the outputs nor the gradients.

Every claim is checked by comparing a padded batch with each sequence run alone (no padding at
all), for every available cell (Elman, GRU, LSTM when present) and for a tuple-state test cell.
The padding is filled with large numbers, or NaN, so that any leak shows.
"""

from __future__ import annotations

import re

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


# ----------------------------------------------------------------------------- bad states and arguments (regressions)

def _lstm():
    return A.available_cells()["lstm"]


@pytest.mark.parametrize("name", ["elman", "gru", "lstm"])
def test_state_0_of_the_wrong_width_is_named(name):
    # regression: m + 1 columns leaked NumPy's matmul error (N + 1 rows was already caught)
    cell = A.available_cells()[name]
    rng = np.random.default_rng(0)
    xs, p = rng.normal(size=(5, 3, 2)), cell.init_params(2, 4, rng)
    for bad in [np.zeros((3, 5)), np.zeros((4, 4))]:
        state = (bad, np.zeros((3, 4))) if name == "lstm" else bad
        where = r"state_0\[0\]" if name == "lstm" else "state_0"
        with pytest.raises(ValueError, match=where + r": expected shape \(N, m\) = \(3, 4\), received shape " +
                           re.escape(str(bad.shape))):
            M.masked_cell_forward(cell, xs, p, np.array([5, 3, 2]), state)


@pytest.mark.parametrize("state, received", [
    (np.zeros((3, 4)), "an array of shape"), ((np.zeros((3, 4)),), "a tuple of 1"),
    ((np.zeros((3, 4)),) * 3, "a tuple of 3"), ("abc", "'abc'")])
def test_lstm_state_0_must_be_the_pair_h_c(state, received):
    # regression: a bare array, a 1-tuple or a 3-tuple leaked TypeErrors from _lstm_forward
    rng = np.random.default_rng(0)
    cell = _lstm()
    with pytest.raises(ValueError, match=r"state_0: expected the lstm cell's state for N = 3 sequences: a tuple of 2 "
                                         r"\(an array of shape \(3, 4\), an array of shape \(3, 4\)\), received "
                                         + re.escape(received)):
        M.masked_cell_forward(cell, rng.normal(size=(5, 3, 2)), cell.init_params(2, 4, rng), [5, 3, 2], state)


def test_a_none_part_of_an_lstm_state_means_zeros_as_in_lstm_forward():
    # regression: (h, None) leaked a UFuncTypeError; LSTM.forward reads None as zeros, and so does this now
    rng = np.random.default_rng(0)
    cell = _lstm()
    xs, p, h = rng.normal(size=(5, 3, 2)), cell.init_params(2, 4, rng), rng.normal(size=(3, 4))
    hs, last, cache = M.masked_cell_forward(cell, xs, p, [5, 3, 2], (h, None))
    hs_zeros, last_zeros, _ = M.masked_cell_forward(cell, xs, p, [5, 3, 2], (h, np.zeros((3, 4))))
    np.testing.assert_array_equal(hs, hs_zeros)
    np.testing.assert_allclose(cell.forward(xs, p, (h, None))[0][:, 0], hs[:, 0], rtol=1e-12, atol=1e-15)  # 5 steps
    g, _, _ = M.masked_cell_backward(None, cache, (last[0], None))
    g_zeros, _, _ = M.masked_cell_backward(None, cache, (last[0], np.zeros((3, 4))))
    assert all(np.array_equal(g[k], g_zeros[k]) for k in g)


@pytest.mark.parametrize("name", ["elman", "lstm"])
def test_dstate_last_of_the_wrong_width_is_named(name):
    # regression: a (3, 5) dstate_last leaked "operands could not be broadcast together"
    cell = A.available_cells()[name]
    rng = np.random.default_rng(0)
    _, _, cache = M.masked_cell_forward(cell, rng.normal(size=(5, 3, 2)), cell.init_params(2, 4, rng), [5, 3, 2])
    bad = (np.zeros((3, 5)), np.zeros((3, 4))) if name == "lstm" else np.zeros((3, 5))
    with pytest.raises(ValueError, match=r"dstate_last(\[0\])?: expected shape \(N, m\) = \(3, 4\), received shape \(3, 5\)"):
        M.masked_cell_backward(None, cache, bad)
    if name == "lstm":
        with pytest.raises(ValueError, match=r"dstate_last: expected the lstm cell's state .* received an array"):
            M.masked_cell_backward(None, cache, np.zeros((3, 4)))


def test_a_cache_without_the_unchecked_flag_is_refused():
    rng = np.random.default_rng(0)
    _, _, cache = M.masked_cell_forward(ELMAN, rng.normal(size=(5, 3, 2)), ELMAN.init_params(2, 4, rng), [5, 3, 2])
    cache = type(cache)(cache.producer, {k: v for k, v in cache.items() if k != "unchecked"})
    with pytest.raises(ValueError, match=r"cache: expected the cache returned by masked_cell_forward, received a dict "
                                         r"missing the key\(s\) \['unchecked'\]"):
        M.masked_cell_backward(None, cache)


def test_a_state_written_as_a_nested_list_is_an_array():
    # a list of rows of numbers is one (N, m) state, not a tuple of 1-D states
    rng = np.random.default_rng(0)
    xs, p = rng.normal(size=(5, 3, 2)), ELMAN.init_params(2, 4, rng)
    h = rng.normal(size=(3, 4))
    hs, _, _ = M.masked_cell_forward(ELMAN, xs, p, [5, 3, 2], h.tolist())
    np.testing.assert_array_equal(hs, M.masked_cell_forward(ELMAN, xs, p, [5, 3, 2], h)[0])


@pytest.mark.parametrize("full", [np.broadcast_to(np.zeros(4), (3, 4)), np.zeros((3, 4))])
def test_state_put_needs_a_writeable_full(full):
    # regression: a read-only or broadcast full leaked "assignment destination is read-only"
    full = full.copy() if full.flags.writeable else full
    full.flags.writeable = False
    with pytest.raises(ValueError, match=r"full: expected a writeable array \(state_put writes into it in place\), "
                                         r"received a read-only array of shape \(3, 4\)"):
        M.state_put(full, np.array([0]), np.ones((1, 4)), 3)
    with pytest.raises(ValueError, match=r"full\[1\]: expected a writeable array"):
        M.state_put((np.zeros((3, 4)), full), np.array([0]), (np.ones((1, 4)), np.ones((1, 4))), 3)
    writeable = np.zeros((3, 4))
    assert M.state_put(writeable, np.array([2]), np.ones((1, 4)), 3) is writeable and writeable[2].sum() == 4


def test_state_put_refuses_nan_in_full():
    full = np.zeros((3, 4))
    full[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"full: expected finite numbers .*received nan at index \(1, 2\)"):
        M.state_put(full, np.array([0]), np.ones((1, 4)), 3)


@pytest.mark.parametrize("pad_id", [2 ** 63, 10 ** 30, -2 ** 63 - 1])
def test_pad_id_must_fit_in_int64(pad_id):
    # regression: OverflowError: Python int too large to convert to C long
    with pytest.raises(ValueError, match=rf"pad_id: expected an integer id that fits in int64 .* received {pad_id}\."):
        M.pad_tokens([[1, 2], [2]], pad_id=pad_id)
    assert M.pad_tokens([[1, 2], [2]], pad_id=2 ** 63 - 1)[0][1, 1] == 2 ** 63 - 1


@pytest.mark.parametrize("seqs", [[[True, 2], [2]], [[1, 2], (np.bool_(False),)]])
def test_pad_tokens_refuses_booleans_like_boolean_arrays(seqs):
    # regression: [[True, 2], [2]] was padded as [[1, 2], [2, 0]]
    with pytest.raises(TypeError, match=r"seqs\[\d\]: expected integer tokens, received a (list|tuple) holding booleans"):
        M.pad_tokens(seqs)
    with pytest.raises(TypeError, match=r"seqs\[0\]: expected .* received booleans"):
        M.pad_tokens([np.array([True, False])])


def test_one_hot_accepts_integral_floats_like_every_id_argument():
    # regression: one_hot refused 2.0 although check_token_ids (and every other id argument) accepts it
    ids = np.array([[0, 2], [1, 0]])
    np.testing.assert_array_equal(M.one_hot(ids.astype(float), 3), M.one_hot(ids, 3))
    np.testing.assert_array_equal(M.one_hot(ids.astype(np.float32), 3), M.one_hot(ids, 3))
    with pytest.raises(ValueError, match=r"tokens: expected integer token ids, received non-integer values such as 1\.5"):
        M.one_hot(np.array([1.5]), 3)


def test_mask_to_lengths_takes_the_shape_as_an_integer_array():
    mask = M.lengths_to_mask([3, 1])
    np.testing.assert_array_equal(M.mask_to_lengths(mask, np.array(mask.shape)), [3, 1])
    np.testing.assert_array_equal(M.mask_to_lengths(mask, (np.array(3), np.int64(2))), [3, 1])
    with pytest.raises(TypeError, match=r"shape: expected a pair \(T, N\) of integers"):
        M.mask_to_lengths(mask, np.array([3.0, 2.0]))


def test_a_state_written_as_a_tuple_of_rows_is_an_array():
    # a tuple of rows of numbers is one (N, m) state (the fuzz report's "equivalent value refused")
    rng = np.random.default_rng(0)
    _, last, cache = M.masked_cell_forward(ELMAN, rng.normal(size=(5, 3, 2)), ELMAN.init_params(2, 4, rng), [5, 3, 2])
    d = rng.normal(size=last.shape)
    as_rows = tuple(tuple(row) for row in d)
    for a, b in zip(M.masked_cell_backward(None, cache, as_rows)[0].values(), M.masked_cell_backward(None, cache, d)[0].values()):
        np.testing.assert_array_equal(a, b)
    lstm = _lstm()
    _, _, cache = M.masked_cell_forward(lstm, rng.normal(size=(5, 3, 2)), lstm.init_params(2, 4, rng), [5, 3, 2])
    with pytest.raises(ValueError, match=r"dstate_last: expected the lstm cell's state .* received one array of 3 rows"):
        M.masked_cell_backward(None, cache, as_rows)
