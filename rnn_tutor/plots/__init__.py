"""Figures for the lessons.  Every function takes ``ax=None`` and returns the Axes (or Figure).

One module per topic; this package re-exports every public name (``__all__``) of
its submodules, so lessons write ``from rnn_tutor import plots; plots.draw_unfolded(...)``.
Nothing here changes matplotlib's global state.
"""

import importlib
import pkgutil

__all__: list[str] = []
for _info in pkgutil.iter_modules(__path__):
    _mod = importlib.import_module(f"{__name__}.{_info.name}")
    for _name in getattr(_mod, "__all__", []):
        globals()[_name] = getattr(_mod, _name)
        __all__.append(_name)
