"""Worker processes with a wall-clock watchdog: a stopped, wedged or killed worker costs one row.

Each worker is a ``spawn``-ed process (no fork of a process that holds ZMQ sockets) that
loads the sources and checks once, then grades one submission at a time.  The parent:

* gives a worker its next submission and a deadline (:meth:`Options.watchdog_seconds`);
* kills a worker that passes its deadline (a SIGSTOP-ed or wedged worker included:
  SIGKILL works on stopped processes) and reports its submission as ``timeout``;
* notices a worker that died (a submission that killed it, when unsandboxed) and grades
  that submission once more in a fresh worker, so a victim of another submission still
  gets graded; if it dies again it is reported as ``grader-error``;
* replaces a worker that fails to start (it died, or did not say it was ready within
  five minutes, before it was given a submission), after a pause of
  :data:`RESTART_DELAY` seconds times the failures in a row, one worker at a time until
  one starts, so a transient failure costs no submission.  After :data:`START_ATTEMPTS`
  failed starts in a row (none started in between) it starts no more workers: those
  already started grade the rest, and when none is left, every submission not yet graded
  is reported as ``grader-error``;
* reads results as JSON (never pickle: nothing a worker says can run code here).

A worker dies with its parent (``PR_SET_PDEATHSIG`` on Linux), and its kernel dies with
the worker, so killing the grader leaves nothing running.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import json
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import time
from typing import Any, Callable, Sequence

from rnn_tutor.grading.grade import NO_TASK, Options, Result, Row

__all__ = ["run_pool", "set_parent_death_signal", "result_to_json", "result_from_json",
           "START_ATTEMPTS", "RESTART_DELAY", "START_LIMIT"]

#: Failed worker starts in a row (no worker started in between) after which no new worker is started.
START_ATTEMPTS = 3
#: Seconds before a failed worker is replaced, times the number of failed starts in a row.
RESTART_DELAY = 1.0
#: Seconds a worker may take to load the sources and checks before it counts as failed.
START_LIMIT = 300.0


def set_parent_death_signal(sig: int = signal.SIGKILL) -> None:
    """Ask Linux to send ``sig`` to this process when its parent thread exits (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, int(sig), 0, 0, 0)          # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def result_to_json(res: Result) -> bytes:
    data = dataclasses.asdict(res)
    return json.dumps(data, ensure_ascii=True, allow_nan=True).encode("ascii")


def result_from_json(raw: bytes) -> Result:
    data = json.loads(raw.decode("ascii"))
    rows = [Row(**{k: r[k] for k in ("student", "notebook", "file", "task", "points", "max_points",
                                      "status", "reason")}) for r in data["rows"]]
    return Result(str(data["student"]), str(data["file"]), str(data["notebook"]), rows, str(data["status"]),
                  [str(n) for n in data["notes"]], float(data["seconds"]), bool(data["sandboxed"]),
                  bool(data["duplicate"]))


def _worker(conn: Any, init: Callable, init_args: tuple, grade: Callable) -> None:
    """Worker main loop: receive ``(submission, options)``, send back the result as JSON."""
    set_parent_death_signal()
    try:
        os.setpgid(0, 0)              # its own process group: the parent kills it with what it started
    except OSError:
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C is the parent's business
    init(*init_args)
    conn.send_bytes(b"ready")
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        sub, opts = task
        conn.send_bytes(result_to_json(grade(sub, opts)))


def _row_result(sub: Any, status: str, reason: str, opts: Options) -> Result:
    row = Row(sub.student, "", str(sub.path), NO_TASK, 0.0, 0.0, status, reason)
    return Result(sub.student, str(sub.path), "", [row], status, [], 0.0, opts.sandbox)


class _Slot:
    """One worker process and the submission it is grading."""

    def __init__(self, ctx: Any, init: Callable, init_args: tuple, grade: Callable) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, init, init_args, grade), daemon=True)
        try:
            self.proc.start()
        except OSError:
            self.conn.close()
            raise
        finally:
            child.close()
        self.ready = False
        self.task: int | None = None
        self.deadline = float("inf")
        self.started = 0.0

    def kill(self) -> None:
        for target in (lambda: os.killpg(self.proc.pid, signal.SIGKILL),
                       lambda: os.kill(self.proc.pid, signal.SIGKILL)):
            try:
                target()
            except (OSError, TypeError):
                pass
        self.proc.join(5)
        self.conn.close()


