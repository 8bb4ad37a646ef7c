"""Rebuild a submission from its source notebook before it runs (nbgrader's "overwrite cells").

The notebook that runs is the *source* notebook, in the source's order, where

* each solution cell (``solution: true``) is replaced by the learner's cell with the
  same ``grade_id``; a learner who deleted it gets the released stub back
  (``raise NotImplementedError()``), so the task scores zero but the run goes on;
* every other cell (instructions, locked setup code, graded check cells with their
  hidden tests) is the instructor's, whatever the submission holds;
* cells the learner *added* (no known ``grade_id``, cell id or text) are kept, right
  after the known cell they followed, so helper code still runs.

So deleting, editing or reordering checks changes nothing, and reordered solution
cells run in the source's order.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import nbformat

from rnn_tutor.grading.match import LearnerCell, LearnerNotebook

__all__ = ["RunCell", "Restored", "restore", "to_notebook"]


@dataclass(frozen=True)
class RunCell:
    """A cell of the rebuilt notebook.

    ``origin`` is ``source`` (the instructor's cell), ``learner`` (the learner's
    answer), ``stub`` (answer deleted: the released stub) or ``added`` (a cell the
    learner added).  ``number`` is the 1-based position in the source notebook
    (that of the preceding source cell for an added cell).
    """

    cell_type: str
    source: str
    origin: str
    number: int
    grade_id: str | None = None
    graded: bool = False
    solution: bool = False
    points: float = 0.0

    @property
    def label(self) -> str:
        """E.g. ``cell 5 (rnn_step)`` for messages."""
        where = f"cell {self.number}" + (f" ({self.grade_id})" if self.grade_id else "")
        return f"a cell you added after {where}" if self.origin == "added" else where


@dataclass
class Restored:
    """The cells to run, in order, and notes on what was repaired."""

    cells: list[RunCell]
    notes: list[str] = field(default_factory=list)


def _exercise_source(cell: Any) -> str:
    from rnn_tutor.release import exercise_source

    return exercise_source(cell)


def _match(src: Any, learner: LearnerNotebook) -> tuple[dict[int, LearnerCell], dict[int | None, list], list[str]]:
    """Map source positions to learner cells; collect added cells by anchor position."""
    by_gid = {c.grade_id: k for k, c in enumerate(src.cells) if c.grade_id}
    plain = [k for k, c in enumerate(src.cells) if not c.grade_id]
    by_cid = {src.cells[k].cell.get("id"): k for k in plain if src.cells[k].cell.get("id")}
    by_text: dict[str, int] = {}
    for k in plain:
        by_text.setdefault(src.cells[k].source.strip(), k)
    found: dict[int, LearnerCell] = {}
    added: dict[int | None, list] = defaultdict(list)
    anchor, order, dup = None, [], 0
    for lc in learner.cells:
        k = by_gid.get(lc.grade_id) if lc.grade_id else None
        if k is None and not lc.grade_id:
            k = by_cid.get(lc.cell_id)
            if k is None or k in found:
                k = by_text.get(lc.source.strip())
        if k is not None and k in found:        # a copy of a known cell (copy-paste keeps metadata)
            dup += 1
            k = None
        if k is None:
            if lc.cell_type == "code" and lc.source.strip():
                added[anchor].append(lc)
            continue
        found[k] = lc
        order.append(k)
        anchor = k
    notes = []
    if order != sorted(order):
        notes.append("cells were reordered: they ran in the source's order")
    if dup:
        notes.append(f"{dup} duplicated cell(s) were run as added cells")
    return found, added, notes


def restore(src: Any, learner: LearnerNotebook) -> Restored:
    """Rebuild the notebook to run from the source ``src`` (a ``SourceNotebook``) and the learner's cells."""
    found, added, notes = _match(src, learner)
    cells: list[RunCell] = []

    def add_learner_cells(anchor: int | None, number: int) -> None:
        for lc in added.get(anchor, []):
            cells.append(RunCell("code", lc.source, "added", number))

    add_learner_cells(None, 0)
    deleted, stubbed, changed = 0, [], 0
    for k, sc in enumerate(src.cells):
        nbg = sc.nbgrader
        info = dict(grade_id=sc.grade_id, graded=sc.is_graded, solution=sc.is_solution,
                    points=float(nbg.points or 0) if nbg and nbg.grade else 0.0)
        if sc.is_solution:
            lc = found.get(k)
            if lc is None:
                stubbed.append(sc.grade_id)
                cells.append(RunCell(sc.cell_type, _exercise_source(sc), "stub", sc.number, **info))
            else:
                cells.append(RunCell(sc.cell_type, lc.source, "learner", sc.number, **info))
        else:
            lc = found.get(k)
            if lc is None and sc.cell_type == "code":
                deleted += 1
            elif lc is not None and lc.source.strip() != sc.source.strip() and not sc.is_graded:
                changed += 1
            cells.append(RunCell(sc.cell_type, sc.source, "source", sc.number, **info))
        add_learner_cells(k, sc.number)
    if stubbed:
        notes.append(f"answer cell(s) {', '.join(stubbed)} missing: the released stub ran instead")
    if deleted:
        notes.append(f"{deleted} deleted instructor code cell(s) restored")
    if changed:
        notes.append(f"{changed} edited locked cell(s) restored")
    return Restored(cells, notes + learner.notes)


def to_notebook(restored: Restored, nb_id: str) -> Any:
    """The rebuilt notebook as an nbformat node (written to the temporary folder for inspection)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["rnn_tutor"] = {"id": nb_id, "restored_by": "rnn-tutor grade"}
    for i, rc in enumerate(restored.cells):
        make = nbformat.v4.new_code_cell if rc.cell_type == "code" else nbformat.v4.new_markdown_cell
        cell = make(rc.source)
        cell.id = f"run-{i + 1}"
        cell.metadata["rnn_tutor_grade"] = {"origin": rc.origin, "source_cell": rc.number}
        nb.cells.append(cell)
    return nb
