"""Figures for lesson 04 (architecture types).  Each function takes ``ax=None`` and returns the Axes.

:func:`draw_architecture` draws the five wirings of a recurrent layer, unfolded in time:
inputs (blue) at the bottom, hidden states (orange) in the middle, outputs (green) on top,
the same colours as the unfolding diagrams of lesson 01.  Nothing here changes global state.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.patches import FancyBboxPatch, Rectangle

from rnn_tutor.plots._style import FULL_WIDTH, series_style

__all__ = ["ARCHITECTURE_KINDS", "draw_architecture", "draw_architectures", "plot_task_losses", "plot_melodies", "plot_reading",
           "plot_tagged", "plot_accuracy_by_length", "plot_padding", "plot_output_probs", "plot_task_summary"]

ARCHITECTURE_KINDS = ("one-to-one", "one-to-many", "many-to-one", "many-to-many", "encoder-decoder")
_FACE = {"x": "#dbe9f6", "h": "#fde0c5", "y": "#d9f0d3", "z": "#eeeeee"}
_EDGE = {"x": "#3a6ea5", "h": "#c4661f", "y": "#3b8a3b", "z": "#888888"}
_DX = 1.35  # distance between time steps (boxes are 0.72 wide)
_DEFAULT = {"one-to-one": (1, 1), "one-to-many": (1, 4), "many-to-one": (4, 1), "many-to-many": (4, 4),
            "encoder-decoder": (3, 2)}
_TITLE = {"one-to-one": "one-to-one (feedforward)", "one-to-many": "one-to-many", "many-to-one": "many-to-one",
          "many-to-many": "many-to-many (aligned)", "encoder-decoder": "many-to-many (encoder–decoder)"}


def _axes(ax, figsize=(6.0, 3.6)):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _box(ax, x, y, kind, label, dashed=False):
    box = FancyBboxPatch((x - 0.36, y - 0.24), 0.72, 0.48, boxstyle="round,pad=0.02,rounding_size=0.1",
                         facecolor=_FACE[kind], edgecolor=_EDGE[kind], lw=1.3, ls="--" if dashed else "-", zorder=3)
    ax.add_patch(box)
    ax.text(x, y, label, ha="center", va="center", fontsize=10, zorder=4)
    return box


def _link(ax, a, b, color="#444444", lw=1.2, ls="-"):
    """A straight arrow from the border of box ``a`` to the border of box ``b``.

    The end points are computed from the (axis-aligned) box geometry; letting matplotlib clip
    the arrow against ``patchA``/``patchB`` costs about a second per figure of six diagrams.
    """
    pa, pb = _border_point(a, _centre(b)), _border_point(b, _centre(a))
    ax.annotate("", xy=pb, xytext=pa, zorder=2,
                arrowprops={"arrowstyle": "-|>,head_length=0.4,head_width=0.18", "color": color, "lw": lw, "ls": ls,
                            "shrinkA": 0, "shrinkB": 0})


def _centre(box):
    return (box.get_x() + box.get_width() / 2, box.get_y() + box.get_height() / 2)


def _border_point(box, toward, gap=0.05):
    """Where the line from the centre of ``box`` toward the point ``toward`` leaves the box (plus a small gap)."""
    (cx, cy), (tx, ty) = _centre(box), toward
    dx, dy = tx - cx, ty - cy
    scale = min(box.get_width() / 2 / abs(dx) if dx else np.inf, box.get_height() / 2 / abs(dy) if dy else np.inf)
    scale += gap / float(np.hypot(dx, dy))
    return cx + scale * dx, cy + scale * dy


def _count(value, name, default):
    if value is None:
        return default
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not 1 <= value <= 12:
        raise ValueError(f"{name}: expected an integer number of steps in 1..12, received {value!r}")
    return int(value)


def draw_architecture(kind: str, ax=None, n_in: int | None = None, n_out: int | None = None, title: str | None = None):
    """Draw one architecture type unfolded in time.

    Parameters
    ----------
    kind : one of ``"one-to-one"``, ``"one-to-many"``, ``"many-to-one"``, ``"many-to-many"``, ``"encoder-decoder"``
    n_in, n_out : numbers of input and output steps (defaults: 1/1, 1/4, 4/1, 4/4, 3/2).
        ``"one-to-one"`` needs 1 and 1, ``"one-to-many"`` one input, ``"many-to-one"`` one output,
        ``"many-to-many"`` (aligned) ``n_in == n_out``.
    title : text above the drawing (default: the kind and the step counts)

    Dashed boxes are inputs that are the previous output fed back in (``START`` opens the decoder).
    """
    if kind not in ARCHITECTURE_KINDS:
        raise ValueError(f"kind: expected one of {ARCHITECTURE_KINDS}, received {kind!r}")
    n_in, n_out = _count(n_in, "n_in", _DEFAULT[kind][0]), _count(n_out, "n_out", _DEFAULT[kind][1])
    rules = {"one-to-one": (n_in == 1 and n_out == 1, "n_in = n_out = 1"), "one-to-many": (n_in == 1, "n_in = 1"),
             "many-to-one": (n_out == 1, "n_out = 1"), "many-to-many": (n_in == n_out, "n_in == n_out "
                             "(use kind='encoder-decoder' when the lengths differ)"), "encoder-decoder": (True, "")}
    ok, rule = rules[kind]
    if not ok:
        raise ValueError(f"n_out: {kind!r} needs {rule}, received n_in={n_in}, n_out={n_out}")
    ax = _axes(ax, figsize=(min(1.1 * (n_in + n_out + 1), FULL_WIDTH), 2.8))
    ys = {"x": 0.0, "h": 1.0, "y": 2.0}
    hs, outs = [], {}
    h0 = _box(ax, -_DX, ys["h"], "z", "$0$")
    if kind == "encoder-decoder":
        for t in range(n_in):
            hs.append(_box(ax, _DX * t, ys["h"], "h", f"$h_{t + 1}$"))
            _link(ax, _box(ax, _DX * t, ys["x"], "x", f"$x_{t + 1}$"), hs[-1])
        for u in range(n_out):
            x = _DX * (n_in + 0.3 + u)
            hs.append(_box(ax, x, ys["h"], "h", f"$g_{u + 1}$"))
            outs[u] = _box(ax, x, ys["y"], "y", f"$y_{u + 1}$")
            inp = _box(ax, x, ys["x"], "x", "START" if u == 0 else f"$y_{u}$", dashed=True)
            if u == 0:  # the start token: a wider box, the smallest type the course allows
                ax.texts[-1].set_fontsize(9)
                inp.set_x(x - 0.52)
                inp.set_width(1.04)
            else:
                _link(ax, outs[u - 1], inp, color="#999999", ls="--")
            _link(ax, inp, hs[-1])
            _link(ax, hs[-1], outs[u])
        ax.axvline(_DX * (n_in - 0.35), color="#bbbbbb", lw=0.8, ls=":", zorder=1)
        ax.text(_DX * (n_in - 1) / 2, -0.52, "encoder", ha="center", va="center", fontsize=9, color="#666666")
        ax.text(_DX * (n_in + 0.3 + (n_out - 1) / 2), -0.52, "decoder", ha="center", va="center", fontsize=9,
                color="#666666")
    else:
        T = max(n_in, n_out)
        for t in range(T):
            hs.append(_box(ax, _DX * t, ys["h"], "h", f"$h_{t + 1}$"))
            if kind in ("many-to-one", "many-to-many", "one-to-one") or t == 0:
                _link(ax, _box(ax, _DX * t, ys["x"], "x", f"$x_{t + 1}$" if T > 1 else "$x$"), hs[-1])
            else:  # one-to-many: the previous output comes back in
                inp = _box(ax, _DX * t, ys["x"], "x", f"$y_{t}$", dashed=True)
                _link(ax, outs[t - 1], inp, color="#999999", ls="--")
                _link(ax, inp, hs[-1])
            if kind in ("one-to-many", "many-to-many", "one-to-one") or t == T - 1:
                outs[t] = _box(ax, _DX * t, ys["y"], "y", f"$y_{t + 1}$" if T > 1 else "$y$")
                _link(ax, hs[-1], outs[t])
    _link(ax, h0, hs[0], color="#888888")
    for a, b in zip(hs[:-1], hs[1:]):
        _link(ax, a, b, color="#c4661f" if kind != "encoder-decoder" or b is not hs[n_in] else "#d62728",
              lw=1.2 if kind != "encoder-decoder" or b is not hs[n_in] else 2.2)
    right = max(_centre(h)[0] for h in hs)
    ax.set_xlim(-_DX - 0.45, right + 0.45)
    ax.set_ylim(-0.7 if kind == "encoder-decoder" else -0.45, 2.45)
    ax.set_aspect("equal")
    ax.set_anchor("N")  # in a grid of diagrams, the titles line up at the top
    ax.axis("off")
    # y=1.0 is where matplotlib would put the title anyway; giving it explicitly skips the automatic
    # placement, which measures the (hidden) tick labels of every diagram at each draw (~25% of the time)
    ax.set_title(title if title is not None else f"{_TITLE[kind]}: {n_in} in, {n_out} out", fontsize=10, y=1.0)
    return ax


def draw_architectures(axes=None, tutorial: tuple[int, int] = (2, 3)):
    """All five architecture types in a grid of two columns, plus the encoder-decoder with
    ``tutorial = (n_in, n_out)`` steps (the reference tutorial's example); returns the (3, 2) Axes."""
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(3, 2, figsize=(FULL_WIDTH, 6.6), layout="constrained")
    axes = np.asarray(axes)
    if axes.size != 6:
        raise ValueError(f"axes: expected 6 Axes (five kinds and the tutorial's example), received {axes.size}")
    for ax, kind in zip(axes.flat, ARCHITECTURE_KINDS):
        draw_architecture(kind, ax=ax)
    n_in, n_out = tutorial
    draw_architecture("encoder-decoder", n_in=n_in, n_out=n_out, ax=axes.flat[5],
                      title=f"the tutorial's many-to-many: {n_in} inputs, {n_out} outputs")
    return axes


def plot_task_losses(losses: Mapping[str, Sequence[float]], ax=None):
    """Training loss against the step, one curve per task ``{name: (steps,) losses}``, log scale."""
    ax = _axes(ax)
    for j, (name, values) in enumerate(losses.items()):
        ax.plot(np.arange(1, len(values) + 1), values, lw=1.3, label=name, **series_style(j, len(values)))
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss (cross-entropy)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9)
    return ax


