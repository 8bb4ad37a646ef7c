"""Fuzzing `rnn-tutor release`: it never loses a learner's byte and never ships a hidden test.

* markers: cells built from marker lines, look-alikes (invisible characters, form feeds,
  CR-only and CRLF line endings, a byte-order mark, keywords inside other text) and code;
  release either refuses the cell (a NotebookError naming cell and line) or produces exactly
  what nbgrader 0.9's ClearSolutions + ClearHiddenTests produce, and never a hidden test;
* malformed JSON shapes of a source or an exercise: exit code 1 or 2, never a traceback;
* concurrent saves: a learner saving while release runs never loses the last save;
* I/O failures: the message names the exercise and what was written; no hidden temporary
  file is left behind, and the learner's file is intact.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from pathlib import Path

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnn_tutor import release
from rnn_tutor.nbsource import NotebookError, SourceCell, find_regions, parse_nbgrader

SECRET = "assert SECRET_HIDDEN_CASE"
ANSWER = "SECRET_ANSWER = 42"

# ----------------------------------------------------------------------------- markers

INVISIBLE = ["\u200b", "\ufeff", "\x0c", "\u00a0", "\u2060", "\t", " ", "\r"]
CODE = ["x = 1", "def f(x):", "    return x", "", "print('END')", "# the solution ends here"] * 3 + [
    'note = "### END SOLUTION here"', "# BEGIN HIDDEN TESTS below", "## BEGIN SOLUTION", "### begin solution",
    "### BEGIN  SOLUTION"]
BODY = [SECRET, ANSWER, "    y = 2", ""]
KINDS = [("### BEGIN SOLUTION", "### END SOLUTION"), ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")]


@st.composite
def cell_sources(draw) -> str:
    """Code around zero to two marker regions; each line may get an invisible character or an
    unusual space before or after it; then one line ending for the whole cell, maybe a BOM."""
    lines = draw(st.lists(st.sampled_from(CODE), max_size=3))
    for _ in range(draw(st.integers(0, 2))):
        begin, end = draw(st.sampled_from(KINDS))
        indent = draw(st.sampled_from(["", "    "]))
        lines += [indent + begin, *draw(st.lists(st.sampled_from(BODY), min_size=1, max_size=3)), indent + end]
        lines += draw(st.lists(st.sampled_from(CODE), max_size=2))
    out = []
    for line in lines:
        if draw(st.integers(0, 9)) == 0:
            odd = draw(st.sampled_from(INVISIBLE))
            line = odd + line if draw(st.booleans()) else line + odd
        out.append(line)
    text = draw(st.sampled_from(["\n"] * 6 + ["\r\n", "\r"])).join(out)
    return ("\ufeff" + text) if draw(st.integers(0, 19)) == 0 else text


def nbgrader_view(source: str, cell_type: str, solution: bool, grade: bool) -> str:
    """What nbgrader 0.9.6 makes of the cell (ClearSolutions, then ClearHiddenTests)."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    meta = {"nbgrader": {"schema_version": 3, "solution": solution, "grade": grade, "locked": not solution,
                         "grade_id": "c", **({"points": 1} if grade else {})}}
    cell = (nbformat.v4.new_code_cell if cell_type == "code" else nbformat.v4.new_markdown_cell)(
        source, metadata=copy.deepcopy(meta))
    resources = {"language": "python"}
    cell, _ = ClearSolutions().preprocess_cell(cell, resources, 0)
    cell, _ = ClearHiddenTests().preprocess_cell(cell, resources, 0)
    return cell.source


def our_view(source: str, cell_type: str, solution: bool, grade: bool) -> str:
    meta = {"nbgrader": {"schema_version": 3, "solution": solution, "grade": grade, "locked": not solution,
                         "grade_id": "c", **({"points": 1} if grade else {})}}
    cell = (nbformat.v4.new_code_cell if cell_type == "code" else nbformat.v4.new_markdown_cell)(source)
    regions = find_regions(source, "fuzz.ipynb", 1)
    kinds = {r.kind for r in regions}
    if ("solution" in kinds and not solution) or ("hidden tests" in kinds and not (grade and cell_type == "code")):
        raise NotebookError("fuzz.ipynb", "region in the wrong kind of cell", 1)
    return release.exercise_source(SourceCell(1, cell, parse_nbgrader(meta), regions))


