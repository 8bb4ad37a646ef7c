"""The figure and output standard (CONTRIBUTING.md): every public plot function, every widget.

Every public function of ``rnn_tutor.plots`` is discovered at run time and drawn with the
small inputs in ``SAMPLES``; a new plot function without a sample fails
``test_every_plot_function_has_a_sample``.  Each figure is rendered as the inline backend
renders it (``bbox_inches="tight"`` at 100 dpi) and must fit ``FIGURE_WIDTH_PX``, use text of at
least 9 pt, tell its series apart by colour and marker, and label two ticks on a log axis.
The lessons' own outputs are checked while nbval runs them (see the repository's conftest.py).
"""

from __future__ import annotations

import inspect

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from figure_standard import (figure_problems, font_problems, log_tick_problems, output_problems, png_size,  # noqa: E402
                             rendered_width_px, series_problems, text_problems, tight_width_px)
from rnn_tutor import display, plots, widgets  # noqa: E402
from rnn_tutor.display import FIGURE_WIDTH_PX  # noqa: E402


def _rng():
    return np.random.default_rng(0)


_W = _rng().normal(size=(4, 4))

#: small inputs for every public function of rnn_tutor.plots: name -> () -> (args, kwargs)
SAMPLES = {
    # lesson 01
    "draw_compressed": lambda: ((), {}),
    "draw_unfolded": lambda: ((6,), {"highlight": 3, "values": {"h": np.linspace(-1, 1, 6), "y": np.arange(6.0)}}),
    "draw_unfolded_12": lambda: ((12,), {"highlight": 4}),  # the most steps it draws: squeezed to fit
    # lesson 02
    "plot_activation": lambda: (("sigmoid",), {}),
    "plot_activations": lambda: ((("sigmoid", "tanh", "relu"),), {}),
    "plot_gradient_decay": lambda: (({"sigmoid": 0.25, "tanh and relu": 1.0},), {"steps": 30}),
    "plot_hidden_trajectories": lambda: ((_rng().normal(size=(40, 1, 16)) * np.logspace(0, 5, 40)[:, None, None],),
                                         {"title": "relu, spectral radius 1.5"}),
    # lesson 03
    "plot_loss_over_time": lambda: (([0.5, 0.2, 0.9, 0.1, 0.3, 0.4],), {}),
    "plot_time_contributions": lambda: ((0.8 ** np.arange(30),), {}),
    "plot_loss_curves": lambda: (({"k = 10": np.geomspace(1, 0.01, 6), "k = 3": np.geomspace(1, 0.05, 6)},),
                                 {"baseline": 0.1}),
    "plot_forecast": lambda: ((np.sin(np.arange(50) / 3), np.sin(np.arange(50) / 3 + 0.1)),
                              {"baseline": np.sin(np.arange(50) / 3 - 0.3), "t_start": 10}),
    "plot_k_effect": lambda: (([1, 3, 10, 20], [0.05, 0.02, 0.011, 0.012], [0.1, 0.3, 0.9, 1.8]), {"baseline": 0.06}),
    "plot_memory": lambda: (([100, 200, 400, 800], [3300, 6600, 13200, 26400], [338] * 4), {"k": 10}),
    # lesson 04
    "draw_architecture": lambda: (("encoder-decoder",), {"n_in": 3, "n_out": 4}),
    "draw_architectures": lambda: ((), {}),
    "plot_task_losses": lambda: (({"melody": np.geomspace(2, 0.01, 100), "sentiment": np.geomspace(0.7, 0.01, 120),
                                   "word tags": np.geomspace(2, 0.05, 60), "numbers": np.geomspace(2.4, 0.02, 200)},), {}),
    "plot_melodies": lambda: ((np.tile(np.arange(14) % 7, (4, 1)).T, np.tile((np.arange(14) + 1) % 7, (4, 1)).T,
                               ["Twinkle Twinkle Little Star", "Frère Jacques", "Ode to Joy", "Scale"],
                               list("CDEFGAB")), {}),
    "plot_reading": lambda: (("not good but fun".split(), [0.5, 0.1, 0.2, 0.95]), {}),
    "plot_tagged": lambda: (("the old man the boats and my dogs can fish".split(),
                             {"RNN": [0, 1, 2, 0, 3, 4, 5, 3, 6, 2], "word alone": [0, 1, 3, 0, 3, 4, 5, 3, 6, 3]},
                             ["DET", "ADJ", "VERB", "NOUN", "CONJ", "PRON", "AUX"]),
                            {"truth": [0, 1, 2, 0, 3, 4, 5, 3, 6, 2]}),
    "plot_accuracy_by_length": lambda: ((np.arange(3, 51), {"RNN": np.ones(48), "word alone": np.linspace(0.9, 0.85, 48)}),
                                        {"train_max": 12}),
    "plot_padding": lambda: (([5, 2, 4, 3],), {}),
    "plot_output_probs": lambda: ((np.eye(4, 11) * 0.9 + 0.01,
                                   [str(i) for i in range(10)] + ["<eos>"]), {"title": 'decoder output for "one hundred"'}),
    "plot_task_summary": lambda: (({"melody\n(one-to-many)": (0.39, 1.0), "sentiment\n(many-to-one)": (0.75, 1.0),
                                    "word tags\n(many-to-many)": (0.88, 1.0), "numbers\n(encoder-decoder)": (0.45, 0.95)},),
                                  {}),
    # lesson 05
    "plot_norms_by_distance": lambda: ((np.stack([0.9 ** np.arange(51), 0.4 ** np.arange(51)], axis=1),),
                                       {"bound": 0.9 ** np.arange(51), "labels": ["(a)", "(b)"], "title": "tanh"}),
    "plot_rate_scatter": lambda: (({"tanh": np.geomspace(0.3, 8, 20), "sigmoid": np.geomspace(0.3, 8, 20)},
                                   {"tanh": np.geomspace(0.2, 3, 20), "sigmoid": np.geomspace(0.1, 0.9, 20)}), {}),
    "plot_spectrum": lambda: ((np.array([[0.5, 3.0], [0.0, 0.5]]),), {}),
    "plot_training_runs": lambda: (({"no clipping": np.r_[np.geomspace(5, 500, 10), np.full(90, 0.1)],
                                     "clipped at 1": np.geomspace(5, 0.5, 60)},), {"log": True}),
    "plot_accuracy_by_lag": lambda: (({5: np.array([0.99, 1.0]), 10: np.array([0.97, 0.99]),
                                       20: np.array([0.5, 0.55]), 40: np.array([0.48, 0.52])},), {}),
    # lesson 06
    "draw_gru_cell": lambda: ((), {}),
    "draw_lstm_cell": lambda: ((), {}),
    "draw_bidirectional": lambda: ((4,), {}),
    "plot_accuracy_by_lag_bins": lambda: ((["0-9", "10-19", "20-29"],
                                           {"vanilla RNN (m=16)": [0.59, 0.46, 0.51], "GRU (m=8)": [1.0, 1.0, 0.99],
                                            "LSTM (m=8)": [1.0, 0.99, 0.98]}), {}),
    "plot_peak_predictions": lambda: ((np.sin(np.arange(10)), (np.arange(10) % 4 == 1).astype(int),
                                       {"left to right (m=16)": np.full(10, 0.3), "bidirectional (2 x m=8)": np.full(10, 0.6)}),
                                      {}),
    "plot_unit_traces": lambda: (({f"s = {s:+d}, marked step {k}": np.tanh(s * (np.arange(30) - k)) for s in (1, -1)
                                   for k in (2, 5, 8)},), {"marks": [2, 5, 8], "ylabel": "$h_t$ of unit 3",
                                                           "title": "a memory unit of the trained GRU"}),
    # lesson 07
    "plot_time_vs_length": lambda: (([25, 50, 100, 200, 400],
                                     {"RNN": [1e-3, 1.8e-3, 3.5e-3, 7e-3, 1.4e-2],
                                      "feedforward window": [9e-4, 1.7e-3, 3.3e-3, 6.5e-3, 1.3e-2]}), {}),
    "plot_sensitivity": lambda: (({"Elman RNN (tanh)": np.geomspace(1e-14, 0.5, 60), "LSTM (forget bias 1)": np.geomspace(1e-3, 0.5, 60)},), {}),
    "plot_charlm_loss": lambda: ((np.geomspace(4, 2, 144),), {"baselines": {"uniform guess": 4.04, "character frequencies": 3.09}}),
    # lesson 08
    "plot_perplexities": lambda: (({"uniform": {"validation": 59.0, "test": 59.0}, "bigram": {"validation": 12.1, "test": 12.4},
                                    "RNN, 2 layers": {"validation": 5.2, "test": 5.4}},), {}),
    "plot_learning_curves": lambda: (({"1 layer": {"step": [0, 50, 100, 150, 200], "train": [4.0, 2.6, 2.1, 1.8, 1.6],
                                                   "val": [4.0, 2.7, 2.3, 2.1, 2.0]},
                                       "2 layers, dropout": {"step": [0, 50, 100, 150, 200], "train": [4.0, 2.8, 2.2, 1.9, 1.8],
                                                             "val": [4.0, 2.8, 2.2, 2.0, 1.9]}},),
                                     {"baselines": {"bigram, validation": 2.5}}),
    "plot_exposure_bias": lambda: ((np.linspace(0.9, 0.8, 12), np.linspace(0.9, 0.4, 12)), {}),
    "plot_decoding_tradeoff": lambda: (({"greedy": (12, 95), "temperature 0.7": (25, 85), "temperature 1.0": (38, 70),
                                         "top-k (k = 5)": (30, 80)}, "distinct words", "real words (%)"), {}),
    # lesson 09
    "plot_accuracy_vs_length": lambda: (([4, 8, 12, 16, 20], {"no attention": [1.0, 0.9, 0.6, 0.4, 0.3],
                                                             "additive attention": [1.0, 1.0, 0.99, 0.97, 0.95]}),
                                        {"chance": 0.1}),
    "plot_alignment": lambda: ((np.eye(6)[::-1] * 0.9 + 0.1 / 6, list("abcdef"), list("fedcba")),
                               {"title": "additive attention, reversing 6 symbols"}),
    "plot_work_vs_length": lambda: (([16, 32, 64, 128, 256], {"RNN": [16, 32, 64, 128, 256], "self-attention": [1] * 5},
                                     "sequential steps (depth)"), {}),
}


