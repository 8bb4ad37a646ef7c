"""Shared figure conventions of the course (private: no ``__all__``, nothing re-exported).

The standard (CONTRIBUTING.md): figures at most ``FIGURE_WIDTH_IN`` wide, text of at least
9 pt, and series told apart by colour *and* marker (``series_style``).
"""

from __future__ import annotations

from rnn_tutor.display import FIGURE_WIDTH_IN

__all__: list[str] = []

#: the width of a full-width figure (inches at 100 dpi), a little under the notebook's width:
#: the inline backend's tight bounding box adds up to 0.2 in
FULL_WIDTH = FIGURE_WIDTH_IN - 0.3
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def series_style(j: int, n_points: int | None = None) -> dict:
    """Colour ``C{j}`` and the ``j``-th marker; on long series a marker every ~12 points."""
    style = {"color": f"C{j % 10}", "marker": MARKERS[j % len(MARKERS)], "ms": 4}
    if n_points is not None and n_points > 30:
        style["markevery"] = max(1, n_points // 12)
    return style
