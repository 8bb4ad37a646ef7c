"""Read and validate the course's nbgrader-style source notebooks (``solutions/``).

A source notebook is an nbformat-4 notebook whose cells may carry nbgrader
schema-3 metadata::

    {"nbgrader": {"schema_version": 3, "grade": false, "solution": true,
                  "locked": false, "grade_id": "rnn_step"}}

* a *solution* cell (``solution: true``) holds the answer between the lines
  ``### BEGIN SOLUTION`` and ``### END SOLUTION``;
* a *graded* cell (``grade: true``, with ``points``) checks the answer and may hold
  ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS``;
* a *locked* cell (``locked: true``) must not be edited by the learner.

The notebook's identity is its metadata ``"rnn_tutor": {"id": "NN_name"}``, the file
stem without its ``_solutions`` or ``_exercises`` suffix.

:func:`load_source` reads and validates a notebook and returns a
:class:`SourceNotebook`: every cell with its parsed metadata (:class:`Nbgrader`)
and its marker regions (:class:`Region`).  Every problem raises
:class:`NotebookError`, which names the file and the cell.  **Cell numbers are
1-based** (the first cell of a notebook is cell 1); marker line numbers are
1-based within the cell.  ``rnn-tutor release`` and the grader both use this module.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import nbformat

__all__ = ["NotebookError", "Nbgrader", "Region", "SourceCell", "SourceNotebook",
           "SOLUTION", "HIDDEN_TESTS", "MARKERS", "GRADE_ID_PATTERN", "read_notebook",
           "notebook_id", "parse_nbgrader", "find_regions", "iter_cells", "validate",
           "load_source", "FILE_SUFFIXES", "id_from_filename", "exercise_filename",
           "NBGRADER_KEYWORDS", "normalise_line"]

SOLUTION = "solution"
HIDDEN_TESTS = "hidden tests"
#: exact marker text -> (kind, is_begin)
MARKERS: dict[str, tuple[str, bool]] = {
    "### BEGIN SOLUTION": (SOLUTION, True),
    "### END SOLUTION": (SOLUTION, False),
    "### BEGIN HIDDEN TESTS": (HIDDEN_TESTS, True),
    "### END HIDDEN TESTS": (HIDDEN_TESTS, False),
}
GRADE_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
# Anything that looks like an attempt at a marker ("## BEGIN SOLUTION", "### end solution",
# "### BEGIN SOLUTION here", "### BEGIN HIDDEN TEST") but is not exactly one.
_NEAR_MARKER = re.compile(r"^\s*#+\s*(BEGIN|END)\s+(SOLUTION|HIDDEN\s*TESTS?)", re.IGNORECASE)


class NotebookError(ValueError):
    """A notebook that cannot be read or breaks the source conventions.

    Attributes
    ----------
    path : pathlib.Path or None   the notebook file
    cell : int or None            1-based number of the offending cell (None: whole notebook)
    line : int or None            1-based line within the cell, for marker problems
    problem : str                 what is wrong, and how to fix it
    """

    def __init__(self, path: str | Path | None, problem: str, cell: int | None = None,
                 line: int | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.cell, self.line, self.problem = cell, line, problem
        super().__init__(str(self))

    def __str__(self) -> str:
        where = str(self.path) if self.path is not None else "<notebook>"
        if self.cell is not None:
            where += f", cell {self.cell} (1-based)"
        if self.line is not None:
            where += f", line {self.line}"
        return f"{where}: {self.problem}"


@dataclass(frozen=True)
class Nbgrader:
    """Parsed nbgrader schema-3 cell metadata."""

    grade: bool
    solution: bool
    locked: bool
    grade_id: str | None
    points: float | None


@dataclass(frozen=True)
class Region:
    """A ``### BEGIN ...`` / ``### END ...`` region of a cell's source.

    ``begin`` and ``end`` are 0-based indices into ``source.split("\\n")`` of the two
    marker lines (inclusive); ``indent`` is the BEGIN marker's leading whitespace.
    """

    kind: str
    begin: int
    end: int
    indent: str


@dataclass(frozen=True)
class SourceCell:
    """One cell of a notebook: its 1-based ``number``, the nbformat ``cell``, its
    parsed ``nbgrader`` metadata (None if it has none) and its marker ``regions``."""

    number: int
    cell: Any
    nbgrader: Nbgrader | None
    regions: tuple[Region, ...]

    @property
    def cell_type(self) -> str:
        return self.cell.cell_type

    @property
    def source(self) -> str:
        return self.cell.source

    @property
    def grade_id(self) -> str | None:
        return self.nbgrader.grade_id if self.nbgrader else None

    @property
    def is_graded(self) -> bool:
        return bool(self.nbgrader and self.nbgrader.grade)

    @property
    def is_solution(self) -> bool:
        return bool(self.nbgrader and self.nbgrader.solution)

    @property
    def is_locked(self) -> bool:
        return bool(self.nbgrader and self.nbgrader.locked)


@dataclass(frozen=True)
class SourceNotebook:
    """A validated source notebook: ``path``, the nbformat ``nb``, its ``id`` and ``cells``."""

    path: Path
    nb: Any
    id: str
    cells: tuple[SourceCell, ...]

    def graded_cells(self) -> list[SourceCell]:
        """The cells with ``grade: true``, in notebook order."""
        return [c for c in self.cells if c.is_graded]

    def by_grade_id(self) -> dict[str, SourceCell]:
        """Map every ``grade_id`` to its cell."""
        return {c.grade_id: c for c in self.cells if c.grade_id is not None}

    @property
    def total_points(self) -> float:
        """Sum of the ``points`` of the graded cells."""
        return float(sum(c.nbgrader.points or 0 for c in self.graded_cells()))


def read_notebook(path: str | Path) -> Any:
    """Read an nbformat-4 notebook; raise :class:`NotebookError` if it cannot be read.

    Cells of an nbformat >= 4.5 file that lack an ``id`` get a deterministic one
    (nbformat would invent a random id, which would make generated files differ
    from run to run).
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise NotebookError(path, f"cannot read the file ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise NotebookError(path, f"not valid JSON ({str(exc)[:200]}); is it a notebook?") from None
    if not isinstance(raw, dict) or raw.get("nbformat") != 4:
        found = raw.get("nbformat") if isinstance(raw, dict) else type(raw).__name__
        raise NotebookError(path, f"expected an nbformat 4 notebook, got nbformat={found!r}")
    cells = raw.get("cells")
    if isinstance(cells, list) and raw.get("nbformat_minor", 0) >= 5:
        for i, cell in enumerate(cells):
            if isinstance(cell, dict) and "id" not in cell:
                text = json.dumps([i, cell.get("source")], sort_keys=True)
                cell["id"] = "c" + hashlib.sha256(text.encode()).hexdigest()[:12]
    try:
        nb = nbformat.v4.nbjson.JSONReader().to_notebook(raw)   # joins multi-line sources
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        first = (str(exc.message if hasattr(exc, "message") else exc).splitlines() or [""])[0]
        raise NotebookError(path, f"not a valid notebook: {first}") from None
    except Exception as exc:  # noqa: BLE001 - any malformed JSON shape is an input error
        raise NotebookError(path, f"not a valid notebook: malformed structure ({type(exc).__name__}: "
                            f"{str(exc)[:200]})") from None
    for number, cell in enumerate(nb.cells, start=1):
        if not isinstance(cell.get("source"), str) or not isinstance(cell.get("metadata"), Mapping):
            raise NotebookError(path, "not a valid notebook: the cell has no text source or metadata", number)
    return nb


FILE_SUFFIXES = ("_solutions", "_exercises")


def id_from_filename(path: str | Path) -> str:
    """The course id that a notebook's file name stands for.

    ``solutions/03_bptt_solutions.ipynb`` and ``exercises/03_bptt_exercises.ipynb``
    both stand for ``"03_bptt"``; a name without one of :data:`FILE_SUFFIXES` stands
    for its stem.
    """
    stem = Path(path).stem
    for suffix in FILE_SUFFIXES:
        if stem.endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)]
    return stem


