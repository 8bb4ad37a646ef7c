"""An explorer that steps through an unfolded RNN: a slider for ``t`` highlights step ``t`` and shows ``h_t`` and ``y_t``.

The logic is in the pure function :func:`explorer_step` (what to show for a
given ``t``); :class:`UnfoldingExplorer` only wires a slider to it and to
:func:`rnn_tutor.plots.draw_unfolded`.  The diagram is rendered to PNG with a
private matplotlib ``Figure`` (no pyplot, no global state), so the widget can
be built and driven from plain Python, e.g. in tests::

    w = unfolding_explorer([1.0, 2.0, -1.0], params)
    w.slider.value = 2
    w.readout.value   # '... h_t = ...'
"""

from __future__ import annotations

import html
from typing import Mapping

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from rnn_tutor.activations import Activation, get_activation
from rnn_tutor.plots.unfolding import _MAX_STEPS, draw_unfolded, format_value, inch_per_unit
from rnn_tutor.rnn import as_sequence, rnn_forward
from rnn_tutor.widgets._render import show_figure

__all__ = ["explorer_step", "unfolding_explorer", "UnfoldingExplorer"]


def _forward_one_sequence(xs, params: Mapping, f, g):
    xs = as_sequence(xs)
    if xs.shape[1] != 1:
        raise ValueError(f"xs: the explorer follows one sequence; expected shape (T, 1, d) (or a list of T numbers), "
                         f"received shape {xs.shape}")
    if not 1 <= xs.shape[0] <= _MAX_STEPS:
        raise ValueError(f"xs: the diagram has room for 1 to {_MAX_STEPS} steps, received T = {xs.shape[0]}")
    hs, ys, _ = rnn_forward(xs, params, f=f, g=g)
    return xs, hs, ys


def explorer_step(xs, params: Mapping, t: int, f: str | Activation = "tanh", g: str | Activation = "identity") -> dict:
    """What the explorer shows at step ``t``: the numbers and the readout text.

    Runs ``h_t = f(w_x x_t + w_h h_{t-1} + b_h)``, ``y_t = g(w_y h_t + b_y)`` from ``h_0 = 0``.

    Parameters
    ----------
    xs : list of T numbers, (T, d) or (T, 1, d) array -- one sequence, 1 <= T <= 12
    params : dict of ``w_x (m, d)``, ``w_h (m, m)``, ``b_h (m,)``, ``w_y (q, m)``, ``b_y (q,)``
    t : int, 1 <= t <= T
    f, g : activation names

    Returns
    -------
    dict with ``t``, ``T``, ``x_t (d,)``, ``h_t (m,)``, ``y_t (q,)``, ``hs (T, m)``, ``ys (T, q)`` and
    ``text``, the readout ``"t = 2: x_t = 2, h_t = 0.814, y_t = 1.13"``.
    """
    f, g = get_activation(f, "f"), get_activation(g, "g")
    xs3, hs, ys = _forward_one_sequence(xs, params, f, g)
    T = xs3.shape[0]
    if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, np.integer)) or not 1 <= t <= T:
        raise ValueError(f"t: expected a step with 1 <= t <= T = {T}, received {t!r}")
    t = int(t)
    x_t, h_t, y_t = xs3[t - 1, 0], hs[t - 1, 0], ys[t - 1, 0]
    text = (f"t = {t}: x_t = {format_value(x_t)}, h_t = {format_value(h_t)}, y_t = {format_value(y_t)}")
    return {"t": t, "T": T, "x_t": x_t, "h_t": h_t, "y_t": y_t, "hs": hs[:, 0], "ys": ys[:, 0], "text": text}


def _diagram(state: dict, xs3: np.ndarray) -> Figure:
    fig = Figure()  # not pyplot: nothing leaks into the notebook
    ax = fig.add_axes((0, 0, 1, 1))
    values = {"x": list(xs3[:, 0]), "h": list(state["hs"]), "y": list(state["ys"])}
    draw_unfolded(state["T"], ax=ax, highlight=state["t"], values=values)
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    scale = inch_per_unit(x1 - x0)
    fig.set_size_inches((x1 - x0) * scale, (y1 - y0) * scale)
    return fig


class UnfoldingExplorer(widgets.VBox):
    """A ``VBox`` of ``slider`` (description ``"t"``), ``readout`` (HTML with ``"h_t = ..."``) and ``image`` (the diagram).

    Moving ``slider.value`` (from the browser or from Python) recomputes
    :func:`explorer_step` and redraws the diagram.  ``state`` holds the last result.
    """

    def __init__(self, xs, params: Mapping, f: str | Activation = "tanh", g: str | Activation = "identity"):
        self._f, self._g = get_activation(f, "f"), get_activation(g, "g")
        self._xs3, _, _ = _forward_one_sequence(xs, params, self._f, self._g)  # validates once, up front
        self._xs, self._params = xs, params
        T = self._xs3.shape[0]
        self.slider = widgets.IntSlider(value=1, min=1, max=T, step=1, description="t",
                                        continuous_update=False, layout=widgets.Layout(width="420px"))
        self.readout = widgets.HTML(layout=widgets.Layout(margin="0 0 0 12px"))
        self.readout.add_class("rnn-tutor-readout")
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%", height="auto"))
        self.state: dict = {}
        self.slider.observe(self._on_change, names="value")
        super().__init__([widgets.HBox([self.slider, self.readout]), self.image])
        self.add_class("rnn-tutor-unfolding-explorer")
        self.show(1)

    def show(self, t: int) -> None:
        """Display step ``t`` (also called when the slider moves)."""
        self.state = explorer_step(self._xs, self._params, t, self._f, self._g)
        self.readout.value = f'<span class="rnn-tutor-ht" style="font-family: monospace">{html.escape(self.state["text"])}</span>'
        show_figure(self.image, _diagram(self.state, self._xs3))

    def _on_change(self, change) -> None:
        self.show(change["new"])


def unfolding_explorer(xs, params: Mapping, f: str | Activation = "tanh", g: str | Activation = "identity") -> UnfoldingExplorer:
    """Build the explorer widget for one sequence ``xs`` (list of T numbers or ``(T, 1, d)``, ``1 <= T <= 12``).

    Parameters
    ----------
    xs : the input sequence, starting from ``h_0 = 0``
    params : dict of ``w_x (m, d)``, ``w_h (m, m)``, ``b_h (m,)``, ``w_y (q, m)``, ``b_y (q,)``
    f, g : activation names of the hidden and output layers

    Returns
    -------
    :class:`UnfoldingExplorer` -- attributes ``slider``, ``readout``, ``image``, ``state``.
    """
    return UnfoldingExplorer(xs, params, f, g)
