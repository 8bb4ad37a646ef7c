"""Unit tests of rnn_tutor.nbsource and `rnn-tutor release` on synthetic notebooks."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import nbformat
import pytest

from rnn_tutor import __version__, cli, release
from rnn_tutor.nbsource import NotebookError, load_source, read_notebook

STEP = '''def step(x):
    """Double x."""
    ### BEGIN SOLUTION
    y = 2 * x
    return y
    ### END SOLUTION


def twice(x):
    return step(step(x))'''
CHECK = '''assert step(2) == 4
### BEGIN HIDDEN TESTS
assert step(-3) == -6
### END HIDDEN TESTS
print("ok")'''


@pytest.fixture
def course(tmp_path, nb_cell, write_notebook):
    """A course folder with solutions/01_demo.ipynb; returns a helper namespace."""
    cells = [
        nb_cell("markdown", "# Demo\n\nDouble a number.", locked=True, grade_id="intro"),
        nb_cell("code", STEP, solution=True, grade_id="step", tags=["keep-me"]),
        nb_cell("code", CHECK, grade=True, locked=True, grade_id="check_step", points=2),
        nb_cell("markdown", "Why share the weights?\n\nBecause ...", solution=True,
                grade=True, grade_id="why", points=1),
        nb_cell("code", "### BEGIN SOLUTION\nanswer = 3\n### END SOLUTION\n", solution=True,
                grade_id="answer"),
        nb_cell("code", "total = 0\nfor i in range(3):\n    total += i", solution=True,
                grade_id="loop"),
        nb_cell("code", "assert answer == 3", grade=True, locked=True,
                grade_id="check_answer", points=1.5),
    ]
    cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="ok\n")]
    cells[2].execution_count = 7
    cells[2].metadata["execution"] = {"iopub.status.busy": "2024-01-01T00:00:00"}
    src = write_notebook(tmp_path / "solutions" / "01_demo.ipynb", cells)
    ns = types.SimpleNamespace(root=tmp_path, src=src, sol=tmp_path / "solutions",
                               ex=tmp_path / "exercises",
                               dest=tmp_path / "exercises" / "01_demo.ipynb")
    ns.cli = lambda *extra: cli.main(["release", "--source", str(ns.sol),
                                      "--dest", str(ns.ex), *extra])
    return ns


def _sources(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


# ---------------------------------------------------------------- nbsource ---------------

def test_load_source_reports_cells_regions_and_metadata(course):
    src = load_source(course.src)
    assert src.id == "01_demo"
    assert [c.number for c in src.cells] == list(range(1, 8))
    assert [c.grade_id for c in src.graded_cells()] == ["check_step", "why", "check_answer"]
    assert src.total_points == 4.5
    step = src.by_grade_id()["step"]
    assert step.is_solution and not step.is_graded and not step.is_locked
    (region,) = step.regions
    assert (region.kind, region.begin, region.end, region.indent) == ("solution", 2, 5, "    ")
    (hidden,) = src.by_grade_id()["check_step"].regions
    assert (hidden.kind, hidden.begin, hidden.end) == ("hidden tests", 1, 3)


def test_read_notebook_gives_missing_cell_ids_deterministic_values(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    raw = json.loads(nbformat.writes(nb))
    del raw["cells"][0]["id"]
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(raw))
    assert read_notebook(path).cells[0].id == read_notebook(path).cells[0].id


# ---------------------------------------------------------------- transformation ---------

def test_release_writes_the_learner_version(course):
    assert course.cli() == 0
    intro, step, check, why, answer, loop, check_answer = _sources(course.dest)
    assert intro == "# Demo\n\nDouble a number."
    assert step == ('def step(x):\n    """Double x."""\n    # YOUR CODE HERE\n'
                    '    raise NotImplementedError()\n\n\ndef twice(x):\n    return step(step(x))')
    assert check == 'assert step(2) == 4\nprint("ok")'
    assert why == "YOUR ANSWER HERE"
    assert answer == "# YOUR CODE HERE\nraise NotImplementedError()\n"
    assert loop == "# YOUR CODE HERE\nraise NotImplementedError()"
    assert check_answer == "assert answer == 3"


def test_hidden_tests_are_removed_as_nbgrader_removes_them(tmp_path, nb_cell, write_notebook):
    """Only the marker lines and what is between them go (nbgrader's ClearHiddenTests)."""
    cell = nb_cell("code", "assert f(1) == 2\n\n### BEGIN HIDDEN TESTS\nassert f(2) == 4\n"
                   "### END HIDDEN TESTS\n", grade=True, locked=True, grade_id="t", points=1)
    src = write_notebook(tmp_path / "s" / "01_t.ipynb", [cell])
    (info,) = load_source(src).cells
    assert release.exercise_source(info) == "assert f(1) == 2\n\n"


def test_regions_are_found_by_newline_only(tmp_path, nb_cell, write_notebook):
    cell = nb_cell("code", "x = '\x0c\r'\n### BEGIN SOLUTION\ny = 1\n### END SOLUTION\nz = 2",
                   solution=True, grade_id="s")
    (info,) = load_source(write_notebook(tmp_path / "s" / "01_t.ipynb", [cell])).cells
    assert release.exercise_source(info) == ("x = '\x0c\r'\n# YOUR CODE HERE\n"
                                             "raise NotImplementedError()\nz = 2")


def test_release_clears_outputs_and_keeps_metadata(course):
    course.cli()
    nb = nbformat.read(course.dest, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
        assert "execution" not in cell.metadata
    assert nb.cells[1].metadata["tags"] == ["keep-me"]
    assert nb.cells[2].metadata["nbgrader"] == {
        "schema_version": 3, "grade": True, "solution": False, "locked": True,
        "grade_id": "check_step", "points": 2}
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.metadata["rnn_tutor"]["id"] == "01_demo"
    assert nb.metadata["rnn_tutor"]["release"]["sha256"] == release.content_hash(nb)
    assert [c.id for c in nb.cells] == [f"cell-{i}" for i in range(1, 8)]


def test_release_is_deterministic_and_idempotent(course, tmp_path):
    course.cli()
    first = course.dest.read_bytes()
    assert first.endswith(b"}\n") and b"\n \"cells\": [\n" in first
    assert first.decode() == release.notebook_text(nbformat.reads(first.decode(), 4))
    mtime = course.dest.stat().st_mtime_ns
    assert course.cli() == 0
    assert course.dest.read_bytes() == first
    assert course.dest.stat().st_mtime_ns == mtime         # current: not rewritten
    other = tmp_path / "other"
    assert cli.main(["release", "--source", str(course.sol), "--dest", str(other)]) == 0
    assert (other / "01_demo.ipynb").read_bytes() == first


# ---------------------------------------------------------------- --check ----------------

def test_check_names_missing_stale_and_orphan_notebooks(course, capsys, nb_cell,
                                                        write_notebook):
    assert course.cli("--check") == 1
    assert "01_demo.ipynb: missing" in capsys.readouterr().err
    assert not course.ex.exists()                          # --check writes nothing
    assert course.cli() == 0
    assert course.cli("--check") == 0
    nb = nbformat.read(course.src, as_version=4)
    nb.cells[0].source += "\n\nA new sentence."
    nbformat.write(nb, course.src)
    write_notebook(course.ex / "02_gone.ipynb", [nb_cell("code", "x = 1")])
    capsys.readouterr()
    before = _snapshot(course.ex)
    assert course.cli("--check") == 1
    err = capsys.readouterr().err
    assert "01_demo.ipynb: stale" in err and "02_gone.ipynb: orphan" in err
    assert _snapshot(course.ex) == before


def _run_with_outputs(path: Path) -> bytes:
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].outputs = [nbformat.v4.new_output("error", ename="NameError", evalue="x", traceback=[])]
    nb.cells[2].execution_count = 1
    nbformat.write(nb, path)
    return path.read_bytes()


def test_executed_exercise_is_kept_while_its_source_is_unchanged(course):
    course.cli()
    ran = _run_with_outputs(course.dest)
    assert release.plan(course.sol, course.ex)[0].status == "current"
    assert course.cli() == 0 and course.cli("--check") == 0
    assert course.dest.read_bytes() == ran


def test_executed_exercise_is_backed_up_before_an_update(course, capsys):
    """Only run (no edits): updated without --force, but its outputs are kept in a backup."""
    course.cli()
    ran = _run_with_outputs(course.dest)
    nb = nbformat.read(course.src, as_version=4)
    nb.cells[0].source = "# Demo, revised"
    nbformat.write(nb, course.src)
    assert release.plan(course.sol, course.ex)[0].status == "changed"
    capsys.readouterr()
    assert course.cli("--check") == 1
    err = capsys.readouterr().err
    assert "01_demo.ipynb: changed" in err and "will be kept as 01_demo.ipynb.bak-<timestamp>" in err
    assert course.cli() == 0
    (backup,) = course.ex.glob("01_demo.ipynb.bak-*")
    assert backup.read_bytes() == ran and "backed up" in capsys.readouterr().out
    assert _sources(course.dest)[0] == "# Demo, revised"
    assert course.cli("--check") == 0


def test_pristine_exercise_is_replaced_without_a_backup(course):
    course.cli()
    nb = nbformat.read(course.src, as_version=4)
    nb.cells[0].source = "# Demo, revised"
    nbformat.write(nb, course.src)
    assert course.cli() == 0
    assert not list(course.ex.glob("*.bak-*"))


# ---------------------------------------------------------------- learner's work ---------

def _learner_edits(path: Path) -> bytes:
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].source = nb.cells[1].source.replace("raise NotImplementedError()",
                                                    "return x + x")
    nbformat.write(nb, path)
    return path.read_bytes()