def plot_melodies(targets, generated, names: Sequence[str], note_names: Sequence[str], ax=None):
    """Piano rolls: the true notes (hollow squares) and the generated ones (dots), one band per tune.

    ``targets``, ``generated`` : (T, K) note indices.
    """
    targets, generated = np.asarray(targets), np.asarray(generated)
    T, K = targets.shape
    P = len(note_names)
    ax = _axes(ax, figsize=(7.5, 0.9 + 1.0 * K))
    for k in range(K):
        base = (K - 1 - k) * (P + 2)
        ax.axhspan(base - 0.5, base + P - 0.5, color="#f4f4f4" if k % 2 else "#fbfbfb", zorder=0)
        hit = generated[:, k] == targets[:, k]
        ax.scatter(np.arange(1, T + 1), base + targets[:, k], marker="s", s=80, facecolor="none",
                   edgecolor="#3b8a3b", lw=1.4, label="true note" if k == 0 else None, zorder=2)
        ax.scatter(np.arange(1, T + 1)[hit], base + generated[hit, k], s=22, color="#c4661f",
                   label="generated" if k == 0 else None, zorder=3)
        ax.scatter(np.arange(1, T + 1)[~hit], base + generated[~hit, k], s=40, marker="x", color="#d62728",
                   label="generated (wrong)" if k == 0 and (~hit).any() else None, zorder=3)
        ax.text(T + 0.8, base + P / 2 - 0.5, names[k], va="center", fontsize=9)
    ax.set_yticks([(K - 1 - k) * (P + 2) + p for k in range(K) for p in (0, P - 1)],
                  [note_names[p] for _ in range(K) for p in (0, P - 1)], fontsize=9)
    ax.set_xticks(np.arange(1, T + 1))
    ax.set_xlim(0.3, T + 4.8)
    ax.set_xlabel("step t")
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, 1.12), ncol=3, frameon=False)
    return ax


