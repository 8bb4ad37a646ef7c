"""rnn_tutor.series: the forecasting helpers' errors and their behaviour at extreme magnitudes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from rnn_tutor import series


@pytest.mark.parametrize("scale", [1.0, 1e154, 1e-160])
def test_mse_is_exact_at_any_magnitude_it_can_represent(scale):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 3, 1)), rng.normal(size=(5, 3, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = series.mse(a * scale, b * scale)
    assert got == pytest.approx(np.mean((a - b) ** 2) * scale**2, rel=1e-14)


def test_mse_of_the_extremes_of_float64():
    """(1e154 - (-5e153))² = 2.25e308 overflows, their mean 1.125e308 does not; a mean beyond float64 is refused by name."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert series.mse(np.array([1e154, 0.0]), np.array([-5e153, 0.0])) == pytest.approx(1.125e308, rel=1e-14)
        with pytest.raises(FloatingPointError, match=r"^predictions: expected values whose mean squared error fits"):
            series.mse(np.full((5, 3, 1), 1e300), np.zeros((5, 3, 1)))
        with pytest.raises(ValueError, match=r"^targets: expected values whose mean squared error fits"):
            series.mse(np.zeros(3), np.array([0.0, 1.7e308, -1.7e308]))
        with pytest.raises(ValueError, match=r"^ps: expected values whose mean squared error fits"):
            series.persistence_mse(np.zeros((4, 2, 1)), np.full((4, 2, 1), 1e300))


def test_persistence_mse_and_split_take_0d_integer_arrays():
    rng = np.random.default_rng(1)
    xs, ps = rng.normal(size=(5, 3, 1)), rng.normal(size=(5, 3, 1))
    assert series.persistence_mse(xs, ps, np.array(2)) == series.persistence_mse(xs, ps, 2)
    s = np.arange(30.0)
    for got, want in zip(series.split(s, np.array(20)), series.split(s, 20)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("call, match", [
    (lambda: series.persistence_mse(np.zeros((5, 3, 1)), np.zeros((5, 3, 1)), 6), r"^k: expected a window length in 1\.\.5, received 6"),
    (lambda: series.persistence_mse(np.zeros((5, 3, 1)), np.zeros((5, 3, 1)), 2.0), r"^k: expected a window length"),
    (lambda: series.split(np.arange(30.0), 29), r"^n_train: expected a number of training values in 2\.\.28, received 29"),
    (lambda: series.split(np.arange(3.0), 2), r"^series: expected at least 4 values"),
])
def test_bad_sizes_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()
