"""The OS sandbox of a grading kernel: bubblewrap (``bwrap``) command lines and checks.

:func:`bwrap_argv` builds the command that runs a kernel in a sandbox with

* new user (where allowed), PID, network, IPC, UTS and cgroup namespaces: the kernel sees
  no other process (not the grader, not the other kernels), has no network, and
  ``--die-with-parent`` plus the PID namespace end everything it started when it ends;
* ``--new-session`` (no terminal to inject keystrokes into) and no capabilities;
* a root file system of its own: the operating system's ``/usr`` (and ``/bin``, ``/lib``,
  ...), a few files of ``/etc``, the Python environment and the course library, all
  read-only; nothing else of the host (no ``$HOME``, no course root, no ``solutions/``,
  no submissions, no report folder, no ``--checks`` files), and any of those that lies
  inside a mounted folder is hidden under an empty mount (:func:`bwrap_argv`'s ``hide``);
* a private, size-limited tmpfs as working directory and ``$HOME`` (``/home/learner``)
  and as ``/tmp``; only the kernel's own socket folder is shared with the grader;
* a clean environment (none of the grader's variables);
* ``/proc/sys``, ``/proc/irq`` and ``/proc/bus`` hidden (bwrap covers ``/proc/sysrq-trigger``): a kernel
  graded as root would otherwise change host-wide settings (``kernel.core_pattern``, ...).

Resource limits are set by :mod:`rnn_tutor.grading.launch` (address space, file size, no
core dumps) outside, and a process-count limit inside the sandbox (``RLIMIT_NPROC``, and
a ``pids`` cgroup where the grader may create one: ``RLIMIT_NPROC`` does not bind root).

Linux only.  Debian and Ubuntu: ``apt-get install bubblewrap`` (Ubuntu 24.04+ restricts
unprivileged user namespaces with AppArmor, and the packaged ``bwrap`` has the profile
that allows it); Fedora: ``dnf install bubblewrap``.  macOS and Windows have no
bubblewrap: grade there with ``--no-sandbox`` inside a virtual machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Iterable

__all__ = ["HOME", "SandboxUnavailable", "find_bwrap", "check_sandbox", "bwrap_argv", "library_paths",
           "install_hint", "NPROC", "TMPFS_MB"]

HOME = "/home/learner"          # the kernel's working directory and $HOME (a private tmpfs)
NPROC = 256                     # processes and threads of one kernel
TMPFS_MB = 1024                 # size of the kernel's writable tmpfs folders
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "passwd", "group",
        "nsswitch.conf", "alternatives", "fonts", "mime.types", "os-release", "matplotlibrc")
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create a sandbox here; the message says what to do."""


def install_hint() -> str:
    return ("install the 'bubblewrap' package (Debian/Ubuntu: sudo apt-get install bubblewrap; "
            "Fedora: sudo dnf install bubblewrap), or grade with --no-sandbox only inside a "
            "disposable virtual machine or container (see docs/grading.md)")


def find_bwrap() -> str | None:
    """The ``bwrap`` executable (``RNN_TUTOR_BWRAP`` overrides the search), or None."""
    override = os.environ.get("RNN_TUTOR_BWRAP")
    if override is not None:
        return override if override and os.access(override, os.X_OK) else None
    return shutil.which("bwrap")


def _system_mounts() -> list[str]:
    args: list[str] = []
    for path in _SYSTEM:
        if os.path.islink(path):                      # merged /usr: /lib -> usr/lib
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for name in _ETC:
        path = f"/etc/{name}"
        if os.path.lexists(path):
            args += ["--ro-bind-try", path, path]
    return args


def library_paths() -> list[Path]:
    """Folders the kernel needs read-only: the Python installation, its environment and the
    course library (the package folder only, never the course root around it)."""
    import rnn_tutor

    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.base_exec_prefix),
             Path(rnn_tutor.__file__).resolve().parent}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        value = sysconfig.get_paths().get(key)
        if value:
            paths.add(Path(value))
    exe = Path(sys.executable)
    paths.add(exe.parent)
    paths.add(exe.resolve().parent)
    out: list[Path] = []
    for path in sorted(paths, key=lambda p: len(p.parts)):
        if not path.exists() or str(path) == "/" or path.is_relative_to("/usr"):
            continue
        if any(path.is_relative_to(p) for p in out):
            continue
        out.append(path)
    return out


def _inside(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == r or path.is_relative_to(r) for r in roots)


