"""Deferred imports for heavy optional modules.

SymPy costs most of a second to import; every kernel that imports a check or a plot would
pay for it even when no symbolic work is done.  ``from rnn_tutor._lazy import sympy as sp``
gives a stand-in that imports SymPy on first attribute access (``sp.tanh``, ``sp.Basic``).
"""

from __future__ import annotations

import importlib
from types import ModuleType


class LazyModule:
    """A module proxy: ``LazyModule("sympy").diff`` imports SymPy, then returns ``sympy.diff``."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _load(self) -> ModuleType:
        return importlib.import_module(self._name)  # cached by Python after the first call

    def __getattr__(self, attr: str):
        return getattr(self._load(), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


sympy = LazyModule("sympy")
