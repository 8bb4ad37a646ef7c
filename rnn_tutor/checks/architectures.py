"""Checks for exercise 04 (architecture types): the losses of classifiers, masking, greedy decoding.

Graded tasks of ``solutions/04_architectures_solutions.ipynb`` (time-major row batches, see :mod:`rnn_tutor`):

* ``softmax_cross_entropy(logits, labels)``  ->  ``(L, dlogits)``: mean over the ``N`` rows of ``logits (N, q)``
* ``many_to_one_loss(hs, lengths, labels, w_y, b_y)``  ->  ``(L, dhs, dw_y, db_y)``: the loss read from each
  sequence's last real state ``hs[lengths[n] - 1, n]`` and its gradients
* ``masked_cross_entropy(logits, labels, mask)``  ->  ``(L, dlogits)``: ``logits (T, N, q)``, mean over real steps
* ``greedy_decode(params, h_0, eos, max_len)``  ->  ``tokens (max_len, N)``: an Elman decoder that feeds back
  its own argmax, starting from the token START = q, and writes ``eos`` once a sequence has ended

The references are plain NumPy, written independently of :mod:`rnn_tutor.heads`,
:mod:`rnn_tutor.masking` and :mod:`rnn_tutor.seq2seq` (the tests compare them).
"""

from __future__ import annotations

import numpy as np

from rnn_tutor.checks.core import Check, compare_values, mistakes, register, run_check

__all__ = ["check_softmax_cross_entropy", "check_many_to_one_loss", "check_masked_cross_entropy",
           "check_greedy_decode", "SOFTMAX_CE", "MANY_TO_ONE", "MASKED_CE", "GREEDY_DECODE",
           "softmax_ce_reference", "many_to_one_reference", "masked_ce_reference", "greedy_reference"]

NOTEBOOK = "04_architectures"




def _sizes(rng) -> tuple[int, int, int]:
    """Random (N, q, m) that are pairwise different, so a swapped axis changes a shape."""
    N, q, m = (int(v) for v in rng.permutation(np.arange(2, 7))[:3])
    return N, q, m


_STABILITY = ("likely cause: exp overflowed. Subtract each row's largest logit before np.exp "
              "(the softmax does not change), or compute log p = o - max - log(sum(exp(o - max))).")


def _compare_finite(names):
    """``compare_values`` item by item, plus the stability hint when the learner's numbers are not finite."""
    def compare(received, expected, inputs):
        if isinstance(received, (tuple, list)) and len(received) == len(expected):
            problems = [p for n, r, e in zip(names, received, expected) for p in compare_values(r, e, 1e-6, 1e-8, n)]
        else:
            problems = compare_values(received, expected, 1e-6, 1e-8, "result")
            if isinstance(expected, tuple) and not isinstance(received, (tuple, list)):
                problems = [f"result: expected a tuple {names} of {len(expected)} values, received "
                            f"{type(received).__name__}"]
        try:
            finite = all(np.isfinite(np.asarray(r, dtype=float)).all() for r in received)
        except (TypeError, ValueError):
            finite = True
        if problems and not finite:
            problems.append(_STABILITY)
        return problems
    return compare


# ============================================================================ task 1: softmax cross-entropy

def softmax_ce_reference(logits, labels):
    """``L = -(1/N) Σ_n log softmax(o_n)[c_n]`` and ``dL/do = (softmax(o) - onehot(c)) / N``; logits (N, q)."""
    N = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(N)
    dlogits = np.exp(logp)
    dlogits[rows, labels] -= 1.0
    return float(-logp[rows, labels].mean()), dlogits / N


def _ce_inputs(rng) -> dict:
    N, q, _ = _sizes(rng)
    logits = rng.normal(0.0, 2.0, size=(N, q))
    k = int(rng.integers(N))  # one example with huge scores: exp() of them overflows float64
    logits[k] *= 300.0
    logits[k, int(rng.integers(q))] = rng.uniform(750.0, 1000.0)
    return {"logits": logits, "labels": rng.integers(0, q, size=N)}


