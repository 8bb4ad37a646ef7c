"""The gradient-decay explorer of lesson 05: controls for σ_max, the activation and T.

All computation is in :func:`rnn_tutor.gradflow.gradient_decay_curve` and the text in
:func:`decay_readout`; :class:`GradientDecayExplorer` only wires the controls to them and to
:func:`rnn_tutor.plots.plot_norms_by_distance`.  The figure is rendered to PNG with a private
matplotlib ``Figure`` (no pyplot, no global state), so the widget can be built and driven from
plain Python, e.g. in tests::

    w = gradient_decay_explorer()
    w.sigma_max.value = 1.5
    w.readout.value   # '... ‖∂h_T/∂h_1‖ = ...'
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from rnn_tutor.gradflow import gradient_decay_curve
from rnn_tutor.plots.gradients import plot_norms_by_distance
from rnn_tutor.widgets._render import show_figure

__all__ = ["decay_readout", "gradient_decay_explorer", "GradientDecayExplorer"]


def _sci(log10_value: float) -> str:
    """Format ``10**log10_value`` in scientific notation, also far outside float64's range."""
    if not np.isfinite(log10_value):
        return "0" if log10_value < 0 else "inf"
    e = int(np.floor(log10_value))
    mant = round(10.0 ** (log10_value - e), 2)
    if mant >= 10.0:  # 9.996 rounds to 10.00
        mant, e = 1.0, e + 1
    return f"{mant:.2f}e{e:+03d}"


def decay_readout(curve: dict, T: int) -> str:
    """The explorer's text, e.g. ``‖∂h_T/∂h_1‖ = 5.73e-03 (bound 5.73e-03); rate 0.896 per step ...``.

    ``curve`` is the dict of :func:`rnn_tutor.gradflow.gradient_decay_curve` for length ``T``;
    the distance from ``h_1`` to ``h_T`` is ``T - 1``.
    """
    d = T - 1
    return (f"‖∂h_T/∂h_1‖ = {_sci(curve['log10_norms'][d])}  "
            f"(bound (γσ_max)^(T−1) = {_sci(curve['log10_bound'][d])});  "
            f"measured rate {curve['rate_measured']:.3f} per step, bound γσ_max = {curve['rate_bound']:.3f}")


class GradientDecayExplorer(widgets.VBox):
    """A ``VBox`` with the controls ``sigma_max`` ("σ_max"), ``activation``, ``T``, ``kind`` ("w_h"),
    ``input_scale``, the ``readout`` (HTML holding "‖∂h_T/∂h_1‖ = ..."; the plain text is in ``text``)
    and the ``image`` (the plot).

    Changing any control (from the browser or from Python) recomputes
    :func:`rnn_tutor.gradflow.gradient_decay_curve` and redraws; ``state`` holds the last curve.
    """

    def __init__(self, m: int = 16, seed: int = 0, sigma_max: float = 0.9, activation: str = "tanh",
                 T: int = 50, kind: str = "orthogonal", input_scale: float = 0.5):
        gradient_decay_curve(sigma_max, activation, T, m=m, seed=seed, kind=kind, input_scale=input_scale)  # validate
        self._m, self._seed = m, seed
        style = {"description_width": "80px"}
        self.sigma_max = widgets.FloatSlider(value=sigma_max, min=0.1, max=8.0, step=0.05, description="σ_max",
                                             continuous_update=False, style=style, readout_format=".2f")
        self.activation = widgets.Dropdown(options=["tanh", "sigmoid", "relu"], value=activation,
                                           description="activation", style=style)
        self.T = widgets.IntSlider(value=T, min=2, max=150, step=1, description="T", continuous_update=False,
                                   style=style)
        self.kind = widgets.Dropdown(options=[("σ_max × orthogonal", "orthogonal"), ("Gaussian", "gaussian")],
                                     value=kind, description="w_h", style=style)
        self.input_scale = widgets.FloatSlider(value=input_scale, min=0.0, max=3.0, step=0.1,
                                               description="input scale", continuous_update=False, style=style)
        self.readout = widgets.HTML(layout=widgets.Layout(margin="4px 0 4px 8px"))
        self.readout.add_class("rnn-tutor-readout")
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="600px", max_width="100%", height="auto"))
        self.state: dict = {}
        self.text = ""
        controls = (self.sigma_max, self.activation, self.T, self.kind, self.input_scale)
        for c in controls:
            c.observe(self._on_change, names="value")
        super().__init__([widgets.HBox([widgets.VBox(list(controls[:3])), widgets.VBox(list(controls[3:]))]),
                          self.readout, self.image])
        self.add_class("rnn-tutor-gradient-explorer")
        self.update()

    def update(self) -> None:
        """Recompute the curve for the current controls and redraw (also called on every change)."""
        T = self.T.value
        self.state = gradient_decay_curve(self.sigma_max.value, self.activation.value, T, m=self._m,
                                          seed=self._seed, kind=self.kind.value, input_scale=self.input_scale.value)
        self.text = decay_readout(self.state, T)
        self.readout.value = f'<span style="font-family: monospace">{html.escape(self.text)}</span>'
        fig = Figure(figsize=(6.0, 3.6), layout="constrained")  # not pyplot: nothing leaks into the notebook
        ax = fig.add_subplot()
        plot_norms_by_distance(self.state["log10_norms"], self.state["log10_bound"], labels="measured", ax=ax,
                               log10=True, title=f"{self.activation.value}, σ_max = {self.sigma_max.value:.2f}, T = {T}")
        show_figure(self.image, fig)

    def _on_change(self, _change) -> None:
        self.update()


def gradient_decay_explorer(m: int = 16, seed: int = 0, sigma_max: float = 0.9, activation: str = "tanh",
                            T: int = 50, kind: str = "orthogonal", input_scale: float = 0.5) -> GradientDecayExplorer:
    """Build the explorer: ``‖∂h_T/∂h_t‖`` against ``T - t`` for a random RNN, with the bound dashed.

    Parameters
    ----------
    m : hidden units;  seed : seed of the random ``w_h``, ``w_x`` and inputs
    sigma_max, activation, T, kind, input_scale : initial values of the controls
        (see :func:`rnn_tutor.gradflow.gradient_decay_curve`)

    Returns
    -------
    :class:`GradientDecayExplorer` -- attributes ``sigma_max``, ``activation``, ``T``, ``kind``,
    ``input_scale``, ``readout``, ``text``, ``image``, ``state``.
    """
    return GradientDecayExplorer(m, seed, sigma_max, activation, T, kind, input_scale)
