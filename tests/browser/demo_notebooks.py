"""Two small notebooks for the harness's self-tests: one healthy, one broken in every way we detect."""

from __future__ import annotations

from pathlib import Path

import nbformat

GOOD = [
    ("markdown", "# Demo\n\nThe recurrence is $h_t = \\tanh(w_x x_t + w_h h_{t-1} + b_h)$ and\n\n$$y_t = w_y h_t + b_y.$$"),
    ("code", "import numpy as np\nimport matplotlib.pyplot as plt\nimport ipywidgets as widgets\nfrom IPython.display import display"),
    ("code", "fig, ax = plt.subplots(figsize=(3, 2))\nax.plot(np.tanh(np.linspace(-3, 3, 50)))\nplt.show()"),
    ("code",
     "xs = [1.0, 0.5, -0.5, 2.0]\n"
     "def h(t, w_h=0.5):\n    v = 0.0\n    for x in xs[:t]:\n        v = np.tanh((1 + w_h) * x + w_h * v)\n    return v\n"
     "slider = widgets.IntSlider(value=1, min=1, max=4, description='t', continuous_update=False)\n"
     "scale = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.1, description='w_h scale')\n"
     "kind = widgets.Dropdown(options=['tanh', 'relu'], description='activation')\n"
     "out = widgets.HTML()\n"
     "def update(change=None):\n    out.value = f'{kind.value}: h_t = {h(slider.value, scale.value):.4f}'\n"
     "for w in (slider, scale, kind):\n    w.observe(update, names='value')\n"
     "update()\ndisplay(widgets.VBox([slider, scale, kind, out]))"),
    ("code", "raise ValueError('a demonstrated error')", ["raises-exception"]),
    ("markdown", "## More math\n\n$\\sigma(z) = 1/(1+e^{-z})$, and `$HOME` in code is not math."),
    ("code", "fig, ax = plt.subplots(figsize=(3, 2))\nax.bar([1, 2], [3, 4]);"),
    ("code", "from IPython.display import Math\nMath(r'\\frac{\\partial h_t}{\\partial h_{t-1}}')"),
]

BAD = [
    ("markdown", "# Broken\n\nA formula with a TeX error: $x^$."),
    ("code", "import matplotlib.pyplot as plt\nimport ipywidgets as widgets\nfrom IPython.display import display"),
    ("code", "display({'application/vnd.jupyter.widget-view+json': "
             "{'model_id': 'no-such-model', 'version_major': 2, 'version_minor': 0}}, raw=True)"),
    ("code", "display({'text/plain': '<Figure size 640x480 with 1 Axes>'}, raw=True)"),
    ("code", "fig, ax = plt.subplots(figsize=(3, 2))\nax.plot([1, 2])\nfig"),
    ("code", "display({'image/png': 'bm90IGEgcG5n'}, raw=True)"),
    ("code", "display(widgets.IntSlider(value=3, max=9, description='dead'))"),
    ("code", "from IPython.display import Math\nMath(r'\\frac{1}')"),
    ("code", "1 / 0"),
    ("code", "never_runs = True"),
]


def write(path: Path, cells: list) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, source, *tags in cells:
        cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        if tags:
            cell.metadata["tags"] = tags[0]
        nb.cells.append(cell)
    nbformat.write(nb, path)
