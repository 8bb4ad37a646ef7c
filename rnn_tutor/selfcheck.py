"""``rnn-tutor check [EXERCISE...]``: grade your own exercise notebooks, for self-study.

Each notebook goes through the same grader as ``rnn-tutor grade``
(:mod:`rnn_tutor.grading`): it is rebuilt from ``solutions/`` and your answers, run
in a fresh kernel, and every task is scored by calling your functions on fresh
inputs.  The result is a table per notebook: task, passed, points and the first
hint of each failure, wrapped to the terminal's width and never cut short.

The notebooks are only read, never written: your work stays exactly as it was.

No OS sandbox by default: ``rnn-tutor grade`` runs every kernel in one, because it
runs other people's code.  ``check`` runs *your* code on *your* machine, exactly as
JupyterLab does when you press Run, so a sandbox would protect nothing, and it would
need bubblewrap, which macOS and Windows do not have.  ``--sandbox`` uses it anyway
(Linux with bubblewrap; for a notebook you did not write).  The other limits of the
grader (time per cell, a fresh kernel in an empty folder) always apply.  On macOS the
kernel's address-space limit is left off: macOS refuses ``RLIMIT_AS``.

An EXERCISE is a number (``3`` or ``03``), a course id (``03_bptt``), a file name in
``exercises/`` or a path to a notebook (anywhere, under any name: the grader
matches it by the course id in its metadata).  Without one, every notebook in
``exercises/`` is checked.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

__all__ = ["resolve_exercises", "format_result", "task_rows", "run", "main", "build_parser"]

Print = Callable[[str], None]


def _exercise_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "exercises").glob("*.ipynb") if not p.name.startswith("."))


def _course_id(path: Path) -> str | None:
    """The ``rnn_tutor.id`` in a notebook's metadata (None if unreadable or absent)."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8-sig")).get("metadata", {})
        nb_id = meta.get("rnn_tutor", {}).get("id")
    except (OSError, ValueError, AttributeError):
        return None
    return nb_id if isinstance(nb_id, str) else None


def resolve_exercises(names: Sequence[str], root: Path) -> list[Path]:
    """The notebooks named by ``names`` (all of ``root/exercises`` when empty), in order.

    Raises ``ValueError`` naming the argument, what was received and the valid choices.
    """
    available = _exercise_files(root)
    if not names:
        if not available:
            raise ValueError(f"EXERCISE: {root / 'exercises'} holds no notebooks")
        return available
    ids = {p: (_course_id(p) or re.sub(r"_exercises$", "", p.stem)) for p in available}
    out: list[Path] = []
    for name in names:
        path = Path(name)
        if path.suffix == ".ipynb" and path.is_file():
            found = [path]
        elif path.is_dir():
            found = sorted(p for p in path.glob("*.ipynb") if not p.name.startswith("."))
        elif name.isdigit():
            found = [p for p in available if ids[p].split("_", 1)[0] == f"{int(name):02d}"]
        else:
            key = name.removesuffix(".ipynb")
            found = [p for p in available if key in (ids[p], p.stem)]
        if not found:
            choices = ", ".join(f"{ids[p].split('_', 1)[0]} ({ids[p]})" for p in available)
            raise ValueError(f"EXERCISE: expected an exercise number, course id or notebook path; "
                             f"received {name!r}. Choices: {choices or 'none (exercises/ is empty)'}")
        out.extend(p for p in found if p not in out)
    return out


@dataclass(frozen=True)
class TaskRow:
    """One line of the table: task, passed (yes/no/partly/-), points and the hint."""

    task: str
    passed: str
    points: str
    hint: str


def _num(x: float) -> str:
    return f"{x:g}"


def task_rows(result) -> list[TaskRow]:
    """The table rows of one graded notebook (a :class:`rnn_tutor.grading.grade.Result`)."""
    rows = []
    for r in result.rows:
        if r.status == "passed":
            passed, hint = "yes", ""
        elif r.status == "partial":
            passed, hint = "partly", r.reason
        elif r.status == "manual":
            passed, hint = "-", "answered in words: not checked here (your teacher grades it)"
        else:
            passed, hint = "no", r.reason
        points = f"{_num(r.points)}/{_num(r.max_points)}" if r.task else ""
        rows.append(TaskRow(r.task or "(notebook)", passed, points, hint.strip()))
    return rows


def _wrap(text: str, width: int) -> list[str]:
    """Every line of ``text`` wrapped at word boundaries to ``width`` (nothing dropped)."""
    lines: list[str] = []
    for line in text.splitlines() or [""]:
        lines.extend(textwrap.wrap(line, width, break_long_words=False, break_on_hyphens=False)
                     or [""])
    return lines


