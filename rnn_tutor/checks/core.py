"""One specification per exercise check, shared by the notebook runner and the grader.

A :class:`Check` says *what* is checked: the learner's function (``target``), how to
draw inputs (``make_inputs(rng) -> kwargs``), the ``reference`` implementation, the
tolerance, and the common ``mistakes`` used to name a likely cause.  Two runners use
the same specification:

* :func:`run_check` runs inside the learner's notebook and prints friendly feedback;
* the grader (:mod:`rnn_tutor.grading`) calls the learner's function inside the
  kernel on inputs drawn at grading time, brings the result back serialised and
  calls :func:`evaluate_case` in its own process.

Both end in :func:`evaluate_case`, so feedback and grades never disagree.
"""

from __future__ import annotations

import copy
import linecache
import os
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from rnn_tutor.checks.guard import Guard, _unwrap_code, resolve, shortcut_message, solution_reads

__all__ = ["Mistake", "mistakes", "Check", "CaseResult", "CheckFailed", "REGISTRY", "register",
           "compare_values", "evaluate_case", "run_check", "run_check_with_hint", "inputs_changed", "describe_inputs"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
MAX_PROBLEM_LINES = 3       # problems shown in a failure message (the rest are counted)


class CheckFailed(AssertionError):
    """Raised by :func:`run_check` when the learner's function disagrees with the reference.

    It is still an error (nbgrader scores a check cell that raises as 0), but Jupyter shows
    only its message, not the frames of the library (``_render_traceback_``).
    """

    def _render_traceback_(self) -> list[str]:
        lines = str(self).splitlines() or [""]
        return [f"\x1b[0;31mCheckFailed\x1b[0m: {lines[0]}", *lines[1:]]


@dataclass(frozen=True)
class Mistake:
    """A common wrong implementation, with the hint to show when the learner's output matches it.

    ``fn`` has the reference's signature.  Example: ``Mistake("did you add b_h?", step_without_bias)``.
    """

    hint: str
    fn: Callable[..., Any]


@dataclass(frozen=True)
class Check:
    """The specification of one graded task.

    Attributes
    ----------
    notebook : str            notebook id, e.g. ``"01_unfolding"`` (its file stem in solutions/)
    grade_id : str            nbgrader grade_id of the test cell that runs this check
    target : str              name of the learner's function in the notebook, e.g. ``"rnn_step"``
    make_inputs : callable    ``rng -> dict`` of keyword arguments for one test case
    reference : callable      the correct implementation, same signature as the target
    points : float            points for the task (nbgrader metadata must agree)
    rtol, atol : float        tolerance of :func:`compare_values`
    mistakes : tuple of Mistake
    n_cases : int             cases per run
    partial : bool            score ``points * passed / n_cases`` instead of all-or-nothing
    output_names : tuple of str, optional   names of the items of a tuple result
    compare : callable, optional
        ``(received, expected, inputs) -> list of problems`` replacing :func:`compare_values`
        (e.g. for SymPy expressions).
    sympy_functions : tuple of str
        the SymPy functions (e.g. ``"tanh"``) a result may use besides ``+``, ``*``, ``**`` and
        numbers; the grader rebuilds a learner's expression only from these, the symbols of the
        inputs and ``sympy_symbols`` (see ``rnn_tutor.grading.schema``).
    sympy_symbols : tuple of str
        names of symbols a result may use besides those in the inputs.

    ``n_cases`` fresh cases must make a hard-coded answer pass with probability below 1e-6
    (``tests/test_grading_cases.py`` checks every registered check).
    judged_alone : bool
        ``compare`` judges the result on its own (for example a trained model's loss on held-out
        text) and receives ``expected=None``: the reference (which may train for a second) is
        not called to grade, only to show that it passes.
    forbidden : tuple of str
        qualified names of the library functions that compute the answer, including indirect
        routes (``("rnn_tutor.rnn.rnn_step", "rnn_tutor.rnn.rnn_forward")``).  An answer that
        calls one of them, or any function of :mod:`rnn_tutor.checks`, fails
        (:mod:`rnn_tutor.checks.guard`), in the notebook and in the grader.
    """

    notebook: str
    grade_id: str
    target: str
    make_inputs: Callable[[np.random.Generator], dict]
    reference: Callable[..., Any]
    points: float = 1.0
    rtol: float = 1e-6
    atol: float = 1e-8
    mistakes: tuple = ()
    n_cases: int = 3
    partial: bool = False
    output_names: tuple | None = None
    compare: Callable | None = None
    sympy_functions: tuple = ()
    sympy_symbols: tuple = ()
    forbidden: tuple = ()
    judged_alone: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.notebook, self.grade_id)