ROLES = st.sampled_from([("code", True, False), ("code", False, True), ("markdown", True, False),
                         ("code", False, False)])


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=cell_sources(), role=ROLES)
def test_markers_agree_with_nbgrader_or_the_cell_is_refused(source, role):
    pytest.importorskip("nbgrader") if os.environ.get("CI") != "true" else None
    try:
        ours = our_view(source, *role)
    except NotebookError as exc:
        assert exc.cell == 1 and (exc.line is None or exc.line >= 1), str(exc)
        return
    theirs = nbgrader_view(source, *role)
    assert ours == theirs


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=cell_sources(), role=ROLES)
def test_no_hidden_test_or_answer_ever_ships(source, role):
    """Whatever release accepts: a hidden line inside a region never reaches the learner."""
    try:
        regions = find_regions(source, "fuzz.ipynb", 1)
        ours = our_view(source, *role)
    except NotebookError:
        return
    lines = source.split("\n")
    hidden = {i for r in regions for i in range(r.begin, r.end + 1)}
    secrets = [lines[i] for i in hidden if SECRET in lines[i] or ANSWER in lines[i]]
    for secret in secrets:
        assert secret not in ours.split("\n") or lines.count(secret) > sum(
            1 for i in hidden if lines[i] == secret)
    if role[1] and not any(r.kind == "solution" for r in regions):
        assert ANSWER not in ours                      # a solution cell without markers: all stub


def test_the_issues_examples_are_refused_with_cell_and_line():
    cases = {
        'x = 1\nnote = "### END SOLUTION here"\n': 2,
        "check(f)\n\u200b### BEGIN HIDDEN TESTS\nsecret\n### END HIDDEN TESTS": 2,
        "check(f)\n\x0c### BEGIN HIDDEN TESTS\nsecret\n### END HIDDEN TESTS": 2,
        "check(f)\r### BEGIN HIDDEN TESTS\rsecret\r### END HIDDEN TESTS": 1,
        "\ufeff### BEGIN SOLUTION\nx = 1\n### END SOLUTION": 1,
    }
    for source, line in cases.items():
        with pytest.raises(NotebookError) as info:
            find_regions(source, "s.ipynb", 4)
        assert (info.value.cell, info.value.line) == (4, line), (source, str(info.value))
        assert str(info.value).startswith("s.ipynb, cell 4 (1-based), line")


def test_crlf_markers_are_markers():
    source = "def f():\r\n    ### BEGIN SOLUTION\r\n    return 1\r\n    ### END SOLUTION\r\n"
    (region,) = find_regions(source)
    assert (region.begin, region.end, region.indent) == (1, 3, "    ")


# ----------------------------------------------------------------------------- malformed JSON shapes

def _demo_source(root: Path) -> Path:
    cells = [nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                                       metadata={"nbgrader": {"schema_version": 3, "solution": True, "grade": False,
                                                              "locked": False, "grade_id": "f"}}),
             nbformat.v4.new_code_cell("assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(2) == 4\n"
                                       "### END HIDDEN TESTS",
                                       metadata={"nbgrader": {"schema_version": 3, "solution": False, "grade": True,
                                                              "locked": True, "grade_id": "check_f", "points": 1}})]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"rnn_tutor": {"id": "01_demo"}})
    path = root / "solutions" / "01_demo_solutions.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=8)
PLACES = [("cells",), ("cells", 0), ("cells", 0, "source"), ("cells", 0, "metadata"),
          ("cells", 0, "metadata", "nbgrader"), ("cells", 1, "metadata", "nbgrader", "points"),
          ("metadata",), ("metadata", "rnn_tutor"), ("cells", 0, "cell_type"), ("nbformat",), ()]


def _put(doc, place, value):
    if not place:
        return value
    target = doc
    for key in place[:-1]:
        target = target[key]
    target[place[-1]] = value
    return doc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(place=st.sampled_from(PLACES), value=JSON, which=st.sampled_from(["source", "exercise"]))
