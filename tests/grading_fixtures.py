"""Build adversarial submissions for the grader programmatically (no committed fixture files).

Two kinds of course are used:

* the real ones: ``solutions/NN_name_solutions.ipynb`` with their registered checks;
* a small synthetic course (:func:`write_synthetic_course`) with one check of each
  kind: all-or-nothing (``check_scale``), partial credit (``check_running_sum``)
  and an nbgrader-style graded cell without a registered check (``check_answer``),
  so the grader's machinery is tested independently of the lessons' content.  Its
check cells are plain asserts (the kernel stays light: no SymPy import), while the
grader scores with the registered checks of ``synth_checks.py`` (``--checks``).

:class:`Builder` derives every submission from a source notebook: the solution
itself, the released exercise, partial solutions, and the broken and cheating
variants listed in :data:`ADVERSARIAL`.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import nbformat
import numpy as np

from rnn_tutor.checks.core import Check, case_seeds
from rnn_tutor.grading import serial
from rnn_tutor.grading.cli import _init as _real_init
from rnn_tutor.nbsource import load_source
from rnn_tutor.release import make_exercise

SYNTH_ID = "98_grading_synthetic"

SYNTH_CHECKS = '''"""Checks of the synthetic grading course (written by tests/grading_fixtures.py)."""
import numpy as np
from rnn_tutor.checks.core import REGISTRY, Check, register, run_check

NOTEBOOK = "98_grading_synthetic"


def scale_reference(x, a):
    return a * x


def running_sum_reference(xs):
    return np.cumsum(xs)


def _scale_inputs(rng):
    return {"x": rng.normal(size=(int(rng.integers(2, 6)), 3)), "a": float(rng.normal())}


def _sum_inputs(rng):
    return {"xs": rng.normal(size=int(rng.integers(3, 9)))}


def _get(check):    # importing this file twice (grader and kernel) must not register twice
    return REGISTRY.get(check.key) or register(check)


SCALE = _get(Check(NOTEBOOK, "check_scale", "scale", _scale_inputs, scale_reference, points=2))
RUNNING_SUM = _get(Check(NOTEBOOK, "check_running_sum", "running_sum", _sum_inputs,
                         running_sum_reference, points=3, partial=True))


def check_scale(fn, hidden=False):
    return run_check(SCALE, fn, hidden=hidden)


def check_running_sum(fn, hidden=False):
    return run_check(RUNNING_SUM, fn, hidden=hidden)
'''


def _cell(kind: str, source: str, grade_id: str, *, grade: bool = False, solution: bool = False,
          points: float | None = None) -> Any:
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    cell = make(source)
    meta = {"schema_version": 3, "grade": grade, "solution": solution,
            "locked": not solution, "grade_id": grade_id}
    if grade:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta
    cell.id = grade_id
    return cell


@dataclass(frozen=True)
class SyntheticCourse:
    root: Path
    source_dir: Path
    checks_file: Path
    notebook: Path


def write_synthetic_course(root: Path) -> SyntheticCourse:
    """Write ``root/solutions/98_grading_synthetic.ipynb`` and ``root/synth_checks.py``."""
    checks = root / "synth_checks.py"
    checks.write_text(SYNTH_CHECKS)
    cells = [
        _cell("markdown", "# Synthetic exercise\n\nThree small tasks.", "intro"),
        _cell("code", "import numpy as np", "setup"),
        _cell("code", "def scale(x, a):\n    \"\"\"a times x.\"\"\"\n    ### BEGIN SOLUTION\n"
              "    return a * x\n    ### END SOLUTION", "scale", solution=True),
        _cell("code", "assert np.allclose(scale(np.ones(3), 2.0), 2.0)\n### BEGIN HIDDEN TESTS\n"
              "assert np.allclose(scale(np.arange(3.0), -1.0), [0, -1, -2])\n### END HIDDEN TESTS",
              "check_scale", grade=True, points=2),
        _cell("code", "def running_sum(xs):\n    ### BEGIN SOLUTION\n    out = np.empty(len(xs))\n"
              "    total = 0.0\n    for i, x in enumerate(xs):\n        total += x\n        out[i] = total\n"
              "    return out\n    ### END SOLUTION", "running_sum", solution=True),
        _cell("code", "assert np.allclose(running_sum(np.ones(4)), [1, 2, 3, 4])", "check_running_sum",
              grade=True, points=3),
        _cell("markdown", "How many? Store it in `n_answer`.", "question"),
        _cell("code", "### BEGIN SOLUTION\nn_answer = 42\n### END SOLUTION", "answer", solution=True),
        _cell("code", "assert isinstance(n_answer, int)\n### BEGIN HIDDEN TESTS\nassert n_answer == 42\n"
              "### END HIDDEN TESTS", "check_answer", grade=True, points=1),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["rnn_tutor"] = {"id": SYNTH_ID}
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = root / "solutions" / f"{SYNTH_ID}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return SyntheticCourse(root, path.parent, checks, path)


def synthetic_checks(path: Path) -> list[Check]:
    """Load the synthetic checks of ``path`` without leaving them in this process's registry."""
    import importlib.util

    from rnn_tutor.checks.core import REGISTRY

    before = set(REGISTRY)
    spec = importlib.util.spec_from_file_location("_synth_checks_for_tests", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    checks = [REGISTRY.pop(k) for k in set(REGISTRY) - before]
    return checks or [module.SCALE, module.RUNNING_SUM]


# ----------------------------------------------------------------------------- builder

class Builder:
    """Derive submissions from a source notebook and the checks registered for it."""

    def __init__(self, source: Path, checks: list[Check]) -> None:
        self.source = load_source(source)
        self.solution_nb = copy.deepcopy(self.source.nb)
        self.exercise_nb = make_exercise(self.source)
        self.cell_of: dict[str, int] = {}             # check grade_id -> index of its answer cell
        for check in checks:
            for i, cell in enumerate(self.source.cells):
                if cell.is_solution and f"def {check.target}(" in cell.source:
                    self.cell_of[check.grade_id] = i
                    break
            else:
                raise AssertionError(f"no solution cell defines {check.target}")
        self.checks = sorted(checks, key=lambda c: self.cell_of[c.grade_id])    # notebook order

    @property
    def graded(self) -> dict[str, float]:
        """grade_id -> points of every graded cell."""
        return {c.grade_id: c.nbgrader.points for c in self.source.graded_cells()}

    def solution(self) -> Any:
        return copy.deepcopy(self.solution_nb)

    def exercise(self) -> Any:
        return copy.deepcopy(self.exercise_nb)

    def partial(self, grade_ids: list[str]) -> Any:
        """The exercise with the answers to ``grade_ids`` filled in from the solution."""
        nb = self.exercise()
        for gid in grade_ids:
            i = self.cell_of[gid]
            nb.cells[i].source = self.source.cells[i].source
        return nb

    def replace(self, nb: Any, check: Check, code: str) -> Any:
        """``nb`` with the answer cell of ``check`` replaced by ``code``."""
        nb = copy.deepcopy(nb)
        nb.cells[self.cell_of[check.grade_id]].source = code
        return nb

    def append_to(self, nb: Any, check: Check, code: str) -> Any:
        nb = copy.deepcopy(nb)
        cell = nb.cells[self.cell_of[check.grade_id]]
        cell.source = cell.source + "\n" + code
        return nb

    def function_body(self, check: Check, body: str) -> str:
        """A definition of the check's target (any keyword arguments) with ``body``."""
        return f"def {check.target}(**kwargs):\n" + "\n".join("    " + ln for ln in body.splitlines())

    def hard_coded(self, check: Check) -> str:
        """A target that returns the reference's answers to the *visible* cases, and garbage otherwise."""
        table = []
        for seed in case_seeds(check):
            inputs = check.make_inputs(np.random.default_rng(seed))
            table.append((inputs, check.reference(**copy.deepcopy(inputs))))
        return (f"import numpy as np\nfrom rnn_tutor.grading.serial import unpack as _unpack\n"
                f"_TABLE_{check.target} = _unpack({serial.pack(table)!r})\n"
                f"def _same(a, b):\n"
                f"    if isinstance(a, dict):\n"
                f"        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)\n"
                f"    return np.array_equal(np.asarray(a), np.asarray(b))\n"
                + self.function_body(check, f"for inputs, output in _TABLE_{check.target}:\n"
                                            f"    if _same(inputs, kwargs):\n"
                                            f"        return output\n"
                                            f"return _TABLE_{check.target}[0][1]"))


def write(nb: Any, path: Path, *, nb_id: str | None = "keep") -> Path:
    """Write a notebook node as nbformat 4 JSON (``nb_id``: keep, None = drop the course id, or a new id)."""
    nb = copy.deepcopy(nb)
    if nb_id is None:
        nb.metadata.pop("rnn_tutor", None)
    elif nb_id != "keep":
        nb.metadata["rnn_tutor"] = {"id": nb_id}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb, version=4), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- adversarial set

