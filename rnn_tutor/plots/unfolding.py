"""Diagrams of an Elman RNN: the compressed network with its feedback loop, and the network unfolded in time.

    h_t = f(w_x x_t + w_h h_{t-1} + b_h),   y_t = g(w_y h_t + b_y),   h_0 = 0

Both functions draw with matplotlib patches and ``annotate`` arrows on an Axes
(``ax=None`` makes a new figure) and return that Axes.  They change no global
state (no ``rcParams``, no ``plt.style``).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path

from rnn_tutor.plots._style import FULL_WIDTH

__all__ = ["draw_compressed", "draw_unfolded", "format_value"]

# Colours: inputs blue, hidden states orange, outputs green, the highlighted step gold.
_FACE = {"x": "#dbe9f6", "h": "#fde0c5", "y": "#d9f0d3"}
_EDGE = {"x": "#3a6ea5", "h": "#c4661f", "y": "#3b8a3b"}
_ARROW = "#444444"
_HIGHLIGHT = "#d62728"
_BAND = "#fff3b0"
_ROW_Y = {"x": 0.0, "h": 2.2, "y": 4.4}  # vertical position of each row
_DX = 2.6  # horizontal distance between time steps
_MAX_STEPS = 12


_INCH_PER_UNIT = 0.55  # drawing scale of the figures made here


def inch_per_unit(width_units: float) -> float:
    """The drawing scale: ``_INCH_PER_UNIT``, or less when the drawing would be wider than the notebook."""
    return min(_INCH_PER_UNIT, FULL_WIDTH / width_units)


def _new_axes(xlim: tuple, ylim: tuple) -> Axes:
    """A new figure whose single Axes fills it, sized so that one data unit is :func:`inch_per_unit` inches."""
    import matplotlib.pyplot as plt  # only when the caller gives no Axes

    scale = inch_per_unit(xlim[1] - xlim[0])
    fig = plt.figure(figsize=((xlim[1] - xlim[0]) * scale, (ylim[1] - ylim[0]) * scale))
    return fig.add_axes((0, 0, 1, 1))


def _finish(ax: Axes, xlim: tuple, ylim: tuple) -> Axes:
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def _node(ax: Axes, x: float, y: float, kind: str, label: str, value: str | None = None,
          bold: bool = False, faded: bool = False, width: float = 1.3, shrink: float = 1.0) -> FancyBboxPatch:
    """A rounded box centred at ``(x, y)`` with a mathtext ``label`` and an optional value line."""
    h = 1.05 if value else 0.8
    box = FancyBboxPatch((x - width / 2, y - h / 2), width, h, boxstyle="round,pad=0.02,rounding_size=0.18",
                         facecolor=_FACE[kind], edgecolor=_HIGHLIGHT if bold else _EDGE[kind],
                         linewidth=2.6 if bold else 1.4, alpha=0.45 if faded else 1.0, zorder=3)
    ax.add_patch(box)
    if value:
        ax.text(x, y + 0.2, label, ha="center", va="center", fontsize=max(10.0, 13 * shrink), zorder=4)
        ax.text(x, y - 0.25, value, ha="center", va="center", fontsize=9, family="monospace",
                color="#222222", zorder=4, gid=f"value-{kind}")
    else:
        ax.text(x, y, label, ha="center", va="center", fontsize=max(10.0, 13 * shrink), zorder=4)
    return box


def _centre(box: FancyBboxPatch) -> tuple[float, float]:
    return box.get_x() + box.get_width() / 2, box.get_y() + box.get_height() / 2


def _border_point(box: FancyBboxPatch, toward: tuple[float, float], gap: float = 0.04) -> tuple[float, float]:
    """Where the line from the centre of ``box`` toward ``toward`` leaves the box (plus a small gap).

    Computed from the box geometry (the boxes are axis-aligned), which is far cheaper
    than letting matplotlib clip the arrow against the patches.
    """
    (cx, cy), (tx, ty) = _centre(box), toward
    dx, dy = tx - cx, ty - cy
    scale = min(box.get_width() / 2 / abs(dx) if dx else np.inf, box.get_height() / 2 / abs(dy) if dy else np.inf)
    length = float(np.hypot(dx, dy))
    scale += gap / length
    return cx + scale * dx, cy + scale * dy


def _arrow(ax: Axes, a: FancyBboxPatch, b: FancyBboxPatch, label: str, where: str, bold: bool = False,
           shrink: float = 1.0) -> None:
    """A straight arrow from the border of box ``a`` to the border of box ``b``, with a weight label."""
    pa = _border_point(a, _centre(b))
    pb = _border_point(b, _centre(a))
    colour = _HIGHLIGHT if bold else _ARROW
    ax.annotate("", xy=pb, xytext=pa, zorder=2,
                arrowprops={"arrowstyle": "-|>,head_length=0.5,head_width=0.25", "color": colour,
                            "lw": 2.2 if bold else 1.3, "shrinkA": 0, "shrinkB": 0})
    # the label sits beside the arrow's middle: to the right of vertical arrows, above horizontal ones
    if where == "right":
        ax.text((pa[0] + pb[0]) / 2 + 0.18, (pa[1] + pb[1]) / 2, label, ha="left", va="center",
                fontsize=max(9.0, 12 * shrink), color=colour, zorder=4)
    else:
        ax.text((pa[0] + pb[0]) / 2, (pa[1] + pb[1]) / 2 + 0.14, label, ha="center", va="bottom",
                fontsize=max(9.0, 12 * shrink), color=colour, zorder=4)


def format_value(v) -> str:
    """Format a scalar (``'0.537'``, ``'2'``, ``'1.2e-05'``) or a short vector (``'[0.54, -0.12, …]'``) for a diagram."""
    arr = np.asarray(v, dtype=float).ravel()
    if arr.size == 1:
        a = float(arr[0])
        if a.is_integer() and abs(a) < 1e6:
            return str(int(a))
        return f"{a:.3f}" if 1e-3 <= abs(a) < 1e4 else f"{a:.1e}"
    shown = ", ".join(f"{a:.2f}" for a in arr[:2])
    return f"[{shown}{', …' if arr.size > 2 else ''}]"


def draw_compressed(ax: Axes | None = None) -> Axes:
    """Draw the Elman RNN in its compressed form: ``x_t -> h_t -> y_t`` plus the loop ``w_h`` on ``h_t``.

    The loop is the recurrence ``h_t = f(w_x x_t + w_h h_{t-1} + b_h)``: the
    hidden state computed at step ``t - 1`` comes back as an input at step ``t``.

    Parameters
    ----------
    ax : matplotlib Axes, optional (a new 6.4 x 4.2 in figure if None)

    Returns
    -------
    The Axes.
    """
    xlim, ylim = (-3.0, 6.9), (-0.6, 5.0)
    if ax is None:
        ax = _new_axes(xlim, ylim)
    x0 = 0.0
    nx = _node(ax, x0, _ROW_Y["x"], "x", r"$x_t$")
    nh = _node(ax, x0, _ROW_Y["h"], "h", r"$h_t$")
    ny = _node(ax, x0, _ROW_Y["y"], "y", r"$y_t$")
    _arrow(ax, nx, nh, r"$w_x$", "right")
    _arrow(ax, nh, ny, r"$w_y$", "right")
    # the feedback loop: leave h_t on its left, come back into it lower down (one step later)
    yh, half, far, dy = _ROW_Y["h"], 0.65, 1.9, 0.3
    loop = Path([(x0 - half, yh + dy), (x0 - far, yh + dy), (x0 - far, yh - dy), (x0 - half - 0.02, yh - dy)],
                [Path.MOVETO, Path.LINETO, Path.LINETO, Path.LINETO])
    ax.add_patch(FancyArrowPatch(path=loop, arrowstyle="-|>,head_length=0.5,head_width=0.25", color=_HIGHLIGHT,
                                 lw=1.8, mutation_scale=12, zorder=5, joinstyle="round", capstyle="round"))
    # the small square on the loop is the one-step delay: what arrives now is h_{t-1}
    ax.add_patch(FancyBboxPatch((x0 - far - 0.13, yh - 0.13), 0.26, 0.26, boxstyle="square,pad=0",
                                facecolor="#333333", edgecolor="#333333", zorder=4))
    ax.text(x0 - (half + far) / 2, yh + dy + 0.05, r"$w_h$", ha="center", va="bottom", fontsize=12, color=_HIGHLIGHT)
    ax.text(x0 - far - 0.25, yh, r"$h_{t-1}$", ha="right", va="center", fontsize=11, color="#333333")
    # the equations, beside the picture, in the symbols of the picture
    ax.text(1.55, 3.0, "feedback loop: the state of step $t-1$\nis an input of step $t$", fontsize=10,
            va="center", color="#333333")
    ax.text(1.55, 1.45, r"$h_t = f(w_x x_t + w_h h_{t-1} + b_h)$" + "\n" + r"$y_t = g(w_y h_t + b_y)$"
            + "\n" + r"$h_0 = 0$", fontsize=11, va="center", linespacing=1.7)
    return _finish(ax, xlim, ylim)


def _check_values(values, k: int) -> dict:
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise ValueError(f"values: expected a dict like {{'h': [...], 'y': [...]}}, received {type(values).__name__}")
    unknown = sorted(set(values) - {"x", "h", "y", "h_0"})
    if unknown:
        raise ValueError(f"values: unknown key(s) {unknown}; valid keys are 'x', 'h', 'y', 'h_0'")
    out = {}
    for key, seq in values.items():
        if key == "h_0":
            out[key] = format_value(seq)
            continue
        try:
            n = len(seq)
        except TypeError:
            n = None
        if n != k:
            raise ValueError(f"values['{key}']: expected one value per step ({k} values for k = {k}), "
                             f"received {n if n is not None else type(seq).__name__}")
        out[key] = [format_value(v) for v in seq]
    return out


def draw_unfolded(k: int, ax: Axes | None = None, highlight: int | None = None,
                  values: Mapping | None = None) -> Axes:
    """Draw the RNN unfolded over ``k`` time steps: ``h_0 -> h_1 -> ... -> h_k``, each ``h_t`` fed by ``x_t`` and feeding ``y_t``.

    Every horizontal arrow is labelled with the same ``w_h``, every input arrow
    with the same ``w_x`` and every output arrow with the same ``w_y``: the
    unfolded network is a deep feedforward network whose layers share weights.

    Parameters
    ----------
    k : int, 1 <= k <= 12
        Number of time steps drawn.
    ax : matplotlib Axes, optional (a new figure sized for ``k`` if None)
    highlight : int, optional
        The step ``t`` (1..k) to emphasise: a shaded band and red arrows into ``h_t`` and ``y_t``.
    values : dict, optional
        Numbers to print inside the boxes: ``{"h": [h_1, ..., h_k], "y": [y_1, ..., y_k]}``,
        optionally ``"x"`` (k values) and ``"h_0"``; each value a scalar or a vector.

    Returns
    -------
    The Axes.
    """
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or not 1 <= k <= _MAX_STEPS:
        raise ValueError(f"k: expected an integer number of steps between 1 and {_MAX_STEPS}, received {k!r}")
    if highlight is not None and (isinstance(highlight, (bool, np.bool_)) or not isinstance(highlight, (int, np.integer))
                                  or not 1 <= highlight <= k):
        raise ValueError(f"highlight: expected a step t with 1 <= t <= k = {k} (or None), received {highlight!r}")
    vals = _check_values(values, k)
    wide = any(len(s) > 6 for key in ("x", "h", "y") for s in vals.get(key, []))
    width = 2.0 if wide else 1.3
    dx = _DX + (0.8 if wide else 0.0)
    left, right = -0.95 - (width - 1.3) / 2, k * dx + max(0.95 + (width - 1.3) / 2, dx / 2)
    pad = max(0.0, 8.0 - (right - left)) / 2  # room for the footnote when k is small
    xlim, ylim = (left - pad, right + pad), (-1.35, 5.7)
    if ax is None:
        ax = _new_axes(xlim, ylim)
    shrink = inch_per_unit(xlim[1] - xlim[0]) / _INCH_PER_UNIT  # < 1 when many steps are squeezed to fit
    if highlight is not None:
        cx = highlight * dx
        ax.add_patch(FancyBboxPatch((cx - dx / 2 + 0.12, -0.75), dx - 0.24, 5.9, boxstyle="round,pad=0,rounding_size=0.3",
                                    facecolor=_BAND, edgecolor="none", zorder=0, gid="highlight"))
        ax.text(cx, 5.35, f"step $t = {int(highlight)}$", ha="center", va="center", fontsize=10,
                color=_HIGHLIGHT, zorder=4)
    h0_text = vals.get("h_0", "0")
    prev = _node(ax, 0.0, _ROW_Y["h"], "h", r"$h_0$", value=f"= {h0_text}", width=width, shrink=shrink)
    for t in range(1, k + 1):
        cx, on = t * dx, highlight == t
        faded = highlight is not None and t > highlight  # steps that have not happened yet
        nx = _node(ax, cx, _ROW_Y["x"], "x", f"$x_{{{t}}}$", vals.get("x", [None] * k)[t - 1], faded=faded, width=width, shrink=shrink)
        nh = _node(ax, cx, _ROW_Y["h"], "h", f"$h_{{{t}}}$", vals.get("h", [None] * k)[t - 1], bold=on,
                   faded=faded, width=width, shrink=shrink)
        ny = _node(ax, cx, _ROW_Y["y"], "y", f"$y_{{{t}}}$", vals.get("y", [None] * k)[t - 1], bold=on,
                   faded=faded, width=width, shrink=shrink)
        _arrow(ax, prev, nh, r"$w_h$", "above", bold=on, shrink=shrink)
        _arrow(ax, nx, nh, r"$w_x$", "right", bold=on, shrink=shrink)
        _arrow(ax, nh, ny, r"$w_y$", "right", bold=on, shrink=shrink)
        prev = nh
    ax.text(sum(xlim) / 2, -1.05, r"the same $w_x$, $w_h$, $w_y$ (and $b_h$, $b_y$) at every step",
            ha="center", va="center", fontsize=10, color="#333333")
    return _finish(ax, xlim, ylim)
