"""Answers that call the library's own implementation fail, whatever route they take to it.

Every check's ``forbidden`` functions, and the checks' own references, are caught by the run-time
guard (:mod:`rnn_tutor.checks.guard`) while the learner's function runs.  Here one task (exercise
01's ``rnn_step``) is answered through every ordinary route, each written as notebook cells would
be (a setup cell, then the answer cell), and the feedback rendering of issue 15 is tested.
"""

from __future__ import annotations

import ast
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from rnn_tutor.checks import REGISTRY, guard
from rnn_tutor.checks import unfolding as U
from rnn_tutor.checks.core import CheckFailed, run_check

ROOT = Path(__file__).resolve().parents[1]

SETUP = "import numpy as np\nfrom rnn_tutor.checks.unfolding import check_rnn_step, check_rnn_forward\n"
ZERO_HEAD = ('{"w_x": w_x, "w_h": w_h, "b_h": b_h, "w_y": np.zeros((1, w_h.shape[0])), "b_y": np.zeros(1)}')

ROUTES = {
    "direct import": f"""
from rnn_tutor.rnn import rnn_step as lib_step
def rnn_step(x_t, h_prev, w_x, w_h, b_h):
    return lib_step(x_t, h_prev, {ZERO_HEAD})[0]
""",
    "aliased module": f"""
import rnn_tutor.rnn as R
def rnn_step(x_t, h_prev, w_x, w_h, b_h):
    return R.rnn_step(x_t, h_prev, {ZERO_HEAD})[0]
""",
    "package attribute": f"""
import rnn_tutor as r
def rnn_step(x_t, h_prev, w_x, w_h, b_h):
    return r.rnn.rnn_step(x_t, h_prev, {ZERO_HEAD})[0]
""",
    "indirect route (rnn_forward for one step)": f"""
from rnn_tutor.rnn import rnn_forward
def rnn_step(x_t, h_prev, w_x, w_h, b_h):
    return rnn_forward(x_t[None], {ZERO_HEAD}, h_prev)[0][0]
""",
    "getattr with a string": f"""
import rnn_tutor.rnn
def rnn_step(x_t, h_prev, w_x, w_h, b_h):
    return getattr(rnn_tutor.rnn, "rnn_" + "step")(x_t, h_prev, {ZERO_HEAD})[0]
""",
    "importlib inside the function": f"""
import importlib
def rnn_step(x_t, h_prev, w_x, w_h, b_h):
    return importlib.import_module("rnn_tutor.rnn").rnn_step(x_t, h_prev, {ZERO_HEAD})[0]
""",
    "a copy of the function object": f"""
import inspect, types
from rnn_tutor.rnn import rnn_step as _lib
_lib = inspect.unwrap(_lib)  # the function under the library's decorators
_copy = types.FunctionType(_lib.__code__, _lib.__globals__, "mine", _lib.__defaults__)
def rnn_step(x_t, h_prev, w_x, w_h, b_h):
    return _copy(x_t, h_prev, {ZERO_HEAD})[0]
""",
    "functools.partial of the library": f"""
import functools
from rnn_tutor import rnn
_fwd = functools.partial(rnn.rnn_forward, f="tanh")
def rnn_step(x_t, h_prev, w_x, w_h, b_h):
    return _fwd(x_t[None], {ZERO_HEAD}, h_prev)[0][0]
""",
    "deep route through another library function": f"""
from rnn_tutor.cells import ELMAN
from rnn_tutor.masking import masked_cell_forward
def rnn_step(x_t, h_prev, w_x, w_h, b_h):
    params = {{"w_x": w_x, "w_h": w_h, "b_h": b_h}}
    return masked_cell_forward(ELMAN, x_t[None], params, state_0=h_prev)[0][0]
""",
    "the library's unchecked twin (rnn._rnn_forward)": """
import numpy as np
from rnn_tutor.activations import get_activation
from rnn_tutor.rnn import _rnn_forward
def rnn_step(x_t, h_prev, w_x, w_h, b_h):
    p = {"w_x": w_x, "w_h": w_h, "b_h": b_h, "w_y": np.zeros((1, w_h.shape[0])), "b_y": np.zeros(1)}
    return _rnn_forward(np.asarray(x_t, float)[None], p, np.asarray(h_prev, float), get_activation("tanh"),
                        get_activation("identity"))[0][0]
""",
    "the check's own reference": """
from rnn_tutor.checks.unfolding import step_reference as rnn_step
""",
    "the reference through the registry": """
from rnn_tutor.checks import REGISTRY
def rnn_step(**inputs):
    return REGISTRY[("01_unfolding", "check_rnn_step")].reference(**inputs)
""",
    "the library in a thread": f"""
import threading
from rnn_tutor.rnn import rnn_step as lib_step
def rnn_step(x_t, h_prev, w_x, w_h, b_h):
    out = []
    t = threading.Thread(target=lambda: out.append(lib_step(x_t, h_prev, {ZERO_HEAD})[0]))
    t.start(); t.join()
    return out[0]
""",
    "switching the guard off": """
import sys
def rnn_step(x_t, h_prev, w_x, w_h, b_h):
    sys.setprofile(None)
    return np.tanh(x_t @ w_x.T + h_prev @ w_h.T + b_h)
""",
}