def _naive_ce(logits, labels):
    with np.errstate(all="ignore"):
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        d = p.copy()
        d[np.arange(len(labels)), labels] -= 1.0
        return float(-np.log(p[np.arange(len(labels)), labels]).mean()), d / len(labels)


SOFTMAX_CE = register(Check(
    notebook=NOTEBOOK, grade_id="check_softmax_cross_entropy", target="softmax_cross_entropy",
    forbidden=("rnn_tutor.heads.softmax_cross_entropy", "rnn_tutor.heads.log_softmax", "rnn_tutor.heads.softmax", "rnn_tutor.heads.softmax_vjp",), points=2,
    make_inputs=_ce_inputs, reference=softmax_ce_reference, output_names=("L", "dlogits"),
    compare=_compare_finite(("L", "dlogits")),
    mistakes=mistakes(("the loss is the *mean* over the N examples: divide the summed loss and its gradient by N.",
         lambda logits, labels: tuple(v * logits.shape[0] for v in softmax_ce_reference(logits, labels))),
        ("the gradient must be divided by N too, like the mean loss: dlogits = (p - onehot) / N.",
         lambda logits, labels: (softmax_ce_reference(logits, labels)[0],
                                 softmax_ce_reference(logits, labels)[1] * logits.shape[0])),
        ("the gradient is p - onehot(c): subtract 1 at each example's true class.",
         lambda logits, labels: (softmax_ce_reference(logits, labels)[0],
                                 softmax_ce_reference(logits, labels)[1]
                                 + np.eye(logits.shape[1])[labels] / logits.shape[0])),
        ("the softmax normalises over the q classes of each example (axis=1), not over the batch (axis=0).",
         lambda logits, labels: _softmax_axis0(logits, labels)),
        ("the cross-entropy is minus the log-probability of the true class: check the sign of L.",
         lambda logits, labels: (-softmax_ce_reference(logits, labels)[0], softmax_ce_reference(logits, labels)[1])),
    ),
))


def _softmax_axis0(logits, labels):
    shifted = logits - logits.max(axis=0, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))
    rows = np.arange(logits.shape[0])
    d = np.exp(logp)
    d[rows, labels] -= 1.0
    return float(-logp[rows, labels].mean()), d / logits.shape[0]


def check_softmax_cross_entropy(fn, hidden: bool = False) -> int:
    """Check your ``softmax_cross_entropy(logits, labels) -> (L, dlogits)`` (``hidden=True``: fresh cases)."""
    return run_check(SOFTMAX_CE, fn, hidden=hidden)


# ============================================================================ task 2: many-to-one loss and gradient

def many_to_one_reference(hs, lengths, labels, w_y, b_y):
    """Loss from each sequence's last real state, and its gradients.

    h_last[n] = hs[lengths[n] - 1, n];  o = w_y h_last + b_y;  L = mean cross-entropy
    returns L, dhs (T, N, m) (non-zero only at each sequence's last real step), dw_y (q, m), db_y (q,)
    """
    T, N, m = hs.shape
    last = np.asarray(lengths) - 1
    h_last = hs[last, np.arange(N)]                       # (N, m)
    L, do = softmax_ce_reference(h_last @ w_y.T + b_y, labels)
    dhs = np.zeros((T, N, m))
    dhs[last, np.arange(N)] = do @ w_y                     # (N, q) @ (q, m) -> (N, m)
    return L, dhs, do.T @ h_last, do.sum(axis=0)


def _m21_inputs(rng) -> dict:
    N, q, m = _sizes(rng)
    N = max(N, 3)
    T = int(rng.integers(4, 8))
    lengths = rng.integers(1, T + 1, size=N)
    full, short = rng.permutation(N)[:2]
    lengths[full], lengths[short] = T, int(rng.integers(1, T - 1))
    hs = np.tanh(rng.normal(size=(T, N, m)))
    for n, L in enumerate(lengths):
        hs[L:, n] = 0.0  # padded steps hold zeros, as masked_cell_forward returns them
    return {"hs": hs, "lengths": lengths, "labels": rng.integers(0, q, size=N),
            "w_y": rng.normal(size=(q, m)), "b_y": rng.normal(size=q)}


