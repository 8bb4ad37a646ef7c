"""End-to-end tests of `rnn-tutor grade` with real kernels on adversarial submissions.

The submissions are built in a temporary folder by tests/grading_fixtures.py.  To
keep the run short, the synthetic course's adversarial set and the course's own
exercises are graded in one run (two worker processes) by a module-scoped fixture,
and the tests inspect the rows.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from grading_fixtures import (CHEAT_PRELUDE, START_FAILURES_ENV, Builder, build_adversarial, fake_grade, fake_init,
                              flaky_init, require_sandbox, start_tokens, starts, synthetic_checks, write,
                              write_synthetic_course)
from rnn_tutor.checks.core import REGISTRY, CheckFailed, run_check
from rnn_tutor.grading import cli, pool
from rnn_tutor.grading.cli import grade_all
from rnn_tutor.grading.execute import Kernel
from rnn_tutor.grading.grade import Options
from rnn_tutor.grading.match import Submission, find_submissions, load_sources
from rnn_tutor.nbsource import id_from_filename

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "solutions" / "01_unfolding_solutions.ipynb"


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


class Batch:
    """The graded set: ``rows[case]`` maps task -> row; ``result[case]`` the submission result."""

    def __init__(self, builder, files, results, before, after):
        self.builder, self.files, self.before, self.after = builder, files, before, after
        self.result = {r.student: r for r in results}
        self.rows = {r.student: {row.task: row for row in r.rows} for r in results}

    def points(self, case: str) -> float:
        return self.result[case].points


VICTIM = "check_running_sum"        # the target of every attack (a partial-credit check)
OTHERS = {"check_scale": 2.0, "check_answer": 1.0}


def _real_cases(out: Path) -> tuple[Builder | None, dict[str, Path]]:
    """Every solutions notebook and released exercise (renamed: matching uses the embedded
    id), plus partial and cheating variants of exercise 01."""
    if not REAL.exists():
        return None, {}
    import rnn_tutor.checks  # noqa: F401

    builder = Builder(REAL, [c for c in REGISTRY.values() if c.notebook == "01_unfolding"])
    victim = builder.checks[0]
    files = {"real-partial": write(builder.partial([victim.grade_id]), out / "real-partial" / "c.ipynb"),
             "real-hard_coded": write(builder.replace(builder.exercise(), victim, builder.hard_coded(victim)),
                                      out / "real-hard_coded" / "d.ipynb"),
             "real-monkeypatch": write(builder.replace(builder.exercise(), victim, CHEAT_PRELUDE
                                                       + builder.function_body(victim, "return 0")),
                                       out / "real-monkeypatch" / "e.ipynb")}
    act = ROOT / "solutions" / "02_activations_solutions.ipynb"
    if act.exists():                  # SymPy answers: code in a function's name, an honest f(a)
        b2 = Builder(act, [c for c in REGISTRY.values() if c.notebook == "02_activations"])
        tanh = next(c for c in b2.checks if c.target == "tanh_derivative")
        files["real-sympy-code"] = write(b2.replace(b2.exercise(), tanh, (
            "import sympy as sp\ndef tanh_derivative(a):\n"
            f"    return sp.Function({SYMPY_CODE!r})(a) + 1 - sp.tanh(a) ** 2\n")), out / "real-sympy-code" / "f.ipynb")
        files["real-sympy-f"] = write(b2.replace(b2.solution(), tanh, (
            "import sympy as sp\ndef tanh_derivative(a):\n    return sp.Function('f')(a)\n")),
            out / "real-sympy-f" / "g.ipynb")
    for nb_id in _course_ids():
        for kind in ("solutions", "exercises"):
            src = ROOT / kind / f"{nb_id}_{kind}.ipynb"
            if src.exists():
                path = out / f"{kind}-{nb_id}" / "submission.ipynb"
                path.parent.mkdir(parents=True)
                path.write_bytes(src.read_bytes())
                files[f"{kind}-{nb_id}"] = path
    return builder, files


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the synthetic course's adversarial set and the course's exercises in one run."""
    require_sandbox()
    root = tmp_path_factory.mktemp("grading")
    course = write_synthetic_course(root)
    for path in (ROOT / "solutions").glob("*.ipynb"):          # one source folder for both
        (course.source_dir / path.name).write_bytes(path.read_bytes())
    builder = Builder(course.notebook, synthetic_checks(course.checks_file))
    files = build_adversarial(builder, root / "synth", victim=VICTIM)
    # Tries to kill its kernel's parent: in the sandbox that is the sandbox's own init process.
    files["zz_kills_worker"] = write(
        builder.append_to(builder.solution(), builder.checks[0], KILL_PARENT), root / "synth" / "zz_kills_worker" / "hw.ipynb")
    real_builder, real_files = _real_cases(root / "real")
    before = _snapshot(root / "synth") | {"real/" + k: v for k, v in _snapshot(root / "real").items()}
    subs = find_submissions([root / "real", root / "synth"] if real_files else [root / "synth"])
    results = grade_all(subs, course.source_dir, Options(timeout=15, grace=2), jobs=2,
                        checks=[str(course.checks_file)])
    after = _snapshot(root / "synth") | {"real/" + k: v for k, v in _snapshot(root / "real").items()}
    synth_results = [r for r in results if r.student in files]
    real_results = [r for r in results if r.student in real_files]
    return (Batch(builder, files, synth_results, before, after),
            Batch(real_builder, real_files, real_results, before, after) if real_files else None)


@pytest.fixture(scope="module")
def synth(graded):
    return graded[0]


def test_every_submission_gets_rows(graded):
    for batch in filter(None, graded):
        assert set(batch.result) == set(batch.files)


KILL_PARENT = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"


def test_a_submission_that_kills_its_kernels_parent_costs_only_itself(synth):
    assert synth.result["zz_kills_worker"].status == "graded"     # the sandbox's init survives it
    assert synth.points("solution") == 6          # (all other tests use the rows of the same run)


def test_unsandboxed_a_killed_or_stopped_worker_costs_only_its_submission(tmp_path):
    """Without the sandbox a kernel can kill or stop its worker: the pool grades the victim
    again, and the watchdog ends a stopped worker; the honest submissions keep full marks."""
    course = write_synthetic_course(tmp_path)
    b = Builder(course.notebook, synthetic_checks(course.checks_file))
    for name in ("honest_1", "honest_2"):
        write(b.solution(), tmp_path / "subs" / name / "hw.ipynb")
    write(b.append_to(b.solution(), b.checks[0], KILL_PARENT), tmp_path / "subs" / "kills" / "hw.ipynb")
    write(b.append_to(b.solution(), b.checks[0], "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)"),
          tmp_path / "subs" / "stops" / "hw.ipynb")
    t0 = time.monotonic()
    results = grade_all(find_submissions([tmp_path / "subs"]), course.source_dir,
                        Options(timeout=15, grace=2, sandbox=False, watchdog=45), jobs=2,
                        checks=[str(course.checks_file)])
    assert time.monotonic() - t0 < 120
    res = {r.student: r for r in results}
    assert res["honest_1"].points == res["honest_2"].points == 6
    assert res["kills"].status == "grader-error" and "worker process died" in res["kills"].rows[0].reason
    assert res["stops"].status == "timeout" and "watchdog" in res["stops"].rows[0].reason
    assert not any(r.sandboxed for r in results)


# ----------------------------------------------------------------------------- workers that fail to start

def test_a_worker_that_fails_to_start_is_replaced_and_costs_no_submission(tmp_path, monkeypatch):
    """One worker fails to start (as when its judge process cannot launch): the pool starts
    another one, and every submission is graded as if nothing had happened."""
    course = write_synthetic_course(tmp_path)
    b = Builder(course.notebook, synthetic_checks(course.checks_file))
    for name in ("honest_1", "honest_2", "honest_3"):
        write(b.solution(), tmp_path / "subs" / name / "hw.ipynb")
    write(b.exercise(), tmp_path / "subs" / "untouched" / "hw.ipynb")
    tokens = start_tokens(tmp_path / "tokens", failures=1)
    monkeypatch.setenv(START_FAILURES_ENV, str(tokens))
    monkeypatch.setattr(cli, "_init", flaky_init)          # the workers' init, by reference
    results = grade_all(find_submissions([tmp_path / "subs"]), course.source_dir,
                        Options(timeout=15, grace=2, sandbox=False), jobs=2, checks=[str(course.checks_file)])
    assert not list(tokens.glob("fail-*")) and starts(tokens) == 3     # it failed, and was replaced once
    res = {r.student: r for r in results}
    assert {r.status for r in results} == {"graded"}, [r.rows for r in results]
    assert [res[f"honest_{k}"].points for k in (1, 2, 3)] == [6, 6, 6]
    assert res["untouched"].points == 0 and res["untouched"].max_points == 6


def test_workers_that_never_start_end_the_run_after_a_few_attempts_with_exit_code_1(tmp_path, monkeypatch,
                                                                                    capsys):
    course = write_synthetic_course(tmp_path)
    b = Builder(course.notebook, synthetic_checks(course.checks_file))
    for name in ("alice", "bob", "carol"):
        write(b.solution(), tmp_path / "subs" / name / "hw.ipynb")
    tokens = start_tokens(tmp_path / "tokens", failures=50)
    monkeypatch.setenv(START_FAILURES_ENV, str(tokens))
    monkeypatch.setattr(cli, "_init", flaky_init)
    out = tmp_path / "r.json"
    t0 = time.monotonic()
    code = cli.main([str(tmp_path / "subs"), "--source", str(course.source_dir), "--checks",
                     str(course.checks_file), "--out", str(out), "--jobs", "2", "--no-sandbox", "--quiet"])
    assert code == 1 and "3 of 3 submission(s) could not be graded" in capsys.readouterr().err
    assert starts(tokens) == pool.START_ATTEMPTS            # two at once, then one more: then it gives up
    assert time.monotonic() - t0 < 60
    rows = json.loads(out.read_text())["rows"]
    assert {r["student"] for r in rows} == {"alice", "bob", "carol"}
    for row in rows:
        if row["task"] != "TOTAL":
            assert row["status"] == "grader-error", row
            assert row["reason"].startswith(f"the grading worker could not start ({pool.START_ATTEMPTS} attempts "
                                            "in a row; the last exited with code 1)"), row


def test_the_workers_that_started_grade_the_rest_when_no_other_one_can_start(tmp_path):
    """Only the first worker can start: the pool tries a bounded number of others, then goes on
    with the one it has, which grades every submission."""
    tokens = start_tokens(tmp_path / "tokens", good=True)
    subs = [Submission(tmp_path / f"{k}.ipynb", f"s{k}") for k in range(8)]
    results = {}
    pool.run_pool(subs, Options(sandbox=False), 2, fake_init, (str(tokens), 0.5), fake_grade,
                  results.__setitem__)
    assert sorted(results) == list(range(8))
    assert {r.status for r in results.values()} == {"graded"}
    assert len({r.rows[0].reason for r in results.values()}) == 1      # all by one worker (its pid)
    assert 2 <= starts(tokens) <= 2 + pool.START_ATTEMPTS


def test_a_worker_process_that_cannot_be_created_is_tried_again(tmp_path, monkeypatch):
    tokens = start_tokens(tmp_path / "tokens")
    real, calls = pool._Slot, []

    def slot(*args):
        calls.append(args)
        if len(calls) == 1:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return real(*args)

    monkeypatch.setattr(pool, "_Slot", slot)
    subs = [Submission(tmp_path / f"{k}.ipynb", f"s{k}") for k in range(3)]
    results = {}
    pool.run_pool(subs, Options(sandbox=False), 1, fake_init, (str(tokens),), fake_grade, results.__setitem__)
    assert len(calls) == 2 and starts(tokens) == 1
    assert sorted(results) == [0, 1, 2] and {r.status for r in results.values()} == {"graded"}


def test_submissions_are_untouched(synth):
    assert synth.after == synth.before            # byte-identical, and no file added next to them


def test_solution_full_marks_exercise_zero_partial_exact(synth):
    assert synth.points("solution") == synth.result["solution"].max_points == 6
    assert all(r.status == "passed" for r in synth.rows["solution"].values())
    assert synth.points("exercise") == 0
    assert synth.rows["exercise"]["check_scale"].status == "not-implemented"
    assert synth.points("partial") == 3 and synth.rows["partial"][VICTIM].status == "passed"


def test_partial_credit_counts_fresh_cases(synth):
    row = synth.rows["partial_credit"][VICTIM]
    assert (row.status, row.points, row.max_points) == ("partial", 1.0, 3.0)
    assert row.reason.startswith("1 of 3 fresh cases pass")


@pytest.mark.parametrize("case", ["cheat_redefine_check", "cheat_monkeypatch_numpy", "cheat_fake_output",
                                  "cheat_hard_coded", "cheat_forge_reply"])
def test_cheats_score_nothing(synth, case):
    assert synth.points(case) == 0, synth.rows[case]
    assert synth.rows[case][VICTIM].status == "failed"


def test_the_hard_coded_cheat_fools_the_visible_check_but_not_the_hidden_one(synth):
    check = next(c for c in synth.builder.checks if c.grade_id == VICTIM)
    ns: dict = {}
    exec(synth.builder.hard_coded(check), ns)
    assert run_check(check, ns[check.target], quiet=True) is None
    with pytest.raises(CheckFailed):
        run_check(check, ns[check.target], hidden=True)


def test_matching_by_embedded_id(synth):
    assert synth.points("renamed") == 6
    assert synth.points("no_id") == 6 and "matched by file name" in synth.result["no_id"].notes[0]
    row = synth.rows["unknown_exercise"][""]
    assert row.status == "unknown-exercise" and "99_no_such_exercise" in row.reason


def test_unreadable_files_get_their_own_row(synth):
    assert synth.rows["not_json"][""].status == "invalid"
    assert "not valid JSON" in synth.rows["not_json"][""].reason
    assert synth.rows["nbformat3"][""].status == "unsupported-format"


def test_loops_time_out_and_the_rest_still_grades(synth):
    rows = synth.rows["loop_in_function"]
    assert rows[VICTIM].status == "timeout" and rows[VICTIM].points == 0
    assert {t: rows[t].points for t in OTHERS} == OTHERS           # the interrupt worked
    rows = synth.rows["loop_uninterruptible"]
    assert rows["check_scale"].points == 2                           # scored before the loop
    assert rows[VICTIM].status == rows["check_answer"].status == "timeout"
    assert "could not be interrupted" in rows[VICTIM].reason


@pytest.mark.parametrize("case, words", [("exit_kernel", "exited with code 3"), ("segfault", "SIGSEGV")])
def test_kernel_death_is_reported(synth, case, words):
    rows = synth.rows[case]
    assert rows["check_scale"].points == 2
    assert rows[VICTIM].status == rows["check_answer"].status == "kernel-died"
    assert words in rows[VICTIM].reason


def test_memory_limit(synth):
    rows = synth.rows["memory_hog"]
    assert rows[VICTIM].status == "failed" and "MemoryError" in rows[VICTIM].reason
    assert "--memory" in rows[VICTIM].reason
    assert {t: rows[t].points for t in OTHERS} == OTHERS


@pytest.mark.parametrize("case", ["noisy_and_shadowing", "deleted_cells", "reordered_cells"])
def test_harmless_damage_keeps_full_marks(synth, case):
    assert synth.points(case) == 6, synth.rows[case]


def test_deleted_answer_scores_zero_for_that_task_only(synth):
    rows = synth.rows["deleted_answer"]
    assert rows[VICTIM].status == "not-implemented" and synth.points("deleted_answer") == 3


def test_kernel_caps_output_and_survives_interrupts(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    with Kernel(work, output_limit=2**20) as k:
        res = k.execute("print('a' * 100_000)", 20)
        assert res.status == "ok" and res.output_chars > 100_000 and len(res.output) <= 20_000
        res = k.execute("import sys\nwhile True:\n    sys.stdout.write('b' * 10_000)", 30)
        assert res.status == "output-limit" and not res.killed
        res = k.execute("while True:\n    pass", 1)
        assert res.status == "timeout" and not res.killed
        res = k.execute("x = 41", 10, user_expressions={"v": "x + 1"})
        assert res.status == "ok" and res.user_expressions["v"]["data"]["text/plain"] == "42"
        assert k.execute("import os\nos.getcwd()", 10).output.strip() == repr(str(work))


def test_a_kernel_that_cannot_start_is_reported(tmp_path):
    from rnn_tutor.grading.grade import grade_submission
    from rnn_tutor.grading.match import Submission

    require_sandbox()
    course = write_synthetic_course(tmp_path)
    sources = load_sources(course.source_dir)
    res = grade_submission(Submission(course.notebook, "tiny"), sources, {}, Options(memory_mb=40))
    assert {r.status for r in res.rows} == {"grader-error"}
    assert all("did not start" in r.reason for r in res.rows)


def test_whole_notebook_time_limit(tmp_path):
    from rnn_tutor.grading.grade import grade_submission
    from rnn_tutor.grading.match import Submission

    require_sandbox()
    course = write_synthetic_course(tmp_path)
    checks = synthetic_checks(course.checks_file)
    b = Builder(course.notebook, checks)
    nb = b.solution()
    for check in b.checks:                                 # every answer takes 2 s
        nb = b.append_to(nb, check, "import time\ntime.sleep(2)")
    path = write(nb, tmp_path / "slow" / "hw.ipynb")
    res = grade_submission(Submission(path, "slow"), load_sources(course.source_dir),
                           {c.key: c for c in checks}, Options(timeout=3, notebook_timeout=3,
                                                                      checks=(str(course.checks_file),)))
    last = res.rows[-1]
    assert (last.task, last.status) == ("check_answer", "timeout")
    assert "the notebook ran longer than 3 s" in last.reason


def test_command_line_end_to_end(tmp_path):
    course = write_synthetic_course(tmp_path)
    write(nbformat.read(course.notebook, as_version=4), tmp_path / "subs" / "=HYPERLINK(1)" / "hw.ipynb")
    (tmp_path / "subs" / "+bob").mkdir()
    (tmp_path / "subs" / "+bob" / "hw.ipynb").write_text("garbage")
    out = tmp_path / "report.csv"
    proc = subprocess.run([sys.executable, "-m", "rnn_tutor", "grade", str(tmp_path / "subs"),
                           "--source", str(course.source_dir), "--checks", str(course.checks_file),
                           "--out", str(out), "--timeout", "30"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "[1/2]" in proc.stderr and "[2/2]" in proc.stderr and "report written" in proc.stderr
    assert "6/6" in proc.stdout and "invalid: not a notebook" in proc.stdout
    text = out.read_text()
    assert "'=HYPERLINK(1)" in text and "'+bob" in text
    assert "\n=" not in text and ",=" not in text and ",+" not in text


# ----------------------------------------------------------------------------- the course's exercises

def _course_ids() -> list[str]:
    return sorted(id_from_filename(p) for p in (ROOT / "solutions").glob("*.ipynb"))


@pytest.fixture(scope="module")
def real(graded):
    if graded[1] is None:
        pytest.skip("solutions/01_unfolding_solutions.ipynb is not written yet")
    return graded[1]


@pytest.mark.parametrize("nb_id", _course_ids())
def test_every_solution_scores_full_marks_and_every_exercise_zero(real, nb_id):
    src = load_sources(ROOT / "solutions")[nb_id]
    assert real.points(f"solutions-{nb_id}") == src.total_points > 0, real.rows[f"solutions-{nb_id}"]
    assert all(r.status == "passed" for r in real.rows[f"solutions-{nb_id}"].values())
    if f"exercises-{nb_id}" in real.result:
        assert real.points(f"exercises-{nb_id}") == 0, real.rows[f"exercises-{nb_id}"]


SYMPY_CODE = "(__import__('pathlib').Path('/tmp/rnnpwn_sympy').touch(), 'f')[1]"


def test_sympy_answers_never_run_code_in_the_grader_and_get_a_verdict(real):
    assert real.points("real-sympy-code") == 0 and not Path("/tmp/rnnpwn_sympy").exists()
    row = real.rows["real-sympy-code"]["check_tanh_derivative"]
    assert row.status == "failed" and "undefined function" in row.reason
    row = real.rows["real-sympy-f"]["check_tanh_derivative"]
    assert row.status == "failed" and "undefined function 'f'" in row.reason, row
    total = real.result["real-sympy-f"]
    assert total.points == total.max_points - row.max_points         # the other tasks keep their marks


def test_real_exercise_partial_and_cheats(real):
    graded = real.builder.graded
    victim = real.builder.checks[0]
    assert real.points("real-partial") == graded[victim.grade_id], real.rows["real-partial"]
    assert real.points("real-hard_coded") == 0, real.rows["real-hard_coded"]
    assert real.points("real-monkeypatch") == 0, real.rows["real-monkeypatch"]
    assert real.after == real.before