def _plot_functions() -> dict[str, object]:
    return {name: getattr(plots, name) for name in plots.__all__
            if inspect.isfunction(getattr(plots, name)) and name != "format_value"}


def _function(name: str):
    return _plot_functions()[name.rsplit("_", 1)[0] if name.rsplit("_", 1)[-1].isdigit() else name]


def _draw(name: str) -> Figure:
    plt.close("all")
    args, kwargs = SAMPLES[name]()
    result = _function(name)(*args, **kwargs)
    first = np.ravel(result)[0] if isinstance(result, (np.ndarray, list, tuple)) else result
    return first if isinstance(first, Figure) else first.figure


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_every_plot_function_has_a_sample():
    missing = sorted(set(_plot_functions()) - {_function(n).__name__ for n in SAMPLES})
    assert not missing, f"add small inputs for these rnn_tutor.plots functions to SAMPLES: {missing}"


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_plot_function_meets_the_figure_standard(name):
    try:
        _function(name)
    except KeyError:
        pytest.fail(f"SAMPLES names {name!r}, which rnn_tutor.plots does not export")
    problems = figure_problems(_draw(name))
    assert not problems, f"plots.{name}:\n  " + "\n  ".join(problems)


# --------------------------------------------------------------------------- the checks themselves can fail

def test_checks_flag_a_wide_figure_small_text_look_alike_series_and_a_bare_log_axis():
    fig = plt.figure(figsize=(13, 3))
    ax = fig.add_subplot()
    ax.semilogy([1, 2, 3], [2, 3, 4], color="C0", label="a")
    ax.semilogy([1, 2, 3], [2.5, 3.5, 4.5], color="C0", label="b")
    ax.legend(fontsize=7)
    ax.minorticks_off()  # what lesson 07's time plot did: one decade, one labelled tick at most
    assert rendered_width_px(fig) > FIGURE_WIDTH_PX
    assert 0 <= tight_width_px(fig) - rendered_width_px(fig) <= 1  # the fast measure agrees with the PNG
    problems = figure_problems(fig)
    assert any("px wide" in p for p in problems)
    assert any("7 pt" in p for p in problems)
    assert any("same colour" in p for p in series_problems(fig))
    assert any("alike without colour" in p for p in series_problems(fig))
    assert any("labelled tick" in p for p in log_tick_problems(fig))


