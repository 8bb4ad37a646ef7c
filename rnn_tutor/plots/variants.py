"""Figures for lesson 06 (GRU, LSTM, bidirectional RNN).  Each takes ``ax=None`` and returns the Axes.

The cell diagrams use one colour code: sigmoid gates in yellow, tanh layers in orange
(both are "a weight matrix, a bias, then the non-linearity"), element-wise operations
in white circles, and the state path that only a gate multiplies drawn thick in red.
Nothing here changes matplotlib's global state.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.patches import Circle, FancyBboxPatch

from rnn_tutor.plots._style import FULL_WIDTH, series_style

__all__ = ["draw_gru_cell", "draw_lstm_cell", "draw_bidirectional", "plot_accuracy_by_lag_bins", "plot_peak_predictions",
           "plot_unit_traces"]

_GATE, _TANH, _OP = "#fff2b3", "#fdd0a2", "white"
_HIGHWAY, _LINE = "#c0392b", "#444444"


def _axes(ax, figsize):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _layer(ax, x, y, text, face, w=1.05, h=0.55):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=face, edgecolor="#555555", lw=1.2, zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=10, zorder=4)


def _op(ax, x, y, text, r=0.22):
    ax.add_patch(Circle((x, y), r, facecolor=_OP, edgecolor="#555555", lw=1.2, zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=11, zorder=4)


def _path(ax, points, color=_LINE, lw=1.4, arrow=True):
    """A polyline through ``points``; the last segment ends in an arrow head."""
    pts = np.asarray(points, dtype=float)
    ax.plot(pts[:-1, 0], pts[:-1, 1], color=color, lw=lw, zorder=2, solid_capstyle="round")
    ax.annotate("", xy=pts[-1], xytext=pts[-2], zorder=2,
                arrowprops={"arrowstyle": "-|>,head_length=0.5,head_width=0.22" if arrow else "-",
                            "color": color, "lw": lw, "shrinkA": 0, "shrinkB": 0})


def _frame(ax, xlim, ylim, title):
    ax.add_patch(FancyBboxPatch((xlim[0] + 0.9, ylim[0] + 0.55), xlim[1] - xlim[0] - 1.8, ylim[1] - ylim[0] - 1.15,
                                boxstyle="round,pad=0.02,rounding_size=0.3", facecolor="#f7f7f7",
                                edgecolor="#bbbbbb", lw=1.0, zorder=0))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=11)


def draw_gru_cell(ax=None, title: str | None = "GRU cell (PyTorch's equations)"):
    """Diagram of one GRU step: gates ``r_t, z_t``, candidate ``n_t``, and the update of ``h``.

    The thick red line is ``h_{t-1} → h_t`` through ``z_t ⊙ h_{t-1}``: on that path the only
    factor is the update gate, so with ``z_t ≈ 1`` the state, and its gradient, pass unchanged.
    The reset gate multiplies ``W_hn h_{t-1} + b_hn`` before the tanh (PyTorch's placement).
    """
    ax = _axes(ax, (7.6, 4.4))
    top, bus = 4.2, 0.9
    _path(ax, [(0.2, top), (6.0 - 0.22, top)], _HIGHWAY, 3.0)  # h_{t-1} along the top
    _op(ax, 6.0, top, "⊙")
    _path(ax, [(6.22, top), (8.6 - 0.22, top)], _HIGHWAY, 3.0)
    _op(ax, 8.6, top, "+")
    _path(ax, [(8.82, top), (10.6, top)], _HIGHWAY, 3.0)
    ax.text(0.15, top + 0.3, "$h_{t-1}$", fontsize=12, ha="left")
    ax.text(10.6, top + 0.3, "$h_t$", fontsize=12, ha="right")
    _path(ax, [(1.2, top), (1.2, bus), (8.1, bus)], arrow=False)  # h_{t-1} joins x_t on the input bus
    _path(ax, [(1.9, -0.2), (1.9, bus)], arrow=False)
    ax.text(1.9, -0.45, "$x_t$", fontsize=12, ha="center")
    _layer(ax, 2.8, 2.0, "σ  $r_t$", _GATE)
    _layer(ax, 4.3, 2.0, "σ  $z_t$", _GATE)
    _layer(ax, 7.6, 2.6, "tanh  $n_t$", _TANH, w=1.35)
    for x in (2.8, 4.3):
        _path(ax, [(x, bus), (x, 2.0 - 0.3)])
    _layer(ax, 5.6, 1.45, "$W_{hn}h+b_{hn}$", "#eeeeee", w=1.55, h=0.45)
    _path(ax, [(5.6, bus), (5.6, 1.45 - 0.25)])
    _op(ax, 6.7, 1.9, "⊙")
    _path(ax, [(2.8, 2.3), (2.8, 2.75), (6.7, 2.75), (6.7, 1.9 + 0.22)])  # r_t meets W_hn h + b_hn ...
    _path(ax, [(6.38, 1.45), (6.7, 1.45), (6.7, 1.9 - 0.22)])
    _path(ax, [(6.92, 1.9), (7.3, 1.9), (7.3, 2.6 - 0.3)])  # ... inside the tanh, beside W_in x + b_in
    _path(ax, [(8.1, bus), (8.1, 2.6 - 0.3)])
    _path(ax, [(4.3, 2.3), (4.3, 3.55), (6.0, 3.55), (6.0, top - 0.22)])  # z_t ⊙ h_{t-1}
    _op(ax, 5.0, 3.1, "1−")
    _path(ax, [(5.0, 3.55), (5.0, 3.1 + 0.22)])
    _op(ax, 8.6, 3.1, "⊙")
    _path(ax, [(5.22, 3.1), (8.6 - 0.22, 3.1)])  # (1 - z_t) ⊙ n_t
    _path(ax, [(8.27, 2.6), (8.6, 2.6), (8.6, 3.1 - 0.22)])
    _path(ax, [(8.6, 3.32), (8.6, top - 0.22)])
    ax.text(5.45, -0.55, r"$n_t = \tanh(W_{in}x_t + b_{in} + r_t \odot (W_{hn}h_{t-1} + b_{hn}))$" "\n"
            r"$h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}$", fontsize=9.5, ha="center", va="top")
    _frame(ax, (-0.3, 11.0), (-1.6, 5.0), title)
    return ax


def draw_lstm_cell(ax=None, title: str | None = "LSTM cell (PyTorch's equations)"):
    """Diagram of one LSTM step: gates ``i_t, f_t, o_t``, candidate ``g_t``, cell state ``c`` and output ``h``.

    The thick red line is the cell state ``c_{t-1} → c_t``: it is changed only by ``f_t ⊙`` and
    an addition, so with ``f_t ≈ 1`` its gradient crosses the step almost unchanged.
    """
    ax = _axes(ax, (7.6, 4.4))
    top, bus = 4.2, 0.9
    _path(ax, [(0.2, top), (3.0 - 0.22, top)], _HIGHWAY, 3.0)
    _op(ax, 3.0, top, "⊙")
    _path(ax, [(3.22, top), (5.3 - 0.22, top)], _HIGHWAY, 3.0)
    _op(ax, 5.3, top, "+")
    _path(ax, [(5.52, top), (10.6, top)], _HIGHWAY, 3.0)
    ax.text(0.15, top + 0.3, "$c_{t-1}$", fontsize=12, ha="left")
    ax.text(10.6, top + 0.3, "$c_t$", fontsize=12, ha="right")
    _path(ax, [(0.2, bus), (7.9, bus)], arrow=False)  # h_{t-1} and x_t feed every gate
    ax.text(0.15, bus + 0.25, "$h_{t-1}$", fontsize=12, ha="left")
    _path(ax, [(1.6, -0.2), (1.6, bus)], arrow=False)
    ax.text(1.6, -0.45, "$x_t$", fontsize=12, ha="center")
    for x, text, face in ((3.0, "σ  $f_t$", _GATE), (4.4, "σ  $i_t$", _GATE), (5.9, "tanh  $g_t$", _TANH),
                          (7.9, "σ  $o_t$", _GATE)):
        _layer(ax, x, 2.0, text, face, w=1.25 if "tanh" in text else 1.05)
        _path(ax, [(x, bus), (x, 2.0 - 0.3)])
    _path(ax, [(3.0, 2.3), (3.0, top - 0.22)])  # f_t ⊙ c_{t-1}
    _op(ax, 5.3, 3.2, "⊙")
    _path(ax, [(4.4, 2.3), (4.4, 3.2), (5.3 - 0.22, 3.2)])  # i_t ⊙ g_t
    _path(ax, [(5.9, 2.3), (5.9, 3.2), (5.3 + 0.22, 3.2)])
    _path(ax, [(5.3, 3.42), (5.3, top - 0.22)])
    _layer(ax, 9.1, 3.3, "tanh", "#eeeeee", w=0.8, h=0.45)
    _path(ax, [(9.1, top), (9.1, 3.3 + 0.23)])
    _op(ax, 9.1, 2.0, "⊙")
    _path(ax, [(9.1, 3.3 - 0.23), (9.1, 2.0 + 0.22)])
    _path(ax, [(8.53, 2.0), (9.1 - 0.22, 2.0)])  # o_t ⊙ tanh(c_t)
    _path(ax, [(9.1, 2.0 - 0.22), (9.1, 0.35), (10.6, 0.35)])
    ax.text(10.6, 0.55, "$h_t$", fontsize=12, ha="right")
    ax.text(5.3, -0.55, r"$c_t = f_t \odot c_{t-1} + i_t \odot g_t$" "\n" r"$h_t = o_t \odot \tanh(c_t)$",
            fontsize=9.5, ha="center", va="top")
    _frame(ax, (-0.3, 11.0), (-1.6, 5.0), title)
    return ax


def draw_bidirectional(T: int = 4, ax=None, title: str | None = "bidirectional RNN, unfolded"):
    """Two recurrent layers unfolded over ``T`` steps: one reads left to right (``h→``), the
    other right to left (``h←``); each output sees ``[h→_t ; h←_t]``, i.e. the whole sequence."""
    if isinstance(T, (bool, np.bool_)) or not isinstance(T, (int, np.integer)) or not 2 <= T <= 8:
        raise ValueError(f"T: expected an integer number of steps in 2..8, received {T!r}")
    ax = _axes(ax, (1.6 * T + 3.0, 3.6))
    face = {"x": "#dbe9f6", "f": "#fde0c5", "b": "#e5d8f0", "y": "#d9f0d3"}
    w, h, s = 0.7, 0.46, 0.36  # box size, sideways shift of the two hidden rows
    for t in range(T):
        x = 1.6 * t
        _layer(ax, x, 0.0, f"$x_{t + 1}$", face["x"], w=w, h=h)
        _layer(ax, x - s, 1.25, f"$h^{{→}}_{t + 1}$", face["f"], w=w, h=h)
        _layer(ax, x + s, 2.45, f"$h^{{←}}_{t + 1}$", face["b"], w=w, h=h)
        _layer(ax, x, 3.7, f"$y_{t + 1}$", face["y"], w=w, h=h)
        _path(ax, [(x - 0.12, h / 2), (x - s, 1.25 - h / 2)], lw=1.1)  # x_t feeds both directions
        _path(ax, [(x + 0.12, h / 2), (x + s, 2.45 - h / 2)], lw=1.1)
        _path(ax, [(x - s, 1.25 + h / 2), (x - 0.12, 3.7 - h / 2)], "#c4661f", 1.1)  # y_t reads both
        _path(ax, [(x + s, 2.45 + h / 2), (x + 0.12, 3.7 - h / 2)], "#7d4fa8", 1.1)
        if t < T - 1:
            _path(ax, [(x - s + w / 2, 1.25), (x + 1.6 - s - w / 2, 1.25)], "#c4661f", 2.0)
            _path(ax, [(x + 1.6 + s - w / 2, 2.45), (x + s + w / 2, 2.45)], "#7d4fa8", 2.0)
    ax.text(-s - w / 2 - 0.15, 1.25, "reads left to right", ha="right", va="center", fontsize=9, color="#c4661f")
    ax.text(1.6 * (T - 1) + s + w / 2 + 0.15, 2.45, "reads right to left", ha="left", va="center", fontsize=9,
            color="#7d4fa8")
    ax.set_xlim(-2.6, 1.6 * (T - 1) + 2.6)
    ax.set_ylim(-0.4, 4.1)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=11)
    return ax


def plot_accuracy_by_lag_bins(bins: Sequence[str], accuracies: Mapping[str, Sequence[float]], chance: float = 0.5,
                              ax=None):
    """Grouped bars: test accuracy of each model (``{name: (n_bins,)}``) in each lag bin, chance dashed."""
    ax = _axes(ax, (6.4, 3.4))
    n = len(accuracies)
    width = 0.8 / max(n, 1)
    x = np.arange(len(bins))
    for j, (name, acc) in enumerate(accuracies.items()):
        acc = np.asarray(acc, dtype=float).ravel()
        if acc.size != len(bins):
            raise ValueError(f"accuracies[{name!r}]: expected {len(bins)} values (one per bin), received {acc.size}")
        ax.bar(x - 0.4 + width * (j + 0.5), acc, width=width, color=f"C{j}", label=name)
    ax.axhline(chance, color="grey", ls="--", lw=1.2, label=f"chance ({chance:g})")
    ax.set_xticks(x, list(bins))
    entries = n + 1
    ncols = entries if entries <= 3 else 2
    rows = -(-entries // ncols)
    ax.set_ylim(0, 1.06 + 0.12 * rows)  # the band above 1 holds the legend, clear of the bars
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_xlabel("lag (steps between the marked input and the answer)")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=9, loc="upper center", ncols=ncols, frameon=False)
    return ax


def plot_peak_predictions(x, labels, probs: Mapping[str, Sequence[float]], ax=None):
    """One sequence of the peak task: the inputs (true peaks circled) and each model's ``P(peak)``.

    Parameters
    ----------
    x : (T,) inputs of one sequence
    labels : (T,) 0/1 true labels (1 = the step is a peak)
    probs : ``{model name: (T,) predicted probability of "peak"}``
    """
    x, labels = np.asarray(x, dtype=float).ravel(), np.asarray(labels).ravel()
    if labels.shape != x.shape:
        raise ValueError(f"labels: expected shape {x.shape} (one label per input), received shape {labels.shape}")
    ax = _axes(ax, (FULL_WIDTH, 3.6))
    t = np.arange(1, x.size + 1)
    ax.plot(t, x, "o-", color="#3a6ea5", lw=1.5, label="input $x_t$", zorder=3)
    peaks = labels.astype(bool)
    ax.scatter(t[peaks], x[peaks], s=220, facecolors="none", edgecolors="k", lw=1.6, label="true peak", zorder=4)
    width = 0.8 / max(len(probs), 1)
    for j, (name, p) in enumerate(probs.items()):
        p = np.asarray(p, dtype=float).ravel()
        if p.shape != x.shape:
            raise ValueError(f"probs[{name!r}]: expected shape {x.shape}, received shape {p.shape}")
        ax.bar(t - 0.4 + width * (j + 0.5), p, width=width, alpha=0.55, color=f"C{j + 1}", label=f"P(peak): {name}")
    ax.set_xticks(t)
    ax.set_ylim(0, 1.08)
    ax.set_xlabel("step $t$")
    ax.legend(fontsize=9, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    return ax


def plot_unit_traces(traces: Mapping[str, Sequence[float]], marks: Sequence[int] = (), ax=None,
                     title: str | None = None, ylabel: str = "value", ylim=None, colors: Sequence[str] | None = None):
    """One line per entry of ``traces`` (``{label: (T,) values}``, e.g. a unit's state or gate along a
    sequence) against the step ``t = 1..T``; the steps in ``marks`` are shaded."""
    ax = _axes(ax, (FULL_WIDTH, 3.4))
    for j, (name, v) in enumerate(traces.items()):
        v = np.asarray(v, dtype=float).ravel()
        style = series_style(j, v.size)
        if colors is not None:
            style["color"] = colors[j]
        ax.plot(np.arange(1, v.size + 1), v, lw=1.6, label=name, **style)
    for k, s in enumerate(marks):
        ax.axvspan(s - 0.5, s + 0.5, color="grey", alpha=0.2, label="marked step" if k == 0 else None)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel("step $t$")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9, loc="center left", bbox_to_anchor=(1.0, 0.5))
    if title:
        ax.set_title(title)
    return ax
