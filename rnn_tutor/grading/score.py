"""Score one task by calling the learner's function in the kernel and judging it here.

The kernel is untrusted: nothing it prints or computes about *correctness* is
believed.  For a task with a registered :class:`~rnn_tutor.checks.core.Check`:

1. the grader draws ``check.n_cases`` fresh input sets from ``os.urandom`` seeds;
2. for each, it sends a tiny snippet that calls ``check.target`` on the inputs
   (:func:`rnn_tutor.grading.serial.kernel_call`); the reply comes back as the
   value of a *user expression* in the shell reply, a channel the learner's
   ``print`` or a flood of output cannot reach, and is tagged with a fresh nonce;
3. the reply is decoded as hostile JSON and judged by
   :func:`~rnn_tutor.checks.core.evaluate_case` in the grader's own process, with
   the reference, the tolerance and the in-place-mutation test of the spec.

Redefining the check function, patching NumPy's comparisons, printing a fake
success line or writing a result file therefore cannot raise a score, and
hard-coded answers to the visible examples fail on the fresh inputs.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from rnn_tutor.checks.core import Check, case_seeds, evaluate_case, inputs_changed
from rnn_tutor.checks.guard import shortcut_message
from rnn_tutor.grading import serial
from rnn_tutor.grading.execute import ExecResult, Kernel

__all__ = ["TaskScore", "score_check", "call_in_kernel", "fraction_points", "COMPARE_TIMEOUT"]

COMPARE_TIMEOUT = 60        # seconds the grader spends judging one case before giving up


@dataclass
class TaskScore:
    """Points, status and reason of one task; ``stop`` is set when the kernel is gone."""

    points: float
    status: str
    reason: str = ""
    stop: ExecResult | None = None


class _CompareTimeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`_CompareTimeout` after ``seconds`` (main thread only; else no limit)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def alarm(signum: int, frame: Any) -> None:
        raise _CompareTimeout()

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def call_in_kernel(kernel: Kernel, target: str, inputs: dict, timeout: float,
                   forbidden: tuple = ()) -> tuple[ExecResult, dict | None]:
    """Call ``target(**inputs)`` in the kernel; return the execution and the decoded reply.

    The reply is None when the execution failed or the reply is malformed (the
    execution's status and error then say why, or ``error`` is set here).
    """
    nonce = os.urandom(12).hex()
    var = f"_rnn_tutor_grade_{nonce}"
    code = (f"def {var}():\n"
            f"    from rnn_tutor.grading.serial import kernel_call\n"
            f"    return kernel_call({target!r}, {serial.pack(inputs)!r}, {nonce!r}, forbidden={tuple(forbidden)!r})\n"
            f"{var} = [{var}()]\n")          # popped by the user expression: nothing stays behind
    res = kernel.execute(code, timeout, user_expressions={"r": f"{var}.pop()"}, store_history=False)
    if res.status != "ok":
        return res, None
    expr = res.user_expressions.get("r", {})
    text = expr.get("data", {}).get("text/plain", "") if isinstance(expr, dict) else ""
    try:
        if not (isinstance(text, str) and len(text) >= 2 and text[0] == text[-1] == "'"):
            raise serial.SerialError("no packed reply")
        reply = serial.unpack(text[1:-1])
        if not isinstance(reply, dict) or reply.get("nonce") != nonce:
            raise serial.SerialError("the reply does not carry this call's nonce")
    except serial.SerialError as exc:
        res.status, res.error = "error", f"the grader could not read the result ({exc})"
        return res, None
    return res, reply


def fraction_points(check: Check, points: float, passed: int, n: int) -> float:
    """``points`` if all ``n`` cases passed; ``points * passed / n`` for a partial check."""
    if n and passed == n:
        return float(points)
    return float(points) * passed / n if check.partial and n else 0.0


def _first(text: str) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return lines[0] if lines else ""


def score_check(kernel: Kernel, check: Check, points: float, timeout: float,
                deadline: float | None = None) -> TaskScore:
    """Score ``check`` against the learner's function in ``kernel`` (see the module docstring)."""
    seeds = case_seeds(check, hidden=True)
    n, passed, first_problem = len(seeds), 0, ""
    for i, seed in enumerate(seeds, 1):
        left = timeout if deadline is None else min(timeout, deadline - time.monotonic())
        if left <= 0:
            return TaskScore(fraction_points(check, points, passed, n), "timeout",
                             "the notebook's time limit ran out before this check")
        inputs = check.make_inputs(np.random.default_rng(seed))
        res, reply = call_in_kernel(kernel, check.target, inputs, left, check.forbidden)
        if reply is None:
            pts = fraction_points(check, points, passed, n)
            if res.status in ("died", "timeout", "output-limit"):
                what = {"died": "kernel-died", "timeout": "timeout", "output-limit": "error"}[res.status]
                return TaskScore(pts, what, f"calling {check.target}: {res.error}",
                                 stop=res if res.killed else None)
            return TaskScore(pts, "error", f"calling {check.target}: {res.error}")
        status = reply.get("status")
        if status == "missing":
            return TaskScore(0.0, "missing", f"{check.target} is not defined")
        if status == "not-callable":
            return TaskScore(0.0, "error", f"{check.target} is a {reply.get('type')}, not a function")
        if status == "shortcut":
            return TaskScore(0.0, "failed", shortcut_message(check.target, _first(str(reply.get("function", "")))))
        if status == "not-implemented":
            return TaskScore(0.0, "not-implemented", f"{check.target} raises NotImplementedError "
                             "(the exercise stub)")
        if status in ("raised", "unserialisable"):
            verb = "raised" if status == "raised" else "returned a value the grader cannot read:"
            error = _first(str(reply.get("error", "")))
            if error.startswith("MemoryError") and kernel.memory_mb:
                error += f" (the kernel may use {kernel.memory_mb} MB; see --memory)"
            problem = f"{check.target} {verb} {error} on case {i} of {n}"
            first_problem = first_problem or problem
            continue
        if status != "ok" or not isinstance(reply.get("after"), dict):
            first_problem = first_problem or f"malformed reply from the kernel on case {i}"
            continue
        try:
            with _time_limit(COMPARE_TIMEOUT):
                after = reply["after"]
                mutated = inputs_changed(inputs, after) if set(after) == set(inputs) else list(inputs)
                verdict = evaluate_case(check, inputs, reply.get("result"), mutated)
        except _CompareTimeout:
            first_problem = first_problem or f"judging case {i} took longer than {COMPARE_TIMEOUT} s"
            continue
        except Exception as exc:  # noqa: BLE001 - a hostile result must not stop the grader
            first_problem = first_problem or (f"{check.target}: the result of case {i} could not be "
                                              f"compared ({type(exc).__name__}: {_first(str(exc))})")
            continue
        if verdict.passed:
            passed += 1
        else:
            first_problem = first_problem or (f"case {i} of {n}: " + "; ".join(verdict.problems))
    pts = fraction_points(check, points, passed, n)
    if passed == n:
        return TaskScore(pts, "passed", f"{n} fresh cases match the reference")
    status = "partial" if pts > 0 else "failed"
    return TaskScore(pts, status, f"{passed} of {n} fresh cases pass; {first_problem}")

