"""``rnn-tutor check``: which notebooks, the table it prints, and that it never writes them."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rnn_tutor import selfcheck
from rnn_tutor.grading.grade import Result, Row

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))


def _id(path: Path) -> str:
    return json.loads(path.read_text(encoding="utf-8"))["metadata"]["rnn_tutor"]["id"]


# ----------------------------------------------------------------- which notebooks ------

def test_no_argument_means_every_exercise():
    assert selfcheck.resolve_exercises([], ROOT) == EXERCISES


@pytest.mark.parametrize("how", ["number", "padded", "id", "file", "path"])
def test_an_exercise_is_named_by_number_id_file_name_or_path(how):
    target = EXERCISES[2]
    nb_id = _id(target)
    name = {"number": str(int(nb_id[:2])), "padded": nb_id[:2], "id": nb_id,
            "file": target.name, "path": str(target)}[how]
    assert selfcheck.resolve_exercises([name], ROOT) == [target]


def test_several_exercises_keep_their_order_without_repeats():
    first, third = EXERCISES[0], EXERCISES[2]
    got = selfcheck.resolve_exercises([_id(third), "1", str(first), "03"], ROOT)
    assert got == [third, first]


def test_a_notebook_outside_exercises_is_taken_as_given(tmp_path):
    mine = tmp_path / "my copy.ipynb"
    mine.write_bytes(EXERCISES[0].read_bytes())
    assert selfcheck.resolve_exercises([str(mine)], ROOT) == [mine]


@pytest.mark.parametrize("bad", ["42", "unfolding_01", "nope.ipynb"])
def test_an_unknown_exercise_is_a_clear_error_with_the_choices(bad):
    with pytest.raises(ValueError) as err:
        selfcheck.resolve_exercises([bad], ROOT)
    msg = str(err.value)
    assert msg.startswith("EXERCISE:") and repr(bad) in msg
    assert all(_id(p) in msg for p in EXERCISES)


def test_cli_usage_errors_exit_2_without_a_traceback(capsys):
    from rnn_tutor import cli

    assert cli.main(["check", "99"]) == 2
    assert cli.main(["check", "--timeout", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("rnn-tutor check: error:") == 2 and "Traceback" not in err


# ----------------------------------------------------------------- the table ------------

LONG_HINT = ("0 of 3 fresh cases pass; case 1 of 3: rnn_step: shape (2, 4) is right, but 8 of 8 "
             "elements differ; the worst at index (1, 3): expected -0.800202, received -0.0346324 "
             "(abs. error 7.66e-01, tolerance 8.1e-07); likely cause: did you add b_h? The "
             "pre-activation is w_x x_t + w_h h_prev + b_h.")


def _result() -> Result:
    rows = [Row("you", "01_unfolding", "f", "check_rnn_step", 0.0, 2.0, "failed", LONG_HINT),
            Row("you", "01_unfolding", "f", "check_rnn_forward", 3.0, 3.0, "passed", "3 fresh cases match"),
            Row("you", "01_unfolding", "f", "check_n_params", 0.0, 1.0, "not-implemented",
                "n_params raises NotImplementedError (the exercise stub)"),
            Row("you", "01_unfolding", "f", "explain", 0.0, 2.0, "manual", "graded by hand")]
    return Result("you", "f", "01_unfolding", rows, notes=["1 deleted cell(s) restored"])


@pytest.mark.parametrize("width", [60, 80, 120, 200])
def test_the_table_wraps_hints_and_never_cuts_them(width):
    text = selfcheck.format_result(_result(), "exercises/01.ipynb", width)
    lines = text.splitlines()
    assert lines[0] == "exercises/01.ipynb: 3 of 8 points"
    assert re.match(r"\s+task\s+passed\s+points\s+first hint$", lines[1])
    assert "…" not in text and "..." not in text
    assert all(len(ln) <= max(width, 69) for ln in lines), [ln for ln in lines if len(ln) > width]
    # every word of the hint is there, in order
    hint_col = lines[1].index("first hint")
    start = next(i for i, ln in enumerate(lines) if "check_rnn_step" in ln)
    hint = []
    for ln in lines[start:]:
        if ln[:hint_col].strip() and ln is not lines[start]:
            break
        hint.append(ln[hint_col:])
    assert " ".join(" ".join(hint).split()) == " ".join(LONG_HINT.split())


def test_the_table_has_task_passed_points_and_the_first_hint():
    lines = selfcheck.format_result(_result(), "x", 120).splitlines()
    row = {ln.split()[0]: ln.split() for ln in lines[2:] if ln.startswith("  check_") or ln.startswith("  explain")}
    assert row["check_rnn_step"][1:3] == ["no", "0/2"]
    assert row["check_rnn_forward"][1:3] == ["yes", "3/3"] and len(row["check_rnn_forward"]) == 3
    assert row["check_n_params"][1:3] == ["no", "0/1"] and "NotImplementedError" in " ".join(row["check_n_params"])
    assert row["explain"][1:3] == ["-", "0/2"]
    assert lines[-1] == "  note: 1 deleted cell(s) restored"


def test_control_characters_in_a_hint_are_escaped():
    res = _result()
    res.rows[0].reason = "bad \x1b[31mred\x1b[0m\nsecond line"
    text = selfcheck.format_result(res, "x", 100)
    assert "\x1b" not in text and "\\x1b[31mred" in text and "second line" in text


# ----------------------------------------------------------------- end to end -----------

def _digest(paths) -> dict[str, tuple[str, int]]:
    return {str(p): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in paths}


def _answer(path: Path, answers: dict[str, str]) -> None:
    """Write ``answers`` (grade_id -> source) into the solution cells of notebook ``path``."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell["source"] = answers[gid]
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")


