"""The character-level language model of lesson 07."""

import numpy as np
import pytest

from rnn_tutor import charlm
from rnn_tutor.architectures import available_cells
from rnn_tutor.gradcheck import numerical_gradients, rel_error

CELLS = available_cells()


def test_shipped_text_and_vocab_round_trip():
    text = charlm.load_text()
    vocab = charlm.build_vocab(text)
    assert len(text) > 5000 and vocab.V == len(set(text))
    assert vocab.decode(vocab.encode(text)) == text
    with pytest.raises(ValueError, match="unknown character"):
        vocab.encode("Shall I §")
    with pytest.raises(ValueError, match="shipped texts"):
        charlm.load_text("missing.txt")


def test_make_streams_cuts_contiguous_streams():
    ids = np.arange(23)
    streams = charlm.make_streams(ids, 4)
    assert streams.shape == (5, 4)
    assert list(streams[:, 1]) == [5, 6, 7, 8, 9]  # stream 1 is ids[5:10]
    with pytest.raises(ValueError, match="N: expected"):
        charlm.make_streams(ids, 0)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_window_gradients_match_finite_differences(name):
    cell, V, m = CELLS[name], 5, 3
    rng = np.random.default_rng(0)
    params = charlm.init_charlm(cell, V, m, rng)
    window = rng.integers(0, V, size=(5, 2))
    L, grads, _ = charlm.window_loss_and_grads(cell, params, window, V)
    numeric = numerical_gradients(lambda p: charlm.window_loss_and_grads(cell, p, window, V)[0], params)
    for key in params:
        assert rel_error(grads[key], numeric[key]) < 1e-6, key


def test_training_lowers_the_loss_below_the_unigram_baseline():
    text = charlm.load_text()[:1500]
    vocab = charlm.build_vocab(text)
    ids = vocab.encode(text)
    params = charlm.init_charlm(CELLS["elman"], vocab.V, 32, np.random.default_rng(0))
    _, losses = charlm.train_charlm(CELLS["elman"], params, charlm.make_streams(ids, 8), vocab.V, k=10, epochs=6)
    assert losses[:3].mean() > charlm.unigram_entropy(ids, vocab.V)
    assert losses[-10:].mean() < charlm.unigram_entropy(ids, vocab.V)


def test_training_stops_on_a_non_finite_loss():
    vocab = charlm.build_vocab("abcabc")
    params = charlm.init_charlm(CELLS["elman"], vocab.V, 4, np.random.default_rng(0))
    params["w_y"][0, 0] = np.nan
    with pytest.raises(FloatingPointError, match="update 0"):
        charlm.train_charlm(CELLS["elman"], params, charlm.make_streams(vocab.encode("abcabcabcabc"), 2), vocab.V, k=2)


def test_softmax_with_temperature():
    logits = np.array([[1000.0, 999.0, -5.0], [0.0, 0.0, 0.0]])
    for tau in (0.1, 1.0, 3.0):
        p = charlm.softmax_with_temperature(logits, tau)
        assert np.all(np.isfinite(p)) and np.allclose(p.sum(axis=-1), 1)
    sharp, flat = charlm.softmax_with_temperature(logits[0], 0.5), charlm.softmax_with_temperature(logits[0], 2.0)
    assert sharp[0] > flat[0]
    for bad in (0, -1.0, np.inf, np.nan, True, "1"):
        with pytest.raises(ValueError, match="temperature"):
            charlm.softmax_with_temperature(logits, bad)


def test_sample_is_reproducible_and_valid():
    text = charlm.load_text()[:2000]
    vocab = charlm.build_vocab(text)
    params = charlm.init_charlm(CELLS["lstm"], vocab.V, 8, np.random.default_rng(0))
    a = charlm.sample(CELLS["lstm"], params, vocab, "Sh", 30, 1.0, np.random.default_rng(3))
    b = charlm.sample(CELLS["lstm"], params, vocab, "Sh", 30, 1.0, np.random.default_rng(3))
    assert a == b and len(a) == 30 and set(a) <= set(vocab.chars)
    with pytest.raises(ValueError, match="temperature"):
        charlm.sample(CELLS["lstm"], params, vocab, "Sh", 5, 0.0, np.random.default_rng(3))
    with pytest.raises(ValueError, match="prime"):
        charlm.sample(CELLS["lstm"], params, vocab, "", 5, 1.0, np.random.default_rng(3))
