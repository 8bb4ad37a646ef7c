"""Thin ipywidgets wrappers around compute and plot functions (the logic lives elsewhere, testable without a browser).

One module per topic; this package re-exports every public name (``__all__``) of
its submodules, so lessons write ``from rnn_tutor import widgets; widgets.unfolding_explorer(...)``.
"""

import importlib
import pkgutil

__all__: list[str] = []
for _info in pkgutil.iter_modules(__path__):
    _mod = importlib.import_module(f"{__name__}.{_info.name}")
    for _name in getattr(_mod, "__all__", []):
        globals()[_name] = getattr(_mod, _name)
        __all__.append(_name)
