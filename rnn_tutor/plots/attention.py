"""Figures for lesson 09 (attention).  Each function takes ``ax=None`` and returns the Axes.

Sizes fit a notebook about 8 inches wide at 100 dpi; text is at least 9 pt; every series has its
own colour *and* marker, so the figures also read in grey.  Nothing here changes global state.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

__all__ = ["plot_accuracy_vs_length", "plot_alignment", "plot_work_vs_length"]

_STYLES = (("#1f77b4", "o", "-"), ("#d62728", "s", "--"), ("#2ca02c", "^", "-."), ("#9467bd", "D", ":"),
           ("#ff7f0e", "v", "-"))


def _axes(ax, figsize):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _check_series(xs, series: Mapping, name: str) -> np.ndarray:
    xs = np.asarray(xs, dtype=float)
    if xs.ndim != 1 or xs.size == 0:
        raise ValueError(f"lengths: expected a non-empty 1-D sequence of lengths, received shape {xs.shape}")
    if not isinstance(series, Mapping) or not series:
        raise ValueError(f"{name}: expected a non-empty dict {{label: values}}, received {type(series).__name__}")
    if len(series) > len(_STYLES):
        raise ValueError(f"{name}: expected at most {len(_STYLES)} series, received {len(series)}")
    for label, values in series.items():
        if np.shape(values) != xs.shape:
            raise ValueError(f"{name}[{label!r}]: expected {xs.size} values (one per length), received shape {np.shape(values)}")
    return xs


def plot_accuracy_vs_length(lengths, accuracies: Mapping[str, Sequence[float]], chance: float | None = None,
                            ax=None, ylabel: str = "tokens right (greedy decoding)"):
    """Accuracy against input length, one line per model (colour, marker and line style differ).

    ``accuracies``: ``{model name: values}`` with one value in 0..1 per length; ``chance``: an
    optional dotted reference line (e.g. guessing a symbol at random).
    """
    lengths = _check_series(lengths, accuracies, "accuracies")
    ax = _axes(ax, (7.5, 3.4))
    for (label, acc), (colour, marker, ls) in zip(accuracies.items(), _STYLES):
        ax.plot(lengths, acc, color=colour, marker=marker, ls=ls, ms=6, lw=1.6, label=label)
    if chance is not None:
        ax.axhline(chance, color="#777777", ls=":", lw=1.2, label=f"chance ({chance:.0%})")
    ax.set_xlabel("input length S (symbols)", fontsize=10)
    ax.set_ylabel(ylabel, fontsize=10)
    ax.set_ylim(0, 1.04)
    ax.set_xticks(lengths[:: max(1, len(lengths) // 12)])
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.tick_params(labelsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9, loc="center left", frameon=True)
    return ax


def plot_alignment(weights, input_labels: Sequence[str], output_labels: Sequence[str], ax=None,
                   title: str | None = None):
    """Heat map of attention weights ``(U, S)``: row ``u`` = output step, column ``s`` = input position.

    Darker = more weight; every row sums to 1.  A colour bar gives the scale (0 to 1).
    """
    weights = np.asarray(weights, dtype=float)
    if weights.ndim != 2 or 0 in weights.shape:
        raise ValueError(f"weights: expected a 2-D array (U, S) of attention weights, received shape {weights.shape}")
    U, S = weights.shape
    if len(input_labels) != S or len(output_labels) != U:
        raise ValueError(f"input_labels, output_labels: expected {S} and {U} labels (the columns and rows of weights), "
                         f"received {len(input_labels)} and {len(output_labels)}")
    ax = _axes(ax, (min(0.38 * S + 2.4, 7.8), min(0.34 * U + 1.5, 6.0)))
    image = ax.imshow(weights, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    ax.figure.colorbar(image, ax=ax, fraction=0.05, pad=0.02, label="attention weight α")
    ax.set_xticks(np.arange(S), [str(v) for v in input_labels], fontsize=9)
    ax.set_yticks(np.arange(U), [str(v) for v in output_labels], fontsize=9)
    ax.set_xlabel("input symbol (position s = 1 .. S, left to right)", fontsize=10)
    ax.set_ylabel("output symbol (step u, top to bottom)", fontsize=10)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_work_vs_length(Ts, values: Mapping[str, Sequence[float]], ylabel: str, ax=None, log: bool = True,
                        title: str | None = None):
    """A cost (sequential steps or flops) against sequence length ``T``, one line per computation; log-log by default."""
    Ts = _check_series(Ts, values, "values")
    ax = _axes(ax, (3.9, 3.2))
    for (label, v), (colour, marker, ls) in zip(values.items(), _STYLES):
        ax.plot(Ts, v, color=colour, marker=marker, ls=ls, ms=6, lw=1.6, label=label)
    if log:
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.xaxis.set_major_formatter(lambda v, _: f"{v:g}")  # 1, 2, 4, ... rather than 2^0, 2^1, ...
    ax.set_xlabel("sequence length T", fontsize=10)
    ax.set_ylabel(ylabel, fontsize=10)
    ax.tick_params(labelsize=9)
    ax.grid(True, alpha=0.3, which="major")
    ax.legend(fontsize=9, loc="upper left")
    if title:
        ax.set_title(title, fontsize=10)
    return ax
