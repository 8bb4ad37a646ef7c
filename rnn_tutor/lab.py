"""``rnn-tutor lab [JUPYTERLAB_ARGS...]``: open the whole course in JupyterLab.

JupyterLab serves the *course root* (the folder that holds ``lessons/``,
``exercises/`` and ``solutions/``), so the lessons' links to ``../exercises/...``
work, and the first lesson opens at once with the file browser at that root,
showing all three (the start URL is served by :mod:`rnn_tutor.labstart`).
Every other argument goes to ``jupyter lab`` unchanged (``--no-browser``,
``--port=8889``, ``--ServerApp.token=...``), and an option given there wins over
ours (a ``--ServerApp.root_dir`` or ``--LabApp.default_url`` of your own).

The file browser hides what installing the course leaves at its root and a learner
never opens: the ``rnn_tutor.egg-info`` folder of ``pip install -e .``
(:data:`HIDDEN_ARTEFACTS`, added to jupyter_server's own ``hide_globs`` such as
``__pycache__``; ``.venv`` and other dot-folders are hidden already).  A
``--ContentsManager.hide_globs`` (or ``--FileContentsManager.hide_globs``) of your own
replaces the whole list.

As root (containers, some cloud notebooks) JupyterLab refuses to start without
``--allow-root``; the launcher adds it and says so on stderr.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, Sequence

__all__ = ["CourseNotFound", "HIDDEN_ARTEFACTS", "find_course", "first_lesson", "hide_globs", "lab_argv", "main"]

#: Folders that make a directory the course root.
COURSE_DIRS = ("lessons", "exercises", "solutions")

#: Options (as typed after ``--``, up to ``=``) that set what we would set.
_ROOT_OPTIONS = ("ServerApp.root_dir", "ServerApp.notebook_dir", "notebook-dir", "NotebookApp.notebook_dir")
_URL_OPTIONS = ("LabApp.default_url", "ServerApp.default_url")
_ROOT_USER_OPTIONS = ("allow-root", "ServerApp.allow_root", "NotebookApp.allow_root")

#: Names (globs) the file browser hides besides jupyter_server's defaults: build artefacts of
#: ``pip install -e .`` that a learner never opens.  A glob hides a name in every folder,
#: so only names a learner would never give a file of their own belong here.
HIDDEN_ARTEFACTS = ("*.egg-info",)

#: The server module that serves our start URL (see :mod:`rnn_tutor.labstart`).
START_SERVICE = "rnn_tutor.labstart"
START_PREFIX = "/rnn-tutor/open/"

ALLOW_ROOT_NOTE = (
    "rnn-tutor lab: you are running as root (user id 0), and JupyterLab refuses to start as "
    "root unless it is given --allow-root, so rnn-tutor adds it. That is normal in a container "
    "or a cloud notebook; on your own computer, run the course as your usual user instead.")


class CourseNotFound(FileNotFoundError):
    """No folder holding lessons/, exercises/ and solutions/ was found."""


def _is_course(folder: Path) -> bool:
    return all((folder / name).is_dir() for name in COURSE_DIRS)


def find_course(start: str | Path | None = None) -> Path:
    """The course root: ``start`` (default: the working directory) or its nearest parent
    that holds lessons/, exercises/ and solutions/; failing that, the checkout this package
    was installed from (``pip install -e .``)."""
    start = Path.cwd() if start is None else Path(start)
    for folder in (start.resolve(), *start.resolve().parents):
        if _is_course(folder):
            return folder
    checkout = Path(__file__).resolve().parents[1]
    if _is_course(checkout):
        return checkout
    raise CourseNotFound(
        f"cannot find the course: neither {start} nor any folder above it holds "
        f"{', '.join(d + '/' for d in COURSE_DIRS)} (run rnn-tutor inside the cloned repository)")


def first_lesson(root: Path) -> Path | None:
    """The first lesson notebook of the course (``lessons/01_...``), or None if there is none."""
    lessons = sorted(p for p in (root / "lessons").glob("*.ipynb") if not p.name.startswith("."))
    return lessons[0] if lessons else None


def _option_name(arg: str) -> str | None:
    """``--ServerApp.root_dir=/x`` -> ``ServerApp.root_dir``; None for a positional argument."""
    if not arg.startswith("-"):
        return None
    return arg.lstrip("-").split("=", 1)[0]


def _given(args: Sequence[str], names: Sequence[str]) -> bool:
    wanted = {n.lower().replace("_", "-") for n in names}
    return any((_option_name(a) or "").lower().replace("_", "-") in wanted for a in args)


def _sets_hide_globs(args: Sequence[str]) -> bool:
    """Whether ``args`` set ``hide_globs`` of any contents manager (``--FileContentsManager.hide_globs=x``)."""
    return any((_option_name(a) or "").lower().replace("-", "_").endswith(".hide_globs") for a in args)


def hide_globs() -> list[str]:
    """jupyter_server's default ``ContentsManager.hide_globs`` followed by :data:`HIDDEN_ARTEFACTS`."""
    from jupyter_server.services.contents.manager import ContentsManager

    default = list(ContentsManager.class_traits()["hide_globs"].default())
    return default + [g for g in HIDDEN_ARTEFACTS if g not in default]


