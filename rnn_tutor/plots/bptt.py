"""Figures for lesson 03 (backpropagation through time and truncated BPTT).

Every function takes ``ax=None`` (a new figure is made only then) and returns the Axes; nothing
here changes matplotlib's global state.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes

from rnn_tutor.plots._style import series_style
from rnn_tutor.validation import as_float_array

__all__ = ["plot_loss_over_time", "plot_time_contributions", "plot_loss_curves", "plot_forecast",
           "plot_k_effect", "plot_memory"]


def _axes(ax: Axes | None, figsize=(5.0, 3.2)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # only when the caller gives no Axes

    return plt.figure(figsize=figsize, layout="constrained").add_subplot()


def _vector(values, name: str) -> np.ndarray:
    v = as_float_array(values, name)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D array, received shape {v.shape}")
    return v


def plot_loss_over_time(step_losses, ax: Axes | None = None) -> Axes:
    """Bars of the per-step losses ``L_t = ½‖y_t - p_t‖²`` and a line of their running sum up to ``L``."""
    losses = _vector(step_losses, "step_losses")
    ax = _axes(ax)
    t = np.arange(1, losses.size + 1)
    ax.bar(t, losses, color="#fdae6b", edgecolor="#c4661f", label="L_t (one step)")
    ax.plot(t, np.cumsum(losses), color="#3a6ea5", marker="o", ms=3, label="running sum; the last point is L")
    ax.set_xlabel("t")
    ax.set_ylabel("loss")
    ax.legend(fontsize=9, frameon=False)
    ax.grid(True, axis="y", alpha=0.3)
    return ax


def plot_time_contributions(contributions, ax: Axes | None = None, label: str = "w_h") -> Axes:
    """``|contribution|`` of each earlier step s to a gradient, against the distance ``t - s`` (log scale).

    ``contributions[j]`` is the size of the term that reaches back ``j`` steps.
    """
    c = np.abs(_vector(contributions, "contributions"))
    ax = _axes(ax)
    ax.semilogy(np.arange(c.size), np.where(c > 0, c, np.nan), marker="o", ms=3, color="#d62728")
    ax.set_xlabel("distance t - s (steps back in time)")
    ax.set_ylabel(f"|term| in dL/d{label}")
    ax.grid(True, which="major", alpha=0.3)
    return ax


def plot_loss_curves(histories: Mapping[str, Sequence[float]], ax: Axes | None = None,
                     baseline: float | None = None, baseline_label: str = "naive baseline") -> Axes:
    """Training loss per epoch for each labelled run (log scale), with an optional horizontal baseline."""
    if not isinstance(histories, Mapping) or not histories:
        raise ValueError(f"histories: expected a non-empty dict label -> loss history, received {type(histories).__name__}")
    ax = _axes(ax)
    for j, (label, history) in enumerate(histories.items()):
        h = _vector(history, f"histories[{label!r}]")
        ax.semilogy(np.arange(1, h.size + 1), h, lw=1.4, label=str(label), **series_style(j, h.size))
    if baseline is not None:
        ax.axhline(baseline, color="0.4", ls="--", lw=1, label=baseline_label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean loss")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=9, frameon=False)
    return ax


def plot_forecast(truth, prediction, baseline=None, ax: Axes | None = None, t_start: int = 1) -> Axes:
    """Targets and one-step-ahead predictions (and optionally the naive forecast) against t."""
    truth, prediction = _vector(truth, "truth"), _vector(prediction, "prediction")
    if prediction.shape != truth.shape:
        raise ValueError(f"prediction: expected shape {truth.shape} (the shape of truth), received {prediction.shape}")
    ax = _axes(ax, figsize=(7.0, 3.0))
    t = np.arange(t_start, t_start + truth.size)
    ax.plot(t, truth, color="0.2", marker=".", ms=4, lw=0.8, label="target p_t")
    if baseline is not None:
        base = _vector(baseline, "baseline")
        if base.shape != truth.shape:
            raise ValueError(f"baseline: expected shape {truth.shape}, received {base.shape}")
        ax.plot(t, base, color="0.6", ls=":", lw=1.2, label="naive: p_t ≈ x_t")
    ax.plot(t, prediction, color="#d62728", lw=1.6, label="RNN prediction y_t")
    ax.set_xlabel("t")
    ax.legend(fontsize=9, frameon=False, ncol=3, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    ax.grid(True, alpha=0.3)
    return ax


def plot_k_effect(ks, final_losses, seconds, axes=None, baseline: float | None = None):
    """Two panels against the truncation length k: the final test error, and the training time.

    Returns the two Axes.
    """
    ks, losses, secs = _vector(ks, "ks"), _vector(final_losses, "final_losses"), _vector(seconds, "seconds")
    if not (ks.shape == losses.shape == secs.shape):
        raise ValueError(f"final_losses, seconds: expected shape {ks.shape} (the shape of ks), "
                         f"received {losses.shape} and {secs.shape}")
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, 2, figsize=(8.0, 3.0), layout="constrained")
    ax1, ax2 = axes
    ax1.plot(ks, losses, marker="o", color="#d62728", label="RNN")
    if baseline is not None:
        ax1.axhline(baseline, color="0.4", ls="--", lw=1, label="naive baseline")
    ax1.set_yscale("log")
    ax1.set_xlabel("k")
    ax1.set_ylabel("test MSE")
    ax1.legend(fontsize=9, frameon=False)
    ax2.plot(ks, secs, marker="s", color="#3a6ea5")
    ax2.set_xlabel("k")
    ax2.set_ylabel("training time (s)")
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
    return axes


def plot_memory(Ts, full_floats, truncated_floats, k: int, ax: Axes | None = None) -> Axes:
    """Floats cached for the backward pass against the sequence length: full BPTT vs a window of k."""
    Ts, full, trunc = _vector(Ts, "Ts"), _vector(full_floats, "full_floats"), _vector(truncated_floats, "truncated_floats")
    if not (Ts.shape == full.shape == trunc.shape):
        raise ValueError(f"full_floats, truncated_floats: expected shape {Ts.shape}, received {full.shape} and {trunc.shape}")
    ax = _axes(ax)
    ax.plot(Ts, full, marker="o", label="full BPTT: O(T·m)")
    ax.plot(Ts, trunc, marker="s", label=f"truncated, k = {k}: O(k·m)")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("floats cached")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9, frameon=False)
    return ax
