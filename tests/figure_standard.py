"""The course's figure and output standard as checks on matplotlib figures and notebook outputs.

Used by ``tests/test_figure_standard.py`` (every public function of ``rnn_tutor.plots``, the
widgets) and by the repository's ``conftest.py``, which applies :func:`output_problems` to
every cell nbval executes in ``lessons/``.  Each check returns a list of readable problems
(empty when the standard is met).
"""

from __future__ import annotations

import base64
import io
import re
import struct
from typing import Any, Iterable

import numpy as np
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.collections import PathCollection
from matplotlib.text import Text

from rnn_tutor.display import FIGURE_WIDTH_PX, MIN_FONT_PT

#: the inline backend's resolution: matplotlib's default ``figure.dpi`` (matplotlib-inline >= 0.1.7
#: no longer overrides it) -- 1 inch of figure is 100 CSS pixels in JupyterLab
INLINE_DPI = 100


def rendered_width_px(fig: Figure) -> int:
    """Width in pixels of ``fig`` as the inline backend renders it (``bbox_inches="tight"``, 100 dpi)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=INLINE_DPI, bbox_inches="tight")
    return png_size(buf.getvalue())[0]


def tight_width_px(fig: Figure) -> int:
    """The same width from one draw and the tight bounding box, without rasterising (at most 1 px more)."""
    fig.canvas.draw()
    box = fig.get_tightbbox(fig.canvas.get_renderer())
    pad = plt_rc_pad()
    return int(np.ceil((box.width + 2 * pad) * INLINE_DPI))


def plt_rc_pad() -> float:
    import matplotlib as mpl

    return float(mpl.rcParams["savefig.pad_inches"])


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("data: expected PNG bytes")
    return struct.unpack(">II", data[16:24])


def width_problems(width_px: float, what: str) -> list[str]:
    if width_px > FIGURE_WIDTH_PX:
        return [f"{what} is {width_px:.0f} px wide at display size; JupyterLab shows at most "
                f"{FIGURE_WIDTH_PX} px unscaled (scaled to {FIGURE_WIDTH_PX / width_px:.0%})"]
    return []


def _visible_texts(fig: Figure, draw: bool = True) -> Iterable[Text]:
    if draw:
        fig.canvas.draw()  # tick labels exist only after a draw
    for text in fig.findobj(Text):
        if text.get_visible() and text.get_text().strip() and text.get_alpha() != 0:
            axes = text.axes
            if axes is not None and not axes.get_visible():
                continue
            if axes is not None and text in axes.xaxis.get_ticklabels() + axes.yaxis.get_ticklabels():
                if not _tick_label_in_view(text, axes):
                    continue
            yield text


def _tick_label_in_view(text: Text, axes) -> bool:
    for axis, lim in ((axes.xaxis, axes.get_xlim()), (axes.yaxis, axes.get_ylim())):
        for tick in axis.get_major_ticks() + axis.get_minor_ticks():
            if text in (tick.label1, tick.label2):
                lo, hi = sorted(lim)
                loc = tick.get_loc()
                return tick.label1On if text is tick.label1 else tick.label2On and lo <= loc <= hi
    return True


def font_problems(fig: Figure, draw: bool = True) -> list[str]:
    """Every visible text is at least ``MIN_FONT_PT`` points (the figure is shown at 100%)."""
    small = sorted({(t.get_fontsize(), t.get_text()[:30]) for t in _visible_texts(fig, draw)
                    if t.get_fontsize() < MIN_FONT_PT - 1e-9})
    return [f"text {s!r} is {size:g} pt, below {MIN_FONT_PT:g} pt" for size, s in small]


def _series(ax) -> list[tuple[str, tuple, str, str]]:
    """(label, colour, marker, dash pattern) of each labelled data series of ``ax``: lines and scatters.

    A hollow marker counts as a different marker from the same shape filled.
    """
    out = []
    for line in ax.get_lines():
        label = line.get_label()
        if label.startswith("_") or len(np.unique(np.asarray(line.get_xdata(), dtype=float))) < 3:
            continue  # unlabelled, or a reference line (axhline: two points)
        marker = line.get_marker()
        marker = "" if marker in (None, "None", "none", " ", "") else str(marker)
        if marker and str(line.get_markerfacecolor()).lower() in ("white", "none", "#ffffff", "w"):
            marker += " (hollow)"
        dash = line.get_linestyle() if line.get_linestyle() not in ("None", "none", " ", "") else "no line"
        out.append((label, to_rgba(line.get_color()), marker, dash))
    for coll in ax.collections:
        if isinstance(coll, PathCollection) and not coll.get_label().startswith("_") and coll.get_paths():
            face = coll.get_facecolor()
            colour = tuple(face[0]) if len(face) else tuple(coll.get_edgecolor()[0])
            verts = np.round(coll.get_paths()[0].vertices, 3).tobytes()
            out.append((coll.get_label(), colour, f"scatter shape {hash(verts) % 10**6}", "no line"))
    return out


def series_problems(fig: Figure) -> list[str]:
    """Labelled series are told apart by colour AND marker.

    In every Axes, no two series look alike without colour (same marker and dash pattern), and
    two series of the same colour differ in marker (or, for a deliberate pair such as training
    and validation of one model, in dash pattern).
    """
    problems = []
    for ax in fig.axes:
        series = _series(ax)
        for i, (la, ca, ma, da) in enumerate(series):
            for lb, cb, mb, db in series[i + 1:]:
                cue = f"marker {ma!r}" if ma else f"dash pattern {da!r} and no marker"
                if ma == mb and da == db:
                    problems.append(f"series {la!r} and {lb!r} have the same {cue}: alike without colour")
                if np.allclose(ca[:3], cb[:3], atol=0.02) and ma == mb:
                    problems.append(f"series {la!r} and {lb!r} have the same colour and {cue}")
    return problems


def log_tick_problems(fig: Figure, draw: bool = True) -> list[str]:
    """Every log (or symlog) axis shows at least two labelled ticks inside its view."""
    if draw:
        fig.canvas.draw()
    problems = []
    for ax in fig.axes:
        if not ax.get_visible() or not ax.axison:
            continue
        for name, axis, scale, lim in (("x", ax.xaxis, ax.get_xscale(), ax.get_xlim()),
                                       ("y", ax.yaxis, ax.get_yscale(), ax.get_ylim())):
            if scale not in ("log", "symlog"):
                continue
            lo, hi = sorted(lim)
            labelled = {t.get_loc() for t in axis.get_major_ticks() + axis.get_minor_ticks()
                        if t.label1.get_visible() and t.label1.get_text().strip() and lo * (1 - 1e-9) <= t.get_loc() <= hi * (1 + 1e-9)}
            if len(labelled) < 2:
                title = ax.get_title() or ax.get_ylabel() or "an Axes"
                problems.append(f"the {scale} {name} axis of {title!r} has {len(labelled)} labelled tick(s); needs 2")
    return problems


def figure_problems(fig: Figure) -> list[str]:
    """All figure checks: width, font size, series cues, log ticks."""
    width = tight_width_px(fig)  # draws the figure: the other checks read the drawn state
    return (width_problems(width, "the figure") + font_problems(fig, draw=False) + series_problems(fig)
            + log_tick_problems(fig, draw=False))


# --------------------------------------------------------------------------- notebook outputs

#: a dict printed as its repr: {'w_x': ...
_RAW_DICT = re.compile(r"\{\s*(?:'[^'\n]*'|\"[^\"\n]*\"|-?\d+(?:\.\d*)?)\s*:\s")
#: a float with 8 or more digits after the point (1.1102230246251565e-16, 0.43181717792513974)
_LONG_FLOAT = re.compile(r"(?<![\w.])-?\d+\.\d{8,}(?:e[+-]?\d+)?")
#: a NumPy array printed as such: array([...]) or [0.1 0.2] / [[1 2]] (numbers separated by blanks)
_RAW_ARRAY = re.compile(r"array\(|\[\s*-?(?:\d+\.?\d*|\.\d+|nan|inf)(?:e[+-]?\d+)?\.?\s+-?(?:\d|\.\d|nan|inf)")


def text_problems(text: str) -> list[str]:
    """Raw dict reprs, unrounded floats and printed NumPy arrays in a cell's text output."""
    problems = []
    for pattern, what in ((_RAW_DICT, "a raw dict"), (_LONG_FLOAT, "an unrounded float"), (_RAW_ARRAY, "a raw array")):
        match = pattern.search(text)
        if match:
            line = next(ln for ln in text.splitlines() if match.group(0).splitlines()[0] in ln)
            problems.append(f"{what} in the printed output: {line.strip()[:100]!r}")
    return problems