def _url_path(path: Path, root: Path) -> str:
    """The start URL that opens ``path`` with the file browser at the served root."""
    return START_PREFIX + "/".join(path.resolve().relative_to(root.resolve()).parts)


def lab_argv(root: Path, extra: Sequence[str] = (), *, as_root: bool = False) -> tuple[list[str], list[str]]:
    """The ``jupyter lab`` arguments that open the course, and the notes to print about them.

    ``root`` is served and its first lesson opened (the page JupyterLab opens and the URL
    it prints).  ``extra`` follows our options, so that the user's own option wins.  A
    notebook given in ``extra`` (a path inside ``root``) is opened instead of lesson 01.
    With ``as_root``, ``--allow-root`` is added unless ``extra`` already says so.  The file
    browser hides :func:`hide_globs` (one ``--ContentsManager.hide_globs=G`` per glob: traitlets
    collects repeated options into the list) unless ``extra`` sets its own.
    """
    extra = list(extra)
    argv: list[str] = []
    notes: list[str] = []
    if not _given(extra, _ROOT_OPTIONS):
        argv.append(f"--ServerApp.root_dir={root}")
    if not _sets_hide_globs(extra):
        argv += [f"--ContentsManager.hide_globs={glob}" for glob in hide_globs()]
    opened = [Path(a) for a in extra if _option_name(a) is None and a.endswith(".ipynb")]
    target = opened[0] if opened else first_lesson(root)
    if target is not None and not _given(extra, _URL_OPTIONS):
        try:
            argv += [f"--LabApp.default_url={_url_path(target, root)}",
                     f"--ServerApp.extra_services={START_SERVICE}"]
        except ValueError:       # a notebook outside the course: JupyterLab decides
            pass
    # JupyterLab reads a notebook path relative to the root it serves: make it absolute.
    extra = [str(p.resolve()) if (p := Path(a)) in opened and p.exists() else a for a in extra]
    if as_root and not _given(extra, _ROOT_USER_OPTIONS):
        argv.append("--allow-root")
        notes.append(ALLOW_ROOT_NOTE)
    return argv + extra, notes


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _launch(argv: list[str]) -> int:
    """Run JupyterLab in this process (so Ctrl-C, the exit code and Windows all just work)."""
    from jupyterlab.labapp import LabApp

    LabApp.launch_instance(argv=argv)
    return 0


HELP = """\
usage: rnn-tutor lab [JUPYTERLAB_ARGS...]

Open the course in JupyterLab: serve the course root (lessons/, exercises/, solutions/)
and open the first lesson.  Every argument goes to `jupyter lab` unchanged, e.g.
  rnn-tutor lab --no-browser --port=8889
and an option of yours replaces the launcher's (--ServerApp.root_dir, --LabApp.default_url).
A notebook path opens that notebook instead of lesson 01:
  rnn-tutor lab exercises/03_bptt_exercises.ipynb
As root, --allow-root is added (JupyterLab refuses root without it) and a note says so.
The file browser hides rnn_tutor.egg-info (left by `pip install -e .`) as well as
JupyterLab's usual __pycache__ and *.pyc; --ContentsManager.hide_globs=... replaces that list.
`jupyter lab --help` lists JupyterLab's own options.
"""


def main(args: Sequence[str], *, launch: Callable[[list[str]], int] | None = None,
         err: Callable[[str], None] = lambda s: print(s, file=sys.stderr)) -> int:
    """``rnn-tutor lab``: return JupyterLab's exit code (2 if the course cannot be found)."""
    args = list(args)
    if args in (["-h"], ["--help"]):
        print(HELP, end="")
        return 0
    try:
        root = find_course()
    except CourseNotFound as exc:
        err(f"rnn-tutor lab: error: {exc}")
        return 2
    argv, notes = lab_argv(root, args, as_root=_is_root())
    for note in notes:
        err(note)
    return int((launch or _launch)(argv) or 0)
