"""Four tiny tasks, one per architecture, generated in code (nothing is downloaded).

* :func:`melody_task` (one-to-many): four traditional, public-domain tunes; one input
  (which tune) must unfold into 14 notes.
* :func:`sentiment_task` (many-to-one): short phrases from a hand-made 17-word vocabulary
  with negation (``"good but not fun"``).  The label depends on word *order*, so a
  bag-of-words model cannot solve it.
* :func:`tagging_task` (many-to-many, aligned): a word-class tag for every word of simple
  sentences whose ambiguous words (``fish``, ``can``, ``watch``...) are nouns after
  ``the`` and verbs after a subject.
* :func:`numbers_task` (encoder–decoder): English number words to digits,
  ``"one hundred" -> 1 0 0``: the output length differs from the input length.

Everything is deterministic given a :class:`numpy.random.Generator`.  Sequences are
lists of words; :func:`encode` turns them into padded token ids ``(T, N)`` and lengths.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from rnn_tutor.masking import _refuse_bools, check_lengths
from rnn_tutor.validation import (MAX_SIZE, ArgumentError, ArgumentTypeError, check_elements, check_int, check_rng,
                                  check_token_ids, describe)

from rnn_tutor.masking import pad_tokens

__all__ = ["NOTE_NAMES", "MELODIES", "melody_task", "SENTIMENT_VOCAB", "sentiment_phrase", "sentiment_task",
           "TAGS", "TAGGING_VOCAB", "tagging_task", "NUMBER_VOCAB", "DIGITS", "EOS", "number_words", "numbers_task",
           "encode", "bag_of_words", "majority_by_position", "majority_tag_baseline", "number_slots",
           "slots_to_digits"]

# ----------------------------------------------------------------------------- one-to-many: melodies

NOTE_NAMES = ("C", "D", "E", "F", "G", "A", "B")
#: The opening 14 notes of four traditional tunes (public domain), in C major, rhythm dropped.
MELODIES = {
    "Twinkle, Twinkle": "C C G G A A G F F E E D D C",
    "Frère Jacques": "C D E C C D E C E F G E F G",
    "Ode to Joy": "E E F G G F E D C C D E E D",
    "Mary Had a Little Lamb": "E D C D E E E D D D E G G E",
}


def melody_task() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The melodies as a one-to-many task.

    Returns
    -------
    x : (K, K) one-hot tune ids (the single input of each sequence), K = 4
    notes : (14, K) note indices into :data:`NOTE_NAMES` (time-major targets)
    names : the K tune names
    """
    names = list(MELODIES)
    notes = np.array([[NOTE_NAMES.index(n) for n in MELODIES[k].split()] for k in names]).T  # (T, K)
    return np.eye(len(names)), notes, names


# ----------------------------------------------------------------------------- many-to-one: sentiment

_POSITIVE = ("good", "great", "fun", "clever")
_NEGATIVE = ("bad", "dull", "boring", "awful")
_PREFIXES = ((), ("it", "was"), ("the", "film", "was"), ("the", "plot", "is"))
SENTIMENT_VOCAB = tuple(sorted({"not", "very", "but", *_POSITIVE, *_NEGATIVE, *(w for p in _PREFIXES for w in p)}))


def sentiment_phrase(rng: np.random.Generator) -> tuple[list[str], int]:
    """One phrase ``[prefix] [not] [very] ADJ [but [not] [very] ADJ]`` and its label (1 positive, 0 negative).

    The label is the polarity of the *last* clause: ``"good but not fun"`` is negative,
    ``"not good but fun"`` is positive, although both hold the same words.
    """
    check_rng(rng)
    words = list(_PREFIXES[rng.integers(len(_PREFIXES))])
    label = 0
    for clause in range(1 + int(rng.random() < 0.5)):
        if clause:
            words.append("but")
        negated = rng.random() < 0.5
        if negated:
            words.append("not")
        if rng.random() < 0.3:
            words.append("very")
        positive = rng.random() < 0.5
        words.append(str(rng.choice(_POSITIVE if positive else _NEGATIVE)))
        label = int(positive != negated)
    return words, label


