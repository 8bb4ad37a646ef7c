"""The hidden-dynamics explorer of lesson 02: pick the activation and the scale of w_h, watch h_t.

All computation is in :func:`rnn_tutor.activations.hidden_dynamics` and the text in
:func:`rnn_tutor.activations.dynamics_summary`; :class:`DynamicsExplorer` only wires a
``Dropdown`` ("activation") and a ``FloatSlider`` ("w_h scale") to them and to
:func:`rnn_tutor.plots.plot_hidden_trajectories`.  The figure is rendered to PNG with a private
matplotlib ``Figure`` (no pyplot, no global state), so the widget can be driven from Python::

    w = dynamics_explorer()
    w.scale.value = 2.0
    w.text            # 'tanh, w_h scale 2.0: max |h_t| = ...' (the readout without HTML)
"""

from __future__ import annotations

import html

import ipywidgets as widgets
from matplotlib.figure import Figure

from rnn_tutor.activations import dynamics_summary, hidden_dynamics
from rnn_tutor.plots.activations import plot_hidden_trajectories
from rnn_tutor.widgets._render import show_figure

__all__ = ["dynamics_explorer", "DynamicsExplorer"]


class DynamicsExplorer(widgets.VBox):
    """A ``VBox`` with ``activation`` (Dropdown), ``scale`` (FloatSlider "w_h scale"), ``readout``
    (HTML with "max |h_t| = ...") and ``image`` (the plot); ``text`` is the readout as plain text
    and ``hs`` holds the last trajectories."""

    def __init__(self, activation: str = "tanh", w_h_scale: float = 1.0, T: int = 40, m: int = 16, seed: int = 0):
        hidden_dynamics(activation, w_h_scale, T=T, m=m, N=1)  # validates the arguments
        self._T, self._m, self._seed = T, m, seed
        style = {"description_width": "80px"}
        self.activation = widgets.Dropdown(options=["tanh", "sigmoid", "relu"], value=activation,
                                           description="activation", style=style)
        self.scale = widgets.FloatSlider(value=w_h_scale, min=0.1, max=3.0, step=0.1, description="w_h scale",
                                         continuous_update=False, style=style, readout_format=".1f")
        self.readout = widgets.HTML(layout=widgets.Layout(margin="4px 0 4px 8px"))
        self.readout.add_class("rnn-tutor-readout")
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%", height="auto"))
        self.hs, self.text = None, ""
        for control in (self.activation, self.scale):
            control.observe(self._on_change, names="value")
        super().__init__([widgets.HBox([self.activation, self.scale]), self.readout, self.image])
        self.add_class("rnn-tutor-dynamics-explorer")
        self.update()

    def update(self) -> None:
        """Recompute the trajectories for the current controls and redraw."""
        import numpy as np

        self.hs = hidden_dynamics(self.activation.value, self.scale.value, T=self._T, m=self._m, N=1,
                                  rng=np.random.default_rng(self._seed))
        self.text = f"{self.activation.value}, w_h scale {self.scale.value:.1f}: {dynamics_summary(self.hs)}"
        self.readout.value = f'<span style="font-family: monospace">{html.escape(self.text)}</span>'
        fig = Figure(figsize=(7.0, 3.4), layout="constrained")  # not pyplot: nothing leaks into the notebook
        plot_hidden_trajectories(self.hs, ax=fig.add_subplot(),
                                 title=f"{self.activation.value}, spectral radius of w_h = {self.scale.value:.1f}")
        show_figure(self.image, fig)

    def _on_change(self, _change) -> None:
        self.update()


def dynamics_explorer(activation: str = "tanh", w_h_scale: float = 1.0, T: int = 40, m: int = 16,
                      seed: int = 0) -> DynamicsExplorer:
    """Build the explorer: ``h_t`` of a random RNN (``h_0 = 0``, Gaussian inputs) for a chosen ``f``
    and spectral radius of ``w_h`` (see :func:`rnn_tutor.activations.hidden_dynamics`)."""
    return DynamicsExplorer(activation, w_h_scale, T, m, seed)
