"""Kernel launch wrapper: set resource limits, then become the kernel (``os.execv``).

Usage (built by :mod:`rnn_tutor.grading.execute`)::

    python -m rnn_tutor.grading.launch MEMORY_BYTES FILE_BYTES [--cgroup DIR] -- CMD...

(``CMD`` is the kernel, or ``bwrap ... -- kernel`` for a sandboxed one.)

* ``RLIMIT_AS`` = ``MEMORY_BYTES`` (0: unlimited): a submission that allocates too much
  gets a ``MemoryError`` (or its kernel dies) instead of exhausting the machine;
* ``RLIMIT_FSIZE`` = ``FILE_BYTES`` (0: unlimited): no single file written can fill the disk;
* ``RLIMIT_CORE`` = 0: a segfaulting kernel leaves no core dump;
* on Linux, the kernel is killed when the process that started it exits
  (``PR_SET_PDEATHSIG``), so a killed grader leaves no kernel behind.

Limits are per process and inherited by the kernel's children; they are not a
sandbox (see docs/grading.md).  Setting them in a wrapper rather than in a
``preexec_fn`` keeps the grader's (threaded) process out of ``fork`` hazards.
"""

from __future__ import annotations

import os
import resource
import sys


def _limit(which: int, value: int) -> None:
    if value > 0:
        soft, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value))


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)      # PR_SET_PDEATHSIG, SIGKILL
        except (OSError, AttributeError):
            pass


def _join_cgroup(path: str) -> None:
    with open(os.path.join(path, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))


def main(argv: list[str]) -> None:
    """Apply the limits given in ``argv`` and ``exec`` the command after ``--``."""
    if len(argv) >= 4 and argv[2] == "--cgroup":
        _join_cgroup(argv[3])             # the pids cgroup of the sandbox (see rnn_tutor.grading.sandbox)
        argv = argv[:2] + argv[4:]
    if len(argv) < 4 or argv[2] != "--":
        raise SystemExit("usage: python -m rnn_tutor.grading.launch MEMORY_BYTES FILE_BYTES "
                         "[--cgroup DIR] -- CMD...")
    _limit(resource.RLIMIT_AS, int(argv[0]))
    _limit(resource.RLIMIT_FSIZE, int(argv[1]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _die_with_parent()
    cmd = argv[3:]
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