@dataclass
class CaseResult:
    """The verdict on one case: ``passed`` and the learner-facing ``problems``."""

    passed: bool
    problems: list = field(default_factory=list)


def mistakes(*pairs: tuple) -> tuple:
    """``Mistake`` objects from ``(hint, wrong_implementation)`` pairs, for ``Check(mistakes=...)``.

    A mistake is only named as the likely cause on inputs where it gives a *wrong* answer
    (see :func:`evaluate_case`), so a model such as "every step restarts from h_0", which is
    right when T = 1, never takes the blame for an unrelated error.
    """
    return tuple(Mistake(hint, fn) for hint, fn in pairs)


REGISTRY: dict[tuple[str, str], Check] = {}


def register(check: Check) -> Check:
    """Add ``check`` to :data:`REGISTRY` under ``(notebook, grade_id)`` and return it."""
    if check.key in REGISTRY and REGISTRY[check.key] is not check:
        raise ValueError(f"check: duplicate registration for notebook {check.notebook!r}, grade_id {check.grade_id!r}")
    REGISTRY[check.key] = check
    return check


# ----------------------------------------------------------------------------- comparison

def _fmt(x) -> str:
    return f"{x:.6g}" if isinstance(x, (float, np.floating)) else repr(x)


def _compare_arrays(name: str, received, expected, rtol: float, atol: float) -> list[str]:
    exp = np.asarray(expected)
    try:
        # Never cast to the reference's dtype: 12.5 must not pass as the integer 12.
        rec = np.asarray(received, dtype=float if exp.dtype.kind in "biuf" else None)
    except (TypeError, ValueError):
        return [f"{name}: expected an array of numbers with shape {exp.shape}, received {type(received).__name__}"]
    if rec.shape != exp.shape:
        hint = ""
        if rec.ndim == exp.ndim and rec.shape == exp.shape[::-1]:
            hint = " (the axes are swapped: check the order of a matrix product or a missing .T)"
        elif rec.size == exp.size:
            hint = " (same number of elements: check a reshape or a transpose)"
        return [f"{name}: expected shape {exp.shape}, received shape {rec.shape}{hint}"]
    if exp.dtype.kind not in "biufc":
        return [] if np.array_equal(rec, exp) else [f"{name}: expected {exp!r}, received {rec!r}"]
    rec_f, exp_f = rec.astype(float), exp.astype(float)
    if exp_f.size == 0:
        return []
    bad_nan = ~np.isfinite(rec_f) & np.isfinite(exp_f)
    if bad_nan.any():
        idx = tuple(int(i) for i in np.argwhere(bad_nan)[0])
        return [f"{name}: shape {rec.shape} is right, but element {idx} is {rec_f[idx]} where "
                f"{_fmt(exp_f[idx])} was expected (an overflow or a division by zero?)"]
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: handled just below
        err = np.abs(rec_f - exp_f)
    same = (rec_f == exp_f) | (np.isnan(rec_f) & np.isnan(exp_f))  # a NaN where NaN is expected is right
    err = np.where(np.isfinite(exp_f), err, np.where(same, 0.0, np.inf))
    excess = err - (atol + rtol * np.abs(np.nan_to_num(exp_f)))
    if (excess <= 0).all():
        return []
    idx = np.unravel_index(int(np.argmax(excess)), exp_f.shape)
    idx_t = tuple(int(i) for i in idx)
    n_bad = int((excess > 0).sum())
    where = f"at index {idx_t}" if exp_f.ndim else "(a scalar)"
    return [f"{name}: shape {rec.shape} is right, but {n_bad} of {exp_f.size} elements differ; the worst "
            f"{where}: expected {_fmt(exp_f[idx])}, received {_fmt(rec_f[idx])} "
            f"(abs. error {err[idx]:.2e}, tolerance {atol + rtol * abs(exp_f[idx]):.1e})"]