def exercise_filename(source: str | Path) -> str:
    """The file name of the exercise generated from the source notebook ``source``.

    ``03_bptt_solutions.ipynb`` -> ``03_bptt_exercises.ipynb`` (so that JupyterLab's
    tabs never show a lesson, an exercise and a solution under one name); a source
    without the ``_solutions`` suffix keeps its name.
    """
    name = Path(source).name
    stem = Path(source).stem
    if stem.endswith("_solutions") and len(stem) > len("_solutions"):
        return f"{stem[: -len('_solutions')]}_exercises.ipynb"
    return name


def notebook_id(nb: Any, path: str | Path | None = None) -> str:
    """Return the course id in the metadata ``"rnn_tutor": {"id": ...}``.

    Raises :class:`NotebookError` if it is missing or is not a non-empty string.
    """
    meta = nb.metadata.get("rnn_tutor")
    nb_id = meta.get("id") if isinstance(meta, Mapping) else None
    if not isinstance(nb_id, str) or not nb_id:
        raise NotebookError(path, 'notebook metadata lacks the course id "rnn_tutor": '
                            f'{{"id": "<file stem>"}} (found rnn_tutor={meta!r})')
    return nb_id


def parse_nbgrader(metadata: Mapping, path: str | Path | None = None,
                   cell: int | None = None) -> Nbgrader | None:
    """Parse and check the ``nbgrader`` entry of a cell's metadata (None if absent).

    Schema 3 requires ``schema_version: 3`` and the booleans ``grade``, ``solution``
    and ``locked``; a graded, solution or locked cell needs a ``grade_id`` made of
    ``[A-Za-z0-9_-]``; a graded cell needs non-negative ``points``.
    """
    meta = metadata.get("nbgrader")
    if meta is None:
        return None
    if not isinstance(meta, Mapping):
        raise NotebookError(path, f"nbgrader metadata must be an object, got {meta!r}", cell)
    if meta.get("schema_version") != 3:
        raise NotebookError(path, "nbgrader metadata needs schema_version 3, got "
                            f"{meta.get('schema_version')!r}", cell)
    flags = {}
    for key in ("grade", "solution", "locked"):
        if not isinstance(meta.get(key), bool):
            raise NotebookError(path, f"nbgrader metadata needs {key!r} true or false, got "
                                f"{meta.get(key, '<missing>')!r}", cell)
        flags[key] = meta[key]
    grade_id = meta.get("grade_id")
    if any(flags.values()) or grade_id is not None:
        if not isinstance(grade_id, str) or not GRADE_ID_PATTERN.fullmatch(grade_id):
            raise NotebookError(path, f"bad nbgrader grade_id {grade_id!r}: expected a "
                                "non-empty name of letters, digits, '_' and '-'", cell)
    points = meta.get("points")
    if flags["grade"]:
        if (isinstance(points, bool) or not isinstance(points, (int, float))
                or not math.isfinite(points) or points < 0):
            raise NotebookError(path, f"graded cell {grade_id!r} needs nbgrader 'points' "
                                f"(a number >= 0), got {points!r}", cell)
    if flags["solution"] and flags["locked"]:
        raise NotebookError(path, f"cell {grade_id!r} is both a solution cell and locked; "
                            "the learner could not write the answer", cell)
    return Nbgrader(grade_id=grade_id, points=float(points) if flags["grade"] else None,
                    **flags)


