"""rnn_tutor.seq2seq: the greedy decoder's initial state, written in every accepted way."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_tutor import seq2seq as s2
from rnn_tutor.architectures import available_cells


@pytest.mark.parametrize("name", ["elman", "lstm"])
def test_decode_greedy_takes_a_state_written_as_lists_of_rows(name):
    cell = available_cells()[name]
    params = s2.init_seq2seq_params(cell, 2, 4, 3, np.random.default_rng(0))
    h = np.random.default_rng(1).normal(size=(3, 4)) * 0.3
    state = h if name == "elman" else (h, h / 2)
    as_lists = h.tolist() if name == "elman" else (h.tolist(), (h / 2).tolist())
    want = s2.decode_greedy(cell, params, state, 2, 4)
    got = s2.decode_greedy(cell, params, as_lists, 2, 4)
    assert all(np.array_equal(a, b) for a, b in zip(got, want))


@pytest.mark.parametrize("name, bad", [("elman", np.zeros((3, 5))), ("lstm", np.zeros((3, 4))),
                                       ("elman", (np.zeros((3, 4)),))])
def test_decode_greedy_checks_the_state_against_the_decoder(name, bad):
    cell = available_cells()[name]
    params = s2.init_seq2seq_params(cell, 2, 4, 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"^state_0: expected "):
        s2.decode_greedy(cell, params, bad, 2, 4)