def plot_reading(words: Sequence[str], p_positive, ax=None, title: str | None = None):
    """The many-to-one model's P(positive) after each word of a phrase (read left to right)."""
    ax = _axes(ax, figsize=(4.0, 2.8))
    p = np.asarray(p_positive, dtype=float)
    ax.plot(np.arange(len(words)), p, "o-", lw=1.6, color="#c4661f")
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xticks(np.arange(len(words)), words)
    ax.set_xlim(-0.4, len(words) - 0.6)
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("P(positive) so far")
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_title(title if title is not None else "\u201c" + " ".join(words) + "\u201d", fontsize=10, y=1.0)
    return ax


def plot_tagged(words: Sequence[str], rows: Mapping[str, Sequence[int]], tag_names: Sequence[str], truth: Sequence[int], ax=None):
    """A sentence with one row of predicted tags per model; right tags green, wrong ones red."""
    per_word = min(0.9, (FULL_WIDTH - 1.6) / max(len(words), 1))  # inches per word: the whole sentence fits
    ax = _axes(ax, figsize=(per_word * len(words) + 1.6, 0.5 + 0.5 * (len(rows) + 1)))
    for t, w in enumerate(words):
        ax.text(t, 0, w, ha="center", va="center", fontsize=11, fontweight="bold")
    for r, (name, tags) in enumerate(rows.items(), start=1):
        ax.text(-0.7, -r, name, ha="right", va="center", fontsize=10)
        for t, k in enumerate(tags):
            ok = k == truth[t]
            ax.text(t, -r, tag_names[k], ha="center", va="center", fontsize=10, color="#1b6e1b" if ok else "#c00000",
                    bbox={"boxstyle": "round,pad=0.2", "fc": "#e8f5e4" if ok else "#fde2e2", "ec": "none"})
    ax.set_xlim(-0.8 - 0.12 * max(len(n) for n in rows), len(words) - 0.4)
    ax.set_ylim(-len(rows) - 0.6, 0.6)
    ax.axis("off")
    return ax


