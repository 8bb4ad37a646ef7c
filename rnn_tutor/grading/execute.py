"""A fresh, resource-limited Jupyter kernel that runs code with timeouts and output caps.

:class:`Kernel` drives one IPython kernel of *this* Python environment through
``jupyter_client`` (no notebook server).  It is built for hostile code:

* the kernel starts through :mod:`rnn_tutor.grading.launch`, which limits its
  address space (``memory_mb``) and file sizes before it becomes the kernel;
* sockets are Unix domain sockets in a folder of its own under :func:`short_temp_base`
  (``/tmp``, whatever TMPDIR says: a socket path may not exceed about 104 bytes), with
  the connection file; the working directory is an empty temporary folder; IPython
  runs without history and with a temporary profile (no instructor startup files);
* :meth:`Kernel.execute` interrupts a cell that runs longer than its timeout or
  prints more than ``output_limit`` characters, and kills the kernel if the
  interrupt does not work within ``grace`` seconds (default :data:`GRACE`);
* only the first :data:`KEEP_CHARS` characters of output are kept, however much
  is printed; a dead kernel (``os._exit``, a segfault, out of memory) is noticed
  within half a second and described (exit code or signal, last line of stderr).
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ExecResult", "Kernel", "KernelStartError", "GRACE", "KEEP_CHARS", "RUN_PREFIX",
           "short_temp_base", "run_folder"]

GRACE = 5.0                 # seconds a kernel gets to honour an interrupt before it is killed
KEEP_CHARS = 20_000         # characters of output kept per execution
POLL = 0.2                  # seconds between liveness checks while waiting


RUN_PREFIX = "rnn-tutor-grade-"      # + grader pid: stale folders of a killed run are found by it


def short_temp_base() -> Path:
    """Where temporary folders with sockets go: ``/tmp`` when usable, whatever TMPDIR says.

    A Unix socket path may not exceed about 104 bytes (macOS) or 108 (Linux), so a long
    TMPDIR (macOS's is about 49 characters) must not decide whether kernels start.
    """
    for base in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(base) and os.access(base, os.W_OK | os.X_OK):
            return Path(base)
    return Path(tempfile.gettempdir())


def run_folder(kind: str) -> Path:
    """A new private folder ``/tmp/rnn-tutor-grade-<pid>-<kind>XXXXXXXX`` (mode 700)."""
    return Path(tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}-{kind}", dir=short_temp_base()))


class KernelStartError(RuntimeError):
    """The kernel could not be started (or died while starting)."""


@dataclass
class ExecResult:
    """The outcome of one execution.

    ``status`` is ``ok``, ``error`` (an exception; ``error`` holds its first line),
    ``timeout``, ``output-limit`` or ``died``.  ``killed`` says the kernel had to be
    killed (it is gone afterwards).  ``user_expressions`` comes from the execute reply.
    """

    status: str
    error: str = ""
    output: str = ""
    output_chars: int = 0
    seconds: float = 0.0
    killed: bool = False
    user_expressions: dict = field(default_factory=dict)


def _first_line(text: str, limit: int = 300) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    line = lines[0] if lines else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


class Kernel:
    """One kernel in ``workdir`` (must exist and be empty), limited to ``memory_mb`` MiB.

    Use as a context manager; :meth:`close` kills the kernel and its process group.
    """

    def __init__(self, workdir: Path, *, memory_mb: int = 2048, file_mb: int = 512,
                 output_limit: int = 20 * 2**20, start_timeout: float = 60.0,
                 grace: float = GRACE, sandbox: str | None = None, hide: tuple = ()) -> None:
        self.workdir = Path(workdir)
        self.sandbox, self.hide = sandbox, tuple(hide)
        self._cgroup: Path | None = None
        self.grace = grace
        self.memory_mb, self.file_mb = memory_mb, file_mb
        self.output_limit, self.start_timeout = output_limit, start_timeout
        self.km = self.kc = None
        self.dead_reason = ""
        self._log = None
        self._run: Path | None = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "Kernel":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the kernel and wait until it answers; raise :class:`KernelStartError`."""
        from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
        from jupyter_client.manager import KernelManager

        run = self._run = run_folder("k")
        kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                  "--HistoryManager.enabled=False"]     # the learner's code is not kept in any history
        limits = [sys.executable, "-m", "rnn_tutor.grading.launch",
                  str(self.memory_mb * 2**20), str(self.file_mb * 2**20)]
        threads = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                   "MALLOC_ARENA_MAX": "2", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
        if self.sandbox:
            from rnn_tutor.grading import sandbox as sb

            self._cgroup = sb.make_pids_cgroup(run.name, sb.NPROC + 8)
            kernel_env = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
                          "HOME": sb.HOME, "LANG": "C.UTF-8", "TMPDIR": "/tmp", **threads,
                          "IPYTHONDIR": f"{sb.HOME}/.ipython", "MPLCONFIGDIR": f"{sb.HOME}/.matplotlib",
                          "PYTHONDONTWRITEBYTECODE": "1"}
            inner = [sys.executable, "-I", "-S", "-c", sb.NPROC_LAUNCHER, str(sb.NPROC)] + kernel
            argv = limits + (["--cgroup", str(self._cgroup)] if self._cgroup else []) + ["--"] + sb.bwrap_argv(
                self.sandbox, run_dir=run, command=inner, hide=self.hide, env=kernel_env)
            interrupt = "message"      # a signal cannot reach into the sandbox's own session
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
            cwd = str(run)
        else:
            argv = limits + ["--"] + kernel
            interrupt = "signal"
            env = {**os.environ, **threads,
                   "IPYTHONDIR": str(run / "ipython")}    # no profile or startup files of the instructor
            cwd = str(self.workdir)

        class _Specs(KernelSpecManager):
            def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
                return KernelSpec(argv=argv, display_name="rnn-tutor grading",
                                  language="python", interrupt_mode=interrupt)

        self.km = KernelManager(kernel_name="rnn-tutor-grading", kernel_spec_manager=_Specs(),
                                transport="ipc", ip=str(run / "s"))
        self.km.connection_file = str(run / "connection.json")
        self._log_path = run / "kernel-stderr.log"
        self._log = open(self._log_path, "wb")
        try:
            self.km.start_kernel(cwd=cwd, env=env, stdout=self._log, stderr=self._log)
            self.kc = self.km.client()
            self.kc.start_channels()
            self.kc.wait_for_ready(timeout=self.start_timeout)
        except Exception as exc:  # noqa: BLE001 - report any start failure the same way
            reason = self._death_reason() if self.km.has_kernel and not self._alive() else str(exc)
            self.close()
            raise KernelStartError(f"the kernel did not start: {_first_line(reason)}") from None

    def close(self) -> None:
        """Stop the channels and kill the kernel (and its process group)."""
        if self.kc is not None:
            try:
                self.kc.stop_channels()
            except Exception:  # noqa: BLE001 - closing must not fail
                pass
        if self.km is not None and self.km.has_kernel:
            try:
                self.km.shutdown_kernel(now=True)
            except Exception:  # noqa: BLE001
                pass
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._run is not None:
            shutil.rmtree(self._run, ignore_errors=True)
            self._run = None
        if self._cgroup is not None:
            from rnn_tutor.grading.sandbox import remove_cgroup

            remove_cgroup(self._cgroup)
            self._cgroup = None

    # ------------------------------------------------------------------ state
    def _alive(self) -> bool:
        try:
            return bool(self.km is not None and self.km.is_alive())
        except Exception:  # noqa: BLE001
            return False

    @property
    def alive(self) -> bool:
        """True while the kernel process runs (and was not killed by us)."""
        return not self.dead_reason and self._alive()

    def _death_reason(self) -> str:
        proc = getattr(self.km.provisioner, "process", None) if self.km and self.km.provisioner else None
        code = proc.poll() if proc is not None else None
        if code is not None and self.sandbox and 128 < code < 128 + 65:
            code = -(code - 128)          # bwrap exits with 128 + the signal that killed the kernel
        if code is None:
            what = "the kernel died"
        elif code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            hint = {"SIGSEGV": " (segmentation fault)", "SIGKILL": " (killed: out of memory?)",
                    "SIGABRT": " (aborted: out of memory?)", "SIGBUS": " (bus error)"}.get(name, "")
            what = f"the kernel died from {name}{hint}"
        else:
            what = f"the kernel exited with code {code}"
        tail = self._stderr_tail()
        return f"{what}; its last words: {tail}" if tail else what

    def _stderr_tail(self) -> str:
        try:
            if self._log is not None:
                self._log.flush()
            lines = [ln for ln in self._log_path.read_bytes()[-4000:].decode("utf-8", "replace").splitlines()
                     if ln.strip() and "WARNING" not in ln]
        except OSError:
            return ""
        return _first_line(lines[-1], 200) if lines else ""

    def _kill(self, reason: str) -> None:
        self.dead_reason = reason
        self.close()

    # ------------------------------------------------------------------ execution
    def execute(self, code: str, timeout: float, *, user_expressions: dict | None = None,
                store_history: bool = True) -> ExecResult:
        """Run ``code``; wait at most ``timeout`` seconds (then interrupt, then kill)."""
        t0 = time.monotonic()
        if not self.alive:
            return ExecResult("died", self.dead_reason or self._death_reason(), killed=True)
        msg_id = self.kc.execute(code, store_history=store_history, allow_stdin=False,
                                 user_expressions=user_expressions or {}, stop_on_error=False)
        kept: list[str] = []
        n_chars, n_kept, error, why = 0, 0, "", ""
        reply: dict | None = None
        kill_at = drain_until = None
        next_check = t0 + POLL
        while True:
            now = time.monotonic()
            if not why and reply is None and (now - t0 > timeout or n_chars > self.output_limit):
                why = "timeout" if now - t0 > timeout else "output-limit"
                self._interrupt()
                kill_at = now + self.grace
            if now >= next_check:
                next_check = now + POLL / 4
                if reply is None:          # the reply travels on its own channel: no output backlog
                    reply = self._poll_reply(msg_id, 0)
                    if reply is not None:
                        drain_until = now + 3.0      # outputs may still be in flight on IOPub
                if reply is None and kill_at is not None and now > kill_at:
                    self._kill(f"it could not be interrupted after {timeout:g} s" if why == "timeout"
                               else "it could not be interrupted after too much output")
                    return ExecResult(why, self.dead_reason, "".join(kept), n_chars, now - t0, killed=True)
                if reply is None and not self._alive():
                    self.dead_reason = self._death_reason()
                    return ExecResult("died", self.dead_reason, "".join(kept), n_chars, now - t0, killed=True)
            if drain_until is not None and now > drain_until:
                break
            try:
                msg = self.kc.get_iopub_msg(timeout=POLL / 4)
            except queue.Empty:
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content.get("execution_state") == "idle":
                if reply is None:
                    reply = self._poll_reply(msg_id, 10.0)
                break
            text = ""
            if kind == "stream":
                text = content.get("text", "")
            elif kind in ("execute_result", "display_data"):
                text = str(content.get("data", {}).get("text/plain", "")) + "\n"
            elif kind == "error":
                error = _first_line(f"{content.get('ename', 'Error')}: {content.get('evalue', '')}")
                text = error + "\n"
            n_chars += len(text)
            if n_kept < KEEP_CHARS:
                kept.append(text[:KEEP_CHARS - n_kept])
                n_kept += len(kept[-1])
        seconds = time.monotonic() - t0
        output = "".join(kept)
        if why == "timeout":
            return ExecResult("timeout", f"stopped after {timeout:g} s (time limit)", output, n_chars, seconds)
        if why == "output-limit":
            return ExecResult("output-limit", f"stopped after printing more than "
                              f"{self.output_limit // 2**20} MB", output, n_chars, seconds)
        if reply is None:
            if not self._alive():
                self.dead_reason = self._death_reason()
                return ExecResult("died", self.dead_reason, output, n_chars, seconds, killed=True)
            return ExecResult("error", "the kernel sent no reply", output, n_chars, seconds)
        status = reply.get("status")
        if status == "ok":
            return ExecResult("ok", "", output, n_chars, seconds,
                              user_expressions=reply.get("user_expressions") or {})
        error = error or _first_line(f"{reply.get('ename', 'Error')}: {reply.get('evalue', '')}")
        return ExecResult("error", error, output, n_chars, seconds)

    def _interrupt(self) -> None:
        try:
            self.km.interrupt_kernel()
        except Exception:  # noqa: BLE001 - a dead kernel is noticed by the caller
            pass

    def _poll_reply(self, msg_id: str, wait: float) -> dict | None:
        """The execute reply to ``msg_id`` if it arrives within ``wait`` seconds (others are dropped)."""
        end = time.monotonic() + wait
        while True:
            try:
                msg = self.kc.get_shell_msg(timeout=max(0.0, min(POLL, end - time.monotonic())))
            except queue.Empty:
                if time.monotonic() >= end or not self._alive():
                    return None
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return msg.get("content", {})
