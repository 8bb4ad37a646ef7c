"""The committed notebooks: in step with `release`, clean, well formed, and the exercises fail
where the solutions pass.  (nbval, configured in pyproject.toml, executes lessons/ and
solutions/; this file executes exercises/ as shipped.)"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from rnn_tutor import cli
from rnn_tutor.nbsource import id_from_filename, notebook_id

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("lessons", "solutions", "exercises")
NAME = re.compile(r"\d{2}_[a-z0-9]+(?:_[a-z0-9]+)*")


def _notebooks(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).glob("*.ipynb") if not p.name.startswith("."))


ALL = [p for folder in FOLDERS for p in _notebooks(folder)]
LESSONS = _notebooks("lessons")
EXERCISES = _notebooks("exercises")


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _markdown(cells) -> str:
    return "\n".join(c.source for c in cells if c.cell_type == "markdown")


def test_course_has_lessons():
    assert LESSONS, "lessons/ holds no notebooks"


def test_release_check_passes_on_the_repository(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    code = cli.main(["release", "--check"])
    assert code == 0, capsys.readouterr().err


def test_every_folder_has_the_same_numbered_names():
    stems = {folder: {id_from_filename(p) for p in _notebooks(folder)} for folder in FOLDERS}
    for folder, suffix in (("solutions", "_solutions"), ("exercises", "_exercises")):
        unsuffixed = sorted(p.name for p in _notebooks(folder) if not p.stem.endswith(suffix))
        assert not unsuffixed, f"{folder}/ names must end in {suffix}.ipynb: {unsuffixed}"
    bad = sorted(s for names in stems.values() for s in names if not NAME.fullmatch(s))
    assert not bad, f"notebook names must look like NN_name (lowercase): {bad}"
    for folder in ("solutions", "exercises"):
        assert stems[folder] == stems["lessons"], (
            f"{folder}/ differs from lessons/: missing {sorted(stems['lessons'] - stems[folder])},"
            f" extra {sorted(stems[folder] - stems['lessons'])}")


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_committed_notebook_has_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells, 1) if c.cell_type == "code"
             and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{_id(path)}: cells {dirty} (1-based) hold outputs or execution counts"
    assert "widgets" not in nb.metadata, f"{_id(path)} holds saved widget state"


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_notebook_id_equals_its_file_stem(path):
    assert notebook_id(nbformat.read(path, as_version=4), path) == id_from_filename(path)


#: A code cell that draws a figure: the course's plots and widgets, or matplotlib itself.
DRAWS = re.compile(r"\b(plots|widgets)\.[\w.]+\(|\bplt\.|\bmatplotlib\b|\.plot\(|\.imshow\(")


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_a_notebook_that_draws_sets_up_sharp_figures_in_its_first_code_cell(path):
    """Lessons, solutions and exercises alike: a figure is retina only after setup_figures()."""
    code = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    drawing = [i for i, source in enumerate(code, 1) if DRAWS.search(source)]
    if drawing:
        assert re.search(r"^setup_figures\(\)", code[0], re.M), (
            f"{_id(path)} draws (code cells {drawing[:5]}, 1-based) but its first code cell does not "
            "call setup_figures() (from rnn_tutor.display)")


@pytest.mark.parametrize("path", LESSONS, ids=_id)
def test_lesson_opens_with_objectives_and_ends_with_key_points_and_exercise_link(path):
    cells = nbformat.read(path, as_version=4).cells
    assert cells and cells[0].cell_type == "markdown" and cells[0].source.startswith("# "), (
        f"{_id(path)} must open with a title cell ('# ...')")
    heading = r"(^#+\s*{0}\b|\*\*{0}\*\*)"
    assert re.search(heading.format("Objectives"), _markdown(cells[:3]), re.M | re.I), (
        f"{_id(path)}: no Objectives in the first three cells")
    end = _markdown(cells[-3:])
    assert re.search(heading.format("Key points"), end, re.M | re.I), (
        f"{_id(path)}: no Key points in the last three cells")
    link = f"../exercises/{path.stem}_exercises.ipynb"
    assert f"]({link})" in end, f"{_id(path)}: the last cells do not link to {link}"
    assert (path.parent / link).resolve().is_file(), f"{link} does not exist"


def _graded_code_cells(nb) -> dict[str, object]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")}


def _errors(cell) -> list[str]:
    return [f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"]


@pytest.mark.parametrize("exercise", EXERCISES, ids=_id)
def test_graded_cells_fail_on_the_exercise_and_pass_on_the_solution(exercise, run_notebooks):
    solution = ROOT / "solutions" / f"{id_from_filename(exercise)}_solutions.ipynb"
    assert solution.is_file(), f"{_id(exercise)} has no {solution.relative_to(ROOT)}"
    ex, sol = run_notebooks((nbformat.read(exercise, as_version=4), exercise.parent),
                            (nbformat.read(solution, as_version=4), solution.parent))
    ex_graded, sol_graded = _graded_code_cells(ex), _graded_code_cells(sol)
    assert ex_graded, f"{_id(exercise)} has no graded code cells"
    assert list(ex_graded) == list(sol_graded), "graded cells differ from the solution's"
    for grade_id, cell in ex_graded.items():
        errors = _errors(cell)
        assert errors, f"{_id(exercise)}: graded cell {grade_id!r} passes on the stub"
        assert not any(e.startswith(("SyntaxError", "IndentationError")) for e in errors), (
            f"{_id(exercise)}: graded cell {grade_id!r} is broken: {errors}")
    for grade_id, cell in sol_graded.items():
        assert not _errors(cell), f"solutions: {grade_id!r} fails: {_errors(cell)}"
        stderr = [o.text for o in cell.outputs
                  if o.output_type == "stream" and o.name == "stderr"]
        assert not stderr, f"solutions: {grade_id!r} writes to stderr: {stderr}"


@pytest.mark.parametrize("path", LESSONS[:-1], ids=_id)
def test_lesson_ends_with_a_link_to_the_next_lesson(path):
    """A learner who finishes a lesson finds the next one from its last cells."""
    nxt = LESSONS[LESSONS.index(path) + 1]
    end = _markdown(nbformat.read(path, as_version=4).cells[-3:])
    assert f"]({nxt.name})" in end, f"{_id(path)}: the last cells do not link to {nxt.name}"
