"""Score one task by calling the learner's function in the kernel and judging it elsewhere.

The kernel is untrusted: nothing it prints or computes about *correctness* is
believed.  For a task with a registered :class:`~rnn_tutor.checks.core.Check`:

1. the grader draws ``check.n_cases`` fresh input sets from ``os.urandom`` seeds;
2. for each, it sends a tiny snippet that calls ``check.target`` on the inputs
   (:func:`rnn_tutor.grading.serial.kernel_call`); the reply comes back as the
   value of a *user expression* in the shell reply, a channel the learner's
   ``print`` or a flood of output cannot reach, and is tagged with a fresh nonce;
3. the reply, still packed text, goes to the worker's judge process
   (:mod:`rnn_tutor.grading.judge`), which decodes it with a strict schema and
   judges it with :func:`~rnn_tutor.checks.core.evaluate_case` (the reference, the
   tolerance and the in-place-mutation test of the spec) under a CPU, memory and
   wall-clock budget.  The grading process itself never decodes a learner's value.

Redefining the check function, patching NumPy's comparisons, printing a fake
success line or writing a result file therefore cannot raise a score, and
hard-coded answers to the visible examples fail on the fresh inputs.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from rnn_tutor.checks.core import Check, case_seeds
from rnn_tutor.checks.guard import shortcut_message
from rnn_tutor.grading import serial
from rnn_tutor.grading.execute import ExecResult, Kernel

__all__ = ["TaskScore", "score_check", "call_in_kernel", "fraction_points"]


@dataclass
class TaskScore:
    """Points, status and reason of one task; ``stop`` is set when the kernel is gone."""

    points: float
    status: str
    reason: str = ""
    stop: ExecResult | None = None


def call_in_kernel(kernel: Kernel, target: str, inputs: dict, timeout: float,
                   forbidden: tuple = ()) -> tuple[ExecResult, str | None, str]:
    """Call ``target(**inputs)`` in the kernel; return the execution, the packed reply
    (text, not decoded: see :mod:`rnn_tutor.grading.judge`) and the call's nonce.

    The reply is None when the execution failed or carried no packed text (the
    execution's status and error then say why).
    """
    nonce = os.urandom(12).hex()
    var = f"_rnn_tutor_grade_{nonce}"
    code = (f"def {var}():\n"
            f"    from rnn_tutor.grading.serial import kernel_call\n"
            f"    return kernel_call({target!r}, {serial.pack(inputs)!r}, {nonce!r}, forbidden={tuple(forbidden)!r})\n"
            f"{var} = [{var}()]\n")          # popped by the user expression: nothing stays behind
    res = kernel.execute(code, timeout, user_expressions={"r": f"{var}.pop()"}, store_history=False)
    if res.status != "ok":
        return res, None, nonce
    expr = res.user_expressions.get("r", {})
    text = expr.get("data", {}).get("text/plain", "") if isinstance(expr, dict) else ""
    if not (isinstance(text, str) and 2 <= len(text) <= 2 * serial.MAX_BYTES and text[0] == text[-1] == "'"):
        res.status, res.error = "error", "the grader could not read the result (no packed reply)"
        return res, None, nonce
    return res, text[1:-1], nonce


def fraction_points(check: Check, points: float, passed: int, n: int) -> float:
    """``points`` if all ``n`` cases passed; ``points * passed / n`` for a partial check."""
    if n and passed == n:
        return float(points)
    return float(points) * passed / n if check.partial and n else 0.0


def _first(text: str) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return lines[0] if lines else ""


def score_check(kernel: Kernel, check: Check, points: float, timeout: float,
                deadline: float | None = None, judge=None) -> TaskScore:
    """Score ``check`` against the learner's function in ``kernel`` (see the module docstring).

    ``judge`` is a :class:`~rnn_tutor.grading.judge.Judge` that knows ``check``."""
    if judge is None:
        from rnn_tutor.grading.judge import judge_for

        judge = judge_for(())
    seeds = case_seeds(check, hidden=True)
    n, passed, first_problem = len(seeds), 0, ""
    for i, seed in enumerate(seeds, 1):
        left = timeout if deadline is None else min(timeout, deadline - time.monotonic())
        if left <= 0:
            return TaskScore(fraction_points(check, points, passed, n), "timeout",
                             "the notebook's time limit ran out before this check")
        inputs = check.make_inputs(np.random.default_rng(seed))
        res, text, nonce = call_in_kernel(kernel, check.target, inputs, left, check.forbidden)
        if text is None:
            pts = fraction_points(check, points, passed, n)
            if res.status in ("died", "timeout", "output-limit"):
                what = {"died": "kernel-died", "timeout": "timeout", "output-limit": "error"}[res.status]
                return TaskScore(pts, what, f"calling {check.target}: {res.error}",
                                 stop=res if res.killed else None)
            return TaskScore(pts, "error", f"calling {check.target}: {res.error}")
        answer = judge.judge(check, seed, text, nonce)
        status = answer.get("status")
        if status == "missing":
            return TaskScore(0.0, "missing", f"{check.target} is not defined")
        if status == "not-callable":
            return TaskScore(0.0, "error", f"{check.target} is a {answer.get('type')}, not a function")
        if status == "shortcut":
            return TaskScore(0.0, "failed", shortcut_message(check.target, _first(str(answer.get("function", "")))))
        if status == "not-implemented":
            return TaskScore(0.0, "not-implemented", f"{check.target} raises NotImplementedError "
                             "(the exercise stub)")
        if status in ("raised", "unserialisable"):
            verb = "raised" if status == "raised" else "returned a value the grader cannot read:"
            error = _first(str(answer.get("error", "")))
            if error.startswith("MemoryError") and kernel.memory_mb:
                error += f" (the kernel may use {kernel.memory_mb} MB; see --memory)"
            first_problem = first_problem or f"{check.target} {verb} {error} on case {i} of {n}"
            continue
        if status in ("unreadable", "over-budget", "judge-error"):
            what = {"unreadable": "its result was refused", "over-budget": "its result could not be judged",
                    "judge-error": "its result could not be compared"}[status]
            first_problem = first_problem or f"{check.target}: {what} on case {i} of {n}: {answer.get('error', '')}"
            continue
        if status != "ok" or not isinstance(answer.get("passed"), bool):
            first_problem = first_problem or f"malformed reply from the kernel on case {i}"
            continue
        if answer["passed"]:
            passed += 1
        else:
            problems = [str(p) for p in answer.get("problems", [])]
            first_problem = first_problem or (f"case {i} of {n}: " + "; ".join(problems))
    pts = fraction_points(check, points, passed, n)
    if passed == n:
        return TaskScore(pts, "passed", f"{n} fresh cases match the reference")
    status = "partial" if pts > 0 else "failed"
    return TaskScore(pts, status, f"{passed} of {n} fresh cases pass; {first_problem}")
