"""rnn_tutor.plots.variants: the lesson-06 figures draw what they say, and reject bad input."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rnn_tutor.plots import (draw_bidirectional, draw_gru_cell, draw_lstm_cell, plot_accuracy_by_lag_bins,
                             plot_peak_predictions)


def test_accuracy_bars_one_per_model_and_bin_with_the_legend_clear_of_the_bars():
    acc = {"vanilla": [0.59, 0.46, 0.51], "GRU": [1.0, 1.0, 0.99], "LSTM": [1.0, 1.0, 1.0]}
    fig = Figure(figsize=(5.5, 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax = plot_accuracy_by_lag_bins(["0-9", "10-19", "20-29"], acc, ax=fig.add_subplot())
    heights = sorted(round(p.get_height(), 2) for p in ax.patches)
    assert heights == sorted(round(v, 2) for vals in acc.values() for v in vals)
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == sorted([*acc, "chance (0.5)"])
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend_box = ax.get_legend().get_window_extent(renderer)
    top_of_bars = ax.transData.transform((0, 1.0))[1]
    axes_box = ax.get_window_extent(renderer)
    assert legend_box.y0 >= top_of_bars - 1  # above every bar (accuracy <= 1)
    assert axes_box.x0 - 1 <= legend_box.x0 and legend_box.x1 <= axes_box.x1 + 1  # inside the panel


def test_accuracy_bars_reject_a_wrong_number_of_values():
    with pytest.raises(ValueError, match=r"accuracies\['GRU'\]: expected 3 values"):
        plot_accuracy_by_lag_bins(["a", "b", "c"], {"GRU": [1.0, 0.5]}, ax=Figure().add_subplot())


@pytest.mark.parametrize("draw", [draw_gru_cell, draw_lstm_cell, draw_bidirectional])
def test_diagrams_draw_into_a_given_axes(draw):
    ax = Figure().add_subplot()
    assert draw(ax=ax) is ax and ax.texts


def test_peak_predictions_draw_one_bar_series_per_model():
    x = np.array([0.1, 0.9, 0.2, 0.8, 0.1])
    labels = np.array([0, 1, 0, 1, 0])
    probs = {"left to right": np.linspace(0, 1, 5), "bidirectional": np.linspace(1, 0, 5)}
    ax = Figure().add_subplot()
    plot_peak_predictions(x, labels, probs, ax=ax)
    shown = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {f"P(peak): {name}" for name in probs} <= set(shown) and "true peak" in shown
    assert len(ax.patches) == len(probs) * x.size  # one bar per model and step
    with pytest.raises(ValueError, match=r"probs\['bidirectional'\]: expected shape \(5,\)"):
        plot_peak_predictions(x, labels, {"bidirectional": [0.5, 0.5]}, ax=Figure().add_subplot())
