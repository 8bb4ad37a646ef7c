"""``rnn-tutor grade SUBMISSION_OR_FOLDER... [--out FILE.csv|FILE.json] [--timeout S] [--jobs N]``.

Grades every submission in its own fresh kernel, ``--jobs`` at a time (worker
processes, each driving its own kernels, under a watchdog), prints progress to stderr
and a summary to stdout, and writes the report.  Exit codes: 0 every submission was
graded (whatever the scores; files that are not notebooks included), 1 the run
completed but some submissions could not be graded (``grader-error`` rows: a kernel
that did not start, a worker that died, no worker that could start: see
:mod:`rnn_tutor.grading.pool`), 2 a usage error (no submissions, a missing
path, a broken source notebook, no sandbox), 130/143 interrupted (the report holds
what was graded).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

# nbformat imports jsonschema, whose IRI format checker ``rfc3987_syntax`` builds a parser
# at import time: seconds of CPU in every grading process.  nbformat's schema does not use
# that format, so the grader's processes skip it (jsonschema treats it as not installed).
sys.modules.setdefault("rfc3987_syntax", None)

from rnn_tutor.grading.grade import NO_TASK, Options, Result, Row, grade_submission  # noqa: E402
from rnn_tutor.grading.match import Submission, find_submissions, load_sources  # noqa: E402
from rnn_tutor.grading.execute import RUN_PREFIX, short_temp_base  # noqa: E402
from rnn_tutor.grading.pool import run_pool  # noqa: E402
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
    p.add_argument("--no-sandbox", dest="sandbox", action="store_false",
                   help="run kernels without the bubblewrap sandbox (every row then says 'unsandboxed'); "
                        "only inside a disposable virtual machine or container")
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
    from rnn_tutor.grading.judge import judge_for

    judge_for(checks).start()            # it loads the checks while this process does too
    _STATE["sources"] = load_sources(Path(source))
    _STATE["registry"] = load_registry(checks)


def _grade_one(sub: Submission, opts: Options) -> Result:
    try:
        return grade_submission(sub, _STATE["sources"], _STATE["registry"], opts)
    except Exception as exc:  # noqa: BLE001 - a grader bug must not stop the other submissions
        msg = f"internal error: {type(exc).__name__}: {exc}"
        row = Row(sub.student, "", str(sub.path), NO_TASK, 0.0, 0.0, "grader-error", msg)
        return Result(sub.student, str(sub.path), "", [row], "grader-error")


def _failed(sub: Submission, message: str, status: str = "grader-error", sandboxed: bool = True) -> Result:
    row = Row(sub.student, "", str(sub.path), NO_TASK, 0.0, 0.0, status, message)
    return Result(sub.student, str(sub.path), "", [row], status, sandboxed=sandboxed)


# ----------------------------------------------------------------------------- temporary folders

def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_runs(base: Path) -> list[Path]:
    """Remove this user's run folders whose grader process is gone (a run killed by SIGKILL)."""
    removed = []
    pattern = re.compile(re.escape(RUN_PREFIX) + r"(\d+)-")
    try:
        entries = list(base.iterdir())
    except OSError:
        return removed
    for path in entries:
        m = pattern.match(path.name)
        try:
            mine = path.is_dir() and not path.is_symlink() and path.stat().st_uid == os.getuid()
        except OSError:
            continue
        if m and mine and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _remove_stale_cgroups() -> None:
    """Remove the empty pids cgroups of kernels whose worker was killed (root only)."""
    from rnn_tutor.grading.sandbox import pids_root, remove_cgroup

    root = pids_root() if os.geteuid() == 0 else None
    if root is None:
        return
    pattern = re.compile(re.escape(RUN_PREFIX) + r"(\d+)-")
    for path in root.glob(RUN_PREFIX + "*"):
        m = pattern.match(path.name)
        if m and not _pid_alive(int(m.group(1))):
            remove_cgroup(path, wait=0)


class Interrupted(Exception):
    """The run was stopped by SIGINT or SIGTERM; ``results`` holds what was graded."""

    def __init__(self, signum: int, results: list[Result]) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum, self.results = signum, results


