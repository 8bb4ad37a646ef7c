"""Figures of lesson 08: they draw what they are given, legibly, and refuse bad input."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rnn_tutor import plots  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def texts(ax):
    fig = ax.figure
    fig.canvas.draw()
    return [t for t in fig.findobj(matplotlib.text.Text) if t.get_text()]


def assert_legible(ax):
    w, _ = ax.figure.get_size_inches()
    assert w <= 8.5
    assert all(t.get_fontsize() >= 9 for t in texts(ax))


def test_perplexities_bars_on_a_log_axis_with_labelled_ticks():
    ppl = {"uniform": {"validation": 59.0, "test": 59.0}, "bigram": {"validation": 12.5, "test": 11.0},
           "RNN": {"validation": 9.4, "test": 8.7}}
    ax = plots.plot_perplexities(ppl)
    assert ax.get_xscale() == "log" and len([t for t in ax.get_xticklabels() if t.get_text()]) >= 2
    assert len(ax.patches) == 6 and [t.get_text() for t in ax.get_yticklabels()] == list(ppl)
    assert_legible(ax)
    with pytest.raises(ValueError, match=r"perplexities\['bigram'\]: expected the splits"):
        plots.plot_perplexities({"a": {"validation": 2.0}, "bigram": {"test": 3.0}})


def test_learning_curves_train_dashed_val_solid():
    h = {"step": np.array([10, 20]), "train": np.array([2.0, 1.5]), "val": np.array([2.1, 1.9])}
    ax = plots.plot_learning_curves({"1 layer": h, "2 layers": h}, {"bigram": 2.5})
    lines = ax.get_lines()
    assert [ln.get_linestyle() for ln in lines[:4]] == ["--", "-", "--", "-"]
    assert lines[0].get_marker() != lines[2].get_marker() and lines[0].get_color() != lines[2].get_color()
    assert_legible(ax)
    with pytest.raises(ValueError, match="missing key"):
        plots.plot_learning_curves({"x": {"step": [1]}})


def test_exposure_bias_and_tradeoff():
    ax = plots.plot_exposure_bias([1.0, 0.9, 0.9], [1.0, 0.8, 0.6])
    assert len(ax.get_lines()) == 2
    assert_legible(ax)
    with pytest.raises(ValueError, match="free_running"):
        plots.plot_exposure_bias([1, 2], [1])
    ax = plots.plot_decoding_tradeoff({"greedy": (0.1, 2.0), "nucleus 0.9": (0.5, 2.3)}, "diversity", "CE")
    assert len(ax.get_lines()) == 3 and ax.get_xlabel() == "diversity"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["greedy", "nucleus 0.9"]
    assert_legible(ax)