def format_result(result, label: str, width: int = 100) -> str:
    """The table of one notebook: a heading with the total, then task / passed / points / hint."""
    from rnn_tutor.grading.report import terminal_safe

    rows = task_rows(result)
    graded = result.status == "graded"
    head = (f"{label}: {_num(result.points)} of {_num(result.max_points)} points"
            if graded else f"{label}: not checked ({result.status})")
    header = TaskRow("task", "passed", "points", "first hint")
    cols = [max(len(terminal_safe(getattr(r, f), 10_000)) for r in (header, *rows))
            for f in ("task", "passed", "points")]
    indent = 2 + sum(cols) + 2 * len(cols)
    hint_width = max(30, width - indent)
    lines = [head]
    for r in (header, *rows):
        cells = [terminal_safe(getattr(r, f), 10_000).ljust(c)
                 for f, c in zip(("task", "passed", "points"), cols)]
        hint = _wrap(_safe_lines(r.hint), hint_width)
        lines.append(("  " + "  ".join(cells) + "  " + hint[0]).rstrip())
        lines.extend((" " * indent + more).rstrip() for more in hint[1:])
    for note in result.notes:
        lines.extend("  " + ln for ln in _wrap(f"note: {_safe_lines(note)}", width - 2))
    return "\n".join(lines)


def _safe_lines(text: str) -> str:
    """``text`` with control characters escaped, line by line (line breaks kept)."""
    from rnn_tutor.grading.report import terminal_safe

    return "\n".join(terminal_safe(ln, 10_000) for ln in str(text).splitlines())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rnn-tutor check",
        description="Check your own exercise notebooks with the course's grader: a table of "
                    "tasks passed, points and the first hint of each failure. The notebooks "
                    "are read, never written. Save the notebook in JupyterLab first: the "
                    "check reads the file, not the open tab.",
        epilog="Exit codes: 0 every task passed, 1 some task did not pass, 2 usage error.")
    p.add_argument("exercises", nargs="*", metavar="EXERCISE",
                   help="number (3 or 03), course id (03_bptt) or notebook path; "
                        "default: every notebook in exercises/")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S",
                   help="time limit per cell and per call of your function (default 60)")
    p.add_argument("--sandbox", action="store_true",
                   help="run the kernels in the grader's bubblewrap sandbox (Linux); by default "
                        "your own notebooks run as in JupyterLab, without one")
    return p


def main(argv: Sequence[str], out: Print = print,
         err: Print = lambda s: print(s, file=sys.stderr, flush=True)) -> int:
    """Run ``rnn-tutor check``; return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.timeout <= 0:
        err(f"rnn-tutor check: error: --timeout: expected a number of seconds > 0, received {args.timeout:g}")
        return 2
    from rnn_tutor.lab import CourseNotFound, find_course

    try:
        root = find_course()
        paths = resolve_exercises(args.exercises, root)
    except (CourseNotFound, ValueError) as exc:
        err(f"rnn-tutor check: error: {exc}")
        return 2
    return run(paths, root, timeout=args.timeout, sandbox=args.sandbox, out=out, err=err)


def run(paths: Sequence[Path], root: Path, *, timeout: float = 60.0, sandbox: bool = False,
        out: Print = print, err: Print = print) -> int:
    """Grade ``paths`` against ``root/solutions`` and print one table per notebook."""
    from rnn_tutor.grading.cli import Interrupted, grade_all
    from rnn_tutor.grading.grade import Options
    from rnn_tutor.grading.match import Submission, load_sources

    source = root / "solutions"
    try:
        load_sources(source)
    except ValueError as exc:
        err(f"rnn-tutor check: error: {exc}")
        return 2
    # One "student" per file (its name, short enough for the progress lines; its path when
    # two files share a name): two copies of one exercise are two attempts, not duplicates.
    names = [Path(p).name for p in paths]
    subs = [Submission(Path(p), n if names.count(n) == 1 else _label(Path(p), root)) for p, n in zip(paths, names)]
    # Your own code on your own machine: no OS sandbox unless asked (see the module docstring).
    opts = Options(timeout=timeout, sandbox=False)
    if sandbox:
        from rnn_tutor.grading.cli import _hidden_paths
        from rnn_tutor.grading.sandbox import SandboxUnavailable, check_sandbox

        try:
            bwrap = check_sandbox()
        except SandboxUnavailable as exc:
            err(f"rnn-tutor check: error: --sandbox: {exc} (without --sandbox, rnn-tutor check "
                "runs your notebooks as JupyterLab does)")
            return 2
        opts = dataclasses.replace(opts, sandbox=True, bwrap=bwrap,
                                   hide=_hidden_paths(source, [str(p) for p in paths], None, ()))
    if sys.platform == "darwin":      # setrlimit(RLIMIT_AS) fails there: no memory limit
        opts = dataclasses.replace(opts, memory_mb=0)
    how = "in the sandbox" if sandbox else "your own code: no sandbox"
    err(f"checking {len(subs)} notebook(s) against {source} ({how}) ...")
    try:
        results = grade_all(subs, source, opts, jobs=1, progress=err if len(subs) > 1 else None)
    except Interrupted as exc:
        err(f"rnn-tutor check: interrupted ({exc})")
        return 128 + exc.signum
    width = shutil.get_terminal_size((100, 24)).columns
    for path, res in zip(paths, results):
        out(format_result(res, _label(Path(path), root), width) + "\n")
    tasks = [r for res in results for r in res.rows if r.status != "manual"]
    passed = sum(r.status == "passed" for r in tasks)
    total = sum(res.points for res in results)
    most = sum(res.max_points for res in results)
    out(f"{passed} of {len(tasks)} task(s) passed; {_num(total)} of {_num(most)} points "
        f"in {len(results)} notebook(s).")
    return 0 if tasks and passed == len(tasks) else 1


def _label(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