def sentiment_task(rng: np.random.Generator, n: int) -> tuple[list[list[str]], np.ndarray]:
    """``n`` random phrases and their labels ``(n,)``; lengths 1 to 10 words."""
    check_rng(rng)
    n = check_int(n, "n")
    pairs = [sentiment_phrase(rng) for _ in range(n)]
    return [p for p, _ in pairs], np.array([y for _, y in pairs])


# ----------------------------------------------------------------------------- many-to-many: tagging

TAGS = ("DET", "ADJ", "NOUN", "PRON", "MODAL", "VERB", "CONJ")
_DET, _ADJ, _NOUNS = ("the", "my"), ("big", "old", "small"), ("dogs", "cats", "kids")
_AMBIGUOUS = ("fish", "watch", "duck", "fly")  # nouns after the/a/adjective, verbs otherwise
_SUBJ, _OBJ, _VERBS, _MODALS = ("we", "they", "you"), ("them", "us", "you"), ("see", "like", "eat"), ("will", "must")
TAGGING_VOCAB = tuple(sorted({*_DET, *_ADJ, *_NOUNS, *_AMBIGUOUS, "can", *_SUBJ, *_OBJ, *_VERBS, *_MODALS, "and"}))


def _noun_phrase(rng) -> list[tuple[str, str]]:
    words = [(str(rng.choice(_DET)), "DET")]
    words += [(str(rng.choice(_ADJ)), "ADJ") for _ in range(rng.integers(3))]
    return words + [(str(rng.choice(_NOUNS + _AMBIGUOUS + ("can",))), "NOUN")]


def _clause(rng) -> list[tuple[str, str]]:
    """``SUBJECT [MODAL] VERB [OBJECT]``; ``can`` is a noun in a noun phrase and a modal after a subject."""
    words = _noun_phrase(rng) if rng.random() < 0.6 else [(str(rng.choice(_SUBJ)), "PRON")]
    if rng.random() < 0.4:
        words.append((str(rng.choice(_MODALS + ("can", "can"))), "MODAL"))
    words.append((str(rng.choice(_VERBS + _AMBIGUOUS)), "VERB"))
    if rng.random() < 0.6:
        words += _noun_phrase(rng) if rng.random() < 0.6 else [(str(rng.choice(_OBJ)), "PRON")]
    return words


def tagging_task(rng: np.random.Generator, n: int, min_len: int = 3, max_len: int = 12) -> tuple[list, list]:
    """``n`` sentences (clauses joined by ``and``) cut to a random length in ``min_len .. max_len``.

    Every tag is decided by the words *before* it, so a left-to-right RNN can be perfect.
    Returns the sentences (lists of words) and their tags (lists of indices into :data:`TAGS`).
    """
    check_rng(rng)
    n = check_int(n, "n")
    min_len = check_int(min_len, "min_len", 1, 1000)
    max_len = check_int(max_len, "max_len", 1, 1000)
    if not 1 <= min_len <= max_len:
        raise ArgumentError("max_len", f"max_len: expected 1 <= min_len <= max_len, received min_len={min_len!r}, max_len={max_len!r}")
    sents, tags = [], []
    for _ in range(n):
        L = int(rng.integers(min_len, max_len + 1))
        pairs = _clause(rng)
        while len(pairs) < L:
            pairs += [("and", "CONJ")] + _clause(rng)
        sents.append([w for w, _ in pairs[:L]])
        tags.append([TAGS.index(t) for _, t in pairs[:L]])
    return sents, tags


# ----------------------------------------------------------------------------- encoder-decoder: numbers

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TEENS = ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
NUMBER_VOCAB = _ONES[1:] + _TEENS + _TENS[2:] + ("hundred",)
DIGITS = tuple("0123456789") + ("<eos>",)
EOS = 10  #: the end token of the digit outputs (q = 11 classes: 0-9 and EOS)


