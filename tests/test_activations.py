"""Activations: values, derivatives (SymPy and finite differences), stability, bounds, dynamics, figures, widget.

References are independent of rnn_tutor.activations: ``math`` formulas, central differences in
float64 and SymPy's own ``diff`` of the textbook formulas.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import sympy as sp

from rnn_tutor.activations import ACTIVATIONS, Activation, dynamics_summary, get_activation, hidden_dynamics

NAMES = ["sigmoid", "tanh", "relu", "identity"]

# Textbook formulas in plain Python (math), and their derivatives written independently.
PY = {
    "sigmoid": (lambda a: 1 / (1 + math.exp(-a)) if a >= 0 else math.exp(a) / (1 + math.exp(a)),
                lambda a: math.exp(-abs(a)) / (1 + math.exp(-abs(a))) ** 2),
    "tanh": (math.tanh, lambda a: 1 / math.cosh(a) ** 2 if abs(a) < 700 else 0.0),
    "relu": (lambda a: max(a, 0.0), lambda a: 1.0 if a > 0 else 0.0),
    "identity": (lambda a: a, lambda a: 1.0),
}
TEXTBOOK_SYM = {
    "sigmoid": lambda z: 1 / (1 + sp.exp(-z)),
    "tanh": lambda z: (sp.exp(z) - sp.exp(-z)) / (sp.exp(z) + sp.exp(-z)),
    "relu": lambda z: sp.Max(0, z),
    "identity": lambda z: z,
}


def _points(rng, n=200, scale=4.0):
    a = rng.normal(0, scale, n)
    return a[np.abs(a) > 1e-3]  # away from ReLU's kink


@pytest.mark.parametrize("name", NAMES)
def test_values_match_textbook_formulas(name):
    act = get_activation(name)
    a = np.concatenate([_points(np.random.default_rng(0)), [-60.0, -30.0, -1e-9, 0.0, 1e-9, 30.0, 60.0]])
    expected = np.array([PY[name][0](v) for v in a])
    np.testing.assert_allclose(act.fn(a), expected, rtol=1e-13, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_derivatives_match_textbook_and_keep_relative_precision(name):
    act = get_activation(name)
    a = np.concatenate([_points(np.random.default_rng(1)), [-50.0, -20.0, 20.0, 50.0]])
    expected = np.array([PY[name][1](v) for v in a])
    np.testing.assert_allclose(act.deriv(a), expected, rtol=1e-12, atol=0)


def test_tails_are_not_rounded_to_zero():
    assert ACTIVATIONS["sigmoid"].fn(-50.0) == pytest.approx(math.exp(-50) / (1 + math.exp(-50)), rel=1e-13)
    assert ACTIVATIONS["tanh"].deriv(20.0) == pytest.approx(1 / math.cosh(20.0) ** 2, rel=1e-12)
    assert ACTIVATIONS["sigmoid"].deriv(-40.0) == pytest.approx(math.exp(-40.0), rel=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_central_differences(name):
    act = get_activation(name)
    a = _points(np.random.default_rng(2))
    eps = 1e-6
    fd = (act.fn(a + eps) - act.fn(a - eps)) / (2 * eps)
    np.testing.assert_allclose(act.deriv(a), fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_sympy_faces_agree_with_numpy_and_with_sympy_diff_of_the_textbook_formula(name):
    act = get_activation(name)
    z = sp.Symbol("z", real=True)
    a = _points(np.random.default_rng(3), scale=3.0)
    f_sym = sp.lambdify(z, act.sym(z), "numpy")
    np.testing.assert_allclose(np.broadcast_to(f_sym(a), a.shape), act.fn(a), rtol=1e-12, atol=1e-15)
    textbook_deriv = sp.diff(TEXTBOOK_SYM[name](z), z)
    assert sp.simplify(act.sym_deriv(z) - textbook_deriv) == 0 or name == "relu"
    for deriv in (act.sym_deriv(z), textbook_deriv):
        d = sp.lambdify(z, deriv, "numpy")
        np.testing.assert_allclose(np.broadcast_to(d(a), a.shape), act.deriv(a), rtol=1e-10, atol=1e-14)
    # the symbolic derivative is SymPy's, not a hand-typed formula: it equals diff(sym)
    assert sp.simplify(act.sym_deriv(z) - sp.diff(act.sym(z), z)) == 0


@pytest.mark.parametrize("name", NAMES)
def test_no_overflow_warning_and_no_nan_up_to_huge_inputs(name):
    act = get_activation(name)
    a = np.concatenate([np.linspace(-1e4, 1e4, 2001), [-1e300, -710.0, -1e4, 1e4, 710.0, 1e300]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            values, derivs = act.fn(a), act.deriv(a)
    assert np.isfinite(values).all() and np.isfinite(derivs).all()


def test_ranges_and_saturation():
    a = np.linspace(-1e4, 1e4, 20001)
    s, t, r = (ACTIVATIONS[n].fn(a) for n in ("sigmoid", "tanh", "relu"))
    assert s.min() >= 0 and s.max() <= 1 and t.min() >= -1 and t.max() <= 1 and r.min() >= 0
    for n in ("sigmoid", "tanh"):  # saturation: the derivative dies far from 0
        assert ACTIVATIONS[n].deriv(np.array([-30.0, 30.0])).max() < 1e-12


@pytest.mark.parametrize("name", NAMES)
def test_deriv_bound_is_the_supremum(name):
    act = get_activation(name)
    a = np.linspace(-20, 20, 400001)
    d = np.abs(act.deriv(a))
    assert d.max() <= act.deriv_bound + 1e-15
    assert d.max() == pytest.approx(act.deriv_bound, rel=1e-6)
    assert {"sigmoid": 0.25, "tanh": 1.0, "relu": 1.0, "identity": 1.0}[name] == act.deriv_bound


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_scalars(name):
    act = get_activation(name)
    x = np.random.default_rng(4).normal(size=(3, 2, 5))
    assert act.fn(x).shape == x.shape and act.deriv(x).shape == x.shape
    assert np.ndim(act.fn(0.3)) == 0 and np.ndim(act.deriv(0.3)) == 0
    assert act(0.3) == act.fn(0.3)
    x_before = x.copy()
    act.fn(x), act.deriv(x)
    np.testing.assert_array_equal(x, x_before)  # no in-place change
    assert act.fn([0.5, -0.5]).shape == (2,)  # lists work


def test_relu_derivative_at_zero_is_zero_like_pytorch():
    assert ACTIVATIONS["relu"].deriv(0.0) == 0.0


def test_get_activation_errors_list_the_valid_names():
    with pytest.raises(ValueError, match=r"f: expected an activation name, one of 'sigmoid', 'tanh', 'relu', 'identity', received 'softmax'\."):
        get_activation("softmax")
    with pytest.raises(ValueError, match="g: expected an activation name, .* received 3 \\(int\\)"):
        get_activation(3, "g")
    assert get_activation(ACTIVATIONS["tanh"]) is ACTIVATIONS["tanh"]
    assert isinstance(get_activation("relu"), Activation)


def test_non_numeric_input_is_a_value_error_naming_the_argument():
    with pytest.raises(ValueError, match="a: expected an array of numbers"):
        ACTIVATIONS["tanh"].fn("large")


# ----------------------------------------------------------------------------- dynamics

@pytest.mark.parametrize("scale", [0.5, 1.0, 1.5, 2.0, 3.0])
def test_tanh_and_sigmoid_stay_bounded_whatever_the_scale(scale):
    for name, (lo, hi) in {"tanh": (-1, 1), "sigmoid": (0, 1)}.items():
        hs = hidden_dynamics(name, scale, T=60, rng=np.random.default_rng(0))
        assert hs.shape == (60, 3, 16)
        assert np.isfinite(hs).all() and hs.min() >= lo and hs.max() <= hi


def test_relu_blows_up_above_spectral_radius_one_and_not_below():
    small = hidden_dynamics("relu", 0.5, T=60, rng=np.random.default_rng(0))
    big = hidden_dynamics("relu", 2.0, T=60, rng=np.random.default_rng(0))
    assert np.abs(small).max() < 20
    assert np.abs(big).max() > 1e8
    growth = np.abs(big[-1]).max() / np.abs(big[-11]).max()  # over 10 steps
    assert growth > 2.0 ** 5


def test_hidden_dynamics_is_deterministic_and_validates():
    a = hidden_dynamics("tanh", 1.2, T=5, m=3, N=2, rng=np.random.default_rng(7))
    b = hidden_dynamics("tanh", 1.2, T=5, m=3, N=2, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="w_h_scale"):
        hidden_dynamics("tanh", -1.0)
    with pytest.raises(ValueError, match="T: expected a positive integer"):
        hidden_dynamics("tanh", 1.0, T=0)
    with pytest.raises(ValueError, match="expected an activation name, one of"):
        hidden_dynamics("swish", 1.0)
    with pytest.raises(ValueError, match="rng"):
        hidden_dynamics("tanh", 1.0, rng=0)


def test_dynamics_summary_reports_the_peak():
    hs = np.zeros((4, 1, 2))
    hs[1, 0, 1] = -3.5
    hs[-1, 0, 0] = 0.25
    text = dynamics_summary(hs)
    assert "max |h_t| = 3.5" in text and "0.25" in text
    hs[2, 0, 0] = np.inf
    assert "max |h_t| = inf" in dynamics_summary(hs)


def test_dynamics_summary_never_rounds_a_saturated_tanh_up_to_one():
    hs = np.full((3, 1, 2), 0.25)
    hs[1, 0, 0] = -(1.0 - 1.2e-8)
    text = dynamics_summary(hs)
    assert "max |h_t| = 1 - 1.2e-08" in text and "max |h_t| = 1," not in text
    hs[1, 0, 0] = np.tanh(25.0)  # float64 rounds this to exactly 1
    assert "1 (exactly, after float64 rounding)" in dynamics_summary(hs)
    assert "max |h_t| = 0.999," in dynamics_summary(np.full((1, 1, 1), 0.999))


# ----------------------------------------------------------------------------- figures and widget

def test_plot_activation_draws_the_function_and_the_sympy_derivative():
    from matplotlib.figure import Figure

    from rnn_tutor.plots import plot_activation, plot_activations, plot_gradient_decay, plot_hidden_trajectories

    for name in ("sigmoid", "tanh", "relu"):
        ax = Figure().add_subplot()
        assert plot_activation(name, ax=ax) is ax
        f_line, d_line = ax.get_lines()[:2]
        x = f_line.get_xdata()
        np.testing.assert_allclose(f_line.get_ydata(), ACTIVATIONS[name].fn(x))
        np.testing.assert_allclose(d_line.get_ydata(), ACTIVATIONS[name].deriv(x), atol=1e-12)
    fig = Figure()
    axes = plot_activations(axes=fig.subplots(1, 3))
    assert len(axes) == 3
    ax = plot_gradient_decay({"sigmoid": 0.25, "tanh": 1.0}, steps=20, ax=Figure().add_subplot())
    assert ax.get_lines()[0].get_ydata()[-1] == pytest.approx(0.25 ** 20)
    ax = plot_hidden_trajectories(hidden_dynamics("relu", 2.0), ax=Figure().add_subplot())
    assert ax.get_yscale() == "symlog"
    with pytest.raises(ValueError, match="hs: expected a 3-D array"):
        plot_hidden_trajectories(np.zeros(3), ax=Figure().add_subplot())
    with pytest.raises(ValueError, match="axes: expected 2 Axes"):
        plot_activations(("tanh", "relu"), axes=Figure().subplots(1, 3))


def test_widget_controls_change_the_text_and_the_image():
    pytest.importorskip("ipywidgets")
    from rnn_tutor.widgets import dynamics_explorer

    w = dynamics_explorer()
    assert w.activation.description == "activation" and w.scale.description == "w_h scale"
    text, image = w.readout.value, w.image.value
    assert "max |h_t| =" in text and image[:4] == b"\x89PNG"
    w.activation.value = "relu"
    w.scale.value = 2.0
    assert w.readout.value != text and w.image.value != image
    assert "relu" in w.readout.value and np.abs(w.hs).max() > 1e6
    assert w.text.startswith("relu, w_h scale 2.0: max |h_t| = ") and "<" not in w.text
    w.scale.value = 0.5
    assert np.abs(w.hs).max() < 20
