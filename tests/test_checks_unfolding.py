"""The checks of exercise 01 (rnn_tutor.checks.unfolding): pass the solution, fail stubs, mistakes and mutation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from rnn_tutor.checks import REGISTRY
from rnn_tutor.checks import unfolding as U
from rnn_tutor.checks.core import CheckFailed, evaluate_case
from rnn_tutor.rnn import count_params, rnn_forward

CHECKS = {"rnn_step": (U.RNN_STEP, U.check_rnn_step), "rnn_forward": (U.RNN_FORWARD, U.check_rnn_forward),
          "n_params": (U.N_PARAMS, U.check_n_params), "final_states": (U.FINAL_STATES, U.check_final_states)}
SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions" / "01_unfolding.ipynb"


# ----------------------------------------------------------------------------- learner-style solutions

def good_step(x_t, h_prev, w_x, w_h, b_h):
    return np.tanh(x_t @ w_x.T + h_prev @ w_h.T + b_h)


def good_forward(xs, params, h_0):
    hs, h = [], h_0
    for x_t in xs:
        h = good_step(x_t, h, params["w_x"], params["w_h"], params["b_h"])
        hs.append(h)
    hs = np.stack(hs)
    return hs, hs @ params["w_y"].T + params["b_y"]


def good_n_params(d, m, q, T):
    return m * d + m * m + m + q * m + q


def good_final_states(xs, lengths, params):
    m = params["w_h"].shape[0]
    return np.stack([good_forward(xs[:L, n:n + 1], params, np.zeros((1, m)))[0][-1, 0]
                     for n, L in enumerate(lengths)])


GOOD = {"rnn_step": good_step, "rnn_forward": good_forward, "n_params": good_n_params,
        "final_states": good_final_states}


def stub(*args, **kwargs):
    # YOUR CODE HERE
    raise NotImplementedError()


# ----------------------------------------------------------------------------- registry

def test_registered_under_notebook_and_grade_id():
    for name, (check, _) in CHECKS.items():
        assert REGISTRY[("01_unfolding", f"check_{name}")] is check
        assert check.target == name and check.points > 0


def test_references_agree_with_the_library():
    """The checks' plain-NumPy references agree with rnn_tutor.rnn (tanh, identity output)."""
    for seed in range(5):
        inputs = U.RNN_FORWARD.make_inputs(np.random.default_rng(seed))
        hs, ys = U.forward_reference(**inputs)
        lib_hs, lib_ys, _ = rnn_forward(inputs["xs"], inputs["params"], inputs["h_0"])
        np.testing.assert_allclose(hs, lib_hs, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ys, lib_ys, rtol=1e-12, atol=1e-14)
        inputs = U.N_PARAMS.make_inputs(np.random.default_rng(seed))
        assert U.n_params_reference(**inputs) == count_params(inputs["d"], inputs["m"], inputs["q"])


def test_final_states_reference_against_library_per_sequence():
    inputs = U.FINAL_STATES.make_inputs(np.random.default_rng(11))
    xs, lengths, p = inputs["xs"], inputs["lengths"], inputs["params"]
    out = U.final_states_reference(**inputs)
    assert len(set(lengths.tolist())) > 1  # the case really mixes lengths
    for n, L in enumerate(lengths):
        hs, _, _ = rnn_forward(xs[:L, n:n + 1], p)
        np.testing.assert_allclose(out[n], hs[-1, 0], rtol=1e-12)


# ----------------------------------------------------------------------------- pass and fail

@pytest.mark.parametrize("name", CHECKS)
def test_passes_reference_and_learner_style_solution(name, capsys):
    check, friendly = CHECKS[name]
    assert friendly(check.reference) == check.n_cases
    assert friendly(GOOD[name]) == check.n_cases
    assert friendly(GOOD[name], hidden=True) == check.n_cases
    assert "✔" in capsys.readouterr().out


@pytest.mark.parametrize("name", CHECKS)
def test_fails_on_stub(name):
    _, friendly = CHECKS[name]
    with pytest.raises(CheckFailed, match="not implemented yet"):
        friendly(stub)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        friendly(stub, hidden=True)


@pytest.mark.parametrize("name", CHECKS)
def test_fails_on_non_function(name):
    _, friendly = CHECKS[name]
    with pytest.raises(CheckFailed, match="expected a function"):
        friendly(None)


MISTAKE_CASES = [(name, i) for name, (check, _) in CHECKS.items() for i in range(len(check.mistakes))]