def bwrap_argv(bwrap: str, *, run_dir: Path | None, command: list[str], hide: Iterable[Path] = (),
               tmpfs_mb: int = TMPFS_MB, env: dict[str, str] | None = None) -> list[str]:
    """The ``bwrap`` command line that runs ``command`` in the sandbox.

    ``run_dir`` (the kernel's connection file and sockets) is shared read-write at the
    same path.  Every path in ``hide`` that lies inside a mounted folder is covered by an
    empty mount.  ``env`` is the kernel's whole environment.
    """
    size = str(max(1, tmpfs_mb) * 2**20)
    args = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--hostname", "rnn-tutor-sandbox"]
    args += _system_mounts()
    mounted = [Path(p) for p in _SYSTEM if os.path.isdir(p)]
    # /proc/sys and friends are host-global for a uid 0 (the grader run as root maps to host
    # root, capabilities or not): hide them under empty read-only mounts.
    args += ["--proc", "/proc",
             "--tmpfs", "/proc/sys", "--remount-ro", "/proc/sys",
             "--tmpfs", "/proc/irq", "--remount-ro", "/proc/irq",
             "--tmpfs", "/proc/bus", "--remount-ro", "/proc/bus",
             "--dev", "/dev",
             "--size", size, "--tmpfs", "/tmp", "--size", size, "--tmpfs", HOME]
    # After the tmpfs mounts, which would otherwise cover a Python environment or a course
    # checkout that lives under /tmp (a CI clone, a venv made in a temporary folder).
    for path in library_paths():
        args += ["--ro-bind", str(path), str(path)]
        mounted.append(path)
    if run_dir is not None:
        args += ["--bind", str(run_dir), str(run_dir)]
    for path in sorted({Path(os.path.abspath(p)) for p in hide}, key=str):
        if not _inside(path, mounted) or any(m.is_relative_to(path) for m in mounted) or (
                run_dir is not None and _inside(Path(run_dir), [path])):
            continue                  # not visible anyway, or hiding it would hide what the kernel needs
        if path.is_dir():
            args += ["--tmpfs", str(path)]
        elif path.exists():
            args += ["--ro-bind", "/dev/null", str(path)]
    args += ["--chdir", HOME, "--clearenv"]
    for key, value in (env or {}).items():
        args += ["--setenv", key, value]
    return args + ["--"] + command


# Run inside the sandbox, before the kernel: the process-count limit is set there, so that it
# counts the sandbox's processes only (a limit set outside would also count the user's others).
NPROC_LAUNCHER = ("import os, resource, sys; n = int(sys.argv[1]); "
                  "resource.setrlimit(resource.RLIMIT_NPROC, (n, n)); os.execv(sys.argv[2], sys.argv[2:])")


def pids_root() -> Path | None:
    """The ``pids`` cgroup hierarchy this process may create groups in, or None."""
    v1 = Path("/sys/fs/cgroup/pids")
    if (v1 / "cgroup.procs").exists() and os.access(v1, os.W_OK):
        return v1
    v2 = Path("/sys/fs/cgroup")
    try:
        if "pids" in (v2 / "cgroup.subtree_control").read_text().split() and os.access(v2, os.W_OK):
            return v2
    except OSError:
        pass
    return None


def make_pids_cgroup(name: str, limit: int) -> Path | None:
    """A new ``pids`` cgroup limited to ``limit`` tasks (None where not allowed, e.g. unprivileged).

    ``RLIMIT_NPROC`` does not bind root, so a kernel graded as root gets this limit instead.
    """
    if os.geteuid() != 0:
        return None
    root = pids_root()
    if root is None:
        return None
    path = root / name
    try:
        path.mkdir()
        (path / "pids.max").write_text(str(limit))
    except OSError:
        remove_cgroup(path)
        return None
    return path


def remove_cgroup(path: Path, wait: float = 2.0) -> None:
    """Remove a cgroup made by :func:`make_pids_cgroup` once its last process is gone."""
    import time

    end = time.monotonic() + wait
    while True:
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > end:
                return
            time.sleep(0.05)


def compile_library() -> None:
    """Write the course library's missing or stale ``.pyc`` files now (where allowed): the
    library is read-only in the sandbox, so each kernel would otherwise compile them again."""
    import compileall

    import rnn_tutor

    try:
        compileall.compile_dir(os.path.dirname(rnn_tutor.__file__), quiet=2)
    except OSError:
        pass


def check_sandbox(timeout: float = 30.0) -> str:
    """Return the ``bwrap`` path after a trial run; raise :class:`SandboxUnavailable` if it fails."""
    if not sys.platform.startswith("linux"):
        raise SandboxUnavailable(f"the kernel sandbox needs Linux (bubblewrap); this is {sys.platform}: "
                                 "grade with --no-sandbox inside a disposable virtual machine")
    bwrap = find_bwrap()
    if bwrap is None:
        raise SandboxUnavailable("the kernel sandbox needs bubblewrap (the 'bwrap' command), which is "
                                 "not installed: " + install_hint())
    argv = bwrap_argv(bwrap, run_dir=None, command=[sys.executable, "-I", "-S", "-c", "pass"])
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailable(f"bubblewrap ({bwrap}) could not run: {exc}") from None
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1][:300]
        raise SandboxUnavailable(f"bubblewrap ({bwrap}) cannot create a sandbox here: {why}. Unprivileged "
                                 "user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone, "
                                 "or AppArmor on Ubuntu 24.04+: use the distribution's bwrap package)")
    return bwrap