def _raise_on(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(signum)


def flag_duplicates(results: list[Result]) -> None:
    """Mark every submission that shares its student and exercise with another one (all of them)."""
    groups: dict[tuple[str, str], list[Result]] = {}
    for res in results:
        if res.notebook:
            groups.setdefault((res.student, res.notebook), []).append(res)
    for (student, notebook), group in groups.items():
        if len(group) > 1:
            for res in group:
                others = [r.file for r in group if r is not res]
                res.duplicate = True
                res.notes.append(f"duplicate: {len(group)} submissions of {student} for {notebook} "
                                 f"(also {', '.join(others)}); each is graded, choose one")


def grade_all(subs: list[Submission], source: Path, opts: Options, *, jobs: int = 1,
              checks: Sequence[str] = (), progress=None, in_process: bool = False) -> list[Result]:
    """Grade ``subs`` in ``jobs`` worker processes; results in the order of ``subs``.

    Workers protect the run from a submission that kills or stops its kernel's parent
    (see :mod:`rnn_tutor.grading.pool`).  ``in_process=True`` grades here instead, one at
    a time (for tests and scripts).  Duplicate submissions are flagged.  SIGINT and
    SIGTERM stop the run: workers and kernels are killed, the temporary folder removed,
    and :class:`Interrupted` carries the results so far.
    """
    results: dict[int, Result] = {}
    done = 0

    def report(i: int, res: Result) -> None:
        nonlocal done
        done += 1
        results[i] = res
        if progress is not None:
            progress(progress_line(done, len(subs), res))

    base = short_temp_base()
    remove_stale_runs(base)
    _remove_stale_cgroups()
    old_term = None
    if threading_main():
        old_term = signal.signal(signal.SIGTERM, _raise_on)
    tmp = Path(tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}-", dir=base))
    try:
        opts = dataclasses.replace(opts, tmp_root=tmp, checks=tuple(checks) or tuple(opts.checks))
        if in_process:
            _init(str(source), checks)
            for i, sub in enumerate(subs):
                report(i, _grade_one(sub, opts))
        elif subs:
            run_pool(subs, opts, max(1, min(jobs, len(subs))), _init, (str(source), list(checks)),
                     _grade_one, report)
    except KeyboardInterrupt as exc:
        signum = exc.args[0] if exc.args and isinstance(exc.args[0], int) else signal.SIGINT
        for i, sub in enumerate(subs):
            if i not in results:
                results[i] = _failed(sub, "not graded: the run was interrupted", "not-run", opts.sandbox)
        ordered = [results[i] for i in range(len(subs))]
        flag_duplicates(ordered)
        raise Interrupted(signum, ordered) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        remove_stale_runs(base)          # the folders of kernels whose worker was killed
        _remove_stale_cgroups()
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    ordered = [results[i] for i in range(len(subs))]
    flag_duplicates(ordered)
    return ordered


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _hidden_paths(source: Path, paths: Sequence[str], out: Path | None, checks: Sequence[str]) -> tuple:
    """What a sandboxed kernel must never see, should it lie inside a folder the sandbox mounts."""
    hidden = [source, Path.home(), Path.cwd(), *map(Path, paths)]
    if out is not None:
        hidden.append(out.resolve().parent)
    hidden += [Path(c) for c in checks if c.endswith(".py") or Path(c).is_file()]
    try:
        from rnn_tutor.release import find_course_root

        root = find_course_root()
        hidden += [root / "solutions", root / "exercises", root / "tests"]
    except Exception:  # noqa: BLE001 - no course root: nothing more to hide
        pass
    return tuple(sorted({str(Path(p).resolve()) for p in hidden}))


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
    bwrap = None
    if args.sandbox:
        from rnn_tutor.grading.sandbox import SandboxUnavailable, check_sandbox, compile_library

        try:
            bwrap = check_sandbox()
        except SandboxUnavailable as exc:
            return fail(f"{exc}")
        compile_library()
    opts = Options(timeout=args.timeout, notebook_timeout=args.notebook_timeout,
                   memory_mb=args.memory, keep=args.keep, sandbox=args.sandbox, bwrap=bwrap,
                   hide=_hidden_paths(source, args.paths, args.out, args.checks))
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    if progress:
        progress(f"grading {len(subs)} submission(s) against {source} with {args.jobs} job(s)")
    t0 = time.monotonic()
    code = None
    try:
        results = grade_all(subs, source, opts, jobs=args.jobs, checks=args.checks, progress=progress)
    except Interrupted as exc:
        results, code = exc.results, 128 + exc.signum
        print(f"rnn-tutor grade: interrupted by {signal.Signals(exc.signum).name}; the report holds the "
              "submissions graded so far", file=sys.stderr)
    elapsed = time.monotonic() - t0
    print(summary(results, elapsed))
    if args.out is not None:
        try:
            write_report(results, args.out)
        except OSError as exc:
            return fail(f"cannot write {args.out}: {exc.strerror or exc}")
        if progress:
            progress(f"report written to {args.out}")
    if code is not None:
        return code
    failed = [r for r in results if r.status == "grader-error"]
    if failed:
        print(f"rnn-tutor grade: {len(failed)} of {len(results)} submission(s) could not be graded "
              "(grader-error rows)", file=sys.stderr)
        return 1
    return 0
