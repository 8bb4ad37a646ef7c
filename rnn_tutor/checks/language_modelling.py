"""Checks for exercise 08 (language modelling): embedding gradient, perplexity, nucleus, beam search.

Graded tasks of ``solutions/08_language_modelling_solutions.ipynb``:

* ``embedding_backward(ids, dxs, V)``        -> ``dw_e (V, e)``: the scatter-add
  ``dw_e[c] = Σ_{positions with ids = c} dxs[position]``
* ``perplexity(logits, targets, mask)``      -> ``exp(-(1/K) Σ mask · log softmax(logits)[target])``,
  ``K`` = number of real (mask 1) positions
* ``nucleus_filter(probs, top_p)``           -> per row: the smallest set of most likely tokens with
  mass ``>= top_p`` (the token that crosses ``top_p`` is kept), renormalised; the rest 0
* ``beam_search(log_p_first, log_p_next, eos, beam_width, max_len)`` -> ``(tokens, score)``: beam
  search on a model whose next token depends on the previous one (``log_p_next[i, j] = log P(j | i)``)

The references are plain NumPy, written independently of :mod:`rnn_tutor.embedding`,
:mod:`rnn_tutor.lm` and :mod:`rnn_tutor.decoding`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from rnn_tutor.checks.core import Check, Mistake, register, run_check

__all__ = ["check_embedding_backward", "check_perplexity", "check_nucleus_filter", "check_beam_search",
           "EMBEDDING_BACKWARD", "PERPLEXITY", "NUCLEUS", "BEAM"]

NOTEBOOK = "08_language_modelling"


def _pairwise_different(answers) -> bool:
    """Every two answers differ somewhere (arrays of equal shape compared with a tolerance)."""
    flat = []
    for a in answers:
        if isinstance(a, tuple):
            a = np.concatenate([np.ravel(np.asarray(x, dtype=float)) for x in a])
        flat.append(np.ravel(np.asarray(a, dtype=float)))
    return all(x.shape != y.shape or not np.allclose(x, y, rtol=1e-6, atol=1e-8)
               for i, x in enumerate(flat) for y in flat[i + 1:])


def _draw_until_distinct(draw, reference, wrong_models, what: str):
    """Redraw inputs until the reference and every mistake model give pairwise different answers,
    so that a wrong answer points to one cause only."""
    def make(rng: np.random.Generator) -> dict:
        for _ in range(2000):
            inputs = draw(rng)
            answers = [reference(**inputs)]
            try:
                answers += [m(**inputs) for m in wrong_models]
            except (ValueError, IndexError):
                continue
            if _pairwise_different(answers):
                return inputs
        raise RuntimeError(f"{what}: no suitable case in 2000 draws")
    return make


# ============================================================================ task 1: embedding backward

def _embedding_backward(ids, dxs, V):
    ids = np.asarray(ids)
    dxs = np.asarray(dxs, dtype=float)
    dw_e = np.zeros((V, dxs.shape[-1]))
    for pos in np.ndindex(ids.shape):  # every position adds into the row of its token
        dw_e[ids[pos]] += dxs[pos]
    return dw_e


def _assigned(ids, dxs, V):  # fancy assignment (or +=): one gradient per repeated token survives
    dw_e = np.zeros((V, np.shape(dxs)[-1]))
    dw_e[np.ravel(ids)] = np.reshape(dxs, (-1, np.shape(dxs)[-1]))
    return dw_e


def _averaged(ids, dxs, V):  # the mean of a token's gradients instead of their sum
    counts = np.bincount(np.ravel(ids), minlength=V)
    return _embedding_backward(ids, dxs, V) / np.maximum(counts, 1)[:, None]


def _by_position(ids, dxs, V):  # row t of dw_e gets the gradients of time step t (ids ignored)
    dw_e = np.zeros((V, np.shape(dxs)[-1]))
    T = min(np.shape(ids)[0], V)
    dw_e[:T] = np.asarray(dxs)[:T].sum(axis=1)
    return dw_e


_EMB_MISTAKES = (
    Mistake("dw_e[ids] = dxs (or dw_e[ids] += dxs) keeps only one gradient for a token that occurs several "
            "times: fancy indexing does not accumulate. Use np.add.at(dw_e, ids, dxs) or a loop that adds.",
            _assigned),
    Mistake("you averaged the gradients of a repeated token; they add up (each occurrence used the same row "
            "of w_e, so each contributes its full gradient).", _averaged),
    Mistake("the row to update is the token id ids[t, n], not the time step t.", _by_position),
)


def _emb_draw(rng: np.random.Generator) -> dict:
    T, N, e, V = int(rng.integers(3, 7)), int(rng.integers(2, 4)), int(rng.integers(2, 5)), int(rng.integers(6, 10))
    # few distinct tokens, so several repeat; token V-1 never occurs (its row must stay 0)
    ids = rng.integers(0, max(3, V // 2), size=(T, N))
    return {"ids": ids, "dxs": rng.normal(size=(T, N, e)), "V": V}


EMBEDDING_BACKWARD = register(Check(
    notebook=NOTEBOOK, grade_id="check_embedding_backward", target="embedding_backward",
    forbidden=("rnn_tutor.embedding.embedding_backward", "rnn_tutor.lm.lm_backward", "rnn_tutor.lm.lm_loss"),
    make_inputs=_draw_until_distinct(_emb_draw, _embedding_backward, [m.fn for m in _EMB_MISTAKES],
                                     "embedding_backward"),
    reference=_embedding_backward, points=2, n_cases=3, rtol=1e-9, atol=1e-12,
    mistakes=_EMB_MISTAKES,
))


def check_embedding_backward(fn: Callable, hidden: bool = False):
    """Check ``embedding_backward(ids, dxs, V)``: a ``(V, e)`` gradient, repeated tokens summed."""
    return run_check(EMBEDDING_BACKWARD, fn, hidden=hidden)


# ============================================================================ task 2: perplexity

def _log_softmax(logits):
    z = np.asarray(logits, dtype=float)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _nll(logits, targets):
    return -np.take_along_axis(_log_softmax(logits), np.asarray(targets)[..., None], axis=-1)[..., 0]  # (T, N)


def _perplexity(logits, targets, mask):
    mask = np.asarray(mask, dtype=float)
    return float(np.exp((mask * _nll(logits, targets)).sum() / mask.sum()))


def _mean_of_sequence_perplexities(logits, targets, mask):
    mask = np.asarray(mask, dtype=float)
    per_seq = (mask * _nll(logits, targets)).sum(axis=0) / mask.sum(axis=0)  # (N,)
    return float(np.exp(per_seq).mean())


_PPL_MISTAKES = (
    Mistake("the padding is counted in the mean: divide the masked sum by the number of real positions, "
            "mask.sum(), not by the number of all positions.",
            lambda logits, targets, mask: float(np.exp((np.asarray(mask) * _nll(logits, targets)).sum()
                                                       / np.size(mask)))),
    Mistake("the padded positions are included: multiply each position's loss by the mask before summing.",
            lambda logits, targets, mask: float(np.exp(_nll(logits, targets).mean()))),
    Mistake("that is the cross-entropy; the perplexity is its exponential, exp(cross-entropy).",
            lambda logits, targets, mask: float((np.asarray(mask) * _nll(logits, targets)).sum()
                                                / np.sum(mask))),
    Mistake("perplexity is the exponential of the mean loss over all real positions of the batch, not the "
            "mean of one perplexity per sequence.", _mean_of_sequence_perplexities),
)


def _ppl_draw(rng: np.random.Generator) -> dict:
    T, N, V = int(rng.integers(4, 7)), int(rng.integers(3, 5)), int(rng.integers(5, 9))
    lengths = rng.integers(1, T + 1, size=N)
    lengths[0] = T  # at least one full sequence, at least one padded (below)
    lengths[1] = min(lengths[1], T - 1)
    mask = (np.arange(T)[:, None] < lengths[None, :]).astype(float)  # right padding
    logits = rng.normal(0, 2, size=(T, N, V))
    logits[0, 0] += 800.0  # a confident position: a naive exp overflows (exp(710) = inf)
    return {"logits": logits, "targets": rng.integers(0, V, size=(T, N)), "mask": mask}


PERPLEXITY = register(Check(
    notebook=NOTEBOOK, grade_id="check_perplexity", target="perplexity",
    forbidden=("rnn_tutor.lm.perplexity", "rnn_tutor.lm.cross_entropy", "rnn_tutor.heads.softmax_cross_entropy",
               "rnn_tutor.heads.log_softmax", "rnn_tutor.heads.softmax"),
    make_inputs=_draw_until_distinct(_ppl_draw, _perplexity, [m.fn for m in _PPL_MISTAKES], "perplexity"),
    reference=_perplexity, points=2, n_cases=3, rtol=1e-9, atol=1e-12,
    mistakes=_PPL_MISTAKES,
))


def check_perplexity(fn: Callable, hidden: bool = False):
    """Check ``perplexity(logits, targets, mask)``: one number, the padding masked."""
    return run_check(PERPLEXITY, fn, hidden=hidden)


# ============================================================================ task 3: nucleus sampling

def _nucleus(probs, top_p):
    probs = np.asarray(probs, dtype=float)
    out = np.zeros_like(probs)
    for n, row in enumerate(probs):
        order = sorted(range(row.size), key=lambda j: (-row[j], j))  # most likely first
        mass, kept = 0.0, []
        for j in order:
            if mass >= top_p:
                break
            kept.append(j)
            mass += row[j]
        out[n, kept] = row[kept] / row[kept].sum()
    return out


def _nucleus_count(probs, top_p, shift):  # keep the nucleus size plus ``shift`` tokens
    probs = np.asarray(probs, dtype=float)
    out = np.zeros_like(probs)
    ref = _nucleus(probs, top_p)
    for n, row in enumerate(probs):
        k = min(max(int((ref[n] > 0).sum()) + shift, 1), row.size)
        kept = np.argsort(-row, kind="stable")[:k]
        out[n, kept] = row[kept] / row[kept].sum()
    return out


def _not_renormalised(probs, top_p):
    probs = np.asarray(probs, dtype=float)
    return np.where(_nucleus(probs, top_p) > 0, probs, 0.0)


def _unsorted(probs, top_p):  # cumulative sum in vocabulary order instead of by probability
    probs = np.asarray(probs, dtype=float)
    before = np.cumsum(probs, axis=-1) - probs
    kept = np.where(before < top_p, probs, 0.0)
    return kept / kept.sum(axis=-1, keepdims=True)


_NUCLEUS_MISTAKES = (
    Mistake("one token too few: keep the token whose probability makes the running sum reach top_p (keep a "
            "token while the mass of the tokens *before* it is still below top_p).",
            lambda probs, top_p: _nucleus_count(probs, top_p, -1)),
    Mistake("one token too many: stop as soon as the kept tokens hold at least top_p of the probability.",
            lambda probs, top_p: _nucleus_count(probs, top_p, +1)),
    Mistake("the kept probabilities must be renormalised to sum to 1 (divide by their sum).", _not_renormalised),
    Mistake("sort each row by probability, most likely first, before summing: the nucleus is the most likely "
            "tokens, not the first ones in vocabulary order.", _unsorted),
)


def _nucleus_draw(rng: np.random.Generator) -> dict:
    N, V = int(rng.integers(3, 6)), int(rng.integers(6, 10))
    return {"probs": rng.dirichlet(np.full(V, 0.7), size=N), "top_p": float(np.round(rng.uniform(0.5, 0.9), 3))}


NUCLEUS = register(Check(
    notebook=NOTEBOOK, grade_id="check_nucleus_filter", target="nucleus_filter",
    forbidden=("rnn_tutor.decoding.nucleus_filter", "rnn_tutor.decoding.decoding_probs"),
    make_inputs=_draw_until_distinct(_nucleus_draw, _nucleus, [m.fn for m in _NUCLEUS_MISTAKES], "nucleus_filter"),
    reference=_nucleus, points=2, n_cases=3, rtol=1e-9, atol=1e-12,
    mistakes=_NUCLEUS_MISTAKES,
))


def check_nucleus_filter(fn: Callable, hidden: bool = False):
    """Check ``nucleus_filter(probs, top_p)``: rows of the shape of ``probs``, each summing to 1."""
    return run_check(NUCLEUS, fn, hidden=hidden)


# ============================================================================ task 4: beam search

def _beam(log_p_first, log_p_next, eos, beam_width, max_len, score_of=None):
    """Beam search on a first-order model; ``score_of(prefix_score, log_p)`` is how a step adds up."""
    add = score_of or (lambda s, lp: s + lp)
    live = [((), 0.0)]
    finished = []
    for t in range(max_len):
        ext = []
        for prefix, s in live:
            row = log_p_first if t == 0 else log_p_next[prefix[-1]]
            ext += [(prefix + (j,), add(s, float(row[j]))) for j in range(len(row))]
        ext.sort(key=lambda c: -c[1])
        top = ext[:beam_width]
        finished += [c for c in top if c[0][-1] == eos]
        live = [c for c in top if c[0][-1] != eos]
        if not live:
            break
    best = max(finished + live, key=lambda c: c[1])
    return np.array(best[0], dtype=np.int64), float(best[1])


def _beam_reference(log_p_first, log_p_next, eos, beam_width, max_len):
    return _beam(np.asarray(log_p_first, float), np.asarray(log_p_next, float), eos, beam_width, max_len)


def _beam_greedy(log_p_first, log_p_next, eos, beam_width, max_len):
    return _beam_reference(log_p_first, log_p_next, eos, 1, max_len)


def _beam_last_only(log_p_first, log_p_next, eos, beam_width, max_len):  # ranks by the last step only
    return _beam(np.asarray(log_p_first, float), np.asarray(log_p_next, float), eos, beam_width, max_len,
                 score_of=lambda s, lp: lp)


def _beam_probs(log_p_first, log_p_next, eos, beam_width, max_len):  # adds probabilities, not log-probabilities
    return _beam(np.asarray(log_p_first, float), np.asarray(log_p_next, float), eos, beam_width, max_len,
                 score_of=lambda s, lp: s + np.exp(lp))


def _beam_no_stop(log_p_first, log_p_next, eos, beam_width, max_len):  # eos does not end a prefix
    lpf, lpn = np.asarray(log_p_first, float), np.asarray(log_p_next, float)
    live = [((), 0.0)]
    for t in range(max_len):
        ext = [(p + (j,), s + float((lpf if t == 0 else lpn[p[-1]])[j])) for p, s in live for j in range(lpf.size)]
        live = sorted(ext, key=lambda c: -c[1])[:beam_width]
    tokens, score = max(live, key=lambda c: c[1])
    return np.array(tokens, dtype=np.int64), float(score)


_BEAM_MISTAKES = (
    Mistake("that is greedy decoding: keep the beam_width best prefixes at every step, not just one.", _beam_greedy),
    Mistake("a prefix's score is the sum of the log-probabilities of all its tokens, not the log-probability of "
            "its last token alone.", _beam_last_only),
    Mistake("scores add up in log space: add log-probabilities (which multiplies probabilities), do not add "
            "probabilities.", _beam_probs),
    Mistake("a prefix that ends with eos is finished: it leaves the beam and is not extended any further.",
            _beam_no_stop),
)


def _beam_draw(rng: np.random.Generator) -> dict:
    V = int(rng.integers(4, 7))
    return {"log_p_first": np.log(rng.dirichlet(np.full(V, 0.6))),
            "log_p_next": np.log(rng.dirichlet(np.full(V, 0.6), size=V)),
            "eos": int(rng.integers(V)), "beam_width": int(rng.integers(2, 4)), "max_len": int(rng.integers(3, 6))}


BEAM = register(Check(
    notebook=NOTEBOOK, grade_id="check_beam_search", target="beam_search",
    forbidden=("rnn_tutor.decoding.beam_search",),
    make_inputs=_draw_until_distinct(_beam_draw, _beam_reference, [m.fn for m in _BEAM_MISTAKES], "beam_search"),
    reference=_beam_reference, points=2, n_cases=3, rtol=1e-9, atol=1e-12, output_names=("tokens", "score"),
    mistakes=_BEAM_MISTAKES,
))


def check_beam_search(fn: Callable, hidden: bool = False):
    """Check ``beam_search(log_p_first, log_p_next, eos, beam_width, max_len)`` -> ``(tokens, score)``."""
    return run_check(BEAM, fn, hidden=hidden)