def compare_values(received, expected, rtol: float = 1e-6, atol: float = 1e-8, name: str = "result") -> list[str]:
    """Compare a learner's value with the reference; return a list of problems (empty if equal).

    Handles arrays and numbers (shape, then the worst element with its index),
    tuples and lists (length, then item by item), dicts (keys, then values),
    SymPy expressions (``simplify(a - b) == 0``) and anything else by ``==``.
    """
    if isinstance(expected, Mapping):
        if not isinstance(received, Mapping):
            return [f"{name}: expected a dict with keys {sorted(expected)}, received {type(received).__name__}"]
        missing = sorted(set(expected) - set(received))
        if missing:
            return [f"{name}: missing key(s) {missing}; expected keys {sorted(expected)}, received {sorted(received)}"]
        return [p for k in expected for p in compare_values(received[k], expected[k], rtol, atol, f"{name}[{k!r}]")]
    if isinstance(expected, (tuple, list)):
        if not isinstance(received, (tuple, list)):
            return [f"{name}: expected a tuple of {len(expected)} values, received {type(received).__name__}"]
        if len(received) != len(expected):
            return [f"{name}: expected {len(expected)} values, received {len(received)}"]
        return [p for i, (r, e) in enumerate(zip(received, expected))
                for p in compare_values(r, e, rtol, atol, f"{name}[{i}]")]
    if type(expected).__module__.startswith("sympy"):
        import sympy as sp
        try:
            same = sp.simplify(sp.sympify(received) - expected) == 0
        except (sp.SympifyError, TypeError):
            return [f"{name}: expected a SymPy expression, received {type(received).__name__}"]
        # Never print the expected expression: it would give the answer away.
        return [] if same else [f"{name}: your expression {received} is not equal to the reference "
                                "(they differ for some values of the symbols)"]
    if isinstance(expected, (np.ndarray, int, float, np.number, bool, np.bool_)) and not isinstance(expected, str):
        if isinstance(received, (str, Mapping)) or received is None:
            return [f"{name}: expected a number or an array, received {type(received).__name__}"]
        return _compare_arrays(name, received, expected, rtol, atol)
    return [] if received == expected else [f"{name}: expected {expected!r}, received {received!r}"]


def inputs_changed(before: Mapping, after: Mapping) -> list[str]:
    """Names of the arguments whose value changed during the call (in-place mutation)."""
    changed = []
    for k in before:
        if compare_values(after[k], before[k], rtol=0.0, atol=0.0, name=k):
            changed.append(k)
    return changed


def describe_inputs(inputs: Mapping) -> str:
    """A one-line summary of the inputs: shapes for arrays, values for scalars."""
    def desc(v):
        if isinstance(v, np.ndarray):
            return f"array{v.shape}"
        if isinstance(v, Mapping):
            return "{" + ", ".join(f"{k}: {desc(x)}" for k, x in v.items()) + "}"
        return repr(v)
    return ", ".join(f"{k}={desc(v)}" for k, v in inputs.items())


def _named(check: Check, received, expected):
    names = check.output_names
    if names and isinstance(expected, tuple) and len(expected) == len(names):
        if isinstance(received, (tuple, list)) and len(received) == len(names):
            return dict(zip(names, received)), dict(zip(names, expected))
    return received, expected


