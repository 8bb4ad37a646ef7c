"""The checks of exercise 07 (rnn_tutor.checks.strengths).

The contract every check keeps (pass the reference and a solution, fail stubs, mistakes and
in-place mutation) is in tests/check_contract.py; this file gives it the lesson's solutions.
"""

import numpy as np
import pytest
from check_contract import CheckContract, without_guard

from rnn_tutor.cells import ELMAN
from rnn_tutor.charlm import init_charlm, make_streams, softmax_with_temperature, train_charlm
from rnn_tutor.checks import capstone as K
from rnn_tutor.heads import softmax
from rnn_tutor.checks import strengths as C
from rnn_tutor.checks.core import CheckFailed, evaluate_case, run_check
from rnn_tutor.strengths import sliding_windows


def sample_next(probs, u):
    return np.array([int(np.searchsorted(np.cumsum(p), x, side="right")) for p, x in zip(probs, u)])


def library_train_char_model(train_ids, V, m, updates, seed):
    params = init_charlm(ELMAN, V, m, np.random.default_rng(seed))
    params, _ = train_charlm(ELMAN, params, make_streams(train_ids, 16), V, k=16, epochs=100, max_updates=updates)
    return params


def doubling_sliding_windows(xs, w):
    out = sliding_windows(xs, w)
    xs *= 2
    return out


class TestContract(CheckContract):
    """The contract of every check (tests/check_contract.py), for exercise 07."""

    NOTEBOOK = "07_strengths_and_shortcomings"
    CHECKS = {"softmax_with_temperature": (C.SOFTMAX_T, C.check_softmax_with_temperature),
              "sample_next": (C.SAMPLE_NEXT, C.check_sample_next),
              "sliding_windows": (C.WINDOWS, C.check_sliding_windows),
              "train_char_model": (K.TRAIN_CHAR_MODEL, K.check_train_char_model)}
    GOOD = {"sample_next": sample_next}
    SHORTCUTS = {"softmax_with_temperature": [softmax_with_temperature,
                                              lambda logits, temperature: softmax(logits / temperature)],
                 "sliding_windows": [sliding_windows], "train_char_model": [library_train_char_model]}
    # the library has no inverse-CDF sampler of given uniforms (charlm.sample uses Generator.choice)
    NO_LIBRARY_ROUTE = frozenset({"sample_next"})
    MUTATIONS = [("sliding_windows", doubling_sliding_windows, "xs")]


def test_naive_softmax_overflow_is_caught_with_the_element():
    def naive(logits, temperature):
        with np.errstate(all="ignore"):
            e = np.exp(logits / temperature)
            return e / e.sum(axis=-1, keepdims=True)
    with pytest.raises(CheckFailed, match=r"element \(0, \d\) is nan"):
        run_check(C.SOFTMAX_T, naive)


@without_guard
def test_wrong_shape_is_reported():
    with pytest.raises(CheckFailed, match=r"expected shape \(\d+, \d+, \d+\), received shape"):
        run_check(C.WINDOWS, lambda xs, w: sliding_windows(xs, w)[:, :, :-1])


# ----------------------------------------------------------------------------- the capstone's training loop

def test_char_window_gradients_match_finite_differences():
    from rnn_tutor.gradcheck import max_rel_error, numerical_gradients
    rng = np.random.default_rng(0)
    V, m, k, N = 7, 5, 4, 3
    params = {"w_x": rng.normal(0, 0.5, (m, V)), "w_h": rng.normal(0, 0.5, (m, m)), "b_h": rng.normal(0, 0.1, m),
              "w_y": rng.normal(0, 0.5, (V, m)), "b_y": rng.normal(0, 0.1, V)}
    window, h = rng.integers(0, V, (k + 1, N)), rng.normal(0, 0.5, (N, m))
    _, grads, _ = K.char_window(params, window, h)
    num = numerical_gradients(lambda p: K.char_window(p, window, h)[0], params, 1e-6)
    assert max(max_rel_error(grads, num).values()) < 1e-7


def test_a_model_trained_once_fails_every_other_case():
    """The hard-coded answer: each case renames the characters, so a fixed model is far off target."""
    cases = [K.TRAIN_CHAR_MODEL.make_inputs(np.random.default_rng(s)) for s in range(3)]
    fixed = K.train_char_model_reference(**cases[0])
    assert evaluate_case(K.TRAIN_CHAR_MODEL, cases[0], fixed).passed
    for case in cases[1:]:
        result = evaluate_case(K.TRAIN_CHAR_MODEL, case, fixed)
        assert not result.passed and "no better than the character frequencies" in result.problems[0]


def test_the_capstone_names_each_failure():
    case = K.TRAIN_CHAR_MODEL.make_inputs(np.random.default_rng(5))
    V, m = case["V"], case["m"]
    rng = np.random.default_rng(0)
    untrained = {"w_x": rng.normal(0, 0.1, (m, V)), "w_h": rng.normal(0, 0.1, (m, m)), "b_h": np.zeros(m),
                 "w_y": rng.normal(0, 0.1, (V, m)), "b_y": np.zeros(V)}
    short = K.train_char_model_reference(**{**case, "updates": 30})  # about 2.95 nats: between
    diverged = {**untrained, "w_h": np.full((m, m), np.nan)}
    messages = {name: " ".join(evaluate_case(K.TRAIN_CHAR_MODEL, case, p).problems)
                for name, p in [("untrained", untrained), ("short", short), ("diverged", diverged),
                                ("transposed", {**untrained, "w_x": untrained["w_x"].T}), ("list", [1, 2])]}
    assert "no better than the character frequencies" in messages["untrained"] and "Did the parameters change" in messages["untrained"]
    assert "target 2.65" in messages["short"] and "Carry the state" in messages["short"]
    assert "training diverged" in messages["diverged"]
    assert "expected shape (48, 57), received shape (57, 48)" in messages["transposed"]
    assert "expected a dict with the keys" in messages["list"]


def test_the_wrap_up_covers_every_task_and_leads_on_to_lesson_08():
    """The exercise's last cell sums up every task (the capstone included) and links onward."""
    import json
    from pathlib import Path

    import rnn_tutor.checks  # noqa: F401 - registers every check
    from rnn_tutor.checks.core import REGISTRY

    root = Path(__file__).resolve().parent.parent
    nb = json.loads((root / "solutions" / f"{TestContract.NOTEBOOK}_solutions.ipynb").read_text(encoding="utf-8"))
    last = "".join(nb["cells"][-1]["source"])
    targets = sorted(c.target for c in REGISTRY.values() if c.notebook == TestContract.NOTEBOOK)
    assert "train_char_model" in targets
    assert [t for t in targets if f"`{t}`" not in last] == []
    link = "../lessons/08_language_modelling.ipynb"
    assert f"]({link})" in last and (root / "solutions" / link).resolve().is_file()
