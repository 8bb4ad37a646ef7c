"""rnn_tutor.heads: the softmax vector-Jacobian product and its argument checks."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_tutor import heads
from rnn_tutor.gradcheck import numerical_gradient


def test_softmax_vjp_matches_finite_differences():
    rng = np.random.default_rng(0)
    os_, dps = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    numeric = numerical_gradient(lambda o: float((heads.softmax(o) * dps).sum()), os_)
    np.testing.assert_allclose(heads.softmax_vjp(heads.softmax(os_), dps), numeric, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("change", [lambda p: p * 1e300, lambda p: p * -1e300, lambda p: p + 1.0,
                                    lambda p: np.where(p == p.max(), 1.7e308, p)])
def test_softmax_vjp_refuses_ps_that_are_not_probabilities(change):
    ps = heads.softmax(np.random.default_rng(1).normal(size=(3, 3)))
    with pytest.raises(ValueError, match=r"^ps: expected probabilities in \[0, 1\] \(the output of softmax\), received"):
        heads.softmax_vjp(change(ps), np.ones((3, 3)))


def test_softmax_vjp_accepts_one_hot_probabilities():
    ps = np.eye(3)
    np.testing.assert_array_equal(heads.softmax_vjp(ps, np.ones((3, 3))), np.zeros((3, 3)))


def test_dense_layer_overflow_names_the_largest_input():
    import warnings
    rng = np.random.default_rng(2)
    hs, w_y, b_y = rng.normal(size=(5, 3, 4)), rng.normal(size=(3, 4)) * 4, rng.normal(size=3)
    hs[0, 0, :] = 1.7e308
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FloatingPointError, match=r"^hs: expected values small enough for dense_forward"):
            heads.dense_forward(hs, w_y, b_y)
        dos = rng.normal(size=(5, 3, 3))
        dos[1, 1, :] = 1.7e308
        with pytest.raises(ValueError, match=r"^dos: expected values small enough for dense_backward"):
            heads.dense_backward(dos, rng.normal(size=(5, 3, 4)) * 4, w_y)
