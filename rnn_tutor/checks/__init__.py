"""Exercise checks: one :class:`~rnn_tutor.checks.core.Check` per graded task.

Each lesson's checks live in their own module (``unfolding``, ``activations``, ...)
and register themselves in :data:`REGISTRY` on import.  Importing this package
imports every such module, so the registry is complete for the grader.
"""

import importlib
import pkgutil

from rnn_tutor.checks.core import REGISTRY, Check, CheckFailed, Mistake, register, run_check

__all__ = ["REGISTRY", "Check", "CheckFailed", "Mistake", "register", "run_check"]

for _info in pkgutil.iter_modules(__path__):
    if _info.name not in ("core", "serial"):
        importlib.import_module(f"{__name__}.{_info.name}")