def number_words(n: int) -> list[str]:
    """English words for ``1 <= n <= 999`` without "and": ``305 -> ['three', 'hundred', 'five']``."""
    n = check_int(n, "n", 1, 999, "an integer")
    hundreds, rest = divmod(int(n), 100)
    words = [_ONES[hundreds], "hundred"] if hundreds else []
    if 10 <= rest < 20:
        words.append(_TEENS[rest - 10])
    else:
        if rest >= 20:
            words.append(_TENS[rest // 10])
        if rest % 10:
            words.append(_ONES[rest % 10])
    return words


def numbers_task(rng: np.random.Generator, n_train: int = 700) -> tuple[tuple[list, list], tuple[list, list]]:
    """All numbers 1..999 as (words, digit tokens + EOS), split at random into train and test.

    Returns ``(train_words, train_digits), (test_words, test_digits)``; digits are lists of
    ints in 0..9 ending with :data:`EOS`.
    """
    check_rng(rng)
    n_train = check_int(n_train, "n_train", 1, 998, "a number of training numbers")
    if not 1 <= n_train < 999:
        raise ArgumentError("n_train", f"n_train: expected 1..998 training numbers, received {n_train!r}")
    order = rng.permutation(np.arange(1, 1000))
    split = [order[:n_train], order[n_train:]]
    return tuple(([number_words(int(k)) for k in part], [[int(c) for c in str(k)] + [EOS] for k in part])
                 for part in split)


# ----------------------------------------------------------------------------- encoding and baselines

def encode(seqs, vocab) -> tuple[np.ndarray, np.ndarray]:
    """Word lists -> right-padded token ids ``(T, N)`` (padding id 0) and ``lengths (N,)``.

    Word ``vocab[i]`` gets id ``i``, so the words of ``vocab`` must be distinct strings.
    An unknown word is a ValueError naming it.
    """
    if vocab is None or isinstance(vocab, (str, bytes)) or not hasattr(vocab, "__iter__"):
        raise ArgumentTypeError("vocab", f"vocab: expected a sequence of words, received {describe(vocab)}")
    vocab = list(vocab)
    if not vocab:
        raise ArgumentError("vocab", "vocab: expected a non-empty sequence of words (str), received an empty sequence")
    not_str = [w for w in vocab if not isinstance(w, str)]
    if not_str:
        raise ArgumentTypeError("vocab", f"vocab: expected a sequence of words (str), received {describe(not_str[0])} "
                                         f"at index {vocab.index(not_str[0])}")
    repeated = sorted(w for w, c in Counter(vocab).items() if c > 1)
    if repeated:
        raise ArgumentError("vocab", f"vocab: expected distinct words (word i gets id i), received repeated "
                                     f"{repeated[:8]}")
    if seqs is None or isinstance(seqs, (str, bytes)) or not hasattr(seqs, "__len__"):
        raise ArgumentTypeError("seqs", f"seqs: expected a list of word lists, received {describe(seqs)}")
    index = {w: i for i, w in enumerate(vocab)}
    ids = []
    for n, s in enumerate(seqs):
        if isinstance(s, (str, bytes)) or not hasattr(s, "__iter__"):
            raise ArgumentTypeError(f"seqs[{n}]", f"seqs[{n}]: expected a list of words, received {describe(s)}")
        unknown = [w for w in s if w not in index]
        if unknown:
            raise ArgumentError("seqs", f"seqs[{n}]: expected words from the vocabulary {list(vocab)}, received unknown {unknown}")
        ids.append([index[w] for w in s])
    return pad_tokens(ids)


def bag_of_words(tokens, lengths, V: int) -> np.ndarray:
    """Word counts ``(N, V)`` of the real steps of ``tokens (T, N)``: what a model sees if order is thrown away."""
    V = check_int(V, "V")
    tokens = check_token_ids(tokens, "tokens", None, ndim=2, names=("T", "N"), nonempty=True)
    lengths = check_lengths(lengths, tokens.shape[0], tokens.shape[1])
    valid = np.arange(tokens.shape[0])[:, None] < lengths[None, :]
    bad = valid & ((tokens < 0) | (tokens >= V))
    if bad.any():
        t, n = (int(i) for i in np.argwhere(bad)[0])
        raise ArgumentError("tokens", f"tokens: expected token ids in 0..{V - 1} (V = {V}) at the real steps, "
                                      f"received {int(tokens[t, n])} at index {(t, n)}")
    check_elements((tokens.shape[1], V), "counts (N, V)", "V")
    counts = np.zeros((tokens.shape[1], V))
    for t, n in zip(*np.nonzero(valid)):
        counts[n, tokens[t, n]] += 1
    return counts


def majority_by_position(targets) -> np.ndarray:
    """For ``targets (T, N)``: the most common value at each step, ``(T,)`` (ties: the smallest).

    The best any model can do that ignores its input.
    """
    targets = check_token_ids(targets, "targets", MAX_SIZE, ndim=2, names=("T", "N"), nonempty=True,
                              what="non-negative integer classes")
    return np.array([np.bincount(row).argmax() for row in targets])


def majority_tag_baseline(sents, tags) -> dict[str, int]:
    """Each word's most frequent tag in the training data (ties: the smaller tag index).

    The best any model can do that looks at one word at a time (no memory).  ``sents`` are
    lists of words (str); ``tags`` lists of the same lengths holding non-negative integer tags.
    """
    for name, value in (("sents", sents), ("tags", tags)):
        if value is None or isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
            raise ArgumentTypeError(name, f"{name}: expected a list of lists, received {describe(value)}")
    for i, s in enumerate(sents):
        if isinstance(s, (str, bytes)) or not hasattr(s, "__len__") or not hasattr(s, "__iter__"):
            raise ArgumentTypeError(f"sents[{i}]", f"sents[{i}]: expected a list of words (str), received {describe(s)}")
        bad = [w for w in s if not isinstance(w, str)]
        if bad:
            raise ArgumentTypeError(f"sents[{i}]", f"sents[{i}]: expected a list of words (str), received "
                                                   f"{describe(bad[0])} among them")
    if len(sents) != len(tags):
        raise ArgumentError("tags", f"tags: expected one tag list per sentence ({len(sents)}), received {len(tags)}")
    counts: dict[str, Counter] = {}
    for i, (s, t) in enumerate(zip(sents, tags)):
        if isinstance(s, (str, bytes)) or not hasattr(s, "__len__") or not hasattr(t, "__len__") or len(s) != len(t):
            raise ArgumentError(f"tags[{i}]", f"tags[{i}]: expected one tag per word of sents[{i}], received "
                                              f"{describe(t)} for {describe(s)}")
        _refuse_bools(t, f"tags[{i}]", "integer tags")
        t = check_token_ids(t, f"tags[{i}]", None, ndim=1, what="integer tags")
        if t.size and t.min() < 0:
            raise ArgumentError(f"tags[{i}]", f"tags[{i}]: expected non-negative integer tags (indices into a tag list such as "
                                              f"TAGS), received {int(t.min())}")
        for w, k in zip(s, t.tolist()):
            counts.setdefault(w, Counter())[k] += 1
    return {w: min(c, key=lambda k: (-c[k], k)) for w, c in counts.items()}


def number_slots(digits) -> list[int]:
    """Digit tokens ending in EOS -> the three place values ``[hundreds, tens, units]`` (``[3, 0, 5]`` for 305)."""
    if digits is None or isinstance(digits, (str, bytes)) or not hasattr(digits, "__len__"):
        raise ArgumentTypeError("digits", f"digits: expected a list of digit tokens ending with EOS = {EOS}, received {describe(digits)}")
    _refuse_bools(digits, "digits", "integer digit tokens")
    body = check_token_ids(digits, "digits", EOS + 1, ndim=1, what="integer digit tokens").tolist()
    if not body or body[-1] != EOS or not 2 <= len(body) <= 4 or any(not 0 <= int(k) <= 9 for k in body[:-1]):
        raise ArgumentError("digits", f"digits: expected 1 to 3 digit tokens followed by EOS = {EOS}, received {body!r}")
    n = int("".join(str(int(k)) for k in body[:-1]))
    return [n // 100, n // 10 % 10, n % 10]


def slots_to_digits(slots) -> list[int]:
    """``[hundreds, tens, units]`` -> digit tokens without leading zeros, ending in EOS (``[0, 4, 2] -> [4, 2, EOS]``)."""
    if slots is None or isinstance(slots, (str, bytes)) or not hasattr(slots, "__len__"):
        raise ArgumentTypeError("slots", f"slots: expected three digits [hundreds, tens, units], received {describe(slots)}")
    _refuse_bools(slots, "slots", "three digits 0..9")
    arr = check_token_ids(slots, "slots", 10, shape=(3,), what="three digits 0..9")
    h, t, u = (int(k) for k in arr)
    return [int(c) for c in str(100 * h + 10 * t + u)] + [EOS]
