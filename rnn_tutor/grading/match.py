"""Find submissions, read them defensively, and match each to its source notebook.

A submission is matched by the course id in its metadata
(``"rnn_tutor": {"id": "01_unfolding"}``), so a renamed file still grades; the file
name is only a fallback for a notebook whose metadata lost the id.  The student
identifier is the folder name under a submissions folder
(``submitted/alice/01_unfolding_exercises.ipynb`` -> ``alice``), else the file stem.

Reading never trusts the file: a size cap, JSON errors, another nbformat version
or a malformed cell list all become a :class:`Unreadable` with a clear reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

__all__ = ["MAX_FILE_BYTES", "Submission", "Unreadable", "LearnerCell", "LearnerNotebook",
           "find_submissions", "read_submission", "match_source", "load_sources"]

MAX_FILE_BYTES = 50 * 2**20


@dataclass(frozen=True)
class Submission:
    """One file to grade and the student it belongs to."""

    path: Path
    student: str


@dataclass(frozen=True)
class LearnerCell:
    """A cell of a submission, reduced to what grading uses."""

    index: int                 # 0-based position in the submission
    cell_type: str
    source: str
    grade_id: str | None
    cell_id: str | None


@dataclass
class LearnerNotebook:
    """A readable submission: its course id (None if absent) and its cells."""

    nb_id: str | None
    cells: list[LearnerCell]
    notes: list[str] = field(default_factory=list)


class Unreadable(Exception):
    """A submission that cannot be graded at all; ``status`` names the kind of problem."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def find_submissions(paths: Iterable[str | Path], exercise_ids: Iterable[str] = ()) -> list[Submission]:
    """Expand files and folders into submissions with student identifiers.

    A folder contributes every ``*.ipynb`` below it (hidden folders such as
    ``.ipynb_checkpoints`` skipped); the student is the first folder under it.  A
    file directly inside the folder, or given by name (then whatever its
    extension), belongs to the student named by its stem, or by the folder that
    holds it when the name is just an exercise's (``alice/01_unfolding_exercises.ipynb``).
    Raises ``FileNotFoundError`` for a missing path.
    """
    from rnn_tutor.nbsource import id_from_filename

    ids = set(exercise_ids)
    found: list[Submission] = []
    seen: set[Path] = set()
    for arg in paths:
        root = Path(arg)
        if root.is_dir():
            for path in sorted(root.rglob("*.ipynb")):
                if not path.is_file() or not _visible(path, root):
                    continue
                rel = path.relative_to(root)
                if len(rel.parts) > 1:
                    student = rel.parts[0]
                else:       # a student's own folder (alice/01_unfolding.ipynb), or a flat one
                    student = (root.resolve().name if id_from_filename(path) in ids and root.resolve().name
                               else path.stem)
                if path.resolve() not in seen:
                    seen.add(path.resolve())
                    found.append(Submission(path, student))
        elif root.is_file():
            parent = root.resolve().parent.name
            student = parent if id_from_filename(root) in ids and parent else root.stem
            if root.resolve() not in seen:
                seen.add(root.resolve())
                found.append(Submission(root, student))
        else:
            raise FileNotFoundError(f"no such file or folder: {root}")
    return found


def _text(source: Any) -> str:
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(s, str) for s in source):
        return "".join(source)
    return ""


def read_submission(path: Path) -> LearnerNotebook:
    """Read a submitted notebook leniently; raise :class:`Unreadable` if it is not one.

    Only what grading needs is taken: each cell's type, source text, nbgrader
    ``grade_id`` and cell id.  The file is opened for reading only.
    """
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise Unreadable("invalid", f"the file has {size / 2**20:.0f} MB; the limit is "
                             f"{MAX_FILE_BYTES // 2**20} MB")
        raw = path.read_bytes()
    except OSError as exc:
        raise Unreadable("invalid", f"cannot read the file ({exc.strerror or exc})") from None
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Unreadable("invalid", f"not a notebook: the file is not valid JSON "
                         f"({str(exc).splitlines()[0][:120]})") from None
    if not isinstance(data, dict) or "nbformat" not in data:
        raise Unreadable("invalid", "not a notebook: the JSON has no 'nbformat' field")
    version = data.get("nbformat")
    if version != 4:
        raise Unreadable("unsupported-format", f"nbformat {version!r} notebook; the grader reads "
                         "nbformat 4 (open and save it in JupyterLab or Jupyter Notebook 5+)")
    cells = data.get("cells")
    if not isinstance(cells, list):
        raise Unreadable("invalid", "not a notebook: 'cells' is not a list")
    meta = data.get("metadata") if isinstance(data.get("metadata"), Mapping) else {}
    course = meta.get("rnn_tutor")
    nb_id = course.get("id") if isinstance(course, Mapping) else None
    out, skipped = [], 0
    for i, cell in enumerate(cells):
        if not isinstance(cell, Mapping) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            skipped += 1
            continue
        cmeta = cell.get("metadata") if isinstance(cell.get("metadata"), Mapping) else {}
        nbg = cmeta.get("nbgrader")
        gid = nbg.get("grade_id") if isinstance(nbg, Mapping) else None
        cid = cell.get("id")
        out.append(LearnerCell(i, cell["cell_type"], _text(cell.get("source")),
                               gid if isinstance(gid, str) else None,
                               cid if isinstance(cid, str) else None))
    notes = [f"{skipped} malformed cell(s) ignored"] if skipped else []
    return LearnerNotebook(nb_id if isinstance(nb_id, str) and nb_id else None, out, notes)


def match_source(path: Path, learner: LearnerNotebook, sources: Mapping[str, Any]) -> tuple[str, str]:
    """Return ``(source id, note)`` for a submission; raise :class:`Unreadable` if none fits.

    The metadata id decides; without one, the file stem (exactly, or a stem that
    starts with exactly one known id such as ``01_unfolding-alice``).
    """
    if learner.nb_id is not None:
        if learner.nb_id in sources:
            return learner.nb_id, ""
        raise Unreadable("unknown-exercise", f"its course id {learner.nb_id!r} names no exercise "
                         f"(known: {', '.join(sorted(sources)) or 'none'})")
    from rnn_tutor.nbsource import id_from_filename

    stem = path.stem
    if id_from_filename(path) in sources:
        return id_from_filename(path), "no course id in the metadata: matched by file name"
    prefixed = [s for s in sources if stem.startswith(s)]
    if len(prefixed) == 1:
        return prefixed[0], "no course id in the metadata: matched by file name"
    raise Unreadable("unknown-exercise", "no course id in the notebook metadata and the file "
                     f"name {path.name!r} matches no exercise")


def load_sources(folder: Path) -> dict[str, Any]:
    """Validate every source notebook in ``folder``: ``{id: SourceNotebook}``.

    Raises ``ValueError`` listing every malformed notebook (an instructor's error:
    grading against a broken source would be unfair).
    """
    from rnn_tutor.nbsource import NotebookError, load_source

    if not folder.is_dir():
        raise ValueError(f"source folder {folder} does not exist")
    sources, errors = {}, []
    for path in sorted(folder.glob("*.ipynb")):
        if path.name.startswith("."):
            continue
        try:
            src = load_source(path)
        except NotebookError as exc:
            errors.append(str(exc))
            continue
        sources[src.id] = src
    if errors:
        raise ValueError("invalid source notebook(s):\n" + "\n".join(errors))
    return sources
