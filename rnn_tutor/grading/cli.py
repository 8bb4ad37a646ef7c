"""``rnn-tutor grade SUBMISSION_OR_FOLDER... [--out FILE.csv|FILE.json] [--timeout S] [--jobs N]``.

Grades every submission in its own fresh kernel, ``--jobs`` at a time (worker
processes, each driving its own kernels), prints progress to stderr and a summary
to stdout, and writes the report.  Exit codes: 0 the run completed (whatever the
scores), 2 a usage error (no submissions, a missing path, a broken source notebook).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Sequence

# nbformat imports jsonschema, whose IRI format checker ``rfc3987_syntax`` builds a parser
# at import time: seconds of CPU in every grading process.  nbformat's schema does not use
# that format, so the grader's processes skip it (jsonschema treats it as not installed).
sys.modules.setdefault("rfc3987_syntax", None)

from rnn_tutor.grading.grade import NO_TASK, Options, Result, Row, grade_submission  # noqa: E402
from rnn_tutor.grading.match import Submission, find_submissions, load_sources  # noqa: E402
from rnn_tutor.grading.report import progress_line, summary, write_report  # noqa: E402

__all__ = ["main", "build_parser", "grade_all", "load_registry"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rnn-tutor grade``."""
    p = argparse.ArgumentParser(
        prog="rnn-tutor grade",
        description="Grade submitted exercise notebooks against solutions/ (nbgrader "
                    "conventions). Each submission is matched by its course id, rebuilt from "
                    "the source (checks and locked cells restored), run in a fresh kernel, and "
                    "scored by calling its functions on fresh inputs. See docs/grading.md.")
    p.add_argument("paths", nargs="+", metavar="SUBMISSION_OR_FOLDER",
                   help="notebook files, or folders searched for *.ipynb (student = first "
                        "sub-folder name, else the file name)")
    p.add_argument("--out", type=Path, metavar="FILE.csv|FILE.json", help="write the report here")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S",
                   help="time limit per cell and per call of a learner's function (default 60)")
    p.add_argument("--notebook-timeout", type=float, default=600.0, metavar="S",
                   help="time limit per notebook (default 600)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="submissions graded in parallel (default 1)")
    p.add_argument("--memory", type=int, default=2048, metavar="MB",
                   help="address-space limit of each kernel in MiB (default 2048; 0 = none)")
    p.add_argument("--source", type=Path, metavar="DIR",
                   help="source notebooks (default: solutions/ of the course root)")
    p.add_argument("--checks", action="append", default=[], metavar="FILE_OR_MODULE",
                   help="extra check definitions to import (e.g. private hidden checks); repeatable")
    p.add_argument("--keep", type=Path, metavar="DIR",
                   help="keep the restored notebooks here (for debugging)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p


def load_registry(extra: Sequence[str] = ()) -> dict:
    """Import :mod:`rnn_tutor.checks` and the ``extra`` files/modules; return the registry."""
    from rnn_tutor.checks.core import REGISTRY
    import rnn_tutor.checks  # noqa: F401 - registers every course check

    for item in extra:
        if item.endswith(".py") or Path(item).is_file():
            path = Path(item).resolve()
            name = f"_rnn_tutor_extra_checks_{abs(hash(str(path)))}"
            if name not in sys.modules:
                spec = importlib.util.spec_from_file_location(name, path)
                if spec is None or spec.loader is None:
                    raise ValueError(f"--checks: cannot import {item}")
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                spec.loader.exec_module(module)
        else:
            importlib.import_module(item)
    return dict(REGISTRY)


def _default_source() -> Path:
    from rnn_tutor.release import ReleaseError, find_course_root

    try:
        return find_course_root() / "solutions"
    except ReleaseError:
        return Path(__file__).resolve().parents[2] / "solutions"


# Worker state: sources and registry are loaded once per worker process.
_STATE: dict[str, Any] = {}


def _init(source: str, checks: Sequence[str]) -> None:
    _STATE["sources"] = load_sources(Path(source))
    _STATE["registry"] = load_registry(checks)


def _grade_one(sub: Submission, opts: Options) -> Result:
    try:
        return grade_submission(sub, _STATE["sources"], _STATE["registry"], opts)
    except Exception as exc:  # noqa: BLE001 - a grader bug must not stop the other submissions
        msg = f"internal error: {type(exc).__name__}: {exc}"
        row = Row(sub.student, "", str(sub.path), NO_TASK, 0.0, 0.0, "grader-error", msg)
        return Result(sub.student, str(sub.path), "", [row], "grader-error")


def _failed(sub: Submission, message: str) -> Result:
    row = Row(sub.student, "", str(sub.path), NO_TASK, 0.0, 0.0, "grader-error", message)
    return Result(sub.student, str(sub.path), "", [row], "grader-error")


def _run_pool(subs: list[Submission], todo: list[int], source: Path, opts: Options, jobs: int,
              checks: Sequence[str], report) -> list[int]:
    """Grade ``todo`` in a pool of ``jobs`` workers; return those lost to a dead worker."""
    ctx = multiprocessing.get_context("spawn")    # no fork of a process holding ZMQ sockets
    broken: list[int] = []
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init,
                             initargs=(str(source), list(checks))) as pool:
        futures = {pool.submit(_grade_one, subs[i], opts): i for i in todo}
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                report(i, fut.result())
            except BrokenProcessPool:
                broken.append(i)
            except Exception as exc:  # noqa: BLE001
                report(i, _failed(subs[i], f"the grading worker failed: {type(exc).__name__}: {exc}"))
    return sorted(broken)


def _pool(subs: list[Submission], source: Path, opts: Options, jobs: int, checks: Sequence[str],
          report) -> None:
    """Grade in ``jobs`` worker processes.

    A submission can kill its worker (it runs as the same user), which breaks the
    whole pool.  The submissions lost that way are then graded one by one, each in
    a pool of its own, so only the culprit ends as a ``grader-error``.
    """
    lost = _run_pool(subs, list(range(len(subs))), source, opts, jobs, checks, report)
    for i in lost:
        if _run_pool(subs, [i], source, opts, 1, checks, report):
            report(i, _failed(subs[i], "the grading worker process died while grading this "
                                       "submission (did it kill its parent process?)"))


def grade_all(subs: list[Submission], source: Path, opts: Options, *, jobs: int = 1,
              checks: Sequence[str] = (), progress=None, in_process: bool = False) -> list[Result]:
    """Grade ``subs`` in ``jobs`` worker processes; results in the order of ``subs``.

    Workers protect the run from a submission that kills its kernel's parent.
    ``in_process=True`` grades here instead, one at a time (for tests and scripts).
    """
    results: dict[int, Result] = {}
    done = 0

    def report(i: int, res: Result) -> None:
        nonlocal done
        done += 1
        results[i] = res
        if progress is not None:
            progress(progress_line(done, len(subs), res))

    # One folder for the whole run, removed at the end even if a worker was killed
    # before it could remove its own temporary folders.
    with tempfile.TemporaryDirectory(prefix="rnn-tutor-grade-run-", ignore_cleanup_errors=True) as tmp:
        opts = dataclasses.replace(opts, tmp_root=Path(tmp))
        if in_process:
            _init(str(source), checks)
            for i, sub in enumerate(subs):
                report(i, _grade_one(sub, opts))
        elif subs:
            _pool(subs, source, opts, max(1, min(jobs, len(subs))), checks, report)
    return [results[i] for i in range(len(subs))]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rnn-tutor grade``; return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:
        return int(exc.code or 0)

    def fail(message: str) -> int:
        print(f"rnn-tutor grade: error: {message}", file=sys.stderr)
        return 2

    if args.jobs < 1 or args.timeout <= 0 or args.notebook_timeout <= 0 or args.memory < 0:
        return fail("--jobs must be >= 1, --timeout and --notebook-timeout > 0, --memory >= 0")
    if args.out is not None and args.out.suffix.lower() not in (".csv", ".json"):
        return fail(f"--out: expected a file name ending in .csv or .json, received {args.out.name!r}")
    source = args.source or _default_source()
    try:
        sources = load_sources(source)
        load_registry(args.checks)
        subs = find_submissions(args.paths, sources)
    except (ValueError, FileNotFoundError, ImportError) as exc:
        return fail(str(exc))
    if not subs:
        return fail("no submissions found (folders are searched for *.ipynb)")
    opts = Options(timeout=args.timeout, notebook_timeout=args.notebook_timeout,
                   memory_mb=args.memory, keep=args.keep)
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    if progress:
        progress(f"grading {len(subs)} submission(s) against {source} with {args.jobs} job(s)")
    t0 = time.monotonic()
    results = grade_all(subs, source, opts, jobs=args.jobs, checks=args.checks, progress=progress)
    elapsed = time.monotonic() - t0
    print(summary(results, elapsed))
    if args.out is not None:
        try:
            write_report(results, args.out)
        except OSError as exc:
            return fail(f"cannot write {args.out}: {exc.strerror or exc}")
        if progress:
            progress(f"report written to {args.out}")
    return 0