@pytest.mark.parametrize("name, i", MISTAKE_CASES, ids=[f"{n}-{i}" for n, i in MISTAKE_CASES])
def test_each_mistake_fails_with_its_hint(name, i):
    check, friendly = CHECKS[name]
    mistake = check.mistakes[i]
    wrong = mistake.fn
    for hidden in (False, True, True):
        with pytest.raises(CheckFailed) as info:
            friendly(wrong, hidden=hidden)
        assert f"likely cause: {mistake.hint}" in str(info.value)


@pytest.mark.parametrize("name", CHECKS)
def test_every_hint_is_unambiguous_on_many_inputs(name):
    """On 60 random cases, a mistake is never blamed on another mistake's hint."""
    check, _ = CHECKS[name]
    for seed in range(60):
        inputs = check.make_inputs(np.random.default_rng(10_000 + seed))
        for mistake in check.mistakes:
            result = evaluate_case(check, inputs, mistake.fn(**inputs))
            if not result.passed:
                assert result.problems[-1] == f"likely cause: {mistake.hint}", (seed, result.problems)


@pytest.mark.parametrize("name", CHECKS)
def test_mistake_models_stay_silent_when_they_happen_to_be_right(name):
    """A mistake that coincides with the reference on a case must not be named as the cause."""
    check, _ = CHECKS[name]
    inputs = check.make_inputs(np.random.default_rng(0))
    for mistake in check.mistakes:
        try:
            mistake.fn(**inputs)
        except ValueError as exc:
            assert "correct result" in str(exc)


# ----------------------------------------------------------------------------- mutation

def mutating_step(x_t, h_prev, w_x, w_h, b_h):
    h_prev[...] = np.tanh(x_t @ w_x.T + h_prev @ w_h.T + b_h)  # right values, written into the input
    return h_prev


def mutating_forward(xs, params, h_0):
    hs, ys = good_forward(xs, params, h_0)
    params["b_h"] += 0.0  # no change of value...
    xs[0] = 0.0  # ...but this one changes the input
    return hs, ys


def mutating_final_states(xs, lengths, params):
    out = good_final_states(xs, lengths, params)
    lengths.sort()
    return out


@pytest.mark.parametrize("name, fn, arg", [
    ("rnn_step", mutating_step, "h_prev"),
    ("rnn_forward", mutating_forward, "xs"),
    ("final_states", mutating_final_states, "lengths"),
])
def test_fails_on_in_place_mutation(name, fn, arg):
    _, friendly = CHECKS[name]
    with pytest.raises(CheckFailed, match=rf"changed its input\(s\) \['{arg}'\] in place"):
        friendly(fn)


# ----------------------------------------------------------------------------- messages

def test_message_names_shapes_for_a_transposed_result():
    def transposed(x_t, h_prev, w_x, w_h, b_h):
        return good_step(x_t, h_prev, w_x, w_h, b_h).T

    with pytest.raises(CheckFailed) as info:
        U.check_rnn_step(transposed)
    msg = str(info.value)
    assert re.search(r"expected shape \(\d, \d\), received shape \(\d, \d\) \(the axes are swapped", msg), msg
    assert "inputs: x_t=array(" in msg


def test_message_names_worst_element_index():
    def one_wrong(x_t, h_prev, w_x, w_h, b_h):
        h = good_step(x_t, h_prev, w_x, w_h, b_h)
        h[1, 2] += 0.5
        return h

    with pytest.raises(CheckFailed) as info:
        U.check_rnn_step(one_wrong)
    msg = str(info.value)
    assert "1 of" in msg and "the worst at index (1, 2)" in msg, msg


def test_message_for_forward_names_hs_or_ys():
    def ys_wrong(xs, params, h_0):
        hs, ys = good_forward(xs, params, h_0)
        return hs, ys * 2
    with pytest.raises(CheckFailed, match=r"rnn_forward\['ys'\]: shape \(\d+, \d+, \d+\) is right"):
        U.check_rnn_forward(ys_wrong)

    def too_many(xs, params, h_0):
        return good_forward(xs, params, h_0) + (None,)
    with pytest.raises(CheckFailed, match="expected 2 values, received 3"):
        U.check_rnn_forward(too_many)


def test_matmul_shape_error_gets_the_row_convention_hint():
    def w_x_untransposed(x_t, h_prev, w_x, w_h, b_h):
        return np.tanh(x_t @ w_x + h_prev @ w_h.T + b_h)  # d != m in every case, so this raises
    with pytest.raises(CheckFailed, match=r"(?s)rnn_step raised ValueError.*x_t @ w_x\.T"):
        U.check_rnn_step(w_x_untransposed)