def evaluate_case(check: Check, inputs: Mapping, received, mutated: Sequence[str] = ()) -> CaseResult:
    """Judge one case: compare ``received`` with ``check.reference(**inputs)``.

    ``mutated`` lists the arguments the learner's function changed in place.
    When the result is wrong and matches one of ``check.mistakes``, its hint is
    added as the likely cause.
    """
    expected = None if check.judged_alone else check.reference(**copy.deepcopy(dict(inputs)))
    rec_n, exp_n = _named(check, received, expected)
    if check.compare is not None:
        problems = list(check.compare(received, expected, inputs))
    else:
        problems = compare_values(rec_n, exp_n, check.rtol, check.atol, name=check.target)
    wrong_values = bool(problems)
    if mutated:
        problems.append(f"{check.target} changed its input(s) {list(mutated)} in place; "
                        "work on copies (e.g. x = x.copy() or x = x + 1 instead of x += 1)")
    if wrong_values and check.mistakes:
        for mistake in check.mistakes:
            try:
                with np.errstate(all="ignore"):  # a mistake model may overflow; that is its business
                    wrong = mistake.fn(**copy.deepcopy(dict(inputs)))
            except Exception:  # a mistake model that cannot run on these inputs says nothing
                continue
            wrong_n = _named(check, received, wrong)[1]
            if not compare_values(wrong_n, exp_n, check.rtol, check.atol):
                continue  # on these inputs the mistake gives the right answer: it explains nothing
            if not compare_values(rec_n, wrong_n, check.rtol, check.atol):
                problems.append(f"likely cause: {mistake.hint}")
                break
    return CaseResult(passed=not problems, problems=problems)


# ----------------------------------------------------------------------------- notebook runner

def case_seeds(check: Check, hidden: bool = False) -> list[int]:
    """Seeds of the visible cases (fixed) or of hidden ones (fresh each run)."""
    if hidden:
        return [int.from_bytes(os.urandom(4), "little") for _ in range(check.n_cases)]
    return list(range(check.n_cases))


def call_with_copies(fn: Callable, inputs: Mapping, guard: Guard | None = None):
    """Call ``fn(**inputs)`` on deep copies, under ``guard`` if given;
    return ``(result, names of mutated inputs)``."""
    given = copy.deepcopy(dict(inputs))
    if guard is None:
        result = fn(**given)
    else:
        with guard:
            result = fn(**given)
    return result, inputs_changed(inputs, given)


def call_guarded(check: Check, fn: Callable, **inputs):
    """``fn(**inputs)`` under the guard of ``check`` (its ``forbidden`` functions and the checks'
    own code): for cells that use a learner's function outside its check. Raises
    :class:`CheckFailed` naming the library function, if one was called."""
    guard = Guard(resolve(check.forbidden))
    try:
        with guard:
            result = fn(**inputs)
    except NotImplementedError as exc:
        raise CheckFailed(_not_implemented_message(check.target, exc)) from None
    if guard.caught:
        raise CheckFailed(shortcut_message(check.target, guard.caught))
    return result


