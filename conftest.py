"""The course's output standard, checked on every lesson cell that nbval executes.

After a cell of ``lessons/*.ipynb`` has run (``python -m pytest lessons/...``), its outputs go
through ``tests/figure_standard.py``'s :func:`output_problems`: figures fit the notebook width
unscaled and are sharp (retina), printed results carry no raw dicts, arrays or 16-digit
floats, and no traceback is shown.  A cell tagged ``nbval-ignore-output`` (timings, widgets)
is still checked for figures and tracebacks, not for its text.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parent / "tests"
#: the lessons checked so far (by number); a lesson joins once its outputs meet the standard
CHECKED_LESSONS = {"01", "02", "03", "04", "05", "06", "07", "08", "09"}


def _output_problems(outputs, tags, source):
    if str(_TESTS) not in sys.path:
        sys.path.insert(0, str(_TESTS))
    from figure_standard import output_problems

    return output_problems(outputs, tags, source)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    outputs = getattr(item, "test_outputs", None)
    path = Path(str(getattr(item, "fspath", "")))
    if outputs is None or path.parent.name != "lessons" or path.suffix != ".ipynb" \
            or path.name[:2] not in CHECKED_LESSONS:
        return result
    tags = set(item.cell.get("metadata", {}).get("tags", []))
    if "nbval-ignore-output" in tags:
        outputs = [o for o in outputs if o.get("output_type") not in ("stream", "execute_result")]
    problems = _output_problems(outputs, tags, item.cell.get("source", ""))
    if problems:
        pytest.fail("the course's output standard (CONTRIBUTING.md, Figures and printed output):\n  "
                    + "\n  ".join(problems), pytrace=False)
    return result
