"""The diagrams of lesson 01 (rnn_tutor.plots.unfolding): content, highlighting, values, bad input, no global state."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from rnn_tutor import plots  # noqa: E402
from rnn_tutor.plots.unfolding import _HIGHLIGHT, draw_compressed, draw_unfolded, format_value  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts if t.get_text()]


def arrows(ax):
    return [t for t in ax.texts if isinstance(t, matplotlib.text.Annotation)]


def is_red(arrow) -> bool:
    return np.allclose(arrow.arrow_patch.get_edgecolor(), matplotlib.colors.to_rgba(_HIGHLIGHT))


def test_reexported_by_the_package():
    assert plots.draw_compressed is draw_compressed and plots.draw_unfolded is draw_unfolded


def test_compressed_labels_and_loop():
    ax = draw_compressed()
    labels = texts(ax)
    for label in (r"$x_t$", r"$h_t$", r"$y_t$", r"$w_x$", r"$w_h$", r"$w_y$", r"$h_{t-1}$"):
        assert label in labels, label
    assert any("h_0 = 0" in s for s in labels)
    assert len(arrows(ax)) == 2  # x_t -> h_t, h_t -> y_t; the loop is a separate patch
    loops = [p for p in ax.patches if isinstance(p, matplotlib.patches.FancyArrowPatch)]
    assert len(loops) == 1


@pytest.mark.parametrize("k", [1, 3, 7, 12])
def test_unfolded_nodes_and_shared_weight_labels(k):
    ax = draw_unfolded(k)
    labels = texts(ax)
    for t in range(1, k + 1):
        for name in ("x", "h", "y"):
            assert labels.count(f"${name}_{{{t}}}$") == 1, (name, t)
    assert labels.count("$h_0$") == 1
    # one label per arrow, the same three symbols at every step: the weights are shared
    assert labels.count(r"$w_x$") == k and labels.count(r"$w_h$") == k and labels.count(r"$w_y$") == k
    assert len(arrows(ax)) == 3 * k
    assert not any(is_red(a) for a in arrows(ax))
    assert any("same" in s for s in labels)


def test_node_positions_follow_time():
    ax = draw_unfolded(4)
    pos = {t.get_text(): t.get_position() for t in ax.texts if t.get_text().startswith("$h_")}
    xs = [pos[f"$h_{{{t}}}$"][0] for t in range(1, 5)]
    assert pos["$h_0$"][0] < xs[0] and all(a < b for a, b in zip(xs, xs[1:]))
    x_row = [t.get_position()[1] for t in ax.texts if t.get_text().startswith("$x_{")]
    y_row = [t.get_position()[1] for t in ax.texts if t.get_text().startswith("$y_{")]
    assert max(x_row) < pos["$h_{1}$"][1] < min(y_row)  # inputs below, outputs above


@pytest.mark.parametrize("t", [1, 2, 4])
def test_highlight_marks_step_t(t):
    ax = draw_unfolded(4, highlight=t)
    band = [p for p in ax.patches if p.get_gid() == "highlight"]
    assert len(band) == 1
    centre = band[0].get_x() + band[0].get_width() / 2
    h_t = next(x.get_position()[0] for x in ax.texts if x.get_text() == f"$h_{{{t}}}$")
    assert abs(centre - h_t) < 1e-9
    red = [a for a in arrows(ax) if is_red(a)]
    assert len(red) == 3  # the three arrows into h_t and y_t
    assert f"step $t = {t}$" in texts(ax)


def test_values_are_printed_in_the_boxes():
    ax = draw_unfolded(3, values={"x": [1.0, 2.0, -1.0], "h": [0.53705, 0.910363, 0.316984],
                                  "y": np.array([0.574099, 1.320726, 0.133967])})
    labels = texts(ax)
    for s in ("1", "2", "-1", "0.537", "0.910", "0.317", "0.574", "1.321", "0.134", "= 0"):
        assert s in labels, s


def test_vector_values_and_h0():
    rng = np.random.default_rng(0)
    ax = draw_unfolded(2, values={"h": rng.normal(size=(2, 3)), "h_0": 0.25})
    labels = texts(ax)
    assert sum(s.startswith("[") and s.endswith(", …]") for s in labels) == 2
    assert "= 0.250" in labels


def test_format_value():
    assert format_value(2.0) == "2"
    assert format_value(np.array([[0.53705]])) == "0.537"
    assert format_value(-1.5e-5) == "-1.5e-05"
    assert format_value([0.1, -0.2]) == "[0.10, -0.20]"
    assert format_value([0.1, -0.2, 0.3]) == "[0.10, -0.20, …]"


def test_uses_the_given_axes_and_returns_it():
    fig = Figure()
    ax = fig.add_subplot()
    assert draw_unfolded(2, ax=ax) is ax
    ax2 = Figure().add_subplot()
    assert draw_compressed(ax=ax2) is ax2
    assert not plt.get_fignums()  # no pyplot figure was opened


def test_new_axes_when_none():
    ax = draw_unfolded(3)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert ax.get_aspect() == 1.0 and not ax.axison


def test_no_global_state_changes():
    before = dict(matplotlib.rcParams)
    draw_compressed()
    draw_unfolded(5, highlight=3, values={"h": list(range(5))})
    after = dict(matplotlib.rcParams)
    assert {k for k in before if before[k] != after[k]} == set()


@pytest.mark.parametrize("kwargs, match", [
    ({"k": 0}, r"^k: expected an integer number of steps between 1 and 12, received 0"),
    ({"k": 13}, r"^k: .*received 13"),
    ({"k": 2.5}, r"^k: .*received 2.5"),
    ({"k": True}, r"^k: .*received True"),
    ({"k": 3, "highlight": 0}, r"^highlight: expected a step t with 1 <= t <= k = 3 \(or None\), received 0"),
    ({"k": 3, "highlight": 4}, r"^highlight: .*received 4"),
    ({"k": 3, "values": {"h": [1, 2]}}, r"^values\['h'\]: expected one value per step \(3 values for k = 3\), received 2"),
    ({"k": 3, "values": {"z": [1, 2, 3]}}, r"^values: unknown key\(s\) \['z'\]; valid keys are 'x', 'h', 'y', 'h_0'"),
    ({"k": 3, "values": [1, 2, 3]}, r"^values: expected a dict"),
    ({"k": 2, "values": {"y": 5.0}}, r"^values\['y'\]: .*received float"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        draw_unfolded(**kwargs)


def test_renders_to_png(tmp_path):
    for ax in (draw_compressed(), draw_unfolded(4, highlight=2, values={"h": [0.1, 0.2, 0.3, 0.4]})):
        path = tmp_path / "fig.png"
        ax.figure.savefig(path)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