def _not_implemented_message(target: str, exc: BaseException) -> str:
    """Name the unfinished function: the target itself, or one it calls (e.g. a step inside a loop)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    culprit = tb.tb_frame.f_code.co_name if tb is not None else target
    if culprit in (target, "<module>", "<lambda>"):
        return (f"{target} is not implemented yet: replace `raise NotImplementedError()` "
                "with your code, then run its cell and this one again.")
    return (f"{target} calls {culprit}, which is not implemented yet: finish {culprit} first, "
            "run its cell, then run this check again.")


def _learner_line(exc: BaseException) -> str:
    """``"  at line 3 of rnn_step: h = x_t @ w_x"``: the last line of the learner's own code in the
    traceback (not NumPy's, not the library's), or "" when there is none."""
    last = None
    for frame in traceback.extract_tb(exc.__traceback__):
        name = frame.filename
        if name.startswith(_PACKAGE_DIR) or "site-packages" in name or name.startswith(os.path.dirname(os.__file__)):
            continue
        last = frame
    if last is None:
        return ""
    text = (last.line or linecache.getline(last.filename, last.lineno)).strip()
    return f"\n  at line {last.lineno} of {last.name}" + (f": {text[:120]}" if text else "")


def _same_notebook(check: Check) -> list[Check]:
    return [c for c in REGISTRY.values() if c.notebook == check.notebook and c.target != check.target]


def _watch_other_tasks(check: Check, fn: Callable) -> dict:
    """``{code: Check}`` of the learner's functions of the notebook's other tasks (found in ``fn``'s globals)."""
    names = getattr(fn, "__globals__", None)
    if not isinstance(names, Mapping):
        return {}
    watch = {}
    for other in _same_notebook(check):
        code = _unwrap_code(names.get(other.target))
        if code is not None and code is not _unwrap_code(fn):
            watch[code] = other
    return watch


def _upstream_notes(check: Check, fn: Callable, called: Sequence[Check]) -> str:
    """A note for each task the learner's ``fn`` called whose own check fails."""
    notes = []
    for other in called[:2]:  # the first tasks it calls: a note each, at most two
        try:
            run_check(other, fn.__globals__[other.target], quiet=True, _upstream=False)
        except CheckFailed:
            notes.append(f"\n  note: {check.target} calls your {other.target}, which fails its own check "
                         f"({other.grade_id}): fix {other.target} first, then run this check again.")
        except Exception:  # noqa: BLE001 - a note is a courtesy; never hide the real failure
            continue
    return "".join(notes)


def _summary(problems: Sequence[str]) -> str:
    """At most :data:`MAX_PROBLEM_LINES` problems, then the likely cause, one per line."""
    cause = [p for p in problems if p.startswith("likely cause:")]
    rest = [p for p in problems if not p.startswith("likely cause:")]
    shown = rest[:MAX_PROBLEM_LINES]
    if len(rest) > len(shown):
        shown.append(f"(and {len(rest) - len(shown)} more)")
    return "\n  ".join(shown + cause)


def run_check(check: Check, fn: Callable, hidden: bool = False, quiet: bool = False,
              _upstream: bool = True) -> None:
    """Run ``check`` on the learner's function ``fn`` in the notebook.

    Prints one success line and returns None (so a check cell shows no ``Out``, which nbgrader
    would read as partial credit), or raises :class:`CheckFailed` with the case, the inputs,
    the problems (shape, worst element with its index) and the likely cause, in a few lines.
    An answer that calls a function of ``check.forbidden`` fails, whatever its values.
    """
    if not callable(fn):
        raise CheckFailed(f"{check.target}: expected a function, received {type(fn).__name__}")
    forbidden = resolve(check.forbidden)
    watch = _watch_other_tasks(check, fn) if _upstream else {}
    seeds = case_seeds(check, hidden)
    for i, seed in enumerate(seeds, 1):
        reads = solution_reads()
        if reads:
            raise CheckFailed(shortcut_message(check.target, f"reading {reads[0]}"))
        inputs = check.make_inputs(np.random.default_rng(seed))
        guard = Guard(forbidden, watch)
        try:
            received, mutated = call_with_copies(fn, inputs, guard)
        except NotImplementedError as exc:
            raise CheckFailed(_not_implemented_message(check.target, exc)) from None
        except Exception as exc:
            if guard.caught:
                raise CheckFailed(shortcut_message(check.target, guard.caught)) from None
            notes = _upstream_notes(check, fn, guard.called)
            text = (str(exc).strip().splitlines() or [""])[0][:300]  # one line, whatever the exception
            raise CheckFailed(f"{check.target} raised {type(exc).__name__}: {text}\n"
                              f"  on case {i} with inputs {describe_inputs(inputs)}"
                              f"{_learner_line(exc)}{notes}") from exc
        if guard.caught:
            raise CheckFailed(shortcut_message(check.target, guard.caught))
        result = evaluate_case(check, inputs, received, mutated)
        if not result.passed:
            kind = "a hidden case" if hidden else f"case {i} of {len(seeds)}"
            notes = _upstream_notes(check, fn, guard.called)
            raise CheckFailed(f"{check.target} fails {kind}.\n  inputs: {describe_inputs(inputs)}\n  "
                              f"{_summary(result.problems)}{notes}")
    if not quiet:
        what = "meet the target" if check.judged_alone else "match the reference"
        print(f"✔ {check.target}: {len(seeds)} {'hidden ' if hidden else ''}cases {what}.")


def run_check_with_hint(check: Check, fn: Callable, hidden: bool, matmul_hint: str) -> None:
    """:func:`run_check`, adding ``matmul_hint`` (the row/column convention, as a "likely cause"
    line) when the learner's code fails inside a matrix product with mismatched shapes."""
    try:
        return run_check(check, fn, hidden=hidden)
    except CheckFailed as exc:
        cause = exc.__cause__
        if isinstance(cause, ValueError) and ("matmul" in str(cause) or "shapes" in str(cause)):
            raise CheckFailed(f"{exc}{matmul_hint}") from cause
        raise
