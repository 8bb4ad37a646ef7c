"""The unfolding explorer of lesson 01, driven from Python (no browser)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rnn_tutor import widgets  # noqa: E402
from rnn_tutor.rnn import as_sequence, init_params, rnn_forward  # noqa: E402
from rnn_tutor.widgets.unfolding import UnfoldingExplorer, explorer_step, unfolding_explorer  # noqa: E402

SCALAR = {"w_x": np.array([[0.5]]), "w_h": np.array([[0.8]]), "b_h": np.array([0.1]),
          "w_y": np.array([[2.0]]), "b_y": np.array([-0.5])}
XS = [1.0, 2.0, -1.0, 0.5]
PNG = b"\x89PNG\r\n\x1a\n"


def test_reexported_by_the_package():
    assert widgets.unfolding_explorer is unfolding_explorer


@pytest.mark.parametrize("t", [1, 2, 3, 4])
def test_explorer_step_matches_the_forward_pass(t):
    hs, ys, _ = rnn_forward(as_sequence(XS), SCALAR)
    state = explorer_step(XS, SCALAR, t)
    assert state["t"] == t and state["T"] == 4
    np.testing.assert_allclose(state["h_t"], hs[t - 1, 0], rtol=1e-14)
    np.testing.assert_allclose(state["y_t"], ys[t - 1, 0], rtol=1e-14)
    np.testing.assert_allclose(state["hs"], hs[:, 0], rtol=1e-14)
    assert f"t = {t}:" in state["text"]
    assert f"h_t = {hs[t - 1, 0, 0]:.3f}" in state["text"]
    assert f"y_t = {ys[t - 1, 0, 0]:.3f}" in state["text"]


def test_explorer_step_by_hand():
    assert explorer_step(XS, SCALAR, 1)["text"] == "t = 1: x_t = 1, h_t = 0.537, y_t = 0.574"  # tanh(0.6)


def test_explorer_step_activations_and_vectors():
    rng = np.random.default_rng(0)
    p = init_params(2, 3, 2, rng)
    xs = rng.normal(size=(5, 2))  # (T, d): one sequence of 2 features
    state = explorer_step(xs, p, 5, f="relu", g="sigmoid")
    hs, ys, _ = rnn_forward(xs[:, None, :], p, f="relu", g="sigmoid")
    np.testing.assert_allclose(state["h_t"], hs[4, 0])
    np.testing.assert_allclose(state["y_t"], ys[4, 0])
    assert "h_t = [" in state["text"]


@pytest.mark.parametrize("t", [0, 5, 2.0, True, None])
def test_explorer_step_bad_t(t):
    with pytest.raises(ValueError, match=rf"^t: expected a step with 1 <= t <= T = 4, received {t!r}"):
        explorer_step(XS, SCALAR, t)


def test_bad_sequences_and_activations():
    with pytest.raises(ValueError, match=r"^xs: the explorer follows one sequence.*received shape \(3, 2, 1\)"):
        unfolding_explorer(np.zeros((3, 2, 1)), SCALAR)
    with pytest.raises(ValueError, match=r"^xs: the diagram has room for 1 to 12 steps, received T = 13"):
        unfolding_explorer(np.zeros(13), SCALAR)
    with pytest.raises(ValueError, match=r"^xs: expected at least one time step|^xs: the diagram"):
        unfolding_explorer([], SCALAR)
    with pytest.raises(ValueError, match=r"^f: expected an activation name, one of .*, received 'softplus'"):
        unfolding_explorer(XS, SCALAR, f="softplus")
    with pytest.raises(ValueError, match=r"^xs: expected shape \(\*, \*, 1\), received shape \(4, 1, 2\)"):
        unfolding_explorer(np.zeros((4, 2)), SCALAR)


def test_widget_builds_and_exposes_its_parts():
    w = unfolding_explorer(XS, SCALAR)
    assert isinstance(w, UnfoldingExplorer)
    assert w.slider.description == "t"
    assert (w.slider.min, w.slider.max, w.slider.value) == (1, 4, 1)
    assert "h_t = 0.537" in w.readout.value and 'class="rnn-tutor-ht"' in w.readout.value
    assert w.image.value[:8] == PNG
    assert "rnn-tutor-unfolding-explorer" in w._dom_classes
    assert w.slider in w.children[0].children and w.image in w.children


def test_moving_the_slider_updates_readout_and_picture():
    hs, ys, _ = rnn_forward(as_sequence(XS), SCALAR)
    w = unfolding_explorer(XS, SCALAR)
    first_image = w.image.value
    for t in (3, 2, 4):
        w.slider.value = t
        assert w.state["t"] == t
        assert f"h_t = {hs[t - 1, 0, 0]:.3f}" in w.readout.value
        assert f"y_t = {ys[t - 1, 0, 0]:.3f}" in w.readout.value
        assert w.image.value[:8] == PNG and w.image.value != first_image
    w.slider.value = 1
    assert w.image.value == first_image  # deterministic rendering


def test_widget_opens_no_pyplot_figures_and_keeps_inputs():
    xs = np.array(XS)
    p = {k: v.copy() for k, v in SCALAR.items()}
    before = plt.get_fignums()
    w = unfolding_explorer(xs, p)
    w.slider.value = 2
    assert plt.get_fignums() == before
    np.testing.assert_array_equal(xs, XS)
    for k in SCALAR:
        np.testing.assert_array_equal(p[k], SCALAR[k])
