"""The judge: a separate process that decodes and judges a learner's results under a budget.

Nothing a submission makes is decoded or compared in the grading worker.  The worker
hands the kernel's packed reply, as text, to its judge process with the check's key and
the case's seed; the judge

1. rebuilds the case's inputs from the seed (``check.make_inputs``);
2. decodes the reply with a strict :class:`~rnn_tutor.grading.serial.Schema`: numbers,
   arrays, strings, lists, tuples and dicts of them, and SymPy expressions made only of
   arithmetic, the check's ``sympy_functions`` and the symbols of the inputs (so no
   learner-made name ever reaches ``lambdify``, ``sympify`` or ``eval``);
3. refuses a result that puts a string where the reference has a SymPy expression (and
   ``sympy.sympify`` refuses strings in this process altogether);
4. judges it with :func:`~rnn_tutor.checks.core.evaluate_case`,

all within :data:`CPU_BUDGET` seconds of CPU time and :data:`MEMORY_BUDGET_MB` of address
space.  A judge that runs over (a huge or pathological value) is killed after
:data:`WALL_BUDGET` seconds of wall-clock time at most and restarted; the case then fails
with a reason.  The answer is a small JSON object (strings and booleans).

Protocol (stdin/stdout of the judge process): 8-byte big-endian length, then UTF-8 JSON.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import struct
import subprocess
import sys
import threading
from typing import Any, Mapping, Sequence

__all__ = ["Judge", "judge_for", "CPU_BUDGET", "WALL_BUDGET", "MEMORY_BUDGET_MB", "judge_reply"]

CPU_BUDGET = 1.0            # CPU seconds to decode and judge one case
WALL_BUDGET = 10.0          # wall-clock seconds before the judge process is killed
MEMORY_BUDGET_MB = 4096     # address space of the judge process
START_TIMEOUT = 120.0


class _OverBudget(Exception):
    pass


def _on_budget(signum: int, frame: Any) -> None:
    raise _OverBudget()


def _strings_where_sympy(received: Any, expected: Any) -> bool:
    """True when ``received`` holds a string (or bytes) where ``expected`` holds a SymPy object."""
    import sympy as sp

    if isinstance(expected, sp.Basic):
        return isinstance(received, (str, bytes))
    if isinstance(expected, Mapping) and isinstance(received, Mapping):
        return any(_strings_where_sympy(received[k], v) for k, v in expected.items() if k in received)
    if isinstance(expected, (list, tuple)) and isinstance(received, (list, tuple)):
        return any(_strings_where_sympy(r, e) for r, e in zip(received, expected))
    return False


def _symbols_of(value: Any, out: set) -> set:
    import sympy as sp

    if isinstance(value, sp.Basic):
        out.update(s.name for s in value.free_symbols if isinstance(s, sp.Symbol))
    elif isinstance(value, Mapping):
        for v in value.values():
            _symbols_of(v, out)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            _symbols_of(v, out)
    return out


def _first(text: Any) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return lines[0][:1000] if lines else ""


def judge_reply(check: Any, seed: int, text: str, nonce: str) -> dict:
    """Decode and judge one packed reply (in the judge process); return a JSON-able dict.

    Keys: ``status`` (the kernel's: ``ok``, ``missing``, ``not-callable``, ``not-implemented``,
    ``raised``, ``unserialisable``; or ``unreadable``), ``error`` and ``type`` (text),
    ``passed`` and ``problems`` for an ``ok`` reply.
    """
    import copy

    import numpy as np

    from rnn_tutor.checks.core import evaluate_case, inputs_changed
    from rnn_tutor.grading import serial

    inputs = check.make_inputs(np.random.default_rng(seed))
    schema = serial.Schema(check.sympy_functions, set(check.sympy_symbols) | _symbols_of(inputs, set()))
    try:
        reply = serial.unpack(text, schema)
        if not isinstance(reply, dict) or reply.get("nonce") != nonce:
            raise serial.SerialError("the reply does not carry this call's nonce")
    except serial.SerialError as exc:
        return {"status": "unreadable", "error": _first(exc)}
    status = reply.get("status")
    out = {"status": status if isinstance(status, str) else "malformed",
           "error": _first(reply.get("error", "")) if isinstance(reply.get("error", ""), str) else "",
           "type": str(reply.get("type", ""))[:100] if isinstance(reply.get("type", ""), str) else "",
           "function": _first(reply.get("function", "")) if isinstance(reply.get("function", ""), str) else ""}
    if status != "ok":
        return out
    after, received = reply.get("after"), reply.get("result")
    if not isinstance(after, dict):
        return {"status": "malformed"}
    expected = None if check.judged_alone else check.reference(**copy.deepcopy(dict(inputs)))
    if _strings_where_sympy(received, expected):
        out.update(passed=False, problems=[f"{check.target}: expected a SymPy expression, received a string "
                                           "(build it from SymPy objects, e.g. sp.tanh(a))"])
        return out
    mutated = inputs_changed(inputs, after) if set(after) == set(inputs) else list(inputs)
    verdict = evaluate_case(check, inputs, received, mutated)
    out.update(passed=bool(verdict.passed), problems=[str(p)[:2000] for p in verdict.problems])
    return out


# ----------------------------------------------------------------------------- judge process

def _refuse_strings() -> None:
    """In this process, ``sympy.sympify`` (and ``S``) never parse a string."""
    import sympy as sp

    original = sp.sympify

    def sympify(a: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(a, (str, bytes)):
            raise sp.SympifyError(a, "the grader does not parse strings")
        return original(a, *args, **kwargs)

    sp.sympify = sympify


def _read(stream: Any) -> Any:
    head = stream.read(8)
    if len(head) < 8:
        return None
    (n,) = struct.unpack(">Q", head)
    return json.loads(stream.read(n).decode("utf-8"))


def _write(stream: Any, obj: Any) -> None:
    data = json.dumps(obj, ensure_ascii=True).encode("utf-8")
    stream.write(struct.pack(">Q", len(data)) + data)
    stream.flush()


def _serve(checks: Sequence[str]) -> None:
    """The judge process: load the checks, then answer requests until stdin closes."""
    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)                                       # a stray print cannot corrupt the protocol
    proto_in = os.fdopen(os.dup(0), "rb")
    from rnn_tutor.grading.cli import load_registry

    registry = load_registry(checks)
    _refuse_strings()
    import numpy as np  # noqa: F401 - loaded before the budget starts
    import sympy  # noqa: F401

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = MEMORY_BUDGET_MB * 2**20
    if hard == resource.RLIM_INFINITY or hard > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGPROF, _on_budget)
    _write(proto_out, {"ready": True})
    while True:
        request = _read(proto_in)
        if request is None:
            return
        check = registry.get(tuple(request["check"]))
        budget = float(request.get("budget", CPU_BUDGET))
        try:
            if check is None:
                raise KeyError(f"no check {request['check']}")
            signal.setitimer(signal.ITIMER_PROF, budget)
            try:
                answer = judge_reply(check, int(request["seed"]), request["text"], request["nonce"])
            finally:
                signal.setitimer(signal.ITIMER_PROF, 0)
        except _OverBudget:
            answer = {"status": "over-budget", "error": f"judging it took more than {budget:g} s of CPU time"}
        except MemoryError:
            answer = {"status": "over-budget", "error": f"judging it needed more than {MEMORY_BUDGET_MB} MB"}
        except RecursionError:
            answer = {"status": "over-budget", "error": "the value is nested too deeply to judge"}
        except Exception as exc:  # noqa: BLE001 - a hostile value must not stop the judge
            answer = {"status": "judge-error", "error": f"{type(exc).__name__}: {_first(exc)}"[:1000]}
        _write(proto_out, answer)


class Judge:
    """The grading worker's handle on its judge process (started on first use, restarted
    after a kill).  :meth:`judge` never raises."""

    def __init__(self, checks: Sequence[str] = ()) -> None:
        self.checks = list(checks)
        self.proc: subprocess.Popen | None = None
        self._ready = False
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the judge process (it loads the checks while the caller goes on)."""
        if self.proc is None or self.proc.poll() is not None:
            env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
            self.proc = subprocess.Popen([sys.executable, "-m", "rnn_tutor.grading.judge", *self.checks],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                         start_new_session=True)
            self._ready = False

    def _start(self) -> None:
        self.start()
        if not self._ready:
            ready = self._answer(START_TIMEOUT)
            if not (isinstance(ready, dict) and ready.get("ready")):
                self.close()
                raise RuntimeError("the judge process did not start")
            self._ready = True

    def _answer(self, timeout: float) -> Any:
        result: list = []

        def read() -> None:
            try:
                result.append(_read(self.proc.stdout))
            except (OSError, ValueError):
                result.append(None)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        return result[0] if result else TimeoutError()

    def judge(self, check: Any, seed: int, text: str, nonce: str, budget: float = CPU_BUDGET) -> dict:
        """Decode and judge one reply in the judge process (see :func:`judge_reply`)."""
        with self._lock:
            try:
                self._start()
                _write(self.proc.stdin, {"check": list(check.key), "seed": seed, "text": text,
                                         "nonce": nonce, "budget": budget})
                answer = self._answer(max(WALL_BUDGET, 4 * budget))
            except (OSError, RuntimeError, ValueError) as exc:
                self.close()
                return {"status": "judge-error", "error": f"the judge process failed ({exc})"}
            if isinstance(answer, dict):
                return answer
            self.close()                   # over its wall-clock budget, or dead: a fresh one next time
            return {"status": "over-budget", "error": f"judging it took more than {WALL_BUDGET:g} s"}

    def close(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                self.proc.kill()
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
            self.proc = None


_JUDGES: dict[tuple, Judge] = {}


def judge_for(checks: Sequence[str]) -> Judge:
    """This process's judge for the extra ``checks`` (one per set, closed at exit)."""
    key = tuple(checks)
    if key not in _JUDGES:
        if not _JUDGES:
            import atexit

            atexit.register(lambda: [j.close() for j in _JUDGES.values()])
        _JUDGES[key] = Judge(key)
    return _JUDGES[key]


if __name__ == "__main__":
    from rnn_tutor.grading.pool import set_parent_death_signal

    set_parent_death_signal()
    _serve(sys.argv[1:])