def _m21_last_row(hs, lengths, labels, w_y, b_y):  # hs[-1] for everyone
    return many_to_one_reference(hs, np.full(hs.shape[1], hs.shape[0]), labels, w_y, b_y)


def _m21_grad_at_T(hs, lengths, labels, w_y, b_y):
    L, dhs, dw, db = many_to_one_reference(hs, lengths, labels, w_y, b_y)
    moved = np.zeros_like(dhs)
    moved[-1] = dhs.sum(axis=0)
    return L, moved, dw, db


def _m21_grad_everywhere(hs, lengths, labels, w_y, b_y):
    L, dhs, dw, db = many_to_one_reference(hs, lengths, labels, w_y, b_y)
    return L, np.broadcast_to(dhs.sum(axis=0), dhs.shape).copy(), dw, db


def _m21_no_wy(hs, lengths, labels, w_y, b_y):  # dw_y = do.T @ hs[-1]
    L, dhs, _, db = many_to_one_reference(hs, lengths, labels, w_y, b_y)
    _, do = softmax_ce_reference(hs[np.asarray(lengths) - 1, np.arange(hs.shape[1])] @ w_y.T + b_y, labels)
    return L, dhs, do.T @ hs[-1], db


MANY_TO_ONE = register(Check(
    notebook=NOTEBOOK, grade_id="check_many_to_one_loss", target="many_to_one_loss",
    forbidden=("rnn_tutor.heads.softmax_cross_entropy", "rnn_tutor.heads.log_softmax", "rnn_tutor.heads.softmax", "rnn_tutor.masking.last_valid", "rnn_tutor.masking.last_valid_backward", "rnn_tutor.architectures.many_to_one_loss", "rnn_tutor.architectures.many_to_one_backward", "rnn_tutor.heads.dense_backward",), points=3,
    make_inputs=_m21_inputs, reference=many_to_one_reference, output_names=("L", "dhs", "dw_y", "db_y"),
    mistakes=mistakes(("hs[-1] is the state after the padding for every sequence shorter than T: read each sequence "
         "at its own last real step, hs[lengths - 1, np.arange(N)].", _m21_last_row),
        ("the gradient must go back where the state was read: dhs[lengths[n] - 1, n], not dhs[-1].",
         _m21_grad_at_T),
        ("only the last real state of each sequence reaches the loss, so dhs is zero at every other "
         "step; you wrote the gradient into every step.", _m21_grad_everywhere),
        ("dw_y must use the same states as the forward pass (each sequence's last real state), not hs[-1].",
         _m21_no_wy),
    ),
))


def check_many_to_one_loss(fn, hidden: bool = False) -> int:
    """Check your ``many_to_one_loss(hs, lengths, labels, w_y, b_y) -> (L, dhs, dw_y, db_y)``."""
    return run_check(MANY_TO_ONE, fn, hidden=hidden)


# ============================================================================ task 3: masked cross-entropy

