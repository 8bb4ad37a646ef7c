"""Figures of lesson 03 (rnn_tutor.plots.bptt): they draw the data they are given and validate it."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from rnn_tutor.plots import (plot_forecast, plot_k_effect, plot_loss_curves, plot_loss_over_time, plot_memory,
                             plot_time_contributions)


def _ax():
    return Figure().add_subplot()


def test_loss_over_time_bars_and_running_sum():
    ax = _ax()
    assert plot_loss_over_time([0.5, 0.25, 1.0], ax=ax) is ax
    heights = [p.get_height() for p in ax.patches]
    assert heights == [0.5, 0.25, 1.0]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [0.5, 0.75, 1.75])
    with pytest.raises(ValueError, match="step_losses: expected a non-empty 1-D array"):
        plot_loss_over_time(np.zeros((2, 2)), ax=_ax())


def test_time_contributions_log_scale_skips_zeros():
    ax = plot_time_contributions([1.0, -0.1, 0.0, 1e-3], ax=_ax())
    assert ax.get_yscale() == "log"
    y = ax.get_lines()[0].get_ydata()
    assert y[1] == pytest.approx(0.1) and np.isnan(y[2])


def test_loss_curves_one_line_per_run_and_baseline():
    ax = plot_loss_curves({"k = 2": [1.0, 0.5], "k = 10": [1.0, 0.2, 0.1]}, ax=_ax(), baseline=0.3)
    lines = ax.get_lines()
    assert len(lines) == 3
    np.testing.assert_array_equal(lines[1].get_ydata(), [1.0, 0.2, 0.1])
    assert lines[2].get_ydata()[0] == 0.3
    with pytest.raises(ValueError, match="histories: expected a non-empty dict"):
        plot_loss_curves({}, ax=_ax())


def test_forecast_lines_and_shapes():
    ax = plot_forecast([1.0, 2.0, 3.0], [1.1, 1.9, 3.2], baseline=[0.5, 1.0, 2.0], ax=_ax(), t_start=5)
    truth, base, pred = ax.get_lines()
    np.testing.assert_array_equal(truth.get_xdata(), [5, 6, 7])
    np.testing.assert_array_equal(pred.get_ydata(), [1.1, 1.9, 3.2])
    with pytest.raises(ValueError, match=r"prediction: expected shape \(3,\)"):
        plot_forecast([1.0, 2.0, 3.0], [1.0], ax=_ax())
    with pytest.raises(ValueError, match=r"baseline: expected shape \(2,\)"):
        plot_forecast([1.0, 2.0], [1.0, 2.0], baseline=[1.0], ax=_ax())


def test_k_effect_two_panels():
    fig = Figure()
    ax1, ax2 = plot_k_effect([1, 5, 10], [0.2, 0.05, 0.03], [0.1, 0.4, 0.8], axes=fig.subplots(1, 2), baseline=0.2)
    np.testing.assert_array_equal(ax1.get_lines()[0].get_ydata(), [0.2, 0.05, 0.03])
    np.testing.assert_array_equal(ax2.get_lines()[0].get_ydata(), [0.1, 0.4, 0.8])
    with pytest.raises(ValueError, match="expected shape"):
        plot_k_effect([1, 5], [0.2], [0.1, 0.2], axes=Figure().subplots(1, 2))


def test_memory_two_lines():
    ax = plot_memory([10, 100], [220, 2020], [220, 220], k=10, ax=_ax())
    full, trunc = ax.get_lines()
    np.testing.assert_array_equal(full.get_ydata(), [220, 2020])
    assert "k = 10" in trunc.get_label()
    with pytest.raises(ValueError, match="expected shape"):
        plot_memory([10, 100], [1], [1, 2], k=3, ax=_ax())


def test_figures_are_made_when_no_axes_is_given():
    import matplotlib.pyplot as plt

    ax = plot_loss_over_time([1.0, 2.0])
    assert ax.figure is not None
    axes = plot_k_effect([1, 2], [1.0, 0.5], [0.1, 0.2])
    assert len(axes) == 2
    plt.close("all")
