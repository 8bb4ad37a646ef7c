"""Figures for lesson 07: cost against sequence length, fading memory, and the capstone."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from rnn_tutor.plots._style import series_style

__all__ = ["plot_time_vs_length", "plot_sensitivity", "plot_charlm_loss"]


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    return ax


def plot_time_vs_length(Ts: Sequence[int], seconds: Mapping[str, Sequence[float]], ax=None):
    """Wall time (ms, log–log) against the sequence length ``T``, one line per model.

    A dotted grey line of slope one (time proportional to ``T``) runs through the first
    model's geometric mean, for reference.
    """
    Ts = np.asarray(Ts, dtype=float)
    if not isinstance(seconds, Mapping) or not seconds:
        raise ValueError(f"seconds: expected a dict label -> times, received {type(seconds).__name__}")
    ax = _axes(ax)
    for j, (label, s) in enumerate(seconds.items()):
        s = np.asarray(s, dtype=float)
        if s.shape != Ts.shape:
            raise ValueError(f"seconds[{label!r}]: expected {Ts.size} times (one per T), received shape {s.shape}")
        ax.loglog(Ts, 1e3 * s, lw=1.6, label=label, **{**series_style(j), "ms": 6})
    first = 1e3 * np.asarray(next(iter(seconds.values())), dtype=float)
    if np.all(first > 0):
        ref = np.exp(np.mean(np.log(first)) - np.mean(np.log(Ts))) * Ts  # slope one through the first curve
        ax.loglog(Ts, ref, ls=":", color="0.45", lw=1.4, label="time ∝ T (slope one)")
    ax.set_xticks(Ts, [f"{int(T)}" for T in Ts])
    ax.minorticks_off()
    # 1-2-5 ticks: whatever the machine's speed, the time axis shows at least two labelled values
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("time per forward pass (ms)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(frameon=False)
    return ax


def plot_sensitivity(curves: Mapping[str, Sequence[float]], ax=None):
    """``‖∂(u·h_T)/∂x_t‖`` against the distance ``T - t`` (log scale), one curve per cell."""
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError(f"curves: expected a dict label -> sensitivities, received {type(curves).__name__}")
    ax = _axes(ax)
    for j, (label, s) in enumerate(curves.items()):
        s = np.asarray(s, dtype=float)[::-1]  # index 0 = the most recent input
        ax.semilogy(np.arange(s.size), s, lw=1.8, label=label, **series_style(j, s.size))
    ax.set_xlabel("distance $T - t$ (steps back in time)")
    ax.set_ylabel(r"$\|\partial (u \cdot h_T) / \partial x_t\|$")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(frameon=False)
    return ax


def plot_charlm_loss(losses: Sequence[float], baselines: Mapping[str, float], window: int = 10, ax=None):
    """Training loss per update (light) and its running mean (dark), with horizontal baselines."""
    losses = np.asarray(losses, dtype=float)
    if losses.ndim != 1 or losses.size == 0:
        raise ValueError(f"losses: expected a non-empty 1-D sequence, received shape {losses.shape}")
    ax = _axes(ax)
    n = np.arange(1, losses.size + 1)
    ax.plot(n, losses, color="0.6", lw=1, label="loss per update")
    if losses.size >= window:
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(n[window - 1:], smooth, lw=2, label=f"running mean ({window})",
                **series_style(0, smooth.size))
    for (label, value), style in zip(baselines.items(), ("--", ":", "-.")):
        ax.axhline(value, color="0.35", ls=style, lw=1.2, label=f"{label}: {value:.2f}")
    ax.set_xlabel("update")
    ax.set_ylabel("cross-entropy (nats per character)")
    # upper right, but below the top of the axes, where the uniform-guess line usually runs
    ax.legend(frameon=False, fontsize=9, loc="upper right", bbox_to_anchor=(1.0, 0.9))
    return ax