def test_malformed_shapes_are_input_errors_never_tracebacks(tmp_path_factory, place, value, which):
    root = tmp_path_factory.mktemp("shape")
    src = _demo_source(root)
    out, err = [], []
    assert release.run(str(root / "solutions"), str(root / "exercises"), out=out.append, err=err.append) == 0
    path = src if which == "source" else root / "exercises" / "01_demo_exercises.ipynb"
    doc = _put(json.loads(path.read_text()), place, value)
    path.write_text(json.dumps(doc))
    before = path.read_bytes()
    for args in ({"check_only": True}, {}, {"force": True}):
        code = release.run(str(root / "solutions"), str(root / "exercises"), out=out.append, err=err.append, **args)
        assert code in (0, 1, 2)
    assert all("Traceback" not in line for line in err)
    if which == "source":
        assert path.read_bytes() == before
    else:
        backups = list(path.parent.glob("*.bak-*"))
        assert path.read_bytes() == before or any(b.read_bytes() == before for b in backups)


# ----------------------------------------------------------------------------- concurrent saves

def _released(root: Path) -> tuple[Path, Path]:
    src = _demo_source(root)
    release.release(root / "solutions", root / "exercises", log=lambda _: None)
    nb = nbformat.read(src, as_version=4)
    nb.cells[1].source = nb.cells[1].source.replace("assert f(1) == 2", "assert f(1) == 2  # revised")
    nbformat.write(nb, src)                                 # the exercise is now stale
    return src, root / "exercises" / "01_demo_exercises.ipynb"


def _save(dest: Path, k: int, edit: bool) -> bytes:
    """A learner's save, atomic like JupyterLab's: outputs (or an edit) numbered k."""
    nb = json.loads(dest.read_text()) if dest.exists() else None
    if nb is None or "cells" not in nb:
        nb = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    text = json.dumps({**nb, "learner_save": k, "edit": edit}, sort_keys=True).encode()
    tmp = dest.with_name(f".save-{k}")
    tmp.write_bytes(text)
    os.replace(tmp, dest)
    return text


@pytest.mark.parametrize("seed", range(25))
def test_a_save_landing_while_release_runs_is_never_lost(tmp_path, seed):
    _, dest = _released(tmp_path)
    saves: list[bytes] = []
    stop = threading.Event()

    def learner() -> None:
        k = 0
        while not stop.is_set() and k < 400:
            saves.append(_save(dest, k, edit=seed % 2 == 0))
            k += 1
            time.sleep((seed % 5) * 1e-4)

    thread = threading.Thread(target=learner)
    thread.start()
    time.sleep((seed % 7) * 3e-4)
    try:
        release.release(tmp_path / "solutions", tmp_path / "exercises", force=True,
                        log=lambda _: None, warn=lambda _: None)
    except release.ReleaseError:
        pass                                                # refused: nothing written
    time.sleep(0.002)
    stop.set()
    thread.join()
    final = dest.read_bytes()
    backups = [b.read_bytes() for b in dest.parent.glob("*.bak-*")]
    if saves and final not in saves:                        # release's text is the last word...
        assert saves[-1] in backups                         # ...so the learner's last save is kept
    assert not [p for p in dest.parent.iterdir() if p.name.startswith(f".{dest.name}.")]


# ----------------------------------------------------------------------------- I/O failures

@pytest.mark.parametrize("fail_at", ["temp", "exchange", "link"])
def test_an_io_failure_names_the_exercise_and_leaves_the_learners_file(tmp_path, monkeypatch, fail_at):
    _, dest = _released(tmp_path)
    ran = _save(dest, 1, edit=False)
    real_temp, real_exchange = release._temp_file, release._exchange

    def broken(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(dest.parent / ".secret-temp"))
    if fail_at == "temp":
        monkeypatch.setattr(release, "_temp_file", broken)
    elif fail_at == "exchange":
        monkeypatch.setattr(release, "_exchange", broken)
    else:
        monkeypatch.setattr(release, "_keep", broken)
    err = []
    code = release.run(str(tmp_path / "solutions"), str(tmp_path / "exercises"), force=True,
                       out=lambda _: None, err=err.append)
    assert code == 2, err
    message = " ".join(err)
    assert "01_demo_exercises.ipynb" in message and "Permission denied" in message
    assert ".secret-temp" not in message and ".tmp" not in message
    assert not [p for p in dest.parent.iterdir() if p.name.startswith(".")]
    kept = [dest.read_bytes()] + [b.read_bytes() for b in dest.parent.glob("*.bak-*")]
    assert ran in kept
    monkeypatch.setattr(release, "_temp_file", real_temp)
    monkeypatch.setattr(release, "_exchange", real_exchange)