def test_checks_pass_a_figure_that_meets_the_standard():
    fig = plt.figure(figsize=(6, 3), layout="constrained")
    ax = fig.add_subplot()
    ax.semilogy([1, 2, 3], [1e-3, 1e-1, 1e1], "o-", color="C0", label="a")
    ax.semilogy([1, 2, 3], [1e-2, 1, 1e2], "s--", color="C1", label="b")
    ax.semilogy([1, 2, 3], [2e-2, 2, 2e2], "s:", mfc="white", color="C1", label="b, training")  # a pair: dashes
    ax.axhline(1.0, color="grey", ls=":", label="reference")
    ax.legend(fontsize=9)
    assert figure_problems(fig) == []
    assert font_problems(fig) == []


def test_text_checks():
    assert text_problems("{'w_x': 0.43181717792513974, 'w_h': 1.0}")
    assert any("unrounded" in p for p in text_problems("error 1.1102230246251565e-16"))
    assert any("raw array" in p for p in text_problems("L_t = [0.1234 0.5    0.25  ]"))
    assert any("raw array" in p for p in text_problems("[[1 2]\n [3 4]]"))
    assert any("raw array" in p for p in text_problems("[nan  0.  0.]"))
    assert text_problems("array([1., 2.])")
    for fine in ("test MSE 0.0123; naive 0.0456", "k = 10: largest relative difference 3.2e-14",
                 "w_x  0.432\nw_h  1.25", "['good', 'but', 'not', 'fun'] -> negative", "[0.54, -0.12, 3]",
                 "lags 0-9: 0.588", "(4, 11)", "unit 3: ...", "[[1, 2], [3, 4]]"):
        assert text_problems(fine) == [], fine