def _may_start(slots: list[_Slot], failed_starts: int) -> bool:
    """Whether the pool may start a worker: not after :data:`START_ATTEMPTS` failed starts in
    a row, and after a failed start only when no other worker is starting (one at a time)."""
    if failed_starts >= START_ATTEMPTS:
        return False
    return failed_starts == 0 or all(s.ready for s in slots)


def run_pool(subs: Sequence[Any], opts: Options, jobs: int, init: Callable, init_args: tuple,
             grade: Callable, report: Callable[[int, Result], None]) -> None:
    """Grade ``subs`` in ``jobs`` workers; call ``report(i, result)`` as each one ends."""
    ctx = multiprocessing.get_context("spawn")
    todo = list(range(len(subs)))
    retried: set[int] = set()
    slots: list[_Slot] = []
    limit = opts.watchdog_seconds()
    failed_starts = 0                         # in a row: a worker that says it is ready resets it
    last_failure = ""
    next_start = 0.0                          # no new worker before this time (after a failed start)
    try:
        while todo or any(s.task is not None for s in slots):
            now = time.monotonic()
            wanted = min(jobs, len(todo) + sum(s.task is not None for s in slots))
            if now >= next_start:
                while len(slots) < wanted and _may_start(slots, failed_starts):
                    try:
                        slot = _Slot(ctx, init, init_args, grade)
                    except OSError as exc:    # no process could be made (EAGAIN, ENOMEM): later
                        failed_starts += 1
                        last_failure = f"could not be created ({exc.strerror or exc})"
                        next_start = time.monotonic() + RESTART_DELAY * failed_starts
                        break
                    slot.deadline = time.monotonic() + START_LIMIT
                    slots.append(slot)
            if failed_starts >= START_ATTEMPTS and not slots:
                for j in todo:                # no worker left, and none will start
                    report(j, _row_result(subs[j], "grader-error", "the grading worker could not start "
                                          f"({failed_starts} attempts in a row; the last {last_failure})", opts))
                todo.clear()
                break
            for slot in slots:
                if slot.ready and slot.task is None and todo:
                    slot.task = todo.pop(0)
                    slot.started = time.monotonic()
                    slot.deadline = slot.started + limit
                    try:
                        slot.conn.send((subs[slot.task], opts))
                    except OSError:
                        pass                  # noticed below as a dead worker
            waitables = [s.conn for s in slots] + [s.proc.sentinel for s in slots]
            timeout = max(0.05, min(s.deadline for s in slots) - time.monotonic()) if slots else 0.05
            if len(slots) < wanted and _may_start(slots, failed_starts):      # a restart is due
                timeout = min(timeout, max(0.05, next_start - time.monotonic()))
            multiprocessing.connection.wait(waitables, timeout=min(timeout, 1.0))
            now = time.monotonic()
            for slot in list(slots):
                message = None
                try:
                    if slot.conn.poll():
                        message = slot.conn.recv_bytes()
                except (EOFError, OSError):
                    message = None
                if message == b"ready":
                    slot.ready, slot.deadline = True, float("inf")
                    failed_starts = 0
                    continue
                if message is not None and slot.task is not None:
                    i, slot.task, slot.deadline = slot.task, None, float("inf")
                    try:
                        report(i, result_from_json(message))
                    except (ValueError, KeyError, TypeError) as exc:
                        report(i, _row_result(subs[i], "grader-error", f"the grading worker sent an "
                                              f"unreadable result ({type(exc).__name__})", opts))
                    continue
                dead = not slot.proc.is_alive()
                late = now > slot.deadline
                if not (dead or late):
                    continue
                slot.kill()
                slots.remove(slot)
                i = slot.task
                if i is None:
                    if not slot.ready:            # the worker could not start: another one will
                        failed_starts += 1
                        last_failure = (f"did not start within {START_LIMIT:g} s" if late and not dead
                                        else f"exited with code {slot.proc.exitcode}")
                        next_start = now + RESTART_DELAY * failed_starts
                    continue
                if late:
                    report(i, _row_result(subs[i], "timeout", f"grading stopped after {limit:g} s by the "
                                          "grader's watchdog (the grading process was stopped or hung)", opts))
                elif i in retried:
                    report(i, _row_result(subs[i], "grader-error", "the grading worker process died while "
                                          "grading this submission (did it kill its parent process?)", opts))
                else:
                    retried.add(i)
                    todo.append(i)            # graded again, alone in a fresh worker
    finally:
        for slot in slots:
            try:
                slot.conn.send(None)
            except OSError:
                pass
        for slot in slots:
            slot.proc.join(2)
            if slot.proc.is_alive():
                slot.kill()
