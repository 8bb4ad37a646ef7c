"""Measurements behind lesson 07."""

import time

import numpy as np
import pytest

from rnn_tutor.architectures import available_cells
from rnn_tutor.gradcheck import numerical_gradient, rel_error
from rnn_tutor import strengths
from rnn_tutor.strengths import best_seconds, input_sensitivity, median_seconds, sliding_windows, window_forward


def _loop_windows(xs, w):
    return np.stack([np.concatenate([xs[s + i] for i in range(w)], axis=-1) for s in range(len(xs) - w + 1)])


@pytest.mark.parametrize("T,N,d,w", [(1, 1, 1, 1), (6, 2, 3, 2), (7, 3, 2, 7)])
def test_sliding_windows_match_a_loop(T, N, d, w):
    xs = np.random.default_rng(0).normal(size=(T, N, d))
    before = xs.copy()
    assert np.array_equal(sliding_windows(xs, w), _loop_windows(xs, w))
    assert np.array_equal(xs, before)


def test_sliding_windows_bad_input():
    xs = np.zeros((4, 1, 2))
    for bad in (0, 5, 2.5, True):
        with pytest.raises(ValueError, match="w: expected a window length from 1 to T = 4"):
            sliding_windows(xs, bad)
    with pytest.raises(ValueError, match=r"xs: expected a 3-D array"):
        sliding_windows(np.zeros((4, 2)), 2)


def test_window_forward_computes_every_position():
    rng = np.random.default_rng(1)
    xs, w, m = rng.normal(size=(6, 2, 3)), 3, 4
    w_1, b_1, w_2, b_2 = rng.normal(size=(m, 9)), rng.normal(size=m), rng.normal(size=(2, m)), rng.normal(size=2)
    out = window_forward(xs, w_1, b_1, w_2, b_2, w)
    for s in range(4):
        x = np.concatenate(list(xs[s:s + w]), axis=-1)
        assert np.allclose(out[s], np.tanh(x @ w_1.T + b_1) @ w_2.T + b_2)
    with pytest.raises(ValueError, match=r"w_1: expected shape \(m, w d\) = \(m, 9\)"):
        window_forward(xs, w_1[:, :8], b_1, w_2, b_2, w)


@pytest.mark.parametrize("name", sorted(available_cells()))
def test_input_sensitivity_matches_finite_differences(name):
    cell = available_cells()[name]
    rng = np.random.default_rng(2)
    params = cell.init_params(2, 3, rng)
    xs, u = rng.normal(size=(5, 2, 2)), rng.normal(size=(2, 3))

    def score(x):
        return float((u * cell.forward(x, params)[0][-1]).sum())

    grad = numerical_gradient(score, xs)
    expected = np.sqrt((grad**2).sum(axis=(1, 2)))
    assert rel_error(input_sensitivity(cell, params, xs, u), expected) < 1e-6
    with pytest.raises(ValueError, match=r"u: expected shape \(N, m\) = \(2, 3\)"):
        input_sensitivity(cell, params, xs, u.T)


def test_median_seconds():
    assert median_seconds(lambda: sum(range(100)), repeats=3) >= 0
    with pytest.raises(ValueError, match="repeats"):
        median_seconds(lambda: None, repeats=0)



def test_best_seconds_is_the_shortest_run_after_a_warm_up():
    delays = iter([0.05, 0.03, 0.0, 0.02])  # the first call is the warm-up and is not timed

    def fn():
        time.sleep(next(delays))

    best = best_seconds(fn, repeats=3)
    assert best < 0.015
    with pytest.raises(ValueError, match="repeats"):
        best_seconds(lambda: None, repeats=True)


# ----------------------------------------------------------------------------- bad input (issue 16, fuzz report)

def test_window_length_may_be_a_0d_integer_array():
    xs = np.random.default_rng(0).normal(size=(5, 3, 2))
    np.testing.assert_array_equal(strengths.sliding_windows(xs, np.array(2)), strengths.sliding_windows(xs, 2))
    with pytest.raises(TypeError, match=r"^w: expected a window length from 1 to T = 5, received 2\.0"):
        strengths.sliding_windows(xs, 2.0)


def test_window_forward_saturates_instead_of_warning():
    import warnings
    rng = np.random.default_rng(1)
    xs, w = rng.normal(size=(5, 3, 2)), 2
    w_1, b_1, w_2, b_2 = rng.normal(size=(4, 4)), rng.normal(size=4), rng.normal(size=(3, 4)), rng.normal(size=3)
    xs[2, 0, 0] = 1.7e308
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = strengths.window_forward(xs, w_1 * 10, b_1, w_2, b_2, w)
    assert np.isfinite(out).all()
    with np.errstate(over="ignore"):
        H = np.tanh(strengths.sliding_windows(xs, w) @ (w_1 * 10).T + b_1)  # tanh(±inf) = ±1
    np.testing.assert_allclose(out, H @ w_2.T + b_2, rtol=1e-12)


@pytest.mark.parametrize("timer", [strengths.best_seconds, strengths.median_seconds])
def test_timers_name_a_function_that_needs_arguments(timer):
    with pytest.raises(TypeError, match=r"^fn: expected a function called without arguments, fn\(\), received"):
        timer(lambda x: x, repeats=1)


@pytest.mark.parametrize("scale", [1e300, -1e300])
def test_input_sensitivity_is_linear_in_u_even_for_huge_u(scale):
    import warnings
    from rnn_tutor.architectures import available_cells
    cell = available_cells()["lstm"]
    rng = np.random.default_rng(2)
    params, xs, u = cell.init_params(2, 3, rng), rng.normal(size=(5, 2, 2)), rng.normal(size=(2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        big = strengths.input_sensitivity(cell, params, xs, u * scale)
    np.testing.assert_allclose(big, strengths.input_sensitivity(cell, params, xs, u) * abs(scale), rtol=1e-12)


def test_window_forward_names_an_output_overflow():
    rng = np.random.default_rng(3)
    xs = rng.normal(size=(5, 3, 2))
    w_1, b_1, w_2, b_2 = np.zeros((4, 4)), np.full(4, 10.0), np.full((3, 4), 1.5e308), rng.normal(size=3)  # H = tanh(10)
    with pytest.raises(FloatingPointError, match=r"^w_2: expected values small enough for window_forward"):
        strengths.window_forward(xs, w_1, b_1, w_2, b_2, 2)
