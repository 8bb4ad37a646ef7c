"""Figures for lesson 05 (vanishing and exploding gradients).  Each takes ``ax=None`` and returns the Axes."""

from __future__ import annotations

from typing import Mapping

import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from rnn_tutor.plots._style import series_style

__all__ = ["plot_norms_by_distance", "plot_rate_scatter", "plot_spectrum", "plot_training_runs",
           "plot_accuracy_by_lag"]


def _axes(ax, figsize=(6.0, 3.8)):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def plot_norms_by_distance(norms, bound=None, labels=None, ax=None, title: str | None = None, log10: bool = False):
    """``‖∂h_T/∂h_{T-k}‖`` against the distance ``k`` on a log scale, with the bound ``(γσ_max)^k`` dashed.

    Parameters
    ----------
    norms : (K,) one curve, or (K, n) n curves, for distances ``k = 0 .. K-1``
    bound : (K,) optional, drawn as a dashed black line
    labels : str or list of n str, optional
    log10 : the inputs are ``log10`` of the norms (for values outside float64's range)
    """
    y = np.asarray(norms, dtype=float)
    if y.ndim not in (1, 2) or y.shape[0] == 0:
        raise ValueError(f"norms: expected shape (K,) or (K, n) with K >= 1 distances, received shape {y.shape}")
    if bound is not None and np.shape(bound) != (y.shape[0],):
        raise ValueError(f"bound: expected shape ({y.shape[0]},) like the distances of norms, received shape {np.shape(bound)}")
    ax = _axes(ax)
    y = y[:, None] if y.ndim == 1 else y
    if log10:
        y = 10.0 ** y
    k = np.arange(y.shape[0])
    if labels is None or isinstance(labels, str):
        labels = [labels] + [None] * (y.shape[1] - 1)
    many = y.shape[1] > 5
    for j in range(y.shape[1]):
        style = {"color": "C0"} if many else series_style(j, k.size)
        ax.semilogy(k, y[:, j], lw=1.0 if many else 1.8, alpha=0.45 if many else 0.95, label=labels[j], **style)
    if bound is not None:
        b = np.asarray(bound, dtype=float)
        ax.semilogy(np.arange(b.size), 10.0 ** b if log10 else b, "k--", lw=1.5, label="bound $(\\gamma\\sigma_{max})^{T-t}$")
    ax.set_xlabel("distance $T - t$ (steps back in time)")
    ax.set_ylabel(r"$\|\partial h_T / \partial h_t\|_2$")
    ax.grid(True, which="major", alpha=0.3)
    if title:
        ax.set_title(title)
    if any(lab is not None for lab in labels) or bound is not None:
        ax.legend(fontsize=9)
    return ax


def plot_rate_scatter(bound_rates: Mapping, measured_rates: Mapping, ax=None):
    """Measured per-step rate against the predicted bound ``γσ_max``, one colour per group (e.g. activation).

    The dashed diagonal is "measured = bound": the theory says no point lies above it.
    Points above the horizontal line at 1 explode; points left of the vertical line at 1
    are guaranteed to vanish.

    Parameters
    ----------
    bound_rates, measured_rates : dicts ``{group name: (n,) array}`` with the same keys
    """
    if not isinstance(bound_rates, Mapping) or not isinstance(measured_rates, Mapping) or not bound_rates \
            or set(bound_rates) != set(measured_rates):
        raise ValueError("measured_rates: expected a dict with the same keys as bound_rates "
                         f"{sorted(bound_rates) if isinstance(bound_rates, Mapping) else bound_rates!r}, "
                         f"received {sorted(measured_rates) if isinstance(measured_rates, Mapping) else measured_rates!r}")
    ax = _axes(ax, figsize=(5.6, 4.4))
    lo, hi = np.inf, 0.0
    markers = "os^Dv"
    for i, name in enumerate(bound_rates):
        x, y = np.asarray(bound_rates[name], float), np.asarray(measured_rates[name], float)
        ax.scatter(x, y, s=18, alpha=0.75, marker=markers[i % 5], label=name)
        lo, hi = min(lo, x.min(), y[y > 0].min()), max(hi, x.max(), y.max())
    lims = (lo / 1.5, hi * 1.5)
    ax.plot(lims, lims, "k--", lw=1, label="measured = bound")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.axvline(1.0, color="grey", lw=0.8)
    ax.fill_between([lims[0], 1.0], lims[0], 1.0, color="C2", alpha=0.08, lw=0,
                    label=r"vanishing guaranteed ($\gamma\sigma_{max} < 1$)")
    ax.fill_between(lims, lims, lims[1], color="grey", alpha=0.12, lw=0, label="above the bound: impossible")
    ax.text(lims[1] / 1.15, 2.5, "explodes\n(above 1)", ha="right", va="bottom", fontsize=9, color="C3")
    ax.text(lims[1] / 1.15, lims[0] * 1.2, "vanishes\n(below 1)", ha="right", va="bottom", fontsize=9, color="C0")
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):  # label 0.2, 0.5, 1, 2, 5, ...: one labelled decade is too few to read
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_locator(NullLocator())
    ax.set_xlim(lims)
    ax.set_ylim(lims)
    ax.set_xlabel(r"bound per step $\gamma\,\sigma_{max}(w_h)$")
    ax.set_ylabel(r"measured per step $\|\partial h_T/\partial h_0\|^{1/T}$")
    # the legend sits in the "impossible" triangle, where no point can be
    ax.legend(fontsize=9, loc="upper left")
    return ax


