"""rnn_tutor.gradcheck: finite differences and the relative error, including extreme magnitudes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from rnn_tutor import gradcheck as gc


def test_numerical_gradient_of_a_quadratic():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    np.testing.assert_allclose(gc.numerical_gradient(lambda v: float((v**2).sum()), x), 2 * x, rtol=1e-8)


@pytest.mark.parametrize("scale", [1.0, 1e300, -1e300, 1e154, 1e-300])
def test_rel_error_does_not_depend_on_the_scale(scale):
    """rel_error(c a, c b) = rel_error(a, b): huge or tiny gradients get the true value, not NaN or 0/0."""
    a, b = np.array([1.0, 2.0, -3.0]), np.array([1.0, 2.5, -3.0])
    want = np.linalg.norm(a - b) / np.linalg.norm(b)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = gc.rel_error(a * scale, b * scale)
    assert abs(got - want) < 1e-14


def test_rel_error_with_one_entry_at_the_top_of_float64():
    a = np.array([1.7e308, 0.0, -1.7e308])
    b = np.array([1.7e308, 0.0, 1.7e308])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gc.rel_error(a, b) == pytest.approx(np.sqrt(2.0), rel=1e-14)  # ‖a - b‖ = 2·1.7e308, ‖a‖ = √2·1.7e308
    assert gc.rel_error(np.ones(3) * 1e300, np.ones(3) * 2e300) == pytest.approx(0.5, rel=1e-14)


@pytest.mark.parametrize("scale", [1e154, 1e300])
def test_max_rel_error_of_huge_gradients(scale):
    a = {"w": np.array([[1.0, 2.0], [3.0, 4.0]]), "b": np.array([1.0, -1.0])}
    b = {"w": a["w"] * 1.5, "b": a["b"]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = gc.max_rel_error({k: v * scale for k, v in a.items()}, {k: v * scale for k, v in b.items()})
    assert got == pytest.approx({"w": 1 / 3, "b": 0.0}, rel=1e-14, abs=0)


def test_rel_error_of_zeros_is_zero():
    assert gc.rel_error(np.zeros(3), np.zeros(3)) == 0.0