CHEAT_PRELUDE = '''import numpy as np, numpy.testing
np.allclose = lambda *a, **k: True
np.isclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_equal = lambda *a, **k: None
import rnn_tutor.checks.core as _core
_core.compare_values = lambda *a, **k: []
_core.evaluate_case = lambda *a, **k: _core.CaseResult(True, [])
_core.run_check = lambda *a, **k: 3
'''


def _cheats(b: Builder, check: Check) -> dict[str, str]:
    """Answer-cell code for each cheat on ``check`` (none computes the right answer)."""
    wrong = b.function_body(check, "return 0")
    return {
        # the in-notebook check is redefined to print success
        "cheat_redefine_check": (f"def check_{check.target}(fn, hidden=False):\n"
                                 f"    print('✔ {check.target}: 3 cases match the reference.')\n"
                                 f"    return 3\n"
                                 f"import rnn_tutor.checks.core as _core\n"
                                 f"_core.run_check = lambda *a, **k: 3\n" + wrong),
        # NumPy's (and the spec's) comparison functions always say "equal"
        "cheat_monkeypatch_numpy": CHEAT_PRELUDE + wrong,
        # a fake success message, and fake result files in the working directory
        "cheat_fake_output": (f"print('✔ {check.target}: 3 hidden cases match the reference.')\n"
                              "print('{\"points\": 100, \"status\": \"passed\"}')\n"
                              "for name in ('results.json', 'grades.csv', 'rnn_tutor_grade.json'):\n"
                              "    open(name, 'w').write('{\"points\": 100}')\n" + wrong),
        # answers to the visible examples, hard-coded
        "cheat_hard_coded": b.hard_coded(check),
        # forge the grader's reply protocol: 'ok' with a nonce-less or made-up result
        "cheat_forge_reply": ("import rnn_tutor.grading.serial as _s\n"
                              "_real = _s.kernel_call\n"
                              "def _forged(target, payload, nonce, ns=None, **_kw):\n"
                              "    inputs = _s.unpack(payload)\n"
                              "    first = next(iter(inputs.values()))\n"
                              "    return _s.pack({'nonce': nonce, 'status': 'ok', 'result': first, 'after': inputs})\n"
                              "_s.kernel_call = _forged\n"
                              "print(_s.pack({'status': 'ok'}))\n" + wrong),
    }


