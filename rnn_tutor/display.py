"""What a lesson shows besides figures: sharp inline figures, tables of results, expected errors.

The course's output standard (CONTRIBUTING.md, "Figures and printed output") in three helpers:

- :func:`setup_figures` makes the inline backend send figures at twice the pixel density
  (``retina``), so they are sharp on high-DPI screens and keep their size on others.  A
  lesson calls it once in its first code cell; nothing here runs on import.
- :func:`table` turns rows of numbers into a :class:`Table` that prints as aligned text and
  renders as an HTML table in JupyterLab, with every float rounded.
- :func:`math_lines` typesets a long SymPy expression over several aligned lines, so that it
  fits the notebook instead of running off its right edge.
- :func:`show_error` runs a block that is meant to fail and prints the exception as one line
  (``ValueError: k: expected ...``) instead of a traceback through library frames.
"""

from __future__ import annotations

import html
import numbers
from contextlib import contextmanager
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

__all__ = ["FIGURE_WIDTH_PX", "FIGURE_WIDTH_IN", "MIN_FONT_PT", "setup_figures", "fmt", "table", "Table",
           "show_error", "ShownError", "math_lines"]

#: The widest figure (in CSS pixels, at the inline backend's 100 dpi) that JupyterLab shows
#: unscaled in its default layout: its output area is 848 px wide in a 1280 px wide window with
#: the file browser open (JupyterLab 4.6, Chromium; 916 px at 1366, 975 px at 1440).
#: ``plots`` functions size their figures to fit it.
FIGURE_WIDTH_PX = 840
#: The same width in inches at the inline backend's default ``figure.dpi`` of 100.
FIGURE_WIDTH_IN = FIGURE_WIDTH_PX / 100
#: The smallest font size (points at display size) a figure may use.
MIN_FONT_PT = 9.0