def _png_output(width_px: int, shown: int | None):
    import base64

    fig = Figure(figsize=(width_px / 100, 1))
    buf = __import__("io").BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    meta = {"image/png": {"width": shown, "height": 50}} if shown else {}
    return {"output_type": "display_data", "data": {"image/png": base64.b64encode(buf.getvalue()).decode()},
            "metadata": meta}


def test_output_checks_want_retina_figures_that_fit():
    assert output_problems([_png_output(1400, 700)]) == []
    assert any("blurry" in p for p in output_problems([_png_output(700, None)]))
    assert any("px wide" in p for p in output_problems([_png_output(2 * 1000, 1000)]))
    assert output_problems([{"output_type": "error", "ename": "ValueError", "evalue": "", "traceback": []}])
    assert output_problems([], tags=["raises-exception"])
    assert output_problems([{"output_type": "stream", "name": "stdout", "text": "{'a': 1}\n"}])


# --------------------------------------------------------------------------- widgets

def _widget_images():
    from rnn_tutor.rnn import init_params

    params = {"w_x": np.array([[0.5]]), "w_h": np.array([[0.8]]), "b_h": np.array([0.1]),
              "w_y": np.array([[2.0]]), "b_y": np.array([-0.5])}
    assert init_params  # the explorers use the library's forward pass
    yield "unfolding_explorer", widgets.unfolding_explorer([1.0, 2.0, -1.0, 0.5, 1.5], params).image
    yield "dynamics_explorer", widgets.dynamics_explorer().image
    yield "gradient_decay_explorer", widgets.gradient_decay_explorer().image