def _broken(b: Builder, check: Check) -> dict[str, Callable[[], Any]]:
    """Robustness cases built on the *solution* (so the other tasks still score)."""
    sol = b.solution()
    body = b.source.cells[b.cell_of[check.grade_id]].source
    return {
        "loop_in_function": lambda: b.replace(sol, check, body.replace(     # (idle: no CPU burnt)
            f"def {check.target}(", f"def {check.target}(*_a, **_k):\n    import time\n    while True:\n"
            f"        time.sleep(0.01)\ndef _unused_{check.target}(", 1)),
        "loop_uninterruptible": lambda: b.append_to(sol, check, (
            "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n"
            "    except BaseException:\n        pass")),
        "exit_kernel": lambda: b.append_to(sol, check, "import os\nos._exit(3)"),
        "segfault": lambda: b.append_to(sol, check, "import ctypes\nctypes.string_at(0)"),
        "memory_hog": lambda: b.replace(sol, check, body.replace(
            f"def {check.target}(", f"def {check.target}(*_a, **_k):\n    _hog = bytearray(8 * 2**30)\n"
            f"def _unused_{check.target}(", 1)),
        # megabytes of output, and a learner who shadows the names a runner might use
        "noisy_and_shadowing": lambda: b.append_to(sol, check, (
            "print('x' * 3_000_000)\nfor _ in range(2000):\n    print('y' * 500)\n"
            "print = None\njson = None\nrepr = None\nglobals = None\nget_ipython = None")),
    }