def plot_spectrum(w_h, ax=None):
    """Eigenvalues of ``w_h`` in the complex plane, with the unit circle and the circle of radius ``σ_max``.

    Eigenvalues inside the unit circle mean ``w_h^k → 0``; ``σ_max`` is the most one step can stretch.
    """
    from rnn_tutor.gradflow import check_square

    w = check_square(w_h)
    ax = _axes(ax, figsize=(4.2, 4.2))
    lam = np.linalg.eigvals(w)
    s_max = np.linalg.norm(w, 2)
    th = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(th), np.sin(th), color="grey", lw=1, label="unit circle")
    ax.plot(s_max * np.cos(th), s_max * np.sin(th), "C3--", lw=1, label=rf"radius $\sigma_{{max}}$ = {s_max:.2f}")
    ax.scatter(lam.real, lam.imag, color="C0", zorder=3, s=20, label="eigenvalues")
    r = max(1.0, s_max) * 1.15
    ax.set_xlim(-r, r)
    ax.set_ylim(-r, r)
    ax.set_aspect("equal")
    ax.set_xlabel("real part")
    ax.set_ylabel("imaginary part")
    ax.legend(fontsize=9, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)  # off the circles
    return ax


def plot_training_runs(runs: Mapping, ax=None, ylabel: str = "training loss", log: bool = True):
    """One curve per run ``{label: (steps,) values}``; a run that stopped early ends in a red ×."""
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError(f"runs: expected a non-empty dict label -> (steps,) values, received {runs!r}")
    ax = _axes(ax)
    longest = max((len(v) for v in runs.values()), default=0)
    for j, (label, values) in enumerate(runs.items()):
        v = np.asarray(values, dtype=float)
        ax.plot(np.arange(v.size), v, lw=1.2, label=label, **series_style(j, v.size))
        if v.size and v.size < longest:
            ax.plot(v.size - 1, v[-1], "x", color="C3", ms=10, mew=2)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9)
    return ax


def plot_accuracy_by_lag(table: Mapping, chance: float = 0.5, ax=None):
    """Test accuracy against the lag: one dot per seed, the mean as a line, chance level dashed.

    Parameters
    ----------
    table : ``{lag: (n_seeds,) accuracies}`` as returned by :func:`rnn_tutor.longlag.accuracy_by_lag`
    """
    if not isinstance(table, Mapping) or not table:
        raise ValueError(f"table: expected a non-empty dict lag -> accuracies, received {table!r}")
    ax = _axes(ax, figsize=(5.6, 3.6))
    lags = np.array(sorted(table), dtype=float)
    means = np.array([np.mean(table[k]) for k in sorted(table)])
    for i, lag in enumerate(sorted(table)):
        acc = np.asarray(table[lag], dtype=float)
        ax.scatter(np.full(acc.size, float(lag)), acc, color="0.55", marker="D", s=22,
                   label="one network (seed)" if i == 0 else None)
    ax.plot(lags, means, "o-", color="C0", lw=2, label="mean over seeds")
    ax.axhline(chance, color="grey", ls="--", label=f"chance ({chance:g})")
    ax.set_xscale("log", base=2)
    ax.set_xticks(lags, [f"{int(v)}" for v in lags])
    ax.set_ylim(0.0, 1.05)
    ax.set_xlabel("lag (steps between the signal and the answer)")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=9, loc="lower left")
    return ax
