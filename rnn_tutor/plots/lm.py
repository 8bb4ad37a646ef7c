"""Figures for lesson 08 (language modelling): perplexities, learning curves, exposure bias, decoding.

Each function takes ``ax=None`` (a new figure about 8 inches wide) and returns the Axes.
Series differ by colour *and* marker or line style, and no text is smaller than 9 pt.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_perplexities", "plot_learning_curves", "plot_exposure_bias", "plot_decoding_tradeoff"]

_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
_MARKERS = ("o", "s", "^", "D", "v", "P")


def _axes(ax, size=(8, 3.4)):
    if ax is None:
        _, ax = plt.subplots(figsize=size, dpi=100, layout="constrained")
    return ax


def _check_mapping(value, name: str, what: str) -> None:
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"{name}: expected a non-empty dict label -> {what}, received {type(value).__name__}")


def plot_perplexities(perplexities: Mapping[str, Mapping[str, float]], ax=None):
    """Grouped horizontal bars on a log axis from perplexity 1, so that each bar's length is the
    cross-entropy ``log(perplexity)``: one group per model, one bar per split (e.g. validation, test).

    ``perplexities = {"uniform": {"validation": 59.0, "test": 59.0}, "bigram": {...}, ...}``;
    each bar is labelled with its value.
    """
    _check_mapping(perplexities, "perplexities", "{split: perplexity}")
    models = list(perplexities)
    splits = list(next(iter(perplexities.values())))
    for name, row in perplexities.items():
        if not isinstance(row, Mapping) or list(row) != splits:
            raise ValueError(f"perplexities[{name!r}]: expected the splits {splits}, received {row!r}")
        if not all(np.isfinite(v) and v > 0 for v in row.values()):
            raise ValueError(f"perplexities[{name!r}]: expected positive finite perplexities, received {dict(row)}")
    ax = _axes(ax, (8, 0.38 * len(models) * len(splits) + 1.2))
    height = 0.8 / len(splits)
    hatches = ("", "//", "..", "xx")
    for j, split in enumerate(splits):
        y = np.arange(len(models)) + (j - (len(splits) - 1) / 2) * height
        vals = [perplexities[mdl][split] for mdl in models]
        bars = ax.barh(y, vals, height=height * 0.95, color=_COLOURS[j], hatch=hatches[j % 4],
                       edgecolor="white", label=split)
        ax.bar_label(bars, labels=[f"{v:.1f}" for v in vals], padding=3, fontsize=9)
    ax.set_xscale("log")  # bars start at perplexity 1: each bar's length is its cross-entropy
    lo = min(1.0, min(v for row in perplexities.values() for v in row.values()))
    hi = max(v for row in perplexities.values() for v in row.values())
    ticks = [t for t in (0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if lo <= t <= hi * 1.5]
    ax.set_xlim(lo, hi * 2.2)
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_yticks(np.arange(len(models)), models)
    ax.invert_yaxis()
    ax.set_xlabel("perplexity per character (log scale, lower is better)")
    ax.legend(frameon=False, fontsize=9, loc="lower right")
    ax.grid(True, axis="x", alpha=0.3)
    return ax


def plot_learning_curves(histories: Mapping[str, Mapping], baselines: Mapping[str, float] | None = None, ax=None):
    """Cross-entropy on the training set (dashed) and the validation set (solid) against the update.

    ``histories``: label -> a history from :func:`rnn_tutor.lm.train_lm` (keys ``step``, ``train``,
    ``val``).  ``baselines``: label -> a horizontal line (e.g. the bigram's validation cross-entropy).
    """
    _check_mapping(histories, "histories", "training history")
    ax = _axes(ax)
    for i, (label, h) in enumerate(histories.items()):
        missing = [k for k in ("step", "train", "val") if k not in h]
        if missing:
            raise ValueError(f"histories[{label!r}]: missing key(s) {missing}; expected a history from train_lm")
        c, mk = _COLOURS[i % 6], _MARKERS[i % 6]
        ax.plot(h["step"], h["train"], ls="--", marker=mk, mfc="white", color=c, lw=1.4, label=f"{label}: training")
        ax.plot(h["step"], h["val"], ls="-", marker=mk, color=c, lw=2, label=f"{label}: validation")
    for (label, value), style in zip((baselines or {}).items(), (":", "-.", (0, (5, 5)))):
        ax.axhline(value, color="0.3", ls=style, lw=1.3, label=f"{label}: {value:.2f}")
    ax.set_xlabel("update")
    ax.set_ylabel("cross-entropy (nats per character)")
    ax.grid(True, alpha=0.3)
    ax.legend(frameon=False, fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def plot_exposure_bias(teacher_forced: Sequence[float], free_running: Sequence[float], ax=None):
    """Per-position token accuracy when the decoder reads the true previous tokens against its own."""
    tf, fr = np.asarray(teacher_forced, dtype=float), np.asarray(free_running, dtype=float)
    if tf.ndim != 1 or tf.shape != fr.shape or tf.size == 0:
        raise ValueError(f"free_running: expected the shape of teacher_forced {tf.shape} (one accuracy per "
                         f"position), received shape {fr.shape}")
    ax = _axes(ax, (8, 3.2))
    pos = np.arange(1, tf.size + 1)
    ax.plot(pos, 100 * tf, marker="o", color=_COLOURS[0], lw=2, label="teacher forcing (true previous token)")
    ax.plot(pos, 100 * fr, marker="s", ls="--", color=_COLOURS[1], lw=2, label="free running (own previous token)")
    ax.set_xticks(pos)
    ax.set_xlabel("output position")
    ax.set_ylabel("tokens right (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(frameon=False, fontsize=9, loc="lower left")
    return ax


def plot_decoding_tradeoff(results: Mapping[str, tuple[float, float]], xlabel: str, ylabel: str, ax=None):
    """One point per decoding rule, ``results = {rule: (x, y)}`` (e.g. diversity, correctness),
    joined in order of ``x`` by a thin grey line; the legend, outside on the right, names the rules."""
    _check_mapping(results, "results", "(x, y)")
    ax = _axes(ax, (8, 3.4))
    pts = {label: tuple(float(v) for v in xy) for label, xy in results.items()}
    if any(len(xy) != 2 or not all(np.isfinite(xy)) for xy in pts.values()):
        raise ValueError(f"results: expected finite (x, y) pairs, received {results!r}")
    xs, ys = zip(*sorted(pts.values()))
    ax.plot(xs, ys, color="0.75", lw=1, zorder=1)
    for i, (label, (x, y)) in enumerate(pts.items()):
        ax.plot([x], [y], marker=_MARKERS[i % 6], ms=9, ls="none", color=_COLOURS[i % 6], label=label, zorder=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.margins(0.08)
    ax.legend(frameon=False, fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax
