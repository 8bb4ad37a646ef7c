"""Attacks on the grader itself, graded in the bubblewrap sandbox next to honest submissions.

One run (two workers) grades honest submissions, peers whose answers the attacks try to
steal, and every attack of ``grading_fixtures.build_attacks``: reading peers, solutions and
``--checks`` files, writing outside the sandbox (site-packages ``.pth`` files included),
signals to every visible process, detached processes, fork and memory bombs, hostile
messages and file names, duplicates.  Each attack scores 0 or gets its own row with a
reason; the honest submissions keep full marks; the report is complete and parseable.

Without bubblewrap these tests skip, except under ``CI=true`` (``.ci/run`` installs it),
where a missing sandbox fails them.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from grading_fixtures import (Builder, build_attacks, require_sandbox, synthetic_checks, write,
                              write_synthetic_course)
from rnn_tutor.grading.cli import grade_all
from rnn_tutor.grading.grade import Options
from rnn_tutor.grading.match import find_submissions
from rnn_tutor.grading.report import write_report

pytestmark = pytest.mark.slow

VICTIM = "check_running_sum"
FULL = 6.0


def _bwrap() -> str:
    return require_sandbox()


def _processes_with(marker: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmd and int(pid) != os.getpid():
            found.append(cmd.replace(b"\0", b" ").decode(errors="replace"))
    return found


class Run:
    def __init__(self, files, results, course, report, targets, marker, seconds):
        self.files, self.results, self.course = files, results, course
        self.report, self.targets, self.marker, self.seconds = report, targets, marker, seconds
        self.by_student: dict[str, list] = {}
        for r in results:
            self.by_student.setdefault(r.student, []).append(r)

    def result(self, student: str):
        (res,) = self.by_student[student]
        return res

    def rows(self, student: str) -> dict:
        return {row.task: row for row in self.result(student).rows}


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    bwrap = _bwrap()
    root = tmp_path_factory.mktemp("attacks")
    course = write_synthetic_course(_mkdir(root / "course"))
    builder = Builder(course.notebook, synthetic_checks(course.checks_file))
    victim = next(c for c in builder.checks if c.grade_id == VICTIM)
    subs_dir = root / "submitted"
    report_dir = root / "reports"
    report_dir.mkdir()
    marker = f"rnnpwn{os.getpid()}"
    targets = [str(subs_dir), str(subs_dir / "honest_1"), str(report_dir), str(course.source_dir),
               str(root)]
    files = {"honest_1": write(builder.solution(), subs_dir / "honest_1" / "hw.ipynb"),
             "honest_2": write(builder.solution(), subs_dir / "honest_2" / "hw.ipynb"),
             "untouched": write(builder.exercise(), subs_dir / "untouched" / "hw.ipynb")}
    files.update(build_attacks(builder, subs_dir, victim, marker=marker, targets=targets,
                               roots=[str(root)], sandboxed=True))
    purelib = Path(sysconfig.get_paths()["purelib"])
    before_pth = sorted(p.name for p in purelib.glob("*.pth"))
    before = {p: p.read_bytes() for p in subs_dir.rglob("*") if p.is_file()}
    subs = find_submissions([subs_dir])
    opts = Options(timeout=15, grace=2, bwrap=bwrap,
                   hide=(str(course.source_dir), str(subs_dir), str(report_dir), str(course.checks_file)))
    t0 = time.monotonic()
    results = grade_all(subs, course.source_dir, opts, jobs=2, checks=[str(course.checks_file)])
    seconds = time.monotonic() - t0
    report = report_dir / "grades.csv"
    write_report(results, report)
    write_report(results, report_dir / "grades.json")
    time.sleep(4)                                   # the detached process would write by now
    run = Run(files, results, course, report, targets, marker, seconds)
    run.before, run.after = before, {p: p.read_bytes() for p in subs_dir.rglob("*") if p.is_file()}
    run.before_pth, run.after_pth = before_pth, sorted(p.name for p in purelib.glob("*.pth"))
    run.purelib = purelib
    return run


def test_every_submission_has_rows_and_every_row_says_sandbox(attacked):
    assert len(attacked.results) == len(find_submissions([attacked.report.parent.parent / "submitted"]))
    assert all(r.sandboxed for r in attacked.results)
    rows = list(csv.DictReader(io.StringIO(attacked.report.read_text(encoding="utf-8"), newline="")))
    assert len(rows) == sum(len(r.rows) + 1 for r in attacked.results)
    assert {r["isolation"] for r in rows} == {"sandbox"}
    data = json.loads((attacked.report.parent / "grades.json").read_text(encoding="utf-8"))
    assert len(data["rows"]) == len(rows) and len(data["totals"]) == len(attacked.results)


def test_honest_submissions_keep_full_marks(attacked):
    for student in ("honest_1", "honest_2"):
        res = attacked.result(student)
        assert res.points == FULL, res.rows
    assert attacked.result("untouched").points == 0


def test_stealing_answers_finds_nothing(attacked):
    res = attacked.result("steal_answers")
    assert res.points == 0 and attacked.rows("steal_answers")[VICTIM].status in ("not-implemented", "missing")


def test_nothing_is_written_outside_the_sandbox(attacked):
    assert attacked.after == attacked.before                     # submissions byte-identical, none added
    assert attacked.after_pth == attacked.before_pth              # no .pth planted in site-packages
    leftovers = [p for t in attacked.targets + ["/tmp", "/var/tmp", "/dev/shm", str(attacked.purelib),
                                                 str(Path.home())]
                 for p in Path(t).glob(f"{attacked.marker}*")]
    import rnn_tutor
    leftovers += list(Path(rnn_tutor.__file__).parent.glob(f"{attacked.marker}*"))
    assert leftovers == []
    rows = attacked.rows("write_outside")          # its other answers still count (the victim's cell
    assert rows["check_scale"].status == rows["check_answer"].status == "passed"   # tried solutions/)


def test_no_process_outlives_the_run(attacked):
    assert _processes_with(attacked.marker) == []
    assert attacked.result("detached_process").points == FULL


def test_host_wide_settings_are_out_of_reach(attacked):
    assert attacked.result("host_settings").points == 0
    assert attacked.rows("host_settings")[VICTIM].status == "not-implemented"


def test_signals_reach_only_the_attackers_own_sandbox(attacked):
    for case in ("kill_everything", "stop_everything"):
        assert attacked.result(case).points == 0
    assert attacked.result("honest_1").points == attacked.result("honest_2").points == FULL


def test_bombs_and_loops_are_stopped_and_noted(attacked):
    notes = " ".join(attacked.result("top_level_loop").notes)
    assert "interrupted" in notes and "time limit" in notes
    assert attacked.result("top_level_loop").points == FULL        # the function was defined before the loop
    notes = " ".join(attacked.result("memory_bomb").notes)
    assert "out of memory" in notes and "MemoryError" in notes
    assert attacked.result("fork_bomb").status == "graded"


def test_a_sympy_range_result_costs_the_grader_nothing(attacked):
    res = attacked.result("sympy_range_result")
    assert res.points == 0 and attacked.rows("sympy_range_result")[VICTIM].status == "failed"
    assert res.seconds < 30


def test_hostile_messages_and_names_are_reported_cleanly(attacked):
    row = attacked.rows("hostile_message")[VICTIM]
    assert row.status == "failed" and "ValueError" in row.reason
    text = attacked.report.read_text(encoding="utf-8")
    assert "\x1b" not in text and "\u202e" not in text and "\r" not in text and "\\xff" in text
    for case in ("name_not_utf8", "name_carriage_return", "name_escape"):
        assert attacked.result(case).points == FULL
    for row in csv.DictReader(io.StringIO(text, newline="")):
        assert not any(v.startswith(("=", "+", "-", "@")) for v in row.values())


def test_duplicates_are_flagged(attacked):
    dups = attacked.by_student["duplicate"]
    assert len(dups) == 2 and all(r.duplicate for r in dups)
    assert all("duplicate" in " ".join(r.notes) for r in dups)


# ----------------------------------------------------------------------------- command line

def _cli(args: list[str], env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnn_tutor", "grade", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def test_a_100_character_tmpdir_changes_nothing(tmp_path):
    _bwrap()
    course = write_synthetic_course(_mkdir(tmp_path / "course"))
    b = Builder(course.notebook, synthetic_checks(course.checks_file))
    write(b.solution(), tmp_path / "subs" / "alice" / "hw.ipynb")
    write(b.exercise(), tmp_path / "subs" / "bob" / "hw.ipynb")
    long_tmp = tmp_path / ("t" * (100 - len(str(tmp_path)) - 1))
    long_tmp.mkdir()
    assert len(str(long_tmp)) == 100
    out = tmp_path / "r.json"
    proc = _cli([str(tmp_path / "subs"), "--source", str(course.source_dir), "--checks",
                 str(course.checks_file), "--out", str(out), "--jobs", "2"], env={"TMPDIR": str(long_tmp)})
    assert proc.returncode == 0, proc.stderr
    totals = {t["student"]: t["points"] for t in json.loads(out.read_text())["totals"]}
    assert totals == {"alice": 6, "bob": 0}
    assert list(long_tmp.iterdir()) == []


def test_exit_status_tells_could_not_grade_apart(tmp_path):
    _bwrap()
    course = write_synthetic_course(_mkdir(tmp_path / "course"))
    write(nbformat_read(course.notebook), tmp_path / "subs" / "alice" / "hw.ipynb")
    out = tmp_path / "r.csv"
    out.write_text("an earlier report\n")
    proc = _cli([str(tmp_path / "subs"), "--source", str(course.source_dir), "--checks",
                 str(course.checks_file), "--out", str(out), "--memory", "40"])
    assert proc.returncode == 1 and "could not be graded" in proc.stderr, proc.stderr
    assert "grader-error" in out.read_text()


def test_without_bwrap_grade_stops_and_names_the_package(tmp_path):
    course = write_synthetic_course(_mkdir(tmp_path / "course"))
    write(nbformat_read(course.notebook), tmp_path / "subs" / "alice" / "hw.ipynb")
    args = [str(tmp_path / "subs"), "--source", str(course.source_dir), "--checks", str(course.checks_file)]
    proc = _cli(args + ["--out", str(tmp_path / "r.csv")], env={"RNN_TUTOR_BWRAP": ""})
    assert proc.returncode == 2 and "bubblewrap" in proc.stderr and not (tmp_path / "r.csv").exists()
    proc = _cli(args + ["--out", str(tmp_path / "r.csv"), "--no-sandbox"], env={"RNN_TUTOR_BWRAP": ""})
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(open(tmp_path / "r.csv", newline="")))
    assert rows and {r["isolation"] for r in rows} == {"unsandboxed"} and "unsandboxed" in proc.stdout


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def nbformat_read(path: Path):
    import nbformat

    return nbformat.read(path, as_version=4)


def test_a_terminated_run_writes_its_report_and_leaves_nothing_behind(tmp_path):
    """SIGTERM in the middle of a run: the report lists every submission (the unfinished ones
    as not-run), the exit code says so, and no process or temporary folder is left."""
    import signal

    _bwrap()
    course = write_synthetic_course(_mkdir(tmp_path / "course"))
    b = Builder(course.notebook, synthetic_checks(course.checks_file))
    write(b.solution(), tmp_path / "subs" / "alice" / "hw.ipynb")
    marker = f"rnnterm{os.getpid()}"
    for name in ("bob", "carol"):
        write(b.append_to(b.solution(), b.checks[0], f"import time\nwhile True:\n    time.sleep(0.1)  # {marker}"),
              tmp_path / "subs" / name / "hw.ipynb")
    out = tmp_path / "r.csv"
    proc = subprocess.Popen([sys.executable, "-m", "rnn_tutor", "grade", str(tmp_path / "subs"), "--source",
                             str(course.source_dir), "--checks", str(course.checks_file), "--out", str(out),
                             "--jobs", "2", "--timeout", "600"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "RNN_TEST_RUN": marker})
    deadline = time.monotonic() + 120
    kernels: list = []
    while time.monotonic() < deadline and len(kernels) < 2:
        time.sleep(0.5)
        workers = _with_env(marker)
        kernels = [c for c in _cmdlines() if any(f"rnn-tutor-grade-{w}-k" in c for w in workers)]
    assert len(kernels) >= 2, "the kernels did not start"
    time.sleep(5)                                  # kernels running the endless cells
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    rows = list(csv.DictReader(open(out, newline="")))
    assert {r["student"] for r in rows} == {"alice", "bob", "carol"}
    assert "not-run" in {r["status"] for r in rows}
    time.sleep(1)
    left = [p for w in [proc.pid, *workers] for p in Path("/tmp").glob(f"rnn-tutor-grade-{w}-*")]
    assert left == []
    assert _with_env(marker) == []                                  # no worker or judge left
    assert [c for c in _cmdlines() if any(f"rnn-tutor-grade-{w}-" in c for w in workers)] == []   # nor kernel


def _with_env(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if f"RNN_TEST_RUN={marker}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                found.append(int(pid))
        except OSError:
            pass
    return found


def _cmdlines() -> list[str]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            out.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            pass
    return out
