"""The contract every exercise check of ``rnn_tutor.checks`` keeps, tested once for all lessons.

An exercise notebook calls a *friendly check* such as ``check_rnn_step(rnn_step)``; it runs a
:class:`~rnn_tutor.checks.core.Check` on the learner's function.  Whatever the lesson, every
check must

* be registered under ``(notebook, "check_<target>")``, with ``points > 0``;
* pass the reference and an independent, learner-style solution, on the visible cases and on
  fresh hidden ones, and print ``✔``;
* fail a stub (``raise NotImplementedError()``) with "not implemented yet", and a non-function
  with "expected a function";
* fail each of its ``mistakes`` with that mistake's "likely cause" hint (visible and hidden
  cases), never with another mistake's hint (60 random cases), and every mistake model runs
  and is wrong on most cases;
* fail when the learner's function changes any array argument in place, and fail the
  hand-written mutating functions the lesson lists;
* fail a function that memorised the visible answers, on the hidden cases;
* agree with its solutions notebook: nbgrader schema-3 metadata on every cell, one locked
  graded cell per check with its ``grade_id`` and points, calling ``check_<target>(<target>)``
  and, between ``### BEGIN/END HIDDEN TESTS``, ``check_<target>(<target>, hidden=True)``;
* pass the solutions notebook's own answer (its setup and solution cells, executed);
* fail the library's answer: its own reference, and every wrapper of ``SHORTCUTS`` (each one
  passes when the guard is off, so it is a real answer) with a message naming a function of
  ``check.forbidden``; every check has at least one such wrapper;
* print one line and return None when it passes (nbgrader reads a number as partial credit).

The mistake models, mutating functions and memorised answers below call the checks' own
references; those tests run with the guard trusting :mod:`rnn_tutor.checks` (fixture
``_trust_check_models``), and only the shortcut tests run with the full guard.

How a lesson's test file uses it (``tests/test_checks_<lesson>.py``)::

    from check_contract import CheckContract

    class TestContract(CheckContract):
        NOTEBOOK = "01_unfolding"
        CHECKS = {"rnn_step": (U.RNN_STEP, U.check_rnn_step), ...}   # target -> (Check, friendly check)
        GOOD = {"rnn_step": good_step, ...}                           # target -> independent solution (optional)
    SHORTCUTS = {"rnn_step": [lambda **i: rnn.rnn_step(...)[0]], ...}  # target -> library wrappers
        MUTATIONS = [("rnn_step", mutating_step, "h_prev"), ...]      # (target, function, argument it changes)

The class's ``pytest_generate_tests`` parametrises each contract test from these attributes
(one test per check, per mistake, per mutation...), so the file itself holds only what is
specific to the lesson: its solutions, and tests of the references against the library and of
its special messages.  Three optional attributes name the checks that cannot keep a part of the
contract, each with a comment saying why:

* ``HIDDEN_MAY_REPEAT``: so few possible cases that a hidden run may repeat the visible ones
  (the memorisation test leaves them out);
* ``SOMETIMES_RIGHT``: a mistake model is right, or cannot run, on some inputs (clipping below
  the threshold...), so a hidden run of it may pass: its mistakes are run on the visible cases
  only, need to be wrong on one case in six instead of four in five, and may raise on some of
  the 60 cases of the unambiguity test;
* ``KNOWN_AMBIGUOUS``: check -> the reason why one mistake sometimes gets another's hint.  The
  unambiguity test of that check is a strict xfail: it fails as soon as the check is fixed,
  so the entry is removed.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import functools
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from rnn_tutor.checks import REGISTRY, core, guard
from rnn_tutor.checks.core import Check, CheckFailed, evaluate_case, inputs_changed

ROOT = Path(__file__).resolve().parents[1]


@functools.lru_cache(maxsize=None)
def solution_functions(notebook: str) -> dict[str, Callable]:
    """The solutions notebook's setup and solution cells, executed: the course's own answers by name."""
    path = ROOT / "solutions" / f"{notebook}_solutions.ipynb"
    namespace: dict[str, Any] = {"__name__": f"solution_{notebook}"}
    seen_answer = False
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        source = "".join(cell["source"])
        seen_answer = seen_answer or bool(meta.get("solution"))
        setup = not seen_answer and not meta.get("grade")  # the code cells before the first answer
        given = cell["cell_type"] == "code" and not meta.get("grade") and all(   # given helpers: only imports and defs
            isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef)) for node in ast.parse(source).body)
        if cell["cell_type"] == "code" and (meta.get("solution") or setup or given):
            exec(compile(source, f"<{notebook} cell {meta.get('grade_id')}>", "exec"), namespace)
    return {k: v for k, v in namespace.items() if callable(v)}


def without_guard(test: Callable) -> Callable:
    """Decorator: run a test of hints or messages with :func:`no_guard` (its answers call references)."""
    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> Any:
        with no_guard():
            return test(*args, **kwargs)
    return run


class NoGuard(guard.Guard):
    """A guard that never catches anything: shows that a shortcut is a real answer."""

    @property
    def caught(self) -> None:
        return None


@contextlib.contextmanager
def no_guard() -> Iterator[None]:
    """Run checks without the shortcut guard: for answers built from the checks' own references
    (mistake models, mutating or slightly-off answers) in tests of the hints and messages."""
    saved = core.Guard
    core.Guard = NoGuard
    try:
        yield
    finally:
        core.Guard = saved


def stub_of(target: str) -> Callable:
    """The function ``target`` as the released exercise holds it, before the learner writes anything."""
    def stub(*args: Any, **kwargs: Any) -> Any:
        # YOUR CODE HERE
        raise NotImplementedError()
    stub.__code__ = stub.__code__.replace(co_name=target)
    stub.__name__ = target
    return stub


def unguarded(fn: Callable) -> Callable:
    """``fn`` as a learner would submit it: floating-point warnings (a mistake's overflow) silenced."""
    def submitted(**inputs: Any) -> Any:
        with np.errstate(all="ignore"):
            return fn(**inputs)
    return submitted


def overwrite(value: Any) -> None:
    """Change ``value`` (an array, or the first array of a dict) in place."""
    if isinstance(value, Mapping):
        overwrite(next(v for v in value.values() if isinstance(v, np.ndarray)))
    elif value.dtype == bool:
        np.logical_not(value, out=value)
    else:
        value += 1


def each(argnames: str, rows: str) -> Callable:
    """Run the decorated contract test once per row of ``rows`` (a method of the lesson's class)."""
    def mark(test: Callable) -> Callable:
        test.contract_rows = (argnames, rows)
        return test
    return mark


def _row(row: Any) -> tuple:
    return row if isinstance(row, tuple) else (row,)


def _id(row: Any) -> str:
    return "-".join(getattr(part, "__name__", str(part)) for part in _row(row))


class CheckContract:
    """Base class of a lesson's contract tests; subclass it as ``TestContract`` (see the module doc)."""

    NOTEBOOK: ClassVar[str] = ""
    CHECKS: ClassVar[dict[str, tuple[Check, Callable]]] = {}
    GOOD: ClassVar[dict[str, Callable]] = {}
    SHORTCUTS: ClassVar[dict[str, list[Callable]]] = {}
    NO_LIBRARY_ROUTE: ClassVar[frozenset[str]] = frozenset()
    UNCHECKED_GRADED: ClassVar[frozenset[str]] = frozenset()   # graded cells scored by running (asserts)
    MUTATIONS: ClassVar[list[tuple[str, Callable, str]]] = []
    HIDDEN_MAY_REPEAT: ClassVar[frozenset[str]] = frozenset()
    SOMETIMES_RIGHT: ClassVar[frozenset[str]] = frozenset()
    KNOWN_AMBIGUOUS: ClassVar[dict[str, str]] = {}

    # ------------------------------------------------------------------------- parametrisation

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        argnames, rows = getattr(metafunc.function, "contract_rows", (None, None))
        if argnames is None:
            return
        values = getattr(self, rows)()
        if not values:
            raise ValueError(f"{type(self).__name__}.{rows}() is empty: "
                             f"{metafunc.function.__name__} would test nothing")
        metafunc.parametrize(argnames, [v if hasattr(v, "marks") else pytest.param(*_row(v), id=_id(v))
                                        for v in values])

    @pytest.fixture(autouse=True)
    def _trust_check_models(self, request: pytest.FixtureRequest) -> Iterator[None]:
        """Mistake models and mutating answers call the checks' references: no guard, except in
        the tests marked ``guarded``."""
        if getattr(request.function, "guarded", False):
            yield
        else:
            with no_guard():
                yield

    def checks(self) -> list[str]:
        return list(self.CHECKS)

    def shortcuts(self) -> list[tuple[str, int]]:
        return [(name, i) for name in self.CHECKS for i in range(len(self.SHORTCUTS.get(name, ())))]

    def checks_with_mistakes(self) -> list[str]:
        return [name for name, (check, _) in self.CHECKS.items() if check.mistakes]

    def checks_with_mistakes_marked(self) -> list:
        """As :meth:`checks_with_mistakes`; the ``KNOWN_AMBIGUOUS`` ones marked as strict xfail."""
        return [pytest.param(name, id=name, marks=pytest.mark.xfail(strict=True, reason=self.KNOWN_AMBIGUOUS[name]))
                if name in self.KNOWN_AMBIGUOUS else name for name in self.checks_with_mistakes()]

    def mistakes(self) -> list[tuple[str, int]]:
        return [(name, i) for name, (check, _) in self.CHECKS.items() for i in range(len(check.mistakes))]

    def mutations(self) -> list[tuple[str, Callable, str]]:
        return list(self.MUTATIONS)

    def array_arguments(self) -> list[tuple[str, str]]:
        """``(target, argument)`` for every argument that is an array or a dict of arrays."""
        rows = []
        for name, (check, _) in self.CHECKS.items():
            for arg, value in check.make_inputs(np.random.default_rng(0)).items():
                if isinstance(value, np.ndarray) or (isinstance(value, Mapping) and any(
                        isinstance(v, np.ndarray) for v in value.values())):
                    rows.append((name, arg))
        return rows

    def memorisable(self) -> list[str]:
        return [name for name in self.CHECKS if name not in self.HIDDEN_MAY_REPEAT]

    # ------------------------------------------------------------------------- registry and notebook

    @each("name", "checks")
    def test_registered_under_notebook_and_grade_id(self, name: str) -> None:
        check, friendly = self.CHECKS[name]
        assert REGISTRY[(self.NOTEBOOK, f"check_{name}")] is check
        assert check.notebook == self.NOTEBOOK and check.grade_id == friendly.__name__ == f"check_{name}"
        assert check.target == name and check.points > 0

    def test_solutions_notebook_agrees_with_the_checks(self) -> None:
        path = ROOT / "solutions" / f"{self.NOTEBOOK}_solutions.ipynb"
        if not path.exists():
            pytest.fail(f"{path} is missing")
        nb = json.loads(path.read_text(encoding="utf-8"))
        assert nb["metadata"]["rnn_tutor"]["id"] == self.NOTEBOOK
        graded, solutions = {}, set()
        for cell in nb["cells"]:
            meta = cell["metadata"].get("nbgrader")
            assert meta and meta["schema_version"] == 3, cell["source"][:1]
            if meta.get("grade"):
                graded[meta["grade_id"]] = (meta, "".join(cell["source"]))
            if meta.get("solution"):
                solutions.add(meta["grade_id"])
        assert set(graded) == {check.grade_id for check, _ in self.CHECKS.values()} | self.UNCHECKED_GRADED
        for name, (check, _) in self.CHECKS.items():
            meta, source = graded[check.grade_id]
            assert meta["points"] == check.points and meta["locked"] is True
            assert f"check_{name}({name})" in source and f"check_{name}({name}, hidden=True)" in source
            assert "### BEGIN HIDDEN TESTS" in source and "### END HIDDEN TESTS" in source
            assert name in solutions

    # ------------------------------------------------------------------------- pass and fail

    @each("name", "checks")
    def test_passes_reference_and_learner_style_solution(self, name: str, capsys: pytest.CaptureFixture) -> None:
        check, friendly = self.CHECKS[name]
        solution = solution_functions(self.NOTEBOOK)
        assert name in solution, f"the solutions notebook of {self.NOTEBOOK} does not define {name}"
        for fn in (check.reference, solution[name], *([self.GOOD[name]] if name in self.GOOD else [])):
            for hidden in (False, True):
                with no_guard() if fn is check.reference else contextlib.nullcontext():  # a reference is a shortcut
                    assert friendly(fn, hidden=hidden) is None  # no Out: nbgrader reads a number as partial credit
        out = capsys.readouterr().out
        assert f"✔ {name}: {check.n_cases} cases" in out and f"✔ {name}: {check.n_cases} hidden cases" in out

    # ------------------------------------------------------------------------- shortcuts

    @each("name", "checks")
    def test_every_check_forbids_the_library_and_has_a_shortcut_test(self, name: str) -> None:
        """``NO_LIBRARY_ROUTE`` names the checks whose answer no library function computes (the
        checks' own references are always forbidden)."""
        check, _ = self.CHECKS[name]
        if name in self.NO_LIBRARY_ROUTE:
            assert not check.forbidden and not self.SHORTCUTS.get(name)
            return
        assert check.forbidden and guard.resolve(check.forbidden), f"{name}: Check.forbidden is empty"
        assert self.SHORTCUTS.get(name), f"{type(self).__name__}.SHORTCUTS has no library wrapper for {name}"

    @each("name", "checks")
    def test_own_reference_is_caught(self, name: str) -> None:
        check, friendly = self.CHECKS[name]
        with pytest.raises(CheckFailed, match=rf"^{name} calls rnn_tutor\.checks\.[\w.]+, the library's own "
                                              rf"implementation\. The task asks you to write {name} yourself"):
            friendly(check.reference)

    @each("name, i", "shortcuts")
    def test_library_shortcut_is_caught(self, name: str, i: int, monkeypatch: pytest.MonkeyPatch) -> None:
        """The wrapper is a right answer (it passes with the guard off) and fails with the guard on."""
        check, friendly = self.CHECKS[name]
        wrapper = self.SHORTCUTS[name][i]
        with monkeypatch.context() as patch:
            patch.setattr(core, "Guard", NoGuard)
            friendly(wrapper, hidden=True)
        with pytest.raises(CheckFailed) as info:
            friendly(wrapper, hidden=True)
        message = str(info.value)
        assert any(f"{name} calls {f}, the library's own implementation" in message for f in check.forbidden), message
        assert f"write {name} yourself" in message and len(message.splitlines()) <= 8

    test_own_reference_is_caught.guarded = True
    test_passes_reference_and_learner_style_solution.guarded = True
    test_library_shortcut_is_caught.guarded = True

    @each("name", "checks")
    def test_fails_on_stub(self, name: str) -> None:
        """The stub itself, and a finished function that calls an unfinished helper, are named."""
        _, friendly = self.CHECKS[name]
        for hidden in (False, True):
            with pytest.raises(CheckFailed, match=rf"^{name} is not implemented yet: "
                                                  r"replace `raise NotImplementedError\(\)`"):
                friendly(stub_of(name), hidden=hidden)
        helper = stub_of("helper")
        with pytest.raises(CheckFailed, match=rf"^{name} calls helper, which is not implemented yet"):
            friendly(lambda **inputs: helper(**inputs))

    @each("name", "checks")
    def test_fails_on_non_function(self, name: str) -> None:
        _, friendly = self.CHECKS[name]
        with pytest.raises(CheckFailed, match="expected a function"):
            friendly(None)

    @each("name, i", "mistakes")
    def test_each_mistake_fails_with_its_hint(self, name: str, i: int) -> None:
        check, friendly = self.CHECKS[name]
        mistake = check.mistakes[i]
        randomly_right = name in self.SOMETIMES_RIGHT or name in self.KNOWN_AMBIGUOUS
        for hidden in (False,) if randomly_right else (False, True, True):
            with pytest.raises(CheckFailed) as info:
                friendly(unguarded(mistake.fn), hidden=hidden)
            message = str(info.value)
            assert f"likely cause: {mistake.hint}" in message, message
            assert "case" in message and "inputs:" in message

    @each("name", "checks_with_mistakes_marked")
    def test_every_hint_is_unambiguous_on_many_inputs(self, name: str) -> None:
        """On 60 random cases, a mistake is never blamed on another mistake's hint (and is named on some)."""
        check, _ = self.CHECKS[name]
        named = [0] * len(check.mistakes)
        for seed in range(60):
            inputs = check.make_inputs(np.random.default_rng(10_000 + seed))
            for k, mistake in enumerate(check.mistakes):
                try:
                    received = unguarded(mistake.fn)(**copy.deepcopy(inputs))
                except Exception:  # such code raises on these inputs; the check reports the error itself
                    if name in self.SOMETIMES_RIGHT:
                        continue
                    raise
                result = evaluate_case(check, inputs, received)
                if not result.passed:
                    assert result.problems[-1] == f"likely cause: {mistake.hint}", (seed, result.problems)
                    named[k] += 1
        assert all(named), [m.hint for m, n in zip(check.mistakes, named) if not n]

    @each("name", "checks_with_mistakes")
    def test_mistake_models_run_and_are_wrong_on_most_inputs(self, name: str) -> None:
        """Every mistake model runs on the cases and is detectable: wrong on at least 4 of 5 random
        ones (on 1 of 6 for the checks listed in SOMETIMES_RIGHT)."""
        check, _ = self.CHECKS[name]
        cases = [check.make_inputs(np.random.default_rng(seed)) for seed in (0, 100, 101, 102, 103, 104)]
        for mistake in check.mistakes:
            wrong = [not evaluate_case(check, inputs, unguarded(mistake.fn)(**copy.deepcopy(inputs))).passed
                     for inputs in cases]
            if name in self.SOMETIMES_RIGHT:
                assert any(wrong), mistake.hint
            else:
                assert sum(wrong[1:]) >= 4, mistake.hint

    # ------------------------------------------------------------------------- mutation and hidden cases

    @each("name, mutating, arg", "mutations")
    def test_fails_on_in_place_mutation(self, name: str, mutating: Callable, arg: str) -> None:
        _, friendly = self.CHECKS[name]
        with pytest.raises(CheckFailed, match=rf"changed its input\(s\) \['{arg}'\] in place"):
            friendly(mutating)

    @each("name, arg", "array_arguments")
    def test_fails_when_any_array_argument_is_changed_in_place(self, name: str, arg: str) -> None:
        check, friendly = self.CHECKS[name]

        def mutating(**inputs: Any) -> Any:
            out = check.reference(**copy.deepcopy(inputs))
            overwrite(inputs[arg])  # the right answer, but the caller's argument is changed
            return out
        with pytest.raises(CheckFailed, match=rf"changed its input\(s\) \['{arg}'\] in place"):
            friendly(mutating)

    @each("name", "memorisable")
    def test_hidden_cases_differ_from_visible_ones(self, name: str) -> None:
        """Hidden runs draw fresh inputs: a function that only memorised the visible answers fails."""
        check, friendly = self.CHECKS[name]
        visible = [check.make_inputs(np.random.default_rng(s)) for s in range(check.n_cases)]
        answers = [check.reference(**copy.deepcopy(inputs)) for inputs in visible]

        def memorised(**inputs: Any) -> Any:
            for seen, answer in zip(visible, answers):
                if not inputs_changed(seen, inputs):
                    return copy.deepcopy(answer)
            return None
        friendly(memorised)
        with pytest.raises(CheckFailed, match="hidden case"):
            friendly(memorised, hidden=True)
