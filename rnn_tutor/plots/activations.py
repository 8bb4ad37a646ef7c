"""Figures for lesson 02: activation functions, their derivatives, and what they do over many steps.

Every function takes ``ax=None`` (a new figure is made only then) and returns the Axes; nothing
here changes matplotlib's global state.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from rnn_tutor._lazy import sympy as sp
from matplotlib.axes import Axes

from rnn_tutor.activations import Activation, get_activation
from rnn_tutor.plots._style import FULL_WIDTH, series_style
from rnn_tutor.validation import as_float_array

__all__ = ["plot_activation", "plot_activations", "plot_gradient_decay", "plot_hidden_trajectories"]

_COLOURS = {"sigmoid": "#1f77b4", "tanh": "#d62728", "relu": "#2ca02c", "identity": "#7f7f7f"}
_RANGE = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, None), "identity": (None, None)}


def _axes(ax: Axes | None, figsize=(4.2, 3.2)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # only when the caller gives no Axes

    return plt.figure(figsize=figsize, layout="constrained").add_subplot()


def plot_activation(f: str | Activation, ax: Axes | None = None, lim: float = 6.0) -> Axes:
    """Draw ``f(a)`` and its derivative ``f'(a)`` on ``[-lim, lim]``.

    ``f`` comes from the NumPy implementation; ``f'`` is the SymPy-derived derivative
    (:meth:`Activation.sym_deriv`), compiled with ``lambdify``.  Dotted lines mark the range of
    ``f`` and the bound ``max |f'|``; the saturated region (``f' < 0.05``) is shaded.

    Returns the Axes; its first two lines are ``f`` and ``f'``.
    """
    act = get_activation(f, "f")
    if not (isinstance(lim, (int, float, np.number)) and np.isfinite(lim) and lim > 0):
        raise ValueError(f"lim: expected a positive number, received {lim!r}")
    ax = _axes(ax)
    a = np.linspace(-lim, lim, 600)  # an even count: a = 0 (ReLU's kink) is not on the grid
    z = sp.Symbol("a", real=True)
    deriv = sp.lambdify(z, act.sym_deriv(z), modules="numpy")
    d = np.broadcast_to(np.asarray(deriv(a), dtype=float), a.shape)
    colour = _COLOURS.get(act.name, "k")
    ax.plot(a, act.fn(a), color=colour, lw=2, label=f"{act.name}(a)")
    ax.plot(a, d, color="0.25", lw=1.6, ls="--", label=f"{act.name}'(a)  (SymPy)")
    low, high = _RANGE.get(act.name, (None, None))
    for level in (low, high):
        if level is not None:
            ax.axhline(level, color="0.5", lw=0.8, ls=":")
    ax.axhline(act.deriv_bound, color=colour, lw=0.8, ls=":", alpha=0.7)
    ax.fill_between(a, 0, 1, where=d < 0.05, color="0.85", alpha=0.6, transform=ax.get_xaxis_transform(),
                    label="saturated: f' < 0.05")
    ax.set_xlabel("pre-activation a")
    ax.set_title(f"{act.name}: max |f'| = {act.deriv_bound:g}")
    ax.legend(loc="upper left", fontsize=9, frameon=False)
    return ax


def plot_activations(names: Sequence[str] = ("sigmoid", "tanh", "relu"), axes=None, lim: float = 6.0):
    """One :func:`plot_activation` panel per name, side by side; returns the array of Axes."""
    names = list(names)
    if not names:
        raise ValueError("names: expected at least one activation name, received an empty list")
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, len(names), figsize=(FULL_WIDTH, 3.4), layout="constrained")
    axes = np.atleast_1d(axes)
    if axes.size != len(names):
        raise ValueError(f"axes: expected {len(names)} Axes (one per name), received {axes.size}")
    for ax, name in zip(axes.ravel(), names):
        plot_activation(name, ax=ax, lim=lim)
    return axes


def plot_gradient_decay(bounds: Mapping[str, float], steps: int = 30, ax: Axes | None = None) -> Axes:
    """The largest factor ``(max |f'|)^n`` a gradient can keep after n steps (``|w_h| = 1``), log scale.

    ``bounds`` maps a label to a per-step factor, e.g. ``{"sigmoid": 0.25, "tanh": 1.0}``.
    """
    if not isinstance(bounds, Mapping) or not bounds:
        raise ValueError(f"bounds: expected a non-empty dict label -> factor, received {bounds!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps: expected a positive integer, received {steps!r}")
    ax = _axes(ax)
    n = np.arange(0, steps + 1)
    for j, (label, factor) in enumerate(bounds.items()):
        style = series_style(j, n.size)
        style["color"] = _COLOURS.get(label, style["color"])  # an activation's own colour, if it has one
        ax.semilogy(n, float(factor) ** n, lw=1.5, label=f"{label}: {factor:g}^n", **style)
    ax.set_xlabel("steps n the gradient travels back")
    ax.set_ylabel("largest possible factor")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=9, frameon=False)
    return ax


def plot_hidden_trajectories(hs, ax: Axes | None = None, title: str | None = None, sequence: int = 0,
                             max_units: int = 8) -> Axes:
    """Hidden units ``h_t`` against ``t`` for one sequence of ``hs (T, N, m)``.

    The y axis switches to a symmetric log scale when some ``|h_t|`` exceeds 10 (a blow-up);
    non-finite values (overflow) are not drawn and the title says so.
    """
    hs = as_float_array(hs, "hs")
    if hs.ndim != 3:
        raise ValueError(f"hs: expected a 3-D array (T, N, m), received shape {hs.shape}")
    if not 0 <= sequence < hs.shape[1]:
        raise ValueError(f"sequence: expected 0 <= sequence < N = {hs.shape[1]}, received {sequence!r}")
    ax = _axes(ax, figsize=(5.0, 3.2))
    T = hs.shape[0]
    t = np.arange(1, T + 1)
    shown = hs[:, sequence, :max_units]
    finite = np.where(np.isfinite(shown), shown, np.nan)
    ax.plot(t, finite, lw=1.2)
    peak = np.nanmax(np.abs(finite)) if np.isfinite(finite).any() else 0.0
    if peak > 10:
        ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xlabel("t")
    ax.set_ylabel("h_t (one line per unit)")
    note = "" if np.isfinite(shown).all() else "  (overflow: values beyond float64)"
    ax.set_title((title or "hidden-state trajectories") + note)
    ax.grid(True, alpha=0.3)
    return ax