def build_adversarial(b: Builder, out: Path, victim: str | None = None) -> dict[str, Path]:
    """Write the whole adversarial set for ``b``'s notebook under ``out``; name -> path.

    Student folders are named after the case.  The check with grade_id ``victim``
    (default: the first in the notebook) is the target of the broken and cheating
    cases, and the only task solved in ``partial``.
    """
    victim = next(c for c in b.checks if c.grade_id == (victim or b.checks[0].grade_id))
    files: dict[str, Path] = {}

    def put(name: str, nb: Any, filename: str | None = None, **kw: Any) -> None:
        files[name] = write(nb, out / name / (filename or f"{b.source.id}.ipynb"), **kw)

    put("solution", b.solution())
    put("exercise", b.exercise())
    put("partial", b.partial([victim.grade_id]))
    if victim.partial:     # right on the first call only: exactly 1 of n_cases passes
        right = b.source.cells[b.cell_of[victim.grade_id]].source.replace(
            f"def {victim.target}(", f"def _right_{victim.target}(", 1)
        put("partial_credit", b.replace(b.solution(), victim, right + "\n_calls = []\n" + b.function_body(
            victim, f"_calls.append(1)\nreturn _right_{victim.target}(**kwargs) if len(_calls) == 1 else 0")))
    put("renamed", b.solution(), filename="my homework (final).ipynb")
    put("no_id", b.solution(), filename=f"{b.source.id}-copy.ipynb", nb_id=None)
    put("unknown_exercise", b.solution(), nb_id="99_no_such_exercise")
    for name, code in _cheats(b, victim).items():
        put(name, b.replace(b.exercise(), victim, code))
    for name, make in _broken(b, victim).items():
        put(name, make())
    sol = b.solution()
    kept = [c for c in sol.cells if not (c.metadata.get("nbgrader", {}).get("grade")
                                         or not c.metadata.get("nbgrader", {}).get("solution"))]
    deleted = copy.deepcopy(sol)
    deleted.cells = kept                               # only the answers remain
    put("deleted_cells", deleted)
    reordered = copy.deepcopy(sol)
    reordered.cells = list(reversed(reordered.cells))
    put("reordered_cells", reordered)
    no_answer = copy.deepcopy(sol)
    no_answer.cells.pop(b.cell_of[victim.grade_id])
    put("deleted_answer", no_answer)
    (out / "not_json").mkdir(parents=True, exist_ok=True)
    files["not_json"] = out / "not_json" / f"{b.source.id}.ipynb"
    files["not_json"].write_text("{ this is not JSON", encoding="utf-8")
    (out / "nbformat3").mkdir(parents=True, exist_ok=True)
    files["nbformat3"] = out / "nbformat3" / f"{b.source.id}.ipynb"
    files["nbformat3"].write_text(json.dumps({
        "nbformat": 3, "nbformat_minor": 0, "metadata": {"name": b.source.id},
        "worksheets": [{"cells": [{"cell_type": "code", "input": "x = 1", "language": "python",
                                   "outputs": [], "metadata": {}}], "metadata": {}}]}))
    return files