def setup_figures(formats: Sequence[str] = ("retina",)) -> None:
    """Have the inline backend render figures in ``formats`` (default: retina PNG, 2x pixels).

    Call once per notebook (a lesson's first code cell).  Only this IPython session's
    ``InlineBackend.figure_formats`` changes; outside IPython it does nothing.  The inline
    backend keeps cropping figures with ``bbox_inches="tight"``.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with Jupyter
        return
    if get_ipython() is None:
        return
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    set_matplotlib_formats(*formats)


def fmt(value: Any, digits: int = 3) -> str:
    """A number, array or dict as short text: ``0.432``, ``1.1e-16``, ``[0.537, 0.91]``, ``w_x = 0.432, ...``.

    Floats keep ``digits`` significant digits (integers are printed in full); arrays and
    sequences become comma-separated lists; dicts become ``key = value`` pairs.
    """
    if isinstance(value, Mapping):
        return ", ".join(f"{k} = {fmt(v, digits)}" for k, v in value.items())
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        if v.is_integer() and abs(v) < 1e6:
            return str(int(v))
        return f"{v:.{digits}g}"
    if isinstance(value, (np.ndarray, list, tuple)):
        arr = np.asarray(value, dtype=object if not isinstance(value, np.ndarray) else None)
        if arr.ndim == 0:
            return fmt(arr.item(), digits)
        return "[" + ", ".join(fmt(v, digits) for v in arr) + "]"
    return str(value)


class Table:
    """Rows of values with a header; ``str(table)`` is aligned text, Jupyter shows an HTML table.

    Build it with :func:`table`.  ``rows`` holds the formatted cells (strings).
    """

    def __init__(self, header: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool]):
        self.header, self.rows, self._numeric = list(header), [list(r) for r in rows], list(numeric)

    def __str__(self) -> str:
        widths = [max(len(str(c)) for c in col) for col in zip(self.header, *self.rows)]

        def line(cells):
            return "  ".join(c.rjust(w) if num else c.ljust(w)
                             for c, w, num in zip(cells, widths, self._numeric)).rstrip()

        return "\n".join([line(self.header), "  ".join("-" * w for w in widths)] + [line(r) for r in self.rows])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        def cells(tag, values):
            return "".join(f'<{tag} style="text-align: {"right" if num else "left"}">{html.escape(v)}</{tag}>'
                           for v, num in zip(values, self._numeric))

        body = "".join(f"<tr>{cells('td', r)}</tr>" for r in self.rows)
        return f'<table class="rnn-tutor-table"><thead><tr>{cells("th", self.header)}</tr></thead>' \
               f"<tbody>{body}</tbody></table>"


def table(rows: Sequence[Sequence[Any]] | Mapping[str, Any], header: Sequence[str] | None = None,
          digits: int = 3, formats: Mapping[str, str] | None = None) -> Table:
    """A :class:`Table` of ``rows`` (a list of rows, or a dict ``{name: value or row}``).

    Parameters
    ----------
    rows : list of equal-length rows, or a dict whose keys become the first column
    header : column names (default: ``""``, ``"value"``, ... for a dict; required for a list)
    digits : significant digits of floats (see :func:`fmt`)
    formats : ``{column name: format spec}``, e.g. ``{"accuracy": ".1%"}``, overriding ``digits``
    """
    if isinstance(rows, Mapping):
        body = [[k, *(v if isinstance(v, (list, tuple)) else [v])] for k, v in rows.items()]
    else:
        body = [list(r) for r in rows]
    if not body:
        raise ValueError("rows: expected at least one row, received none")
    n = len(body[0])
    if any(len(r) != n for r in body):
        raise ValueError(f"rows: expected rows of equal length, received lengths {sorted({len(r) for r in body})}")
    if header is None:
        if not isinstance(rows, Mapping):
            raise ValueError("header: expected column names for a list of rows, received None")
        header = [""] + (["value"] if n == 2 else [f"value {j}" for j in range(1, n)])
    header = [str(h) for h in header]
    if len(header) != n:
        raise ValueError(f"header: expected {n} column names (one per column), received {len(header)}")
    formats = dict(formats or {})
    unknown = sorted(set(formats) - set(header))
    if unknown:
        raise ValueError(f"formats: unknown column(s) {unknown}; the columns are {header}")

    def cell(v, col):
        spec = formats.get(header[col])
        return format(v, spec) if spec is not None else fmt(v, digits)

    numeric = [all(isinstance(r[j], numbers.Number) for r in body) for j in range(n)]
    return Table(header, [[cell(v, j) for j, v in enumerate(r)] for r in body], numeric)


class ShownError:
    """What :func:`show_error` caught: ``error`` is the exception (None until the block has run)."""

    error: BaseException | None = None

    @property
    def message(self) -> str:
        return "" if self.error is None else f"{type(self.error).__name__}: {self.error}"


@contextmanager
def show_error(*expected: type[BaseException]) -> Iterator[ShownError]:
    """Run a block that must raise one of ``expected``; print the error as one message, no traceback.

    ::

        with show_error(ValueError) as shown:
            train_tbptt(xs, ps, params, k=7)
        assert "k" in str(shown.error)

    A block that raises nothing, or another exception, is an error of the lesson: an
    ``AssertionError`` (or the unexpected exception itself) propagates.
    """
    if not expected or not all(isinstance(t, type) and issubclass(t, BaseException) for t in expected):
        raise ValueError(f"expected: one or more exception classes, e.g. show_error(ValueError), received {expected!r}")
    shown = ShownError()
    try:
        yield shown
    except expected as err:
        shown.error = err
        print(shown.message)
        return
    names = " or ".join(t.__name__ for t in expected)
    raise AssertionError(f"expected the block to raise {names}, but it finished without an error")


def math_lines(lhs: str, expr, max_chars: int = 150):
    """``lhs = expr`` as an ``IPython.display.Math`` broken over aligned lines that fit the notebook.

    A product is broken between its factors, a sum between its terms, and a factor that is a
    long sum between its terms again.  Parts are packed on a line while its LaTeX source stays
    under ``max_chars`` characters (about 600 px typeset for the course's nested ``tanh``
    expressions); a part longer than that that cannot be split gets a line of its own.
    """
    from IPython.display import Math

    from rnn_tutor._lazy import sympy as sp

    expr = sp.sympify(expr)
    if isinstance(expr, sp.Add):
        pieces = [("+", sp.latex(t)) for t in sp.Add.make_args(expr)]
    elif isinstance(expr, sp.Mul):
        pieces = []
        for f in sp.Mul.make_args(expr):
            t = sp.latex(f)
            if isinstance(f, sp.Add) and len(t) > max_chars:  # a long sum inside a product: one term per piece
                terms = [sp.latex(u) for u in sp.Add.make_args(f)]
                pieces += [(r"\cdot", r"\Big(" + terms[0])] + [("+", u) for u in terms[1:-1]]
                pieces.append(("+", terms[-1] + r"\Big)"))
            else:
                pieces.append((r"\cdot", rf"\left({t}\right)" if isinstance(f, sp.Add) else t))
    else:
        pieces = [("", sp.latex(expr))]
    if pieces and pieces[0][0] in ("+", "-", r"\cdot"):  # the first line opens with no operator (a minus stays)
        pieces[0] = ("", ("-" if pieces[0][0] == "-" else "") + pieces[0][1])

    pieces = [("-", t[1:].lstrip()) if op == "+" and t.startswith("-") else (op, t) for op, t in pieces]
    lines: list[tuple[str, str]] = []  # (operator that opens the line, LaTeX of the line)
    for op, t in pieces:
        if lines and (len(lines[-1][1]) <= 20 or len(lines[-1][1]) + len(t) <= max_chars):
            prev_op, prev = lines[-1]
            lines[-1] = (prev_op, f"{prev} {op + ' ' if op in '+-' else ''}{t}")
        else:
            lines.append((op, t))
    body = rf"{lhs} &= {lines[0][1]}" + "".join(rf" \\ &\quad {{}}{op} {t}" for op, t in lines[1:])
    return Math(rf"\begin{{aligned}} {body} \end{{aligned}}")