def _check(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
    return subprocess.run([sys.executable, "-m", "rnn_tutor", "check", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_check_grades_a_learners_notebook_and_leaves_it_untouched(tmp_path):
    exercise = next(p for p in EXERCISES if _id(p) == "01_unfolding")
    mine = tmp_path / "mine.ipynb"
    mine.write_bytes(exercise.read_bytes())
    _answer(mine, {
        "rnn_step": "def rnn_step(x_t, h_prev, w_x, w_h, b_h):\n"
                    "    return np.tanh(x_t @ w_x.T + h_prev @ w_h.T + b_h)\n",
        "rnn_forward": "def rnn_forward(xs, params, h_0):\n    return xs, xs\n",
        "n_params": "def n_params(d, m, q, T):\n    return d * m + m * m + m + q * m + q\n",
    })
    os.utime(mine, ns=(1_000_000_000, 1_000_000_000))
    before = _digest([mine, *EXERCISES])
    proc = _check(str(mine), "1", cwd=tmp_path)
    assert _digest([mine, *EXERCISES]) == before, "rnn-tutor check changed a notebook"
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "Traceback" not in out + proc.stderr
    mine_table, stub_table = out.split("\n\n")[:2]
    rows = {ln.split()[0]: ln for ln in mine_table.splitlines() if ln.startswith("  check_")}
    assert mine_table.splitlines()[0] == f"{mine}: 3 of 8 points"
    assert rows["check_rnn_step"].split()[1:3] == ["yes", "2/2"]
    assert rows["check_n_params"].split()[1:3] == ["yes", "1/1"]
    assert rows["check_rnn_forward"].split()[1:3] == ["no", "0/3"]
    hint = mine_table.split("check_rnn_forward", 1)[1].split("check_n_params")[0]
    assert "shape" in hint and "expected" in hint       # the first hint names what is wrong
    assert rows["check_final_states"].split()[1:3] == ["no", "0/2"]
    assert stub_table.startswith(f"{exercise.relative_to(ROOT)}: 0 of 8 points")   # "1": exercises/
    assert out.rstrip().endswith("2 of 8 task(s) passed; 3 of 16 points in 2 notebook(s).")


@pytest.mark.slow
@pytest.mark.parametrize("sandbox", [False, True], ids=["own-code", "sandbox"])
def test_check_passes_a_complete_solution_with_exit_code_0(tmp_path, sandbox):
    if sandbox and shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (.ci/install-sandbox installs it)")
    solution = next(p for p in sorted((ROOT / "solutions").glob("*.ipynb")) if _id(p) == "01_unfolding")
    copy = tmp_path / "second attempt.ipynb"       # two attempts at one exercise are not duplicates
    copy.write_bytes(solution.read_bytes())
    before = _digest([solution, copy])
    proc = _check(str(solution), str(copy), *(["--sandbox"] if sandbox else []))
    assert _digest([solution, copy]) == before
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "8 of 8 task(s) passed; 16 of 16 points in 2 notebook(s)." in proc.stdout
    assert "note:" not in proc.stdout
    assert ("in the sandbox" if sandbox else "no sandbox") in proc.stderr


def test_check_sandbox_without_bubblewrap_is_a_clear_error():
    proc = subprocess.run([sys.executable, "-m", "rnn_tutor", "check", "--sandbox", "1"], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "RNN_TUTOR_BWRAP": "/nonexistent/bwrap"},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "rnn-tutor check: error: --sandbox:" in proc.stderr and "bubblewrap" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