# ----------------------------------------------------------------------------- workers that fail to start

#: A folder of token files; each grading worker that removes one fails to start (see flaky_init).
START_FAILURES_ENV = "RNN_TUTOR_TEST_START_FAILURES"


def claim_start(folder: str | Path) -> None:
    """Record this worker's start in ``folder/started/``; fail it if it claims a token.

    Every file ``folder/fail-*`` fails one worker start (removing it is atomic, so no two
    workers claim the same one).  A file ``folder/good`` lets the first worker that claims
    it start and fails every other one.  A failure raises, as a worker whose judge process
    cannot launch does, before the worker says it is ready."""
    import os

    folder = Path(folder)
    (folder / "started").mkdir(exist_ok=True)
    (folder / "started" / str(os.getpid())).touch()
    if (folder / "good").exists() or (folder / "taken").exists():
        try:
            (folder / "good").rename(folder / "taken")
            return
        except OSError:
            raise RuntimeError("injected failure: this grading worker cannot start") from None
    for token in sorted(folder.glob("fail-*")):
        try:
            token.unlink()
        except FileNotFoundError:
            continue                  # another worker claimed it first
        raise RuntimeError(f"injected failure ({token.name}): this grading worker cannot start")


def start_tokens(folder: Path, failures: int = 0, *, good: bool = False) -> Path:
    """Make ``folder`` with ``failures`` one-shot start failures (and the ``good`` token)."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(failures):
        (folder / f"fail-{k:03d}").touch()
    if good:
        (folder / "good").touch()
    return folder


def starts(folder: Path) -> int:
    """How many worker starts :func:`claim_start` saw in ``folder``."""
    return len(list((folder / "started").glob("*"))) if (folder / "started").exists() else 0


def flaky_init(source: str, checks: Any) -> None:
    """``rnn_tutor.grading.cli._init`` behind :func:`claim_start` (``$RNN_TUTOR_TEST_START_FAILURES``).

    Put it in place of ``cli._init`` with ``monkeypatch``: ``grade_all`` hands it to the
    spawned workers by reference, so each worker runs it."""
    import os

    claim_start(os.environ[START_FAILURES_ENV])
    _real_init(source, checks)


_FAKE_SECONDS = [0.0]       # per worker process: how long fake_grade takes


def fake_init(folder: str, seconds: float = 0.0) -> None:
    """A worker ``init`` for :func:`rnn_tutor.grading.pool.run_pool` without a course: the claim,
    and ``seconds`` that each :func:`fake_grade` in this worker will take."""
    claim_start(folder)
    _FAKE_SECONDS[0] = seconds


def fake_grade(sub: Any, opts: Any) -> Any:
    """A worker's ``grade`` without a kernel: one passed row whose reason names the worker's pid."""
    import os
    import time

    from rnn_tutor.grading.grade import Result, Row

    time.sleep(_FAKE_SECONDS[0])
    row = Row(sub.student, SYNTH_ID, str(sub.path), "check_scale", 1.0, 1.0, "passed", f"pid {os.getpid()}")
    return Result(sub.student, str(sub.path), SYNTH_ID, [row], "graded", [], 0.0, opts.sandbox)


# ----------------------------------------------------------------------------- attacks on the grader

def require_sandbox() -> str:
    """The bwrap path; skip without it, except under CI=true (.ci/run installs it): fail there."""
    import os

    import pytest

    from rnn_tutor.grading.sandbox import SandboxUnavailable, check_sandbox

    try:
        return check_sandbox()
    except SandboxUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the sandbox tests: {exc}")
        pytest.skip(str(exc))


# A learner's cell that looks for a right answer anywhere it can read: every notebook and Python
# file on the machine (peers' submissions, solutions/, --checks files, kept notebooks) and the
# command lines of every process it can see (to find private paths such as --checks FILE).
# It defines the target from the first one it finds, so it scores only if isolation fails.
STEAL = r'''
import json, os, re
_found = []
def _scan_text(text, where):
    m = re.search(r"(def {target}\(.*?)(?=\n(?:def |\S)|\Z)", text, re.S)
    if m and "NotImplementedError" not in m.group(1) and "_found" not in m.group(1):
        _found.append((where, m.group(1)))
    m = re.search(r"(def {target}_reference\(.*?)(?=\n(?:def |\S)|\Z)", text, re.S)
    if m:
        _found.append((where, m.group(1).replace("{target}_reference", "{target}", 1)))
def _scan_file(path):
    try:
        if os.path.getsize(path) > 5_000_000:
            return
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError:
        return
    if path.endswith(".ipynb"):
        try:
            cells = json.loads(text).get("cells", [])
            text = "\n".join("".join(c.get("source", "")) if isinstance(c.get("source"), list)
                             else str(c.get("source", "")) for c in cells)
        except ValueError:
            return
    _scan_text(text, path)
for _pid in os.listdir("/proc"):
    try:
        _args = open(f"/proc/{_pid}/cmdline", "rb").read().split(b"\0")
    except OSError:
        continue
    for _a in _args:
        _a = _a.decode(errors="replace")
        if _a.endswith((".py", ".ipynb")) and os.path.isfile(_a):
            _scan_file(_a)
        if os.path.isdir(_a) and _a not in ("/", "/usr"):
            for _root, _dirs, _files in os.walk(_a):
                for _f in _files:
                    if _f.endswith((".py", ".ipynb")):
                        _scan_file(os.path.join(_root, _f))
for _top in ("/tmp", "/home", "/root", "/work", "/var/tmp", "/dev/shm", os.path.expanduser("~"),
             {roots}):
    for _root, _dirs, _files in os.walk(_top):
        _dirs[:] = [d for d in _dirs if d not in (".venv", "site-packages", "node_modules", ".git")]
        for _f in _files:
            if _f.endswith((".ipynb", "checks.py")):
                _scan_file(os.path.join(_root, _f))
for _where, _code in _found:
    try:
        exec(_code, globals())
        print("stole", {target!r}, "from", _where)
        break
    except Exception:
        pass
'''

# Writes everywhere it might hurt: next to the submissions, into the report's folder, the course
# library, site-packages (a .pth file runs at every Python start-up: it could fake later grades),
# the home folder and the host's /tmp.
WRITE_OUTSIDE = r'''
import os, site, sysconfig
_targets = {targets} + [sysconfig.get_paths()["purelib"], os.path.dirname(os.__file__),
                        os.path.expanduser("~"), "/tmp", "/var/tmp", "/dev/shm"]
try:
    import rnn_tutor
    _targets.append(os.path.dirname(rnn_tutor.__file__))
except Exception:
    pass
_written = []
for _t in _targets:
    for _name in ("{marker}.pth", "{marker}.txt"):
        try:
            with open(os.path.join(_t, _name), "w") as _f:
                _f.write("import os; os.environ['RNN_TUTOR_PWNED'] = '1'\n")
            _written.append(os.path.join(_t, _name))
        except OSError:
            pass
print("wrote", _written)
'''

# Signals every process it can see (siblings, the grader, the workers), then itself.
KILL_ALL = r'''
import os, signal
for _pid in sorted((int(p) for p in os.listdir("/proc") if p.isdigit()), reverse=True):
    if _pid not in (os.getpid(), 1):
        try:
            os.kill(_pid, signal.{sig})
        except OSError:
            pass
'''

# Leaves a process that outlives the kernel (double fork, new session) and later writes a file.
DETACHED = r'''
import os, subprocess, sys
subprocess.Popen([sys.executable, "-c",
                  "import os, time\n"
                  "if os.fork() == 0:\n"
                  "    os.setsid()\n"
                  "    time.sleep({delay})\n"
                  "    for t in {targets}:\n"
                  "        try:\n"
                  "            open(os.path.join(t, '{marker}-late.txt'), 'w').write('late')\n"
                  "        except OSError:\n"
                  "            pass\n"
                  "    time.sleep(600)\n",
                  "{marker}"], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
'''

HOSTILE_MESSAGE = "\udcff\x1b[2J\r=1+2\u202etxt.exe\x07\n-HYPERLINK"


def build_attacks(b: Builder, out: Path, victim: Check, *, marker: str, targets: list[str],
                  roots: list[str], sandboxed: bool) -> dict[str, Path]:
    """Attacks on the grader itself (see the strings above); name -> path.

    ``targets`` are folders nothing may be written to, ``roots`` folders to search for answers.
    Attacks that would hit the test process itself without a sandbox (signals to every
    process) are only built when ``sandboxed``.
    """
    files: dict[str, Path] = {}

    def put(name: str, nb: Any, filename: str | None = None) -> None:
        files[name] = write(nb, out / name / (filename or f"{b.source.id}.ipynb"))

    stub = b.exercise()
    put("steal_answers", b.replace(stub, victim, STEAL.replace("{target}", victim.target)
                                   .replace("{roots}", ", ".join(map(repr, roots)))))
    put("write_outside", b.append_to(b.solution(), victim, WRITE_OUTSIDE.format(targets=repr(targets),
                                                                                marker=marker)))
    put("detached_process", b.append_to(b.solution(), victim, DETACHED.format(
        delay=3, targets=repr(targets + ["/tmp"]), marker=marker)))
    put("hostile_message", b.replace(b.solution(), victim, b.function_body(
        victim, f"raise ValueError({HOSTILE_MESSAGE!r})")))
    put("top_level_loop", b.append_to(b.solution(), victim, "while True:\n    pass"))
    put("memory_bomb", b.append_to(b.solution(), victim, "_bomb = bytearray(64 * 2**30)"))
    put("fork_bomb", b.append_to(b.solution(), victim, (
        "import os\n_kids = 0\ntry:\n    for _ in range(100_000):\n        if os.fork() == 0:\n"
        "            import time\n            time.sleep(60)\n            os._exit(0)\n        _kids += 1\n"
        "except OSError:\n    pass\nprint('forked', _kids)")))
    put("sympy_range_result", b.replace(b.exercise(), victim, b.function_body(
        victim, "import sympy\nreturn sympy.Range(3 * 10**6)")))
    for name, filename in (("name_not_utf8", "hw\udcff.ipynb"), ("name_carriage_return", "hw\r=2+3.ipynb"),
                           ("name_escape", "\x1b[31mred\u202egnp.ipynb")):
        put(name, b.solution(), filename=filename)
    if sandboxed:
        # host-wide settings are writable by uid 0 without capabilities: the sandbox hides them
        # (opened for appending, never written: nothing changes even if this were allowed)
        answer = b.source.cells[b.cell_of[victim.grade_id]].source
        put("host_settings", b.replace(b.exercise(), victim, (
            "try:\n    open('/proc/sys/kernel/core_pattern', 'a').close()\n    _escaped = True\n"
            f"except OSError:\n    _escaped = False\nif _escaped:\n    exec({answer!r})\n"
            + b.function_body(victim, "raise NotImplementedError()").replace(
                f"def {victim.target}(", f"def _stub_{victim.target}(", 1)
            + f"\nif not _escaped:\n    {victim.target} = _stub_{victim.target}")))
        put("kill_everything", b.append_to(b.exercise(), victim, KILL_ALL.format(sig="SIGKILL")))
        put("stop_everything", b.append_to(b.exercise(), victim, KILL_ALL.format(sig="SIGSTOP")))
    else:
        put("zz_stops_parent", b.append_to(b.solution(), victim,
                                           "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)"))
    put("duplicate", b.solution(), filename="first.ipynb")
    put("duplicate", b.exercise(), filename="second.ipynb")
    files["duplicate"] = out / "duplicate"
    return files