def _read_only_run(root: Path, folder: Path) -> tuple[int, str]:
    """``rnn-tutor release`` with ``folder`` read-only: chmod for a user, a read-only bind mount
    (bubblewrap) for root, who ignores permissions."""
    import shutil
    import subprocess
    import sys
    cmd = [sys.executable, "-m", "rnn_tutor", "release", "--source", str(root / "solutions"), "--dest", str(folder)]
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        finally:
            folder.chmod(0o755)
    elif shutil.which("bwrap"):
        proc = subprocess.run(["bwrap", "--bind", "/", "/", "--ro-bind", str(folder), str(folder), "--dev", "/dev",
                               "--proc", "/proc", *cmd], capture_output=True, text=True, timeout=120)
    else:
        pytest.skip("as root a read-only folder needs bubblewrap (apt-get install bubblewrap)")
    return proc.returncode, proc.stdout + proc.stderr


def test_a_read_only_exercises_folder_is_named_and_left_intact(tmp_path):
    _, dest = _released(tmp_path)
    before = {p.name: p.read_bytes() for p in dest.parent.iterdir()}
    code, output = _read_only_run(tmp_path, dest.parent)
    assert code == 2, output
    assert "01_demo_exercises.ipynb" in output and "nothing was written" in output and "Traceback" not in output
    assert ".tmp" not in output
    assert {p.name: p.read_bytes() for p in dest.parent.iterdir()} == before


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "read-then-rename"])
def test_a_save_between_inspection_and_write_is_backed_up(tmp_path, monkeypatch, exchange):
    """The exercise was pristine when release looked at it; the learner saves just after."""
    _, dest = _released(tmp_path)
    real_plan = release.plan
    saved = []

    def plan_then_save(*args, **kwargs):
        targets = real_plan(*args, **kwargs)
        assert targets[0].status == "stale"
        saved.append(_save(dest, 7, edit=True))
        return targets
    monkeypatch.setattr(release, "plan", plan_then_save)
    if not exchange:
        monkeypatch.setattr(release, "_exchange", lambda a, b: False)
    logs = []
    release.release(tmp_path / "solutions", tmp_path / "exercises", log=logs.append)
    (backup,) = dest.parent.glob("*.bak-*")
    assert backup.read_bytes() == saved[0] and any("backed up" in line for line in logs)
    assert "revised" in dest.read_text()


def test_an_io_failure_part_way_rolls_back_the_exercises_already_written(tmp_path, monkeypatch):
    src, dest = _released(tmp_path)
    second = src.with_name("02_more_solutions.ipynb")             # a second exercise, released too
    second.write_bytes(src.read_bytes().replace(b'"01_demo"', b'"02_more"'))
    release.release(tmp_path / "solutions", tmp_path / "exercises", log=lambda _: None)
    for path in (src, second):                                    # both sources change
        nb = nbformat.read(path, as_version=4)
        nb.cells[1].source += "\nprint('revised again')"
        nbformat.write(nb, path)
    ran = _save(dest, 3, edit=False)                              # the first one was run: a backup is due
    dest2 = dest.with_name("02_more_exercises.ipynb")
    before = {p.name: p.read_bytes() for p in dest.parent.iterdir()}
    real = release.replace_exercise

    def fail_on_second(path, data, safe=None):
        if path == dest2:
            raise OSError(28, "No space left on device", str(path.with_name(".x.tmp")))
        return real(path, data, safe)
    monkeypatch.setattr(release, "replace_exercise", fail_on_second)
    err = []
    assert release.run(str(tmp_path / "solutions"), str(tmp_path / "exercises"), out=lambda _: None,
                       err=err.append) == 2
    message = " ".join(err)
    assert "could not write" in message and "02_more_exercises.ipynb" in message and "No space left" in message
    assert "rolled back" in message and "01_demo_exercises.ipynb" in message and "backups kept" in message
    assert dest.read_bytes() == ran and dest2.read_bytes() == before[dest2.name]
    (backup,) = dest.parent.glob("01_demo_exercises.ipynb.bak-*")
    assert backup.read_bytes() == ran
    assert not [p for p in dest.parent.iterdir() if p.name.startswith(".")]
