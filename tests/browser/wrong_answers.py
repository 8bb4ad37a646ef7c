"""A wrong answer to the first task of any exercise notebook, derived from its solution.

The browser tests type a wrong answer into an exercise as a learner would and look at
the hint its check shows.  To do that for every lesson (new ones included) without a
hand-written mistake per task, :func:`wrong_answer` takes the task's *solution* cell
and wraps each function it defines so that every number it returns is off
(``1.5 * x + 0.25`` for floats, ``+ 1`` for integers, ``not`` for booleans), deep
inside tuples, lists and dicts.  The answer runs, returns the right types and
shapes, and is wrong everywhere: exactly what a check must catch and explain.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

PERTURB = '''
def _rnn_tutor_browser_test_off(value):
    """Every number in ``value`` made wrong (a deliberate mistake of the browser tests)."""
    import numpy as _np
    off = _rnn_tutor_browser_test_off
    if isinstance(value, (bool, _np.bool_)):
        return not value
    if isinstance(value, (int, _np.integer)):
        return value + 1
    if isinstance(value, _np.ndarray):
        if value.dtype.kind == "b":
            return ~value
        if value.dtype.kind in "iu":
            return value + 1
        if value.dtype.kind in "fc":
            return value * 1.5 + 0.25
        return value
    if isinstance(value, tuple):
        return tuple(off(v) for v in value)
    if isinstance(value, list):
        return [off(v) for v in value]
    if isinstance(value, dict):
        return {k: off(v) for k, v in value.items()}
    try:                       # floats, NumPy scalars, SymPy expressions
        return value * 1.5 + 0.25
    except Exception:
        return value
'''

WRAP = '''
def _rnn_tutor_browser_test_wrap(fn):
    import functools
    @functools.wraps(fn)
    def wrong(*args, **kwargs):
        return _rnn_tutor_browser_test_off(fn(*args, **kwargs))
    return wrong
'''


@dataclass(frozen=True)
class FirstTask:
    """The first code task of an exercise: its solution cell and the check cell after it."""

    grade_id: str          # of the solution cell
    check_id: str          # of the graded cell that checks it
    solution: str          # the solution's source (from solutions/)
    names: tuple[str, ...]  # the functions (or, failing that, names) the solution defines


def _nbgrader(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _defined(source: str) -> tuple[tuple[str, ...], bool]:
    """Top-level functions defined by ``source`` (True), else the names it assigns (False)."""
    tree = ast.parse(source)
    funcs = tuple(n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    if funcs:
        return funcs, True
    names = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return tuple(dict.fromkeys(names)), False


def first_task(exercise: Path, solutions: Path) -> FirstTask:
    """The first code solution cell of ``exercise`` that a graded cell checks, with its solution."""
    ex = json.loads(exercise.read_text(encoding="utf-8"))
    nb_id = ex["metadata"]["rnn_tutor"]["id"]
    source_nb = next(p for p in sorted(solutions.glob("*.ipynb"))
                     if json.loads(p.read_text(encoding="utf-8"))["metadata"].get("rnn_tutor", {}).get("id") == nb_id)
    solved = {_nbgrader(c).get("grade_id"): _source(c) for c in json.loads(source_nb.read_text(encoding="utf-8"))["cells"]}
    cells = ex["cells"]
    for i, cell in enumerate(cells):
        meta = _nbgrader(cell)
        if cell["cell_type"] == "code" and meta.get("solution") and not meta.get("grade"):
            check = next((c for c in cells[i + 1:] if _nbgrader(c).get("grade") and not _nbgrader(c).get("solution")), None)
            if check is not None and meta.get("grade_id") in solved:
                names, _ = _defined(solved[meta["grade_id"]])
                return FirstTask(meta["grade_id"], _nbgrader(check)["grade_id"], solved[meta["grade_id"]], names)
    raise AssertionError(f"{exercise.name}: no code task followed by a graded check cell")


def wrong_answer(solution: str) -> str:
    """``solution`` with every number its functions return (or the names it assigns) made wrong."""
    names, functions = _defined(solution)
    if not names:
        raise AssertionError(f"the solution defines no function and assigns no name:\n{solution}")
    lines = [solution.rstrip(), "", "# --- a deliberate mistake (tests/browser/wrong_answers.py) ---", PERTURB.strip()]
    if functions:
        lines.append(WRAP.strip())
        lines += [f"{n} = _rnn_tutor_browser_test_wrap({n})" for n in names]
    else:
        lines += [f"{n} = _rnn_tutor_browser_test_off({n})" for n in names]
    return "\n".join(lines) + "\n"