@pytest.mark.parametrize("name, image", list(_widget_images()), ids=lambda v: v if isinstance(v, str) else "")
def test_widget_image_is_shown_at_its_size_and_sharp(name, image):
    px_w, _ = png_size(image.value)
    css = image.layout.width
    assert css and css.endswith("px"), f"{name}: the image needs a fixed CSS width, so it is neither stretched nor shrunk"
    shown = float(css[:-2])
    assert shown <= FIGURE_WIDTH_PX, f"{name}: {shown:.0f} px wide, more than {FIGURE_WIDTH_PX}"
    assert px_w >= 1.9 * shown, f"{name}: {px_w} px of image for {shown:.0f} px of display (blurry on high-DPI)"
    assert image.layout.max_width == "100%"


# --------------------------------------------------------------------------- rnn_tutor.display

def test_show_error_prints_one_line_and_keeps_the_error(capsys):
    with display.show_error(ValueError) as shown:
        raise ValueError("k: expected 1 <= k <= T = 6, received 7")
    assert capsys.readouterr().out == "ValueError: k: expected 1 <= k <= T = 6, received 7\n"
    assert isinstance(shown.error, ValueError)
    with pytest.raises(AssertionError, match="expected the block to raise ValueError"):
        with display.show_error(ValueError):
            pass
    with pytest.raises(KeyError):
        with display.show_error(ValueError):
            raise KeyError("other")
    with pytest.raises(ValueError, match="expected: one or more exception classes"):
        with display.show_error():
            pass


def test_table_rounds_and_aligns():
    t = display.table({"w_x": 0.43181717792513974, "w_h": 1.1102230246251565e-16, "steps": 12})
    text = str(t)
    assert "0.432" in text and "1.11e-16" in text and "12" in text
    assert text_problems(text) == []
    assert "<table" in t._repr_html_() and "0.432" in t._repr_html_()
    t2 = display.table([["k = 1", 0.0123456, 0.5], ["k = 10", 0.00456, 1.25]], header=["run", "MSE", "time (s)"],
                       formats={"time (s)": ".2f"})
    lines = str(t2).splitlines()
    assert lines[0].split() == ["run", "MSE", "time", "(s)"] and "1.25" in lines[-1] and "0.0123" in lines[2]
    with pytest.raises(ValueError, match="header: expected 3 column names"):
        display.table([[1, 2, 3]], header=["a"])
    with pytest.raises(ValueError, match="formats: unknown column"):
        display.table([[1]], header=["a"], formats={"b": ".1f"})


def test_fmt():
    assert display.fmt(0.43181717792513974) == "0.432"
    assert display.fmt(1.1102230246251565e-16) == "1.11e-16"
    assert display.fmt(7.0) == "7" and display.fmt(np.int64(3)) == "3"
    assert display.fmt(np.array([0.5371, -0.12])) == "[0.537, -0.12]"
    assert display.fmt({"w_x": 0.1234567}) == "w_x = 0.123"


def test_setup_figures_is_a_no_op_outside_ipython():
    import matplotlib as mpl

    before = dict(mpl.rcParams)
    display.setup_figures()
    assert dict(mpl.rcParams) == before


def test_math_lines_breaks_long_products_and_sums():
    import sympy as sp

    x = sp.symbols("x_1:9")
    long_sum = sum(sp.tanh(a + b * x[0]) for a, b in zip(x[1:], x[:-1]))
    math = display.math_lines("L", sp.Symbol("w") * long_sum * (x[0] - x[1]), max_chars=60)
    body = math.data.split(r"\begin{aligned}")[1].split(r"\end{aligned}")[0]
    lines = body.split(r"\\")
    assert len(lines) > 3 and all(len(line) < 60 + 40 for line in lines)
    assert r"\Big(" in body and r"\Big)" in body and "+ -" not in body
    assert display.math_lines("y", x[0] + x[1]).data.count(r"\\") == 0  # short: one line
    negative = display.math_lines("y", -sp.tanh(x[0] * x[1] * x[2]) - x[3], max_chars=10).data
    assert negative.startswith(r"\begin{aligned} y &= -") or "&= - " in negative
