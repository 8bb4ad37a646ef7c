"""Grade one submission: read, match, restore, run in a fresh kernel, score every task.

:func:`grade_submission` never raises for a bad submission: whatever happens
(unreadable file, unknown exercise, a loop, a dead kernel) ends as rows with a
status and a reason.  Statuses of a task row:

``passed``, ``partial``, ``failed``, ``not-implemented``, ``missing`` (the function is
not defined), ``error`` (it raised, or the restored check cell raised), ``timeout``,
``kernel-died``, ``manual`` (graded by hand in nbgrader; 0 points here), ``not-run``;
and for a submission that cannot be graded at all, one row (task ``""``) with ``invalid``,
``unsupported-format``, ``unknown-exercise`` or ``grader-error``.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import nbformat

from rnn_tutor.grading.execute import Kernel, KernelStartError
from rnn_tutor.grading.match import Submission, Unreadable, match_source, read_submission
from rnn_tutor.grading.restore import Restored, RunCell, restore, to_notebook
from rnn_tutor.grading.judge import judge_for
from rnn_tutor.grading.score import TaskScore, score_check

__all__ = ["Options", "Row", "Result", "grade_submission", "NO_TASK"]

NO_TASK = ""            # the task column of a row about the whole submission


@dataclass(frozen=True)
class Options:
    """Grading settings (see ``rnn-tutor grade --help``)."""

    timeout: float = 60.0             # per cell (and per call of a learner's function)
    notebook_timeout: float = 600.0   # whole notebook
    memory_mb: int = 2048             # address-space limit of the kernel
    keep: Path | None = None          # keep the restored notebooks here (debugging)
    grace: float = 5.0                # seconds an interrupted cell gets before the kernel is killed
    tmp_root: Path | None = None      # where the temporary folders go (default: the system's)
    sandbox: bool = True              # run each kernel in the bubblewrap sandbox (rnn_tutor.grading.sandbox)
    bwrap: str | None = None          # the bwrap executable (None: searched when needed)
    hide: tuple = ()                  # paths the sandbox must not show (sources, submissions, report, ...)
    checks: tuple = ()                # extra check files/modules (--checks), for the judge process
    watchdog: float | None = None     # wall-clock limit of one submission in a worker (None: derived)

    def watchdog_seconds(self) -> float:
        """How long a worker may spend on one submission before it is killed."""
        if self.watchdog is not None:
            return self.watchdog
        return self.notebook_timeout + 2 * self.grace + 120.0   # + kernel start and judging


@dataclass
class Row:
    """One task of one submission (or the submission itself, task ``-``)."""

    student: str
    notebook: str
    file: str
    task: str
    points: float
    max_points: float
    status: str
    reason: str = ""


@dataclass
class Result:
    """All rows of one submission, its totals and notes on repairs made."""

    student: str
    file: str
    notebook: str
    rows: list[Row]
    status: str = "graded"
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    sandboxed: bool = True
    duplicate: bool = False

    @property
    def points(self) -> float:
        return float(sum(r.points for r in self.rows))

    @property
    def max_points(self) -> float:
        return float(sum(r.max_points for r in self.rows))


def _unreadable(sub: Submission, exc: Unreadable, t0: float, notebook: str = "",
                sandboxed: bool = True) -> Result:
    row = Row(sub.student, notebook, str(sub.path), NO_TASK, 0.0, 0.0, exc.status, exc.reason)
    return Result(sub.student, str(sub.path), notebook, [row], exc.status, [], time.monotonic() - t0,
                  sandboxed)


def grade_submission(sub: Submission, sources: Mapping[str, Any], registry: Mapping,
                     opts: Options = Options()) -> Result:
    """Grade ``sub`` against ``sources`` (``{id: SourceNotebook}``) with the checks in ``registry``."""
    t0 = time.monotonic()
    try:
        learner = read_submission(sub.path)
        nb_id, note = match_source(sub.path, learner, sources)
    except Unreadable as exc:
        return _unreadable(sub, exc, t0, sandboxed=opts.sandbox)
    try:
        restored = restore(sources[nb_id], learner)
    except Exception as exc:  # noqa: BLE001 - never let one submission stop the run
        return _unreadable(sub, Unreadable("grader-error", f"cannot rebuild the notebook: {exc}"),
                           t0, nb_id, opts.sandbox)
    notes = ([note] if note else []) + restored.notes
    run_notes: list[str] = []
    scores = _run(restored, nb_id, registry, opts, run_notes)
    notes += run_notes
    rows = []
    for rc in restored.cells:
        if rc.graded:
            ts = scores.get(rc.grade_id) or TaskScore(0.0, "not-run", "the cell was not reached")
            rows.append(Row(sub.student, nb_id, str(sub.path), rc.grade_id, round(ts.points, 6),
                            rc.points, ts.status, ts.reason))
    if not rows:
        rows.append(Row(sub.student, nb_id, str(sub.path), NO_TASK, 0.0, 0.0, "graded",
                        "this notebook has no graded cells"))
    started = not any(r.status == "grader-error" and "did not start" in r.reason for r in rows)
    return Result(sub.student, str(sub.path), nb_id, rows, "graded" if started else "grader-error", notes,
                  time.monotonic() - t0, opts.sandbox)


def _run(restored: Restored, nb_id: str, registry: Mapping, opts: Options,
         notes: list[str]) -> dict[str, TaskScore]:
    """Execute the rebuilt notebook in a fresh kernel; return a score per graded ``grade_id``.

    ``notes`` receives a line for each top-level cell that was interrupted (time, output
    or memory limit)."""
    scores: dict[str, TaskScore] = {}
    with tempfile.TemporaryDirectory(prefix="s", dir=opts.tmp_root) as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        nb = to_notebook(restored, nb_id)
        nbformat.write(nb, Path(tmp) / f"{nb_id}.restored.ipynb")
        if opts.keep is not None:
            opts.keep.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, opts.keep / f"{nb_id}-{Path(tmp).name}.ipynb")
        bwrap = None
        if opts.sandbox:
            from rnn_tutor.grading.sandbox import find_bwrap, install_hint

            bwrap = opts.bwrap or find_bwrap()
            if bwrap is None:
                return {rc.grade_id: TaskScore(0.0, "grader-error", "the kernel did not start: no sandbox: "
                                               + install_hint()) for rc in restored.cells if rc.graded}
        kernel = Kernel(work, memory_mb=opts.memory_mb, grace=opts.grace, sandbox=bwrap,
                        hide=tuple(opts.hide) + (Path(tmp),))
        try:
            kernel.start()
        except KernelStartError as exc:
            return {rc.grade_id: TaskScore(0.0, "grader-error", str(exc))
                    for rc in restored.cells if rc.graded}
        try:
            stop = _cells(kernel, restored, nb_id, registry, opts, scores, notes)
        finally:
            kernel.close()
    if stop is not None:
        for rc in restored.cells:
            if rc.graded and rc.grade_id not in scores:
                scores[rc.grade_id] = TaskScore(0.0, stop[0], f"not run: {stop[1]}")
    return scores


def _cells(kernel: Kernel, restored: Restored, nb_id: str, registry: Mapping, opts: Options,
           scores: dict[str, TaskScore], notes: list[str]) -> tuple[str, str] | None:
    """Run the cells in order; fill ``scores``; return ``(status, reason)`` if the run stopped early."""
    deadline = time.monotonic() + opts.notebook_timeout
    learner_trouble: list[tuple[str, str, str]] = []      # (status, label, error) of the learner's cells
    for rc in restored.cells:
        if rc.graded and (rc.solution or rc.cell_type != "code"):
            scores[rc.grade_id] = TaskScore(0.0, "manual", "graded by hand (an nbgrader manually "
                                            "graded answer); 0 points here")
        if rc.cell_type != "code":
            continue
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout", f"the notebook ran longer than {opts.notebook_timeout:g} s (before {rc.label})"
        check = registry.get((nb_id, rc.grade_id)) if rc.graded and not rc.solution else None
        if check is not None:
            ts = score_check(kernel, check, rc.points, opts.timeout, deadline, judge_for(opts.checks))
            scores[rc.grade_id] = _explain(ts, learner_trouble)
            if ts.stop is not None:
                return ("kernel-died" if ts.stop.status == "died" else ts.status), ts.reason
            if ts.status == "timeout":
                continue              # its check cell would loop again; its verdict is not used anyway
        res = kernel.execute(rc.source, min(opts.timeout, left))
        if res.status != "ok" and rc.origin != "source":
            learner_trouble.append((res.status, rc.label, res.error))
        note = _interrupted(rc, res, opts)
        if note:
            notes.append(note)
        if rc.graded and check is None and not rc.solution:
            scores[rc.grade_id] = _fallback(rc, res)
        if res.killed:
            status = "kernel-died" if res.status == "died" else res.status
            return status, f"{'the kernel died in' if res.status == 'died' else 'stopped at'} {rc.label}: {res.error}"
    return None


def _interrupted(rc: RunCell, res: Any, opts: Options) -> str:
    """A note for a top-level cell stopped by a limit (time, output, memory), else ``""``."""
    if res.status == "timeout":
        return f"{rc.label} was interrupted: {res.error}"
    if res.status == "output-limit":
        return f"{rc.label} was interrupted: {res.error}"
    if res.status == "error" and res.error.startswith("MemoryError"):
        limit = f" (the kernel may use {opts.memory_mb} MB; see --memory)" if opts.memory_mb else ""
        return f"{rc.label} ran out of memory: {res.error}{limit}"
    if res.status == "died":
        return f"the kernel died in {rc.label}: {res.error}"
    return ""


def _fallback(rc: RunCell, res: Any) -> TaskScore:
    """nbgrader's rule for a graded cell without a registered check: it passes if it runs."""
    if res.status == "ok":
        return TaskScore(rc.points, "passed", "the check cell ran without error")
    status = {"died": "kernel-died", "timeout": "timeout", "error": "failed"}.get(res.status, "error")
    return TaskScore(0.0, status, res.error or res.status)


def _explain(ts: TaskScore, trouble: list[tuple[str, str, str]]) -> TaskScore:
    """Add the first failure of the learner's own cells to a 'missing' or 'error' verdict."""
    if ts.status not in ("missing", "error") or not trouble:
        return ts
    status, label, error = trouble[0]
    why = {"timeout": "timed out", "output-limit": "printed too much"}.get(status, "raised")
    new_status = "timeout" if status == "timeout" and ts.status == "missing" else ts.status
    return TaskScore(ts.points, new_status, f"{ts.reason} ({label} {why}: {error})", ts.stop)