def plot_accuracy_by_length(lengths, accuracies: Mapping[str, Sequence[float]], train_max: int | None = None, ax=None):
    """Accuracy against sequence length, one line per model; lengths beyond ``train_max`` are shaded."""
    ax = _axes(ax, figsize=(6.0, 3.0))
    lengths = np.asarray(lengths)
    for j, (name, acc) in enumerate(accuracies.items()):
        ax.plot(lengths, acc, lw=1.4, label=name, **series_style(j))
    if train_max is not None:
        ax.axvspan(train_max + 0.5, lengths.max() + 0.5, color="#fff3b0", alpha=0.6, zorder=0,
                   label="longer than any training sentence")
    ax.set_xlabel("sentence length (words)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(min(0.5, float(min(np.min(a) for a in accuracies.values())) - 0.05), 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9, loc="lower left")
    return ax


def plot_padding(lengths, ax=None, T: int | None = None):
    """A padded batch: one row per sequence, real steps coloured, padding grey; a star marks the last real step.

    The column ``T`` (what ``hs[-1]`` reads) is outlined to show where a naive final state comes from.
    """
    lengths = np.asarray(lengths, dtype=int)
    T = int(lengths.max()) if T is None else T
    ax = _axes(ax, figsize=(0.45 * T + 1.6, 0.45 * len(lengths) + 1.0))
    for n, L in enumerate(lengths):
        for t in range(T):
            real = t < L
            ax.add_patch(Rectangle((t, -n - 0.45), 0.92, 0.9, facecolor=_FACE["x"] if real else "#e6e6e6",
                                   edgecolor=_EDGE["x"] if real else "#bbbbbb", hatch=None if real else "///", lw=0.8))
        ax.plot(L - 1 + 0.46, -n, marker="*", ms=12, color="#c4661f")
        ax.text(-0.3, -n, f"length {L}", ha="right", va="center", fontsize=9)
    ax.add_patch(Rectangle((T - 1 - 0.06, -len(lengths) + 0.45), 1.04, len(lengths) + 0.1, fill=False,
                           edgecolor="#d62728", lw=1.6, ls="--"))
    ax.text(T - 1 + 0.46, 0.75, "hs[-1]", ha="center", fontsize=9, color="#d62728")
    ax.set_xticks(np.arange(T) + 0.46, [str(t + 1) for t in range(T)], fontsize=9)
    ax.set_xlim(-2.6, T + 0.2)
    ax.set_ylim(-len(lengths) + 0.3, 1.1)
    ax.set_yticks([])
    ax.set_xlabel("step t (★ = last real step, hatched = padding)")
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    return ax


def plot_output_probs(probs, token_names: Sequence[str], ax=None, title: str | None = None):
    """The decoder's output distribution at each step: rows = steps, columns = tokens, darker = likelier."""
    probs = np.asarray(probs, dtype=float)
    ax = _axes(ax, figsize=(0.4 * probs.shape[1] + 1.2, 0.4 * probs.shape[0] + 1.0))
    ax.imshow(probs, cmap="Greens", vmin=0, vmax=1, aspect="auto")
    for u, k in enumerate(probs.argmax(axis=1)):
        ax.text(k, u, f"{probs[u, k]:.2f}", ha="center", va="center", fontsize=9, color="white")
    ax.set_xticks(np.arange(probs.shape[1]), token_names, fontsize=9)
    ax.set_yticks(np.arange(probs.shape[0]), [f"step {u + 1}" for u in range(probs.shape[0])], fontsize=9)
    ax.set_xlabel("output token", fontsize=9)
    if title:
        ax.set_title(title, fontsize=10, y=1.0)  # y=1.0: skip the automatic placement (same result, faster)
    return ax


def plot_task_summary(results: Mapping[str, tuple[float, float]], ax=None, labels=("baseline", "RNN")):
    """Test accuracy of a baseline and the RNN for each task ``{task: (baseline, rnn)}``, as paired bars."""
    ax = _axes(ax, figsize=(6.5, 3.2))
    names = list(results)
    pos = np.arange(len(names))
    for i, (label, colour) in enumerate(zip(labels, ("#bbbbbb", "#c4661f"))):
        vals = [results[n][i] for n in names]
        bars = ax.bar(pos + (i - 0.5) * 0.38, vals, width=0.38, color=colour, label=label)
        ax.bar_label(bars, [f"{v:.0%}" for v in vals], fontsize=9, padding=1)
    ax.set_xticks(pos, names, fontsize=9)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=9, loc="lower center", ncol=2, bbox_to_anchor=(0.5, 1.0), frameon=False)
    return ax
