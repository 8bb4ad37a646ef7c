"""The ``rnn-tutor`` command (also ``python -m rnn_tutor``).

Subcommands
-----------
``rnn-tutor lab [JUPYTERLAB_ARGS...]``
    open the course in JupyterLab: the course root served, lesson 01 open; every
    argument goes on to ``jupyter lab`` (:mod:`rnn_tutor.lab`).
``rnn-tutor check [EXERCISE...]``
    check your own exercise notebooks with the grader and print a table of tasks
    passed, points and hints; never writes to them (:mod:`rnn_tutor.selfcheck`).
``rnn-tutor release [--check] [--force] [--source DIR] [--dest DIR]``
    regenerate ``exercises/`` from ``solutions/`` (:mod:`rnn_tutor.release`).
``rnn-tutor grade ...``
    grade submissions; everything after ``grade`` goes to
    ``rnn_tutor.grading.cli.main`` (see ``docs/grading.md``).

Exit codes: 0 success, 1 a check failed or exercises are out of step (or release
refused to overwrite an edited exercise), 2 a usage or input error.  Expected
errors are printed to stderr as one line each, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from rnn_tutor import __version__

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rnn-tutor``."""
    parser = argparse.ArgumentParser(
        prog="rnn-tutor",
        description="Open the rnn-tutor course, check your exercises, and the instructor tools.",
        epilog="Exit codes: 0 ok, 1 check failed / out of step, 2 usage or input error.")
    parser.add_argument("--version", action="version", version=f"rnn-tutor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    lab = sub.add_parser("lab", add_help=False,
                         help="open the course in JupyterLab (lesson 01; extra arguments go "
                              "to jupyter lab; `rnn-tutor lab --help`)")
    lab.add_argument("args", nargs=argparse.REMAINDER)
    check = sub.add_parser("check", add_help=False,
                           help="check your exercise notebooks: tasks passed, points, hints "
                                "(`rnn-tutor check --help`)")
    check.add_argument("args", nargs=argparse.REMAINDER)
    rel = sub.add_parser(
        "release", help="regenerate exercises/ from solutions/",
        description="Generate each exercises/NN_name_exercises.ipynb from solutions/NN_name_solutions.ipynb: "
                    "solutions become stubs, hidden tests are removed, outputs cleared. "
                    "An exercise edited since its release is never overwritten without "
                    "--force (which keeps a backup).")
    mode = rel.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 and name every exercise that is missing, "
                           "stale, edited or has no source")
    mode.add_argument("--force", action="store_true",
                      help="also replace edited exercises, keeping a backup "
                           "NN_name_exercises.ipynb.bak-<timestamp> next to each")
    rel.add_argument("--source", metavar="DIR",
                     help="folder of source notebooks (default: solutions/ of the course root)")
    rel.add_argument("--dest", metavar="DIR",
                     help="folder of exercise notebooks (default: exercises/ of the course root)")
    grade = sub.add_parser("grade", add_help=False,
                           help="grade submissions (see docs/grading.md; "
                                "`rnn-tutor grade --help` for its options)")
    grade.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _error(message: str) -> None:
    print(message, file=sys.stderr)


def _grade(argv: list[str]) -> int:
    """Run ``rnn_tutor.grading.cli.main(argv)``, imported only when needed."""
    try:
        module = importlib.import_module("rnn_tutor.grading.cli")
    except ModuleNotFoundError as exc:
        if exc.name in ("rnn_tutor.grading", "rnn_tutor.grading.cli"):
            _error("rnn-tutor grade: error: grading is not available in this version "
                   "of rnn-tutor (module rnn_tutor.grading.cli not found)")
        else:
            _error(f"rnn-tutor grade: error: needs the Python package {exc.name!r}, which is "
                   "not installed (pip install -e '.[test]')")
        return 2
    return int(module.main(argv) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rnn-tutor``; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["grade"]:          # pass everything after `grade` through untouched
        return _grade(argv[1:])
    if argv[:1] == ["lab"]:            # ... and after `lab` (JupyterLab's own options)
        from rnn_tutor.lab import main as lab_main

        return lab_main(argv[1:])
    if argv[:1] == ["check"]:
        from rnn_tutor.selfcheck import main as check_main

        return check_main(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:          # --help, --version (0) or a usage error (2)
        return int(exc.code or 0)
    if args.command == "release":
        from rnn_tutor.release import run

        return run(args.source, args.dest, check_only=args.check, force=args.force,
                   out=print, err=_error)
    if args.command == "grade":
        return _grade(args.args)
    parser.print_help(sys.stderr)
    return 2
