"""The shortcut guard in `rnn-tutor grade`: answers that call the library score 0 there too.

The grader calls the learner's function in the kernel under the same guard as the notebook
(``rnn_tutor.grading.serial.kernel_call(..., forbidden=check.forbidden)``).  Every exercise is
graded once with every answer replaced by a call of the check's own reference (through
``rnn_tutor.checks.REGISTRY``), and exercise 01 once with library wrappers in several forms;
the honest solutions keep full marks (tests/test_grading_run.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grading_fixtures import Builder, write
from rnn_tutor.checks import REGISTRY
from rnn_tutor.grading.cli import grade_all
from rnn_tutor.grading.grade import Options
from rnn_tutor.grading.match import find_submissions
from rnn_tutor.nbsource import id_from_filename

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("*_solutions.ipynb"))

HEAD = 'dict(w_x=w_x, w_h=w_h, b_h=b_h, w_y=np.zeros((1, len(b_h))), b_y=np.zeros(1))'
LIBRARY_01 = {
    "check_rnn_step": ("import rnn_tutor as r\n"
                       "def rnn_step(x_t, h_prev, w_x, w_h, b_h):\n"
                       f"    return r.rnn.rnn_forward(x_t[None], {HEAD}, h_prev)[0][0]\n"),
    "check_rnn_forward": ("import importlib\n"
                          "def rnn_forward(xs, params, h_0):\n"
                          "    return getattr(importlib.import_module('rnn_tutor.rnn'), 'rnn_forward')(xs, params, h_0)[:2]\n"),
    "check_n_params": ("from rnn_tutor.rnn import count_params as _count\n"
                       "def n_params(d, m, q, T):\n"
                       "    return _count(d, m, q)\n"),
    "check_final_states": ("from rnn_tutor import masking as M, rnn as R\n"
                           "def final_states(xs, lengths, params):\n"
                           "    return M.last_valid(R.rnn_forward(xs, params)[0], lengths)\n"),
}


def checks_of(nb_id: str) -> list:
    return [c for c in REGISTRY.values() if c.notebook == nb_id]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("shortcuts")
    files = {}
    for path in SOLUTIONS:
        nb_id = id_from_filename(path)
        builder = Builder(path, checks_of(nb_id))
        nb = builder.solution()
        for check in builder.checks:
            nb = builder.replace(nb, check, "from rnn_tutor.checks import REGISTRY as _R\n"
                                 f"def {check.target}(*args, **kwargs):\n"
                                 f"    return _R[({nb_id!r}, {check.grade_id!r})].reference(*args, **kwargs)\n")
        files[f"reference-{nb_id}"] = write(nb, root / f"reference-{nb_id}" / "submission.ipynb")
        if nb_id == "01_unfolding":
            nb = builder.solution()
            for check in builder.checks:
                nb = builder.replace(nb, check, LIBRARY_01[check.grade_id])
            files["library-01"] = write(nb, root / "library-01" / "submission.ipynb")
            step = builder.checks[0]
            reader = ("import json\n"
                      f"_cells = json.load(open({str(path)!r}))['cells']\n"
                      "exec(next(''.join(c['source']) for c in _cells if 'def rnn_step(' in ''.join(c['source'])))\n")
            files["reads-solutions-01"] = write(builder.replace(builder.solution(), step, reader),
                                                root / "reads-solutions-01" / "submission.ipynb")
    results = grade_all(find_submissions([root]), ROOT / "solutions", Options(timeout=60, grace=2), jobs=2)
    return {r.student: r for r in results}


@pytest.mark.parametrize("nb_id", [id_from_filename(p) for p in SOLUTIONS])
def test_answers_that_call_the_reference_score_zero(graded, nb_id):
    result = graded[f"reference-{nb_id}"]
    rows = [row for row in result.rows if row.task not in ("", "TOTAL") and row.max_points]
    assert result.points == 0 and rows, [(r.task, r.status, r.reason) for r in result.rows]
    for row in rows:
        if row.status == "manual":
            continue
        assert row.status == "failed" and "calls rnn_tutor.checks." in row.reason, (row.task, row.reason)
        assert "yourself" in row.reason


def test_library_wrappers_score_zero_and_name_the_function(graded):
    result = graded["library-01"]
    reasons = {row.task: row.reason for row in result.rows if row.task.startswith("check_")}
    assert result.points == 0, reasons
    assert "calls rnn_tutor.rnn.rnn_forward" in reasons["check_rnn_step"]
    assert "calls rnn_tutor.rnn.rnn_forward" in reasons["check_rnn_forward"]
    assert "calls rnn_tutor.rnn.count_params" in reasons["check_n_params"]
    assert "calls rnn_tutor.rnn.rnn_forward" in reasons["check_final_states"] or \
        "calls rnn_tutor.masking.last_valid" in reasons["check_final_states"]


def test_reading_the_solutions_in_the_kernel_scores_zero(graded):
    result = graded["reads-solutions-01"]
    rows = {row.task: row for row in result.rows}
    reason = rows["check_rnn_step"].reason
    assert rows["check_rnn_step"].points == 0, reason
    # the sandboxed kernel cannot even see the course's files; unsandboxed, the audit hook names the read
    assert ("reading" in reason and "01_unfolding_solutions.ipynb" in reason) or "No such file" in reason, reason


def test_the_solution_read_watch_is_armed_in_a_jupyter_kernel(tmp_path):
    """In a real kernel (as in JupyterLab), opening a solutions file fails every later check."""
    import nbformat
    from nbclient import NotebookClient

    sol = tmp_path / "solutions" / "01_unfolding_solutions.ipynb"
    sol.parent.mkdir()
    sol.write_text('{"cells": [{"source": "def rnn_step(x_t, h_prev, w_x, w_h, b_h):\\n    '
                   'return np.tanh(x_t @ w_x.T + h_prev @ w_h.T + b_h)\\n"}]}')
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in (
        "import json\nimport numpy as np\nfrom rnn_tutor.checks.unfolding import check_rnn_step",
        f"exec(json.load(open({str(sol)!r}))['cells'][0]['source'])",
        "check_rnn_step(rnn_step)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=120, allow_errors=True).execute()
    (error,) = [o for o in nb.cells[2].outputs if o.output_type == "error"]
    assert error.ename == "CheckFailed" and "reading" in error.evalue and "01_unfolding_solutions.ipynb" in error.evalue
