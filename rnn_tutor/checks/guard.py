"""Catch answers that call the library's own implementation of a task (standard library only).

A :class:`~rnn_tutor.checks.core.Check` lists in ``forbidden`` the library functions that
compute its answer (``"rnn_tutor.rnn.rnn_step"``, and indirect routes such as
``"rnn_tutor.rnn.rnn_forward"``).  While the learner's function runs, :class:`Guard`
watches every Python call through :func:`sys.setprofile` and records each call of

* a forbidden function, found by its *code object*, so every route to it is caught: a
  direct or aliased import, ``import rnn_tutor as r; r.rnn.rnn_step``, a name bound in a
  setup cell, ``getattr`` with a string, :mod:`importlib`, a copy made with
  ``types.FunctionType(f.__code__, ...)``;
* any function of :mod:`rnn_tutor.checks` (the checks' own references and models).

The guard is on only while the learner's function runs: a check may call its reference
before and after, to compute the expected value.  It also records the functions of other
tasks that the learner's function calls (``watch``), so that a failure caused by an
earlier task's function can say so.

:func:`solution_reads` lists the files under a ``solutions/`` folder (or named
``*_solutions.ipynb``) opened since the guard was armed in a Jupyter kernel: reading
the solutions and ``exec``-ing them is the one shortcut that leaves no call to trace.

This module is imported inside the grader's kernel too (by
:func:`rnn_tutor.grading.serial.kernel_call`), so it needs nothing but the standard library.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
import threading
from types import CodeType
from typing import Any, Callable, Iterable, Mapping

__all__ = ["Guard", "resolve", "shortcut_message", "solution_reads", "watch_solution_reads"]

_CHECKS_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_THIS_FILE = os.path.abspath(__file__)
_SOLUTION_PATH = re.compile(r"(^|[\\/])solutions[\\/][^\\/]+$|_solutions\.ipynb$")


def _unwrap_code(obj: Any) -> CodeType | None:
    """The code object of the function behind ``obj`` (through decorators and bound methods)."""
    try:
        obj = inspect.unwrap(obj)
    except ValueError:
        return None
    obj = getattr(obj, "__func__", obj)
    code = getattr(obj, "__code__", None)
    return code if isinstance(code, CodeType) else None


def resolve(names: Iterable[str]) -> dict[CodeType, str]:
    """``{code object: qualified name}`` of the functions named ``"package.module.function"``.

    A function's *unchecked twin* is included too: the library's convention is that ``mod._func``
    computes what ``mod.func`` computes, on arguments already checked (training loops call it
    after validating once), so it is the same shortcut.

    A name that does not resolve is an error in the check's specification.
    """
    codes: dict[CodeType, str] = {}
    for name in names:
        parts = name.split(".")
        obj, owner = None, None
        for i in range(len(parts) - 1, 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            for attr in parts[i:]:
                owner, obj = obj, getattr(obj, attr)
            break
        code = _unwrap_code(obj)
        if code is None:
            raise ValueError(f"forbidden: {name!r} is not a Python function of an importable module")
        codes[code] = name
        twin = _unwrap_code(getattr(owner, "_" + parts[-1], None)) if not parts[-1].startswith("_") else None
        if twin is not None:
            codes.setdefault(twin, name)
    return codes


def _checks_name(code: CodeType) -> str:
    module = os.path.splitext(os.path.relpath(code.co_filename, _CHECKS_DIR))[0].replace(os.sep, ".")
    return f"rnn_tutor.checks.{module}.{getattr(code, 'co_qualname', code.co_name)}"


class Guard:
    """Context manager: record calls of ``forbidden`` functions (and of any check) while it is on.

    Parameters
    ----------
    forbidden : dict of code -> name, or iterable of qualified names
    watch : mapping of code -> label, optional
        functions whose calls are recorded in ``called`` (the learner's other tasks).

    After the block, ``used`` lists the forbidden names called (first call first),
    ``called`` the labels of the watched functions called, and ``tampered`` is True when
    the learner's code switched the profiler off or replaced it.
    """

    def __init__(self, forbidden: Mapping[CodeType, str] | Iterable[str] = (),
                 watch: Mapping[CodeType, Any] | None = None) -> None:
        self.forbidden = dict(forbidden) if isinstance(forbidden, Mapping) else resolve(forbidden)
        self.watch = dict(watch or {})
        self.used: list[str] = []
        self.called: list[Any] = []
        self.tampered = False
        self._previous: Callable | None = None
        self._hook = self._on_event

    def _on_event(self, frame: Any, event: str, arg: Any) -> None:
        if event != "call":
            return
        code = frame.f_code
        name = self.forbidden.get(code)
        if name is None and code.co_filename.startswith(_CHECKS_DIR) and code.co_filename != _THIS_FILE:
            name = _checks_name(code)
        if name is not None and name not in self.used:
            self.used.append(name)
        label = self.watch.get(code)
        if label is not None and label not in self.called:
            self.called.append(label)

    def __enter__(self) -> "Guard":
        self._previous = sys.getprofile()
        self._previous_threads = getattr(threading, "getprofile", lambda: None)()
        sys.setprofile(self._hook)
        threading.setprofile(self._hook)     # threads the learner's function starts
        return self

    def __exit__(self, *exc: object) -> None:
        self.tampered = sys.getprofile() != self._hook
        sys.setprofile(self._previous)
        threading.setprofile(self._previous_threads)

    @property
    def caught(self) -> str | None:
        """The first forbidden name called, or a note that the guard was switched off; else None."""
        if self.used:
            return self.used[0]
        if self.tampered:
            return "sys.setprofile (the check's guard was switched off)"
        return None


def shortcut_message(target: str, name: str) -> str:
    """What a learner reads when ``target`` called the library's ``name``."""
    if name.startswith("reading "):
        return (f"{target}: this notebook {name}. The task asks you to write {target} yourself, "
                "not to copy it from the solutions.")
    if name.startswith("sys.setprofile"):
        return (f"{target} switched off the check's guard ({name}); the task asks you to write "
                f"{target} yourself, with NumPy.")
    return (f"{target} calls {name}, the library's own implementation. The task asks you to write "
            f"{target} yourself: compute it with NumPy operations instead.")


# ----------------------------------------------------------------------------- reading solutions/

_reads: list[str] = []
_watching = False


def _audit(event: str, args: tuple) -> None:
    if not _watching or event != "open" or not args:
        return
    path = args[0]
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if isinstance(path, str) and _SOLUTION_PATH.search(path) and path not in _reads:
        _reads.append(path)


def watch_solution_reads(on: bool = True) -> None:
    """Start (or stop) recording files of ``solutions/`` opened by this process (an audit hook)."""
    global _watching
    _watching = on


def solution_reads() -> list[str]:
    """Paths under ``solutions/`` opened since :func:`watch_solution_reads` was switched on."""
    return list(_reads)


def _in_kernel() -> bool:
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython else None
    return shell is not None and "ipykernel" in sys.modules


sys.addaudithook(_audit)
watch_solution_reads(_in_kernel())
