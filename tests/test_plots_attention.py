"""rnn_tutor.plots.attention: the lesson-09 figures draw what they say, and reject bad input."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure

from rnn_tutor.plots import plot_accuracy_vs_length, plot_alignment, plot_work_vs_length


def test_accuracy_lines_differ_in_colour_and_marker():
    ax = plot_accuracy_vs_length([2, 4, 8], {"no attention": [1.0, 0.7, 0.4], "attention": [1.0, 1.0, 0.99]},
                                 chance=0.125, ax=Figure(figsize=(7.5, 3.4)).add_subplot())
    lines = ax.get_lines()
    assert len(lines) == 3 and list(lines[0].get_ydata()) == [1.0, 0.7, 0.4]
    assert lines[0].get_color() != lines[1].get_color() and lines[0].get_marker() != lines[1].get_marker()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["no attention", "attention", "chance (12%)"]
    assert ax.get_xlabel() and ax.get_ylabel()


def test_alignment_heat_map_has_labels_and_a_colour_bar():
    fig = Figure()
    w = np.eye(3)[::-1]
    ax = plot_alignment(w, ["a", "b", "c"], ["c", "b", "a"], ax=fig.add_subplot(), title="t")
    assert len(fig.axes) == 2  # the heat map and its colour bar
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert "input" in ax.get_xlabel() and "output" in ax.get_ylabel()
    np.testing.assert_array_equal(ax.get_images()[0].get_array(), w)
    assert min(t.get_fontsize() for t in ax.get_xticklabels()) >= 9


def test_work_plot_is_log_log_with_one_line_per_computation():
    ax = plot_work_vs_length([1, 2, 4], {"RNN": [1, 2, 4], "self-attention": [4, 4, 4]}, "steps", ax=Figure().add_subplot())
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log" and len(ax.get_lines()) == 2


@pytest.mark.parametrize("call, match", [
    (lambda ax: plot_accuracy_vs_length([1, 2], {"a": [1.0]}, ax=ax), r"accuracies\['a'\]: expected 2 values"),
    (lambda ax: plot_accuracy_vs_length([1, 2], {}, ax=ax), r"accuracies: expected a non-empty dict"),
    (lambda ax: plot_alignment(np.ones(3), ["a"], ["b"], ax=ax), r"weights: expected a 2-D array \(U, S\)"),
    (lambda ax: plot_alignment(np.ones((2, 3)), ["a"], ["b", "c"], ax=ax), r"expected 3 and 2 labels"),
])
def test_bad_input_is_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call(Figure().add_subplot())
