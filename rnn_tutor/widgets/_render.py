"""Figures inside widgets: a private matplotlib ``Figure`` drawn into an ``ipywidgets.Image``.

The PNG carries twice the pixels of its display size (sharp on high-DPI screens), and the image
gets a fixed CSS width of one figure inch per 100 px, like the inline backend's figures, so
the browser neither stretches nor shrinks it (``max-width: 100%`` still guards narrow windows).
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure

__all__: list[str] = []

DISPLAY_DPI = 100  # CSS pixels per figure inch, as the inline backend shows figures


def show_figure(image, fig: Figure) -> None:
    """Render ``fig`` into the ``ipywidgets.Image`` ``image`` at 2x resolution and display size."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=2 * DISPLAY_DPI)
    image.value = buf.getvalue()
    image.layout.width = f"{round(fig.get_figwidth() * DISPLAY_DPI)}px"
    image.layout.max_width = "100%"
    image.layout.height = "auto"
