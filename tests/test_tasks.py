"""The tiny tasks (rnn_tutor.tasks): deterministic, well formed, labels follow their stated rules."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_tutor import architectures as A
from rnn_tutor import tasks
from rnn_tutor.cells import ELMAN
from rnn_tutor.heads import accuracy


def test_melodies():
    x, notes, names = tasks.melody_task()
    assert x.shape == (4, 4) and np.array_equal(x, np.eye(4))
    assert notes.shape == (14, 4) and notes.min() >= 0 and notes.max() < len(tasks.NOTE_NAMES)
    assert names[0] == "Twinkle, Twinkle" and "".join(tasks.NOTE_NAMES[k] for k in notes[:7, 0]) == "CCGGAAG"
    base = tasks.majority_by_position(notes)
    assert base.shape == (14,) and np.mean(base[:, None] == notes) == pytest.approx(22 / 56)


def _sentiment_rule(words):
    """The label, re-derived independently: polarity of the last adjective, flipped by a 'not' in its clause."""
    clause = words[words.index("but") + 1:] if "but" in words else words
    positive = clause[-1] in ("good", "great", "fun", "clever")
    return int(positive != ("not" in clause))


def test_sentiment_is_deterministic_and_follows_its_rule():
    a = tasks.sentiment_task(np.random.default_rng(0), 300)
    b = tasks.sentiment_task(np.random.default_rng(0), 300)
    c = tasks.sentiment_task(np.random.default_rng(1), 300)
    assert a[0] == b[0] and np.array_equal(a[1], b[1]) and a[0] != c[0]
    words, labels = a
    assert all(_sentiment_rule(w) == y for w, y in zip(words, labels))
    assert {len(w) for w in words} <= set(range(1, 11)) and max(len(w) for w in words) >= 8
    assert set(w for s in words for w in s) <= set(tasks.SENTIMENT_VOCAB)
    assert 0.35 < labels.mean() < 0.65
    bags = {}
    for w, y in zip(words, labels):
        bags.setdefault(tuple(sorted(w)), set()).add(y)
    assert any(len(ys) == 2 for ys in bags.values())  # same words, different labels: order matters


def _tag_rule(sentence):
    """Tags re-derived from left context only: ambiguous words are nouns right after a determiner or adjective."""
    det, adj = {"the", "my"}, {"big", "old", "small"}
    fixed = {**{w: "DET" for w in det}, **{w: "ADJ" for w in adj}, **{w: "NOUN" for w in ("dogs", "cats", "kids")},
             **{w: "PRON" for w in ("we", "they", "you", "them", "us")}, **{w: "VERB" for w in ("see", "like", "eat")},
             "will": "MODAL", "must": "MODAL", "and": "CONJ"}
    out = []
    for i, w in enumerate(sentence):
        after_np = i > 0 and sentence[i - 1] in det | adj
        if w in fixed:
            out.append(fixed[w])
        elif w == "can":
            out.append("NOUN" if after_np else "MODAL")
        else:
            out.append("NOUN" if after_np else "VERB")
    return out


def test_tagging_tags_are_decided_by_the_words_before():
    sents, tags = tasks.tagging_task(np.random.default_rng(0), 400, 3, 30)
    assert all(3 <= len(s) <= 30 and len(s) == len(t) for s, t in zip(sents, tags))
    for s, t in zip(sents, tags):
        assert [tasks.TAGS[k] for k in t] == _tag_rule(s), s
    words = {w for s in sents for w in s}
    assert words <= set(tasks.TAGGING_VOCAB) and {"fish", "can", "and"} <= words
    long, _ = tasks.tagging_task(np.random.default_rng(1), 3, 50, 50)
    assert [len(s) for s in long] == [50, 50, 50]
    with pytest.raises(ValueError, match="max_len: expected 1 <= min_len <= max_len"):
        tasks.tagging_task(np.random.default_rng(0), 1, 5, 4)


@pytest.mark.parametrize("n, words", [
    (1, "one"), (12, "twelve"), (20, "twenty"), (21, "twenty one"), (100, "one hundred"),
    (101, "one hundred one"), (110, "one hundred ten"), (115, "one hundred fifteen"),
    (305, "three hundred five"), (340, "three hundred forty"), (999, "nine hundred ninety nine"),
])
def test_number_words(n, words):
    assert tasks.number_words(n) == words.split()


def test_numbers_task_covers_1_to_999_once():
    (trw, trd), (tew, ted) = tasks.numbers_task(np.random.default_rng(0), 700)
    assert len(trw) == 700 and len(tew) == 299
    values = [int("".join(map(str, d[:-1]))) for d in trd + ted]
    assert sorted(values) == list(range(1, 1000))
    assert all(d[-1] == tasks.EOS and tasks.number_words(v) == w for v, d, w in zip(values, trd + ted, trw + tew))
    assert len({tuple(w) for w in trw + tew}) == 999
    assert set(w for s in trw + tew for w in s) == set(tasks.NUMBER_VOCAB)
    for bad in (0, 1000, 2.5, True):
        with pytest.raises(ValueError, match="n: expected an integer in 1..999"):
            tasks.number_words(bad)


def test_number_slots_round_trip():
    for v in range(1, 1000):
        digits = [int(c) for c in str(v)] + [tasks.EOS]
        slots = tasks.number_slots(digits)
        assert 100 * slots[0] + 10 * slots[1] + slots[2] == v
        assert tasks.slots_to_digits(slots) == digits
    with pytest.raises(ValueError, match="digits: expected 1 to 3 digit tokens followed by EOS"):
        tasks.number_slots([1, 2])


def test_encode_bag_of_words_and_baselines():
    tokens, lengths = tasks.encode([["not", "good"], ["good"]], tasks.SENTIMENT_VOCAB)
    assert tokens.shape == (2, 2) and list(lengths) == [2, 1]
    bags = tasks.bag_of_words(tokens, lengths, len(tasks.SENTIMENT_VOCAB))
    assert bags.sum(axis=1).tolist() == [2.0, 1.0]  # the padding of the second phrase is not counted
    assert bags[1, tasks.SENTIMENT_VOCAB.index("good")] == 1
    with pytest.raises(ValueError, match=r"seqs\[0\]: expected words from the vocabulary .* received unknown \['bravo'\]"):
        tasks.encode([["bravo"]], tasks.SENTIMENT_VOCAB)
    table = tasks.majority_tag_baseline([["the", "fish"], ["we", "fish"], ["they", "fish"]], [[0, 2], [3, 5], [3, 5]])
    assert table == {"the": 0, "fish": 5, "we": 3, "they": 3}


def test_melody_trains_to_perfect_generation_quickly():
    x, notes, _ = tasks.melody_task()
    p = A.init_params(ELMAN, 4 + 7, 24, 7, np.random.default_rng(0))
    p, losses = A.fit(lambda p, step: A.one_to_many_loss(ELMAN, x, p, notes), p, steps=150, lr=0.02)
    os_, _ = A.one_to_many_forward(ELMAN, x, p, T=14, feedback="argmax")
    assert accuracy(os_, notes) == 1.0 and losses[-1] < 0.05


# ----------------------------------------------------------------------------- bad arguments (regressions)

def test_encode_refuses_a_vocabulary_with_repeated_words():
    # regression: ('bad', 'bad', 'good', ...) was accepted and shifted every later id
    with pytest.raises(ValueError, match=r"vocab: expected distinct words \(word i gets id i\), received repeated \['bad'\]"):
        tasks.encode([["bad", "good"]], ("bad", "bad", "good", "not", "fun"))
    with pytest.raises(ValueError, match=r"vocab: expected a non-empty sequence of words \(str\), received an empty"):
        tasks.encode([["bad"]], [])
    with pytest.raises(TypeError, match=r"vocab: expected a sequence of words \(str\), received None at index 1"):
        tasks.encode([["bad"]], ["bad", None])


@pytest.mark.parametrize("sents, tags, match", [
    ([["the", "dog"], ["a", "dog"]], [[0, -1], [0, 1]], r"tags\[0\]: expected non-negative integer tags .* received -1"),
    ([["the", "dog"], ["a", "dog"]], [[True, 2], [0, 1]], r"tags\[0\]: expected integer tags, received a list holding booleans"),
    ([["the", 3], ["a", "dog"]], [[0, 1], [0, 1]], r"sents\[0\]: expected a list of words \(str\), received 3 \(int\)"),
    ([None], [[0, 1], [0, 1]], r"sents\[0\]: expected a list of words \(str\), received None"),
])
def test_majority_tag_baseline_refuses_bad_tags_and_words(sents, tags, match):
    # regression: tag -1 was returned, True counted as tag 1, an int word was a key; [None] blamed tags
    with pytest.raises(ValueError, match=match):
        tasks.majority_tag_baseline(sents, tags)


def test_digit_lists_refuse_booleans():
    with pytest.raises(TypeError, match=r"digits: expected integer digit tokens, received a list holding booleans"):
        tasks.number_slots([True, 0, tasks.EOS])
    with pytest.raises(TypeError, match=r"slots: expected three digits 0\.\.9, received a list holding booleans"):
        tasks.slots_to_digits([True, 0, 1])
    assert tasks.number_slots([1, 0, tasks.EOS]) == [0, 1, 0]