#: The substrings nbgrader 0.9 looks for: every line (split at "\n") that contains one is a
#: marker to nbgrader, wherever it stands in the line.
NBGRADER_KEYWORDS: dict[str, tuple[str, bool]] = {
    "BEGIN SOLUTION": (SOLUTION, True), "END SOLUTION": (SOLUTION, False),
    "BEGIN HIDDEN TESTS": (HIDDEN_TESTS, True), "END HIDDEN TESTS": (HIDDEN_TESTS, False),
}
# Characters that do not show in an editor: format characters (zero-width spaces and joiners,
# direction marks, the byte-order mark, soft hyphen...) and unusual spaces and separators.
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
                        "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb]")
_ODD_SPACE = re.compile("[\x0b\x0c\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_MARKER_WORDS = re.compile(r"(BEGIN|END)\s*(SOLUTION|HIDDEN\s*TESTS?)")  # upper case, as nbgrader's


def normalise_line(line: str) -> str:
    """``line`` as a reader sees it: invisible characters removed, unusual spaces (form feed,
    no-break space...) made plain spaces, a final carriage return dropped."""
    line = line[:-1] if line.endswith("\r") else line
    return _ODD_SPACE.sub(" ", _INVISIBLE.sub("", line))


def _odd_characters(line: str) -> str:
    odd = sorted(set(_INVISIBLE.findall(line)) | set(_ODD_SPACE.findall(line.rstrip("\r"))))
    return ", ".join(f"U+{ord(c):04X} ({unicodedata.name(c, 'a control character')})" for c in odd)


def _marker_line(line: str, path, cell, number: int) -> tuple[str, bool, str] | None:
    """``(kind, is_begin, indent)`` if the raw ``line`` is a marker, None if it is plain text.

    A line is a marker to nbgrader when it *contains* a keyword; it is one to us when, with
    its indentation and a final ``\r`` stripped, it is exactly a marker.  Lines on which the
    two could disagree -- a keyword inside other text, a marker with invisible characters or
    unusual spaces, a carriage return inside the line, or something marker-like that nbgrader
    would not see -- raise :class:`NotebookError` naming the line.
    """
    body = line[:-1] if line.endswith("\r") else line
    keywords = [k for k in NBGRADER_KEYWORDS if k in body]
    seen = normalise_line(line)
    looks = bool(_MARKER_WORDS.search(seen)) or bool(_NEAR_MARKER.match(seen))
    if not keywords and not looks:
        return None
    if "\r" in body:
        raise NotebookError(path, "a carriage return inside the line (old Mac 'CR' line endings?): "
                            "nbgrader splits cells at \\n only and would read the marker and its "
                            "neighbours as one line; save the notebook with \\n line endings", cell, number)
    odd = _odd_characters(line)
    if odd and (keywords or MARKERS.get(seen.strip())):
        raise NotebookError(path, f"invisible or unusual characters on a marker line ({odd}); delete "
                            "them and write the marker alone on its line", cell, number)
    marker = MARKERS.get(body.strip(" \t"))
    if marker is not None and len(keywords) == 1:
        return (*marker, body[: len(body) - len(body.lstrip(" \t"))])
    if keywords:
        raise NotebookError(path, f"{keywords[0]!r} inside other text: nbgrader takes every line that "
                            f"contains it for a marker; write exactly one of {', '.join(map(repr, MARKERS))} "
                            "alone on its line, or rephrase this line", cell, number)
    raise NotebookError(path, f"malformed marker {seen.strip()!r}: nbgrader would not see it as a marker; "
                        f"write exactly one of {', '.join(map(repr, MARKERS))} on its own line", cell, number)


def find_regions(source: str, path: str | Path | None = None,
                 cell: int | None = None) -> tuple[Region, ...]:
    """Find the ``### BEGIN/END SOLUTION`` and ``### BEGIN/END HIDDEN TESTS`` regions.

    Lines are split at ``\n`` only, as nbgrader does.  A marker is a line that holds
    exactly the marker text (plus spaces or tabs of indentation, trailing spaces and a
    final ``\r``), so that our regions are always nbgrader's.  Raises
    :class:`NotebookError` for an unterminated, nested, stray, misspelt or ambiguous
    marker (see :func:`_marker_line`).
    """
    regions: list[Region] = []
    open_at: tuple[str, int, str] | None = None     # (kind, line index, indent)
    for i, line in enumerate(source.split("\n")):
        marker = _marker_line(line, path, cell, i + 1)
        if marker is None:
            continue
        kind, is_begin, indent = marker
        if is_begin:
            if open_at is not None:
                raise NotebookError(path, f"'### BEGIN {kind.upper()}' inside the {open_at[0]} "
                                    f"region opened on line {open_at[1] + 1}; regions cannot "
                                    "nest (is an END marker missing?)", cell, i + 1)
            open_at = (kind, i, indent)
        else:
            if open_at is None:
                raise NotebookError(path, f"stray '### END {kind.upper()}' without a matching "
                                    f"'### BEGIN {kind.upper()}'", cell, i + 1)
            if open_at[0] != kind:
                raise NotebookError(path, f"'### END {kind.upper()}' closes the {open_at[0]} "
                                    f"region opened on line {open_at[1] + 1}", cell, i + 1)
            regions.append(Region(kind, open_at[1], i, open_at[2]))
            open_at = None
    if open_at is not None:
        raise NotebookError(path, f"unterminated '### BEGIN {open_at[0].upper()}' (opened on "
                            f"line {open_at[1] + 1}): add '### END {open_at[0].upper()}'",
                            cell, open_at[1] + 1)
    return tuple(regions)


def iter_cells(nb: Any, path: str | Path | None = None) -> Iterator[SourceCell]:
    """Yield every cell with its 1-based number, nbgrader metadata and marker regions.

    Each cell is checked on its own (metadata, markers, marker placement); the
    notebook-wide checks (unique grade_id, course id) are in :func:`validate`.
    """
    for number, cell in enumerate(nb.cells, start=1):
        meta = parse_nbgrader(cell.get("metadata", {}), path, number)
        regions = find_regions(cell.source, path, number)
        kinds = {r.kind for r in regions}
        if SOLUTION in kinds and not (meta and meta.solution):
            raise NotebookError(path, "'### BEGIN SOLUTION' in a cell that is not a solution "
                                "cell: set nbgrader solution: true (or the solution would "
                                "reach the learners)", number)
        if HIDDEN_TESTS in kinds and not (meta and meta.grade and cell.cell_type == "code"):
            raise NotebookError(path, "'### BEGIN HIDDEN TESTS' is only allowed in graded "
                                "code cells (nbgrader grade: true)", number)
        yield SourceCell(number, cell, meta, regions)


def validate(nb: Any, path: str | Path | None = None, *,
             expect_id: str | None = None) -> SourceNotebook:
    """Check a source notebook and return it as a :class:`SourceNotebook`.

    Parameters
    ----------
    nb : nbformat.NotebookNode   the notebook (version 4)
    path : path-like, optional   its file, used in error messages
    expect_id : str, optional    the required course id; by default the one that the
                                 file name stands for (:func:`id_from_filename`; no
                                 comparison when ``path`` is None)
    """
    nb_id = notebook_id(nb, path)
    if expect_id is None and path is not None:
        expect_id = id_from_filename(path)
    if expect_id is not None and nb_id != expect_id:
        raise NotebookError(path, f'course id "rnn_tutor": {{"id": {nb_id!r}}} does not match '
                            f"the file name: expected {expect_id!r}")
    cells = tuple(iter_cells(nb, path))
    seen: dict[str, int] = {}
    for c in cells:
        if c.grade_id is None:
            continue
        if c.grade_id in seen:
            raise NotebookError(path, f"duplicate grade_id {c.grade_id!r} (first used in "
                                f"cell {seen[c.grade_id]})", c.number)
        seen[c.grade_id] = c.number
    return SourceNotebook(Path(path) if path is not None else Path(f"{nb_id}.ipynb"),
                          nb, nb_id, cells)


def load_source(path: str | Path, *, check_id: bool = True) -> SourceNotebook:
    """Read and validate the source notebook at ``path``.

    With ``check_id=False`` the course id must exist but need not equal the file stem
    (e.g. a learner's renamed copy).
    """
    nb = read_notebook(path)
    expect = id_from_filename(path) if check_id else notebook_id(nb, path)
    return validate(nb, path, expect_id=expect)