def test_n_params_rejects_non_integers_and_wrong_counts():
    with pytest.raises(CheckFailed, match="expected a whole number"):
        U.check_n_params(lambda d, m, q, T: 12.5)
    with pytest.raises(CheckFailed, match="expected a whole number"):
        U.check_n_params(lambda d, m, q, T: str(good_n_params(d, m, q, T)))
    with pytest.raises(CheckFailed, match=r"off by \+1"):
        U.check_n_params(lambda d, m, q, T: good_n_params(d, m, q, T) + 1)
    assert U.check_n_params(lambda d, m, q, T: float(good_n_params(d, m, q, T))) == 3  # 42.0 is a count too


def test_hidden_cases_differ_from_visible_ones():
    """Hidden runs draw fresh inputs: a function that only memorises the visible answers fails."""
    visible = [U.RNN_STEP.make_inputs(np.random.default_rng(s)) for s in range(U.RNN_STEP.n_cases)]
    answers = [U.step_reference(**inp) for inp in visible]

    def memorised(x_t, h_prev, w_x, w_h, b_h):
        for inp, ans in zip(visible, answers):
            if inp["x_t"].shape == x_t.shape and np.array_equal(inp["x_t"], x_t):
                return ans
        return np.zeros_like(h_prev)

    assert U.check_rnn_step(memorised) == 3
    with pytest.raises(CheckFailed, match="hidden case"):
        U.check_rnn_step(memorised, hidden=True)


def test_make_inputs_are_adversarial():
    for seed in range(50):
        rng = np.random.default_rng(seed)
        step = U.RNN_STEP.make_inputs(rng)
        N, d = step["x_t"].shape
        m = step["w_h"].shape[0]
        assert d != m and N != m and np.abs(step["h_prev"]).min() > 0
        a_t = step["x_t"] @ step["w_x"].T + step["h_prev"] @ step["w_h"].T + step["b_h"]
        assert (a_t < 0).any() and (a_t > 0).any()  # tanh, ReLU and identity all disagree
        fwd = U.RNN_FORWARD.make_inputs(rng)
        assert fwd["params"]["w_y"].shape[0] != fwd["params"]["w_h"].shape[0]
        assert np.abs(fwd["h_0"]).min() > 0
        fs = U.FINAL_STATES.make_inputs(rng)
        T_max, lengths = fs["xs"].shape[0], fs["lengths"]
        assert lengths.max() == T_max and lengths.min() <= T_max - 2
        for n, L in enumerate(lengths):
            assert not fs["xs"][L:, n].any()
        assert U.N_PARAMS.make_inputs(rng)["T"] >= 2


# ----------------------------------------------------------------------------- the solutions notebook agrees

def test_solutions_notebook_metadata_matches_the_checks():
    if not SOLUTIONS.exists():
        pytest.fail(f"{SOLUTIONS} is missing")
    nb = json.loads(SOLUTIONS.read_text())
    assert nb["metadata"]["rnn_tutor"]["id"] == "01_unfolding"
    graded = {}
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader")
        if meta and meta.get("grade"):
            graded[meta["grade_id"]] = (meta["points"], "".join(cell["source"]))
    for name, (check, _) in CHECKS.items():
        points, source = graded[check.grade_id]
        assert points == check.points
        assert f"check_{name}({name})" in source
        assert f"check_{name}({name}, hidden=True)" in source
        assert "### BEGIN HIDDEN TESTS" in source and "### END HIDDEN TESTS" in source


def test_n_params_mistake_models_are_listed_in_the_distinctness_helper():
    """_n_params_counts mirrors the mistake list, so make_inputs can keep every hint unambiguous."""
    for seed in range(20):
        inputs = U.N_PARAMS.make_inputs(np.random.default_rng(seed))
        counts = U._n_params_counts(**inputs)
        assert counts[0] == U.n_params_reference(**inputs)
        assert counts[1:] == [mk.fn(**inputs) for mk in U.N_PARAMS.mistakes]
        assert len(set(counts)) == len(counts)


def test_a_matmul_shape_error_gets_the_row_convention_hint():
    def column_style_step(x_t, h_prev, w_x, w_h, b_h):  # w_x @ x_t: the column-vector formula on row batches
        return np.tanh(w_x @ x_t + w_h @ h_prev + b_h)

    with pytest.raises(CheckFailed, match=r"(?s)raised ValueError.*likely cause: a matrix product with mismatched shapes"):
        U.check_rnn_step(column_style_step)


def test_other_errors_get_no_matmul_hint():
    def broken_step(x_t, h_prev, w_x, w_h, b_h):
        raise KeyError("oops")

    with pytest.raises(CheckFailed) as info:
        U.check_rnn_step(broken_step)
    assert "raised KeyError" in str(info.value) and "matrix product" not in str(info.value)