def output_problems(outputs: list[dict], tags: Iterable[str] = (), source: str = "") -> list[str]:
    """The standard applied to one executed cell's outputs (nbformat dicts).

    Figures (PNG) fit ``FIGURE_WIDTH_PX`` at display size and carry twice the pixels
    (retina) or come as SVG; printed text has no raw dicts, long floats or arrays; no
    traceback (a deliberate error is shown with ``rnn_tutor.display.show_error``).  A value
    repr is not checked when ``source`` ends in ``;`` (JupyterLab hides it; nbval's kernel
    does not).
    """
    hidden = source.rstrip().endswith(";")
    problems = []
    if "raises-exception" in tags:
        problems.append("cell tagged raises-exception: show a deliberate error with rnn_tutor.display.show_error")
    for out in outputs:
        kind = out.get("output_type")
        if kind == "error":
            problems.append(f"a traceback ({out.get('ename')}) is shown; use rnn_tutor.display.show_error")
        if kind == "stream":
            problems += text_problems(out.get("text", ""))
        if kind in ("display_data", "execute_result"):
            data, meta = out.get("data", {}), out.get("metadata", {})
            if "image/png" in data:
                raw = data["image/png"]
                px_w, _ = png_size(base64.b64decode(raw if isinstance(raw, str) else "".join(raw)))
                shown = meta.get("image/png", {}).get("width", px_w)
                problems += width_problems(float(shown), "a figure")
                if px_w < 1.9 * float(shown):
                    problems.append(f"a figure has {px_w} px for {shown} px of display: blurry on a high-DPI "
                                    "screen (call rnn_tutor.display.setup_figures() in the first cell)")
            elif not hidden and "text/plain" in data and not any(k.startswith(("image/", "text/html", "text/latex", "application/"))
                                                  for k in data):
                plain = data["text/plain"]
                problems += text_problems(plain if isinstance(plain, str) else "".join(plain))
    return problems