def test_edited_exercise_is_refused_and_force_keeps_a_backup(course, capsys):
    course.cli()
    work = _learner_edits(course.dest)
    nb = nbformat.read(course.src, as_version=4)
    nb.cells[0].source = "# Demo, revised"
    nbformat.write(nb, course.src)
    capsys.readouterr()
    assert course.cli() == 1
    err = capsys.readouterr().err
    assert "refusing to overwrite" in err and "01_demo.ipynb" in err and "--force" in err
    assert course.dest.read_bytes() == work
    assert course.cli("--check") == 1
    err = capsys.readouterr().err
    assert "01_demo.ipynb: edited" in err
    assert "run `rnn-tutor release --force` to replace it; the current file will be kept as" in err
    assert course.cli("--force") == 0
    backups = sorted(course.ex.glob("01_demo.ipynb.bak-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == work
    assert "backed up" in capsys.readouterr().out
    assert _sources(course.dest)[0] == "# Demo, revised"
    assert release.list_notebooks(course.ex) == [course.dest]  # the backup is no notebook
    assert course.cli("--check") == 0
    _learner_edits(course.dest)
    assert course.cli("--force") == 0                          # a second backup, new name
    assert len(list(course.ex.glob("01_demo.ipynb.bak-*"))) == 2


def test_exercise_not_made_by_release_is_refused(course, write_notebook, nb_cell):
    write_notebook(course.dest, [nb_cell("code", "my own notes")])
    before = course.dest.read_bytes()
    assert course.cli() == 1
    assert course.dest.read_bytes() == before


def test_unreadable_exercise_is_refused(course):
    course.ex.mkdir()
    course.dest.write_text("{ half a notebook")
    assert release.plan(course.sol, course.ex)[0].status == "edited"
    assert course.cli() == 1


# ---------------------------------------------------------------- malformed sources ------

def _break(cells, how):
    """Apply one defect to the demo cells; return the 1-based cell number it affects."""
    if how == "unterminated BEGIN SOLUTION":
        cells[1].source = cells[1].source.replace("    ### END SOLUTION\n", "")
        return 2
    if how == "duplicate grade_id":
        cells[6].metadata["nbgrader"]["grade_id"] = "check_step"
        return 7
    if how == "stray END":
        cells[4].source = "answer = 3\n### END SOLUTION"
        return 5
    if how == "nested":
        cells[1].source = cells[1].source.replace("    return y", "    ### BEGIN SOLUTION")
        return 2
    if how == "missing points":
        del cells[2].metadata["nbgrader"]["points"]
        return 3
    if how == "bad grade_id":
        cells[1].metadata["nbgrader"]["grade_id"] = "step one"
        return 2
    if how == "solution outside a solution cell":
        cells[0].source = "### BEGIN SOLUTION\nx\n### END SOLUTION"
        return 1
    if how == "hidden tests outside a graded cell":
        cells[4].source = "### BEGIN HIDDEN TESTS\nx\n### END HIDDEN TESTS"
        return 5
    if how == "misspelt marker":
        cells[1].source = cells[1].source.replace("### END SOLUTION", "## END SOLUTION")
        return 2
    if how == "schema version":
        cells[2].metadata["nbgrader"]["schema_version"] = 2
        return 3
    raise AssertionError(how)


DEFECTS = ["unterminated BEGIN SOLUTION", "duplicate grade_id", "stray END", "nested",
           "missing points", "bad grade_id", "solution outside a solution cell",
           "hidden tests outside a graded cell", "misspelt marker", "schema version"]


@pytest.mark.parametrize("how", DEFECTS)
def test_malformed_source_fails_with_file_and_cell_and_writes_nothing(course, capsys, how):
    course.cli()
    nb = nbformat.read(course.src, as_version=4)
    nb.cells[0].source = "# Demo, revised"                 # the exercise is now stale
    nbformat.write(nb, course.src)
    good = course.sol / "00_good.ipynb"                    # a valid sibling: not written
    good.write_bytes(course.src.read_bytes().replace(b'"01_demo"', b'"00_good"'))
    cell = _break(nb.cells, how)
    nbformat.write(nb, course.src)
    before = _snapshot(course.ex)
    capsys.readouterr()
    with pytest.raises(NotebookError) as info:
        load_source(course.src)
    assert info.value.cell == cell and info.value.path == course.src
    assert course.cli() == 2
    err = capsys.readouterr().err.strip()
    assert "01_demo.ipynb" in err and f"cell {cell} (1-based)" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert _snapshot(course.ex) == before
    assert course.cli("--force") == 2
    assert _snapshot(course.ex) == before


@pytest.mark.parametrize("meta, message", [
    ({}, "lacks the course id"),
    ({"rnn_tutor": {"id": "01_other"}}, "does not match the file name"),
])
def test_course_id_must_exist_and_equal_the_stem(tmp_path, nb_cell, write_notebook, meta,
                                                 message, capsys):
    path = write_notebook(tmp_path / "s" / "01_x.ipynb", [nb_cell("code", "x = 1")], None)
    nb = nbformat.read(path, as_version=4)
    nb.metadata.update(meta)
    nbformat.write(nb, path)
    with pytest.raises(NotebookError, match=message):
        load_source(path)
    assert cli.main(["release", "--source", str(path.parent), "--dest",
                     str(tmp_path / "e")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "e").exists()


def test_not_a_notebook_is_an_input_error(tmp_path, capsys):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "01_x.ipynb").write_text("not json")
    assert cli.main(["release", "--source", str(tmp_path / "s"), "--dest",
                     str(tmp_path / "e")]) == 2
    assert "01_x.ipynb: not valid JSON" in capsys.readouterr().err


# ---------------------------------------------------------------- folders and CLI --------

def test_source_and_dest_must_differ(course, capsys):
    assert cli.main(["release", "--source", str(course.sol), "--dest", str(course.sol)]) == 2
    assert "same folder" in capsys.readouterr().err


def test_course_root_is_found_from_a_subfolder(course, monkeypatch):
    (course.root / "exercises" / "deep").mkdir(parents=True)
    monkeypatch.chdir(course.root / "exercises" / "deep")
    assert cli.main(["release"]) == 0
    assert course.dest.exists()
    assert release.find_course_root() == course.root


def test_missing_course_root_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    if any((p / "solutions").is_dir() for p in tmp_path.resolve().parents):
        pytest.skip("a parent of the temporary folder holds solutions/")
    assert cli.main(["release", "--check"]) == 2
    err = capsys.readouterr().err
    assert "cannot find the course root" in err and "Traceback" not in err


def test_version_and_usage_errors(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["--version"])
    assert capsys.readouterr().out.strip() == f"rnn-tutor {__version__}"
    assert cli.main(["--version"]) == 0
    assert cli.main(["release", "--check", "--force"]) == 2
    assert cli.main(["bogus"]) == 2
    assert cli.main([]) == 2


def test_grade_passes_its_arguments_to_the_grader(monkeypatch):
    seen = []
    fake = types.ModuleType("rnn_tutor.grading.cli")
    fake.main = lambda argv: seen.append(argv) or 0
    monkeypatch.setitem(sys.modules, "rnn_tutor.grading.cli", fake)
    monkeypatch.setattr(cli.importlib, "import_module", lambda name: sys.modules[name])
    assert cli.main(["grade", "--help", "x.ipynb"]) == 0
    assert seen == [["--help", "x.ipynb"]]


def test_grade_without_the_grader_is_a_clear_error(monkeypatch, capsys):
    def missing(name):
        raise ModuleNotFoundError(f"No module named {name!r}", name="rnn_tutor.grading")
    monkeypatch.setattr(cli.importlib, "import_module", missing)
    assert cli.main(["grade", "subs/"]) == 2
    assert "grading is not available" in capsys.readouterr().err


def test_release_names_exercises_apart_from_solutions_and_lessons(tmp_path, nb_cell, write_notebook):
    """solutions/NN_x_solutions.ipynb -> exercises/NN_x_exercises.ipynb; the id stays NN_x."""
    from rnn_tutor.nbsource import exercise_filename, id_from_filename

    cells = [nb_cell("code", "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
                     grade_id="f", solution=True)]
    src = write_notebook(tmp_path / "solutions" / "03_x_solutions.ipynb", cells, "03_x")
    release.release(tmp_path / "solutions", tmp_path / "exercises")
    made = sorted(p.name for p in (tmp_path / "exercises").glob("*.ipynb"))
    assert made == ["03_x_exercises.ipynb"]
    assert nbformat.read(tmp_path / "exercises" / made[0], as_version=4).metadata["rnn_tutor"]["id"] == "03_x"
    assert release.check(tmp_path / "solutions", tmp_path / "exercises") == []
    assert id_from_filename(src) == id_from_filename("03_x_exercises.ipynb") == "03_x"
    assert id_from_filename("_solutions.ipynb") == "_solutions"      # nothing left to name
    assert exercise_filename("01_demo.ipynb") == "01_demo.ipynb"       # no suffix: same name