def masked_ce_reference(logits, labels, mask):
    """Mean cross-entropy over the real steps: ``L = -Σ mask · log p_c / Σ mask``; gradient masked likewise."""
    shifted = logits - logits.max(axis=2, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    picked = np.take_along_axis(logp, labels[..., None], axis=2)[..., 0]   # (T, N)
    count = mask.sum()
    d = np.exp(logp)
    np.put_along_axis(d, labels[..., None], np.take_along_axis(d, labels[..., None], axis=2) - 1.0, axis=2)
    return float(-(mask * picked).sum() / count), d * mask[..., None] / count


def _mce_inputs(rng) -> dict:
    N, q, _ = _sizes(rng)
    N = max(N, 3)
    T = int(rng.integers(3, 7))
    lengths = rng.integers(1, T + 1, size=N)
    full, short = rng.permutation(N)[:2]
    lengths[full], lengths[short] = T, int(rng.integers(1, T - 1))
    mask = (np.arange(T)[:, None] < lengths[None, :]).astype(float)
    logits = rng.normal(0.0, 2.0, size=(T, N, q))
    logits[mask == 0] = rng.normal(0.0, 10.0, size=(int((mask == 0).sum()), q))  # junk at padding
    return {"logits": logits, "labels": rng.integers(0, q, size=(T, N)), "mask": mask}


def _mce_unmasked(logits, labels, mask):
    return masked_ce_reference(logits, labels, np.ones_like(mask))


def _mce_divide_all(logits, labels, mask):
    L, d = masked_ce_reference(logits, labels, mask)
    f = mask.sum() / mask.size
    return L * f, d * f


def _mce_grad_unmasked(logits, labels, mask):
    L, _ = masked_ce_reference(logits, labels, mask)
    _, d = masked_ce_reference(logits, labels, np.ones_like(mask))
    return L, d * mask.size / mask.sum()


def _mce_per_sequence(logits, labels, mask):  # each sequence's mean, then the mean over the sequences
    weights = mask / mask.sum(axis=0, keepdims=True) / mask.shape[1]  # (T, N), sums to 1
    shifted = logits - logits.max(axis=2, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    picked = np.take_along_axis(logp, labels[..., None], axis=2)[..., 0]
    d = np.exp(logp)
    np.put_along_axis(d, labels[..., None], np.take_along_axis(d, labels[..., None], axis=2) - 1.0, axis=2)
    return float(-(weights * picked).sum()), d * weights[..., None]


MASKED_CE = register(Check(
    notebook=NOTEBOOK, grade_id="check_masked_cross_entropy", target="masked_cross_entropy",
    forbidden=("rnn_tutor.heads.softmax_cross_entropy", "rnn_tutor.heads.log_softmax", "rnn_tutor.heads.softmax", "rnn_tutor.architectures.many_to_many_loss", "rnn_tutor.architectures.many_to_many_backward",), points=2,
    make_inputs=_mce_inputs, reference=masked_ce_reference, output_names=("L", "dlogits"),
    compare=_compare_finite(("L", "dlogits")),
    mistakes=mistakes(("the padded steps are counted: multiply each step's loss by the mask, and divide by the number "
         "of real steps, mask.sum().", _mce_unmasked),
        ("divide by the number of real steps, mask.sum(), not by all T * N positions: padding must not "
         "dilute the mean.", _mce_divide_all),
        ("the loss is masked but the gradient is not: padded steps must get a zero gradient "
         "(multiply dlogits by mask[..., None]).", _mce_grad_unmasked),
        ("you averaged each sequence first and then the sequences: the task asks for one mean over all "
         "real steps of the batch, so a long sequence counts more than a short one.", _mce_per_sequence),
    ),
))


def check_masked_cross_entropy(fn, hidden: bool = False) -> int:
    """Check your ``masked_cross_entropy(logits, labels, mask) -> (L, dlogits)``."""
    return run_check(MASKED_CE, fn, hidden=hidden)


# ============================================================================ task 4: greedy decoding

def _decode(params, h_0, eos, max_len, feed="argmax", stop=True, update=True, first=None):
    """The reference and its mistake models: an Elman decoder fed one-hot tokens, START = q."""
    q = params["w_y"].shape[0]
    N = h_0.shape[0]
    tokens = np.empty((max_len, N), dtype=np.int64)
    z, h, done = np.full(N, q if first is None else first), h_0, np.zeros(N, bool)
    for t in range(max_len):
        x = np.eye(q + 1)[z]                                                    # (N, q + 1) one-hot
        h_new = np.tanh(x @ params["w_x"].T + h @ params["w_h"].T + params["b_h"])
        h = h_new if update else h
        out = (h_new @ params["w_y"].T + params["b_y"]).argmax(axis=1)
        if stop:
            out = np.where(done, eos, out)
            done |= out == eos
        tokens[t] = out
        z = out if feed == "argmax" else np.full(N, q)
    return tokens


def greedy_reference(params, h_0, eos, max_len):
    """``tokens (max_len, N)``: z_0 = START = q, h_t = tanh(w_x e(z_{t-1}) + w_h h_{t-1} + b_h),
    z_t = argmax(w_y h_t + b_y); after a sequence's first ``eos`` every token is ``eos``."""
    return _decode(params, h_0, eos, max_len)


def _greedy_inputs(rng) -> dict:
    """Random decoders, kept only when the stopping rule matters (some sequence emits eos early and
    would go on with other tokens, another is still running) and the reference and the mistake models
    below all decode different tokens (e.g. 'h_0 at every step' can match 'START at every step')."""
    for _ in range(1000):  # about 3 draws on average
        N, q, m = _sizes(rng)
        N, q = max(N, 3), max(q, 3)
        params = {"w_x": rng.normal(0, 1.5, (m, q + 1)), "w_h": rng.normal(0, 1.2, (m, m)),
                  "b_h": rng.normal(0, 0.3, m), "w_y": rng.normal(0, 1.5, (q, m)), "b_y": rng.normal(0, 0.3, q)}
        h_0 = rng.uniform(-1, 1, (N, m))
        max_len = int(rng.integers(5, 9))
        free = _decode(params, h_0, 0, max_len, stop=False)
        eos = int(free[1, 0])                                      # sequence 0 says it at step 2
        ends = [(free[:, n] == eos).argmax() if (free[:, n] == eos).any() else max_len for n in range(N)]
        if not ((free[2:, 0] != eos).any() and max(ends) > 1 and len(set(free.ravel().tolist())) > 2):
            continue
        right = _decode(params, h_0, eos, max_len)
        wrong = [_decode(params, h_0, eos, max_len, **kw) for kw in
                 ({"stop": False}, {"feed": "start"}, {"first": 0}, {"update": False})]
        outs = [right, *wrong]  # every common mistake shows, and differs from the others (one cause each)
        if all((a != b).any() for i, a in enumerate(outs) for b in outs[i + 1:]):
            return {"params": params, "h_0": h_0, "eos": eos, "max_len": max_len}
    raise RuntimeError("_greedy_inputs: no suitable decoder in 1000 draws")


GREEDY_DECODE = register(Check(
    notebook=NOTEBOOK, grade_id="check_greedy_decode", target="greedy_decode",
    forbidden=("rnn_tutor.seq2seq.decode_greedy", "rnn_tutor.seq2seq.greedy_decode", "rnn_tutor.architectures.one_to_many_forward",), points=3,
    make_inputs=_greedy_inputs, reference=greedy_reference, rtol=0.0, atol=0.0,
    mistakes=mistakes(("a sequence has ended once it has produced eos: from then on write eos, whatever the decoder "
         "would say (keep a boolean 'done' array).",
         lambda params, h_0, eos, max_len: _decode(params, h_0, eos, max_len, stop=False)),
        ("feed back the token you just chose: the input of step t + 1 is the one-hot vector of the argmax "
         "of step t (you fed START at every step).",
         lambda params, h_0, eos, max_len: _decode(params, h_0, eos, max_len, feed="start")),
        ("the first input is the START token, id q (the extra last input of w_x), not token 0.",
         lambda params, h_0, eos, max_len: _decode(params, h_0, eos, max_len, first=0)),
        ("carry the state: each step must start from the previous step's h, not from h_0.",
         lambda params, h_0, eos, max_len: _decode(params, h_0, eos, max_len, update=False)),
    ),
))


def check_greedy_decode(fn, hidden: bool = False) -> int:
    """Check your ``greedy_decode(params, h_0, eos, max_len) -> tokens (max_len, N)``."""
    return run_check(GREEDY_DECODE, fn, hidden=hidden)