def cells(answer: str) -> dict:
    """Run a setup cell and an answer cell in a fresh namespace, as a notebook would."""
    namespace: dict = {"__name__": "__main__"}
    exec(compile(SETUP, "<setup cell>", "exec"), namespace)
    exec(compile(answer, "<answer cell>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("route", list(ROUTES))
def test_every_route_to_the_library_fails_with_a_message_naming_it(route):
    ns = cells(ROUTES[route])
    for hidden in (False, True):
        with pytest.raises(CheckFailed) as info:
            ns["check_rnn_step"](ns["rnn_step"], hidden=hidden)
        message = str(info.value)
        assert "write rnn_step yourself" in message, message
        if route == "switching the guard off":
            assert "switched off the check's guard" in message
        elif "reference" in route:
            assert "calls rnn_tutor.checks.unfolding.step_reference" in message
        else:
            assert ("calls rnn_tutor.rnn.rnn_step" in message or "calls rnn_tutor.rnn.rnn_forward" in message), message


def test_the_honest_answer_passes_and_later_tasks_may_use_it(capsys):
    ns = cells("def rnn_step(x_t, h_prev, w_x, w_h, b_h):\n"
               "    return np.tanh(x_t @ w_x.T + h_prev @ w_h.T + b_h)\n"
               "def rnn_forward(xs, params, h_0):\n"
               "    hs, h = [], h_0\n"
               "    for x_t in xs:\n"
               "        h = rnn_step(x_t, h, params['w_x'], params['w_h'], params['b_h'])\n"
               "        hs.append(h)\n"
               "    hs = np.stack(hs)\n"
               "    return hs, hs @ params['w_y'].T + params['b_y']\n")
    assert ns["check_rnn_step"](ns["rnn_step"]) is None
    assert ns["check_rnn_forward"](ns["rnn_forward"], hidden=True) is None
    assert capsys.readouterr().out.count("\n") == 2  # one line per passing check, nothing else


def test_a_guard_failure_leaves_no_profiler_behind():
    ns = cells(ROUTES["direct import"])
    with pytest.raises(CheckFailed):
        ns["check_rnn_step"](ns["rnn_step"])
    import sys
    assert sys.getprofile() is None and threading.getprofile() is None if hasattr(threading, "getprofile") else True


def test_reading_the_solutions_is_caught(tmp_path):
    """Opening a file of solutions/ (to exec its answer) fails every later check of the notebook."""
    sol = tmp_path / "solutions" / "01_unfolding_solutions.ipynb"
    sol.parent.mkdir()
    sol.write_text(json.dumps({"cells": [{"source": "def rnn_step(x_t, h_prev, w_x, w_h, b_h):\n"
                                                    "    return np.tanh(x_t @ w_x.T + h_prev @ w_h.T + b_h)\n"}]}))
    ns = cells(f"import json\nexec(json.load(open({str(sol)!r}))['cells'][0]['source'])\n")
    assert not guard._watching  # off outside a Jupyter kernel: the test suite reads solutions/ itself
    guard.watch_solution_reads(True)
    try:
        ns = cells(f"import json\nexec(json.load(open({str(sol)!r}))['cells'][0]['source'])\n")
        with pytest.raises(CheckFailed, match=r"this notebook reading .*01_unfolding_solutions\.ipynb\. "
                                              r"The task asks you to write rnn_step yourself"):
            ns["check_rnn_step"](ns["rnn_step"])
    finally:
        guard.watch_solution_reads(False)
        guard._reads.clear()


def test_resolve_rejects_a_name_that_is_not_a_function():
    with pytest.raises(ValueError, match="not a Python function"):
        guard.resolve(["rnn_tutor.rnn.no_such_function_here"] and ["rnn_tutor.rnn"])


# ----------------------------------------------------------------------------- setup cells

def _imported_modules(source: str) -> set[str]:
    mods = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            mods |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            mods.add(node.module)
            mods |= {f"{node.module}.{a.name}" for a in node.names}
    return mods


@pytest.mark.parametrize("path", sorted((ROOT / "solutions").glob("*_solutions.ipynb")), ids=lambda p: p.stem)
def test_no_setup_cell_imports_a_module_that_implements_a_task(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    course_id = nb["metadata"]["rnn_tutor"]["id"]
    forbidden = {name for check in REGISTRY.values() if check.notebook == course_id for name in check.forbidden}
    forbidden_modules = {name.rsplit(".", 1)[0] for name in forbidden}
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if cell["cell_type"] != "code" or meta.get("grade_id") not in ("imports", "setup"):
            continue
        imported = _imported_modules("".join(cell["source"]))
        assert not imported & (forbidden | forbidden_modules), (meta["grade_id"], imported & (forbidden | forbidden_modules))
        assert not any(m == "rnn_tutor" or m.startswith("rnn_tutor.checks.") and m.count(".") == 3
                       and m.rsplit(".", 1)[1].endswith("_reference") for m in imported)


# ----------------------------------------------------------------------------- feedback (issue 15)

def wrong_step(x_t, h_prev, w_x, w_h, b_h):
    return np.tanh(x_t @ w_x.T + h_prev @ w_h.T)  # b_h forgotten


def test_a_failure_renders_only_its_message_in_a_few_lines():
    with pytest.raises(CheckFailed) as info:
        U.check_rnn_step(wrong_step)
    rendered = info.value._render_traceback_()
    assert 3 <= len(rendered) <= 8, rendered
    assert "CheckFailed" in rendered[0] and "rnn_step fails case 1 of 3" in rendered[0]
    assert any("inputs: x_t=array(" in line for line in rendered)
    assert any("worst at index" in line for line in rendered)
    assert rendered[-1].strip().startswith("likely cause: did you add b_h?")
    assert not any("core.py" in line or "File " in line for line in rendered)


def test_a_failure_caused_by_an_earlier_task_says_so():
    ns = {"np": np, "rnn_step": wrong_step}
    exec("def rnn_forward(xs, params, h_0):\n"
         "    hs, h = [], h_0\n"
         "    for x_t in xs:\n"
         "        h = rnn_step(x_t, h, params['w_x'], params['w_h'], params['b_h'])\n"
         "        hs.append(h)\n"
         "    hs = np.stack(hs)\n"
         "    return hs, hs @ params['w_y'].T + params['b_y']\n", ns)
    with pytest.raises(CheckFailed) as info:
        U.check_rnn_forward(ns["rnn_forward"])
    message = str(info.value)
    assert ("note: rnn_forward calls your rnn_step, which fails its own check (check_rnn_step): "
            "fix rnn_step first") in message
    assert len(message.splitlines()) <= 8


def test_an_exception_names_the_learners_line_not_the_librarys():
    ns = {"np": np}
    exec(compile("def rnn_step(x_t, h_prev, w_x, w_h, b_h):\n"
                 "    a = x_t @ w_x + h_prev @ w_h.T + b_h\n"
                 "    return np.tanh(a)\n", "<answer cell>", "exec"), ns)
    with pytest.raises(CheckFailed) as info:
        U.check_rnn_step(ns["rnn_step"])
    message = str(info.value)
    assert "rnn_step raised ValueError" in message and "at line 2 of rnn_step" in message
    assert len(info.value._render_traceback_()) <= 8


def test_no_note_when_the_earlier_task_is_right():
    ns = {"np": np}
    exec("def rnn_step(x_t, h_prev, w_x, w_h, b_h):\n"
         "    return np.tanh(x_t @ w_x.T + h_prev @ w_h.T + b_h)\n"
         "def rnn_forward(xs, params, h_0):\n"
         "    hs = [rnn_step(x_t, h_0, params['w_x'], params['w_h'], params['b_h']) for x_t in xs]\n"
         "    hs = np.stack(hs)\n"
         "    return hs, hs @ params['w_y'].T + params['b_y']\n", ns)
    with pytest.raises(CheckFailed) as info:
        run_check(U.RNN_FORWARD, ns["rnn_forward"])
    assert "note:" not in str(info.value) and "likely cause: each step must receive" in str(info.value)


@pytest.mark.parametrize("route", [r for r in ROUTES if r != "switching the guard off"])
def test_every_route_is_a_right_answer_when_the_guard_is_off(route, monkeypatch):
    from check_contract import NoGuard
    from rnn_tutor.checks import core
    monkeypatch.setattr(core, "Guard", NoGuard)
    ns = cells(ROUTES[route])
    assert ns["check_rnn_step"](ns["rnn_step"], hidden=True) is None


def test_a_long_exception_still_renders_in_a_few_lines():
    def noisy(x_t, h_prev, w_x, w_h, b_h):
        raise ValueError("first line of a long message\n" + "\n".join(f"detail {i}" for i in range(40)))
    with pytest.raises(CheckFailed) as info:
        U.check_rnn_step(noisy)
    rendered = info.value._render_traceback_()
    assert len(rendered) <= 8 and "first line of a long message" in rendered[0] and "detail 3" not in str(info.value)
