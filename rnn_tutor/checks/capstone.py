"""Check of exercise 07's capstone: the learner's own training loop for a character model.

Graded task of ``solutions/07_strengths_and_shortcomings_solutions.ipynb``:

* ``train_char_model(train_ids, V, m, updates, seed)`` -> ``params`` (``w_x (m, V)``, ``w_h (m, m)``,
  ``b_h (m,)``, ``w_y (V, m)``, ``b_y (V,)``): an Elman character model trained on the ids
  ``train_ids (L,)`` with truncated BPTT, using the notebook's ``char_window`` for the loss and
  gradients of one window.

The check does not compare parameters (many are right): it measures the model's mean
cross-entropy on **held-out text**, the sonnets that follow the training text, which the
learner's function never sees, and requires at most :data:`TARGET` nats per character (the
character frequencies of that text alone give about 3.1; a trained model about 2.4).  Each case
takes a different stretch of the shipped sonnets and renames the characters by a random
permutation of the ids, so a model trained once and returned every time (a hard-coded answer)
is wrong on every other case.

The held-out ids of each case are kept here, in the process that drew the case (the notebook's
kernel, or the grader), keyed by a hash of the training ids.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from functools import lru_cache

import numpy as np

from rnn_tutor.checks.core import Check, register, run_check

__all__ = ["check_train_char_model", "TRAIN_CHAR_MODEL", "TARGET", "char_window", "held_out_cross_entropy",
           "train_char_model_reference"]

NOTEBOOK = "07_strengths_and_shortcomings"
TARGET = 2.65            # nats per character on the held-out text
N_TRAIN, N_HELD_OUT = 4500, 1500
KEYS = ("w_x", "w_h", "b_h", "w_y", "b_y")
_HELD_OUT: OrderedDict[str, np.ndarray] = OrderedDict()


@lru_cache(maxsize=1)
def _corpus() -> tuple[np.ndarray, int]:
    from importlib.resources import files
    text = files("rnn_tutor").joinpath("data/sonnets.txt").read_text(encoding="utf-8")
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    return np.array([index[c] for c in text], dtype=np.int64), len(chars)


def _key(train_ids) -> str:
    return hashlib.sha256(np.ascontiguousarray(np.asarray(train_ids, dtype=np.int64)).tobytes()).hexdigest()


def _inputs(rng: np.random.Generator) -> dict:
    ids, V = _corpus()
    start = int(rng.integers(0, ids.size - N_TRAIN - N_HELD_OUT))
    rename = rng.permutation(V)  # a new name for every character: no model fits two cases
    train, held = rename[ids[start:start + N_TRAIN]], rename[ids[start + N_TRAIN:start + N_TRAIN + N_HELD_OUT]]
    _HELD_OUT[_key(train)] = held
    while len(_HELD_OUT) > 256:
        _HELD_OUT.popitem(last=False)
    return {"train_ids": train, "V": V, "m": 48, "updates": 100, "seed": int(rng.integers(0, 2**31))}


def char_window(params, window, h):
    """Loss and gradients of one window of ids ``(k + 1, N)``: inputs ``window[:-1]``, targets ``window[1:]``.

    The Elman model ``h_t = tanh(w_x x_t + w_h h_{t-1} + b_h)``, ``o_t = w_y h_t + b_y`` on one-hot
    ``x_t``, from the state ``h (N, m)``.  Returns ``(mean cross-entropy, grads, h_k)``.
    """
    V, k, N = params["w_y"].shape[0], window.shape[0] - 1, window.shape[1]
    hs, h_prev = [], h
    for t in range(k):
        h_prev = np.tanh(params["w_x"][:, window[t]].T + h_prev @ params["w_h"].T + params["b_h"])  # (N, m)
        hs.append(h_prev)
    os_ = np.stack(hs) @ params["w_y"].T + params["b_y"]  # (k, N, m) @ (m, V) -> (k, N, V)
    os_ = os_ - os_.max(axis=-1, keepdims=True)
    logp = os_ - np.log(np.exp(os_).sum(axis=-1, keepdims=True))
    t_idx, n_idx = np.meshgrid(np.arange(k), np.arange(N), indexing="ij")
    loss = -float(logp[t_idx, n_idx, window[1:]].mean())
    dos = np.exp(logp)
    dos[t_idx, n_idx, window[1:]] -= 1.0
    dos /= k * N
    g = {key: np.zeros_like(value) for key, value in params.items()}
    dh_next = np.zeros_like(h)
    for t in reversed(range(k)):
        g["w_y"] += dos[t].T @ hs[t]
        g["b_y"] += dos[t].sum(axis=0)
        da = (dos[t] @ params["w_y"] + dh_next) * (1 - hs[t] ** 2)  # (N, m)
        np.add.at(g["w_x"].T, window[t], da)  # one-hot inputs: add da to the columns of the inputs
        g["w_h"] += da.T @ (h if t == 0 else hs[t - 1])
        g["b_h"] += da.sum(axis=0)
        dh_next = da @ params["w_h"]
    return loss, g, hs[-1]


def train_char_model_reference(train_ids, V, m, updates, seed):
    """Truncated BPTT (k = 16) over 16 streams, state carried across windows, Adam, clipping at 5."""
    rng = np.random.default_rng(seed)
    p = {"w_x": rng.normal(0, 0.1, (m, V)), "w_h": rng.normal(0, 1 / np.sqrt(m), (m, m)) * 0.5, "b_h": np.zeros(m),
         "w_y": rng.normal(0, 0.1, (V, m)), "b_y": np.zeros(V)}
    N, k, lr = 16, 16, 1e-2
    L = len(train_ids) // N
    streams = np.asarray(train_ids)[:N * L].reshape(N, L).T  # (L, N): N contiguous streams
    mom = {key: np.zeros_like(v) for key, v in p.items()}
    sq = {key: np.zeros_like(v) for key, v in p.items()}
    step, h = 0, np.zeros((N, m))
    while step < updates:
        for start in range(0, L - k, k):
            _, g, h = char_window(p, streams[start:start + k + 1], h)
            norm = np.sqrt(sum(float(np.sum(v ** 2)) for v in g.values()))
            scale = min(1.0, 5.0 / (norm + 1e-12))
            step += 1
            for key in p:
                gk = g[key] * scale
                mom[key] = 0.9 * mom[key] + 0.1 * gk
                sq[key] = 0.999 * sq[key] + 0.001 * gk ** 2
                p[key] = p[key] - lr * (mom[key] / (1 - 0.9 ** step)) / (np.sqrt(sq[key] / (1 - 0.999 ** step)) + 1e-8)
            if step >= updates:
                break
        h = np.zeros((N, m))  # a new pass over the text starts from zero
    return p


def held_out_cross_entropy(params, held_out) -> float:
    """Mean cross-entropy (nats per character) of the model reading ``held_out`` from h = 0."""
    loss, _, _ = char_window(params, np.asarray(held_out)[:, None], np.zeros((1, params["w_h"].shape[0])))
    return loss


def _judge(received, expected, inputs) -> list[str]:
    ids, V, m = inputs["train_ids"], inputs["V"], inputs["m"]
    shapes = {"w_x": (m, V), "w_h": (m, m), "b_h": (m,), "w_y": (V, m), "b_y": (V,)}
    if not isinstance(received, dict) or set(received) != set(KEYS):
        got = sorted(received) if isinstance(received, dict) else type(received).__name__
        return [f"train_char_model: expected a dict with the keys {list(KEYS)}, received {got}"]
    params = {}
    for key, shape in shapes.items():
        try:
            value = np.asarray(received[key], dtype=float)
        except (TypeError, ValueError):
            return [f"train_char_model[{key!r}]: expected an array of numbers, received {type(received[key]).__name__}"]
        if value.shape != shape:
            return [f"train_char_model[{key!r}]: expected shape {shape}, received shape {value.shape}"]
        if not np.isfinite(value).all():
            return [f"train_char_model[{key!r}] holds inf or NaN: training diverged; clip the gradient norm "
                    "(e.g. at 5) or lower the learning rate"]
        params[key] = value
    held = _HELD_OUT.get(_key(ids))
    if held is None:
        return ["train_char_model: the held-out text of this case is unknown (its inputs were changed)"]
    ce = held_out_cross_entropy(params, held)
    counts = np.bincount(held, minlength=V) / held.size
    unigram = -float(np.sum(counts[counts > 0] * np.log(counts[counts > 0])))
    if ce <= TARGET:
        return []
    if ce >= unigram:
        return [f"train_char_model: held-out cross-entropy {ce:.3f} nats per character, no better than the "
                f"character frequencies alone ({unigram:.3f}); target {TARGET}. Did the parameters change? "
                "Return the trained parameters, apply every update, and use all `updates` steps"]
    return [f"train_char_model: held-out cross-entropy {ce:.3f} nats per character (perplexity "
            f"{np.exp(ce):.1f}), target {TARGET} (perplexity {np.exp(TARGET):.1f}); the character frequencies "
            f"give {unigram:.3f}. Carry the state from window to window, clip the gradient norm, and use "
            "Adam with lr about 1e-2 for all `updates` steps"]


TRAIN_CHAR_MODEL = register(Check(
    notebook=NOTEBOOK, grade_id="check_train_char_model", target="train_char_model", points=4,
    forbidden=("rnn_tutor.charlm.train_charlm", "rnn_tutor.charlm.window_loss_and_grads",
               "rnn_tutor.truncated.train_tbptt", "rnn_tutor.truncated.train_tbptt_carried"),
    make_inputs=_inputs, reference=train_char_model_reference, compare=_judge, n_cases=2, judged_alone=True,
))


def check_train_char_model(fn, hidden: bool = False) -> None:
    """Check your ``train_char_model(train_ids, V, m, updates, seed)`` on held-out text."""
    return run_check(TRAIN_CHAR_MODEL, fn, hidden=hidden)
