"""JupyterLab and Chromium for the browser tests: started, isolated, and reliably stopped.

* :func:`jupyter_lab` copies the lessons to a temporary directory and serves
  *the copy* with JupyterLab on a free loopback port with a random token.
  Settings, workspaces, runtime files and notebook signatures live in the same
  temporary directory, so a run writes nothing into the repository or into
  ``~/.jupyter``.
* :func:`chromium` starts Debian's ``/usr/bin/chromium`` through playwright
  (no browser download).

Every process the two start is recorded (including kernels, which
``jupyter_client`` starts in a session of their own) and is asserted to be gone
on exit, even when the body raises.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import psutil

REPO = Path(__file__).resolve().parents[2]

#: Browser used by the tests. Override with ``RNN_TUTOR_CHROMIUM`` (e.g. on a
#: laptop whose Chromium lives elsewhere).
CHROMIUM = os.environ.get("RNN_TUTOR_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Top-level folders copied next to the lessons (lessons may link or load from them).
COPY_DIRS = ("lessons", "data", "assets", "images", "figures")

#: JupyterLab plugins that would reach for the network or pop up toasts.
DISABLED_PLUGINS = ["@jupyterlab/apputils-extension:announcements"]
#: Settings overrides for the throwaway JupyterLab.
LAB_OVERRIDES: dict[str, dict[str, Any]] = {
    # Attach every cell to the DOM, so that what we inspect is what a learner
    # would see after scrolling (JupyterLab otherwise skips off-screen cells).
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
    # The served files are a temporary copy, but never write them anyway.
    "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
    # No "get notified about Jupyter news?" toast, no update check (offline).
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}



class BrowserUnavailable(RuntimeError):
    """Chromium or playwright is not installed."""


def browser_unavailable_reason() -> str | None:
    """Why the browser tests cannot run here, or ``None`` when they can."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return (
            f"Chromium not found at {CHROMIUM} (install it with `apt-get install chromium`, "
            "run .ci/install-browser, or set RNN_TUTOR_CHROMIUM)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        return f"the playwright Python package is not importable ({exc}); pip install playwright"
    return None


def fingerprint(paths: list[Path]) -> dict[str, str]:
    """SHA-256 of every file under ``paths`` (relative path -> digest)."""
    out: dict[str, str] = {}
    for root in paths:
        if not root.exists():
            continue
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for f in files:
            out[str(f.relative_to(REPO))] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


# --------------------------------------------------------------------------- processes


class ProcessTracker:
    """Remember processes we started (and their descendants); make sure they end."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.procs: dict[int, psutil.Process] = {}

    def add_tree(self, pid: int) -> None:
        try:
            root = psutil.Process(pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for p in tree:
            self.procs.setdefault(p.pid, p)

    def add_new_children_of_self(self, before: set[int], cmdline_has: str) -> None:
        """Record the new children of this (pytest) process whose command line has
        ``cmdline_has``, with all their descendants."""
        for p in psutil.Process().children():
            with contextlib.suppress(psutil.Error):
                if p.pid not in before and cmdline_has in " ".join(p.cmdline()):
                    self.add_tree(p.pid)

    def alive(self) -> list[psutil.Process]:
        out = []
        for p in self.procs.values():
            try:
                # is_running() also compares the creation time, so a recycled pid is not ours.
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    out.append(p)
            except psutil.NoSuchProcess:
                pass
        return out

    def reap(self, timeout: float = 10.0) -> list[str]:
        """Wait for our processes to end; kill stragglers; describe what had to be killed."""
        _, alive = psutil.wait_procs(self.alive(), timeout=timeout)
        stray = []
        for p in alive:
            with contextlib.suppress(psutil.Error):
                stray.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
                p.kill()
        psutil.wait_procs(alive, timeout=5)
        return stray


def children_of_self() -> set[int]:
    return {p.pid for p in psutil.Process().children()}


# --------------------------------------------------------------------------- JupyterLab


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LabServer:
    """A running JupyterLab that serves a temporary copy of the repository's lessons."""

    url: str
    token: str
    root: Path
    proc: subprocess.Popen
    log: Path
    tracker: ProcessTracker
    #: SHA-256 of every served file at start (path relative to ``root``).
    copied: dict[str, str] = field(default_factory=dict)
    #: Folders of ``root`` that :meth:`served_fingerprint` covers (None: all of ``root``).
    watched: tuple[str, ...] | None = None

    def served_fingerprint(self) -> dict[str, str]:
        tops = [self.root] if self.watched is None else [self.root / d for d in self.watched]
        return {
            str(f.relative_to(self.root)): hashlib.sha256(f.read_bytes()).hexdigest()
            for top in tops
            for f in sorted(top.rglob("*"))
            if f.is_file() and ".ipynb_checkpoints" not in f.parts
        }

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
        """Call the server's REST API with the token (token requests skip the XSRF check)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            self.tracker.add_tree(self.proc.pid)  # pick up kernels as they appear
            return json.loads(raw) if raw else None

    def notebook_url(self, relpath: str) -> str:
        # A fresh workspace per page: JupyterLab would otherwise restore the
        # tabs of the previous page and open their kernels again.
        ws = f"t{uuid.uuid4().hex[:12]}"
        return f"{self.url}/lab/workspaces/{ws}/tree/{relpath}?token={self.token}"

    def shutdown_kernels(self, path: str | None = None) -> None:
        """Stop the kernels of every session, or of the sessions of notebook ``path``.

        Closing a page or a notebook tab does not stop its kernel.
        """
        self.tracker.add_tree(self.proc.pid)
        for s in self.api("GET", "/api/sessions") or []:
            if path is None or s.get("path") == path:
                with contextlib.suppress(urllib.error.URLError, OSError):
                    self.api("DELETE", f"/api/sessions/{s['id']}")
        if path is None:
            for k in self.api("GET", "/api/kernels") or []:
                with contextlib.suppress(urllib.error.URLError, OSError):
                    self.api("DELETE", f"/api/kernels/{k['id']}")

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def _jupyter_env(dirs: dict[str, Path]) -> dict[str, str]:
    """This process's environment with every Jupyter folder moved into ``dirs``."""
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        JUPYTERLAB_SETTINGS_DIR=str(dirs["user_settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
        IPYTHONDIR=str(dirs["ipython"]),
        PYTHONUNBUFFERED="1",
    )
    # A learner's kernel has no MPLBACKEND: with Agg exported, ipykernel would
    # not install the inline backend and figures would never reach the page.
    env.pop("MPLBACKEND", None)
    env.pop("JUPYTER_TOKEN", None)
    return env


def _write_lab_settings(base: Path) -> dict[str, Path]:
    dirs = {k: base / k for k in ("app_settings", "user_settings", "workspaces", "config", "data", "runtime", "ipython")}
    for d in dirs.values():
        d.mkdir(parents=True)
    (dirs["app_settings"] / "page_config.json").write_text(
        json.dumps({"disabledExtensions": DISABLED_PLUGINS})
    )
    (dirs["app_settings"] / "overrides.json").write_text(json.dumps(LAB_OVERRIDES, indent=1))
    return dirs


@contextlib.contextmanager
def jupyter_lab(
    copy_dirs: tuple[str, ...] = COPY_DIRS,
    extra: dict[str, Path] | None = None,
    startup_timeout: float = 90.0,
) -> Iterator[LabServer]:
    """Serve a temporary copy of ``copy_dirs`` (relative to the repository) with JupyterLab.

    ``extra`` maps a folder name in the served root to another directory to copy
    there (the self-tests serve a small notebook of their own this way).
    """
    tmp = Path(tempfile.mkdtemp(prefix="rnn-tutor-lab-"))
    tracker = ProcessTracker("jupyter")
    proc = None
    server = None
    try:
        root = tmp / "repo"
        root.mkdir()
        sources = {name: REPO / name for name in copy_dirs}
        sources.update(extra or {})
        for name, src in sources.items():
            if src.is_dir():
                shutil.copytree(src, root / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        assert REPO not in root.resolve().parents, "the server must not serve the repository itself"
        copied = {
            str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(root.rglob("*"))
            if f.is_file()
        }
        dirs = _write_lab_settings(tmp / "jupyter")
        env = _jupyter_env(dirs)
        token = secrets.token_hex(24)
        log = tmp / "jupyter.log"
        last_error = ""
        for _attempt in range(3):
            port = free_port()
            cmd = [
                sys.executable, "-m", "jupyter", "lab",
                "--no-browser",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.port={port}",
                "--ServerApp.port_retries=0",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.root_dir={root}",
                "--ServerApp.terminals_enabled=False",
                f"--LabApp.app_settings_dir={dirs['app_settings']}",
                f"--LabApp.user_settings_dir={dirs['user_settings']}",
                f"--LabApp.workspaces_dir={dirs['workspaces']}",
                "--LabApp.expose_app_in_browser=True",
                "--LabApp.news_url=",
            ]  # fmt: skip
            if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers often run as root
                cmd.append("--ServerApp.allow_root=True")
            with open(log, "ab") as fh:
                proc = subprocess.Popen(
                    cmd, cwd=root, env=env, stdout=fh, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True,
                )  # fmt: skip
            tracker.add_tree(proc.pid)
            url = f"http://127.0.0.1:{port}"
            server = LabServer(url=url, token=token, root=root, proc=proc, log=log, tracker=tracker, copied=copied)
            deadline = time.monotonic() + startup_timeout
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    server.api("GET", "/api/status", timeout=2)
                    break
                except (urllib.error.URLError, OSError, ValueError):
                    time.sleep(0.25)
            else:
                last_error = server.log_tail()
                _stop_server(proc, None, tracker)
                proc = None
                continue
            break
        if proc is None:
            raise RuntimeError(f"JupyterLab did not start; log tail:\n{last_error}")
        yield server
    finally:
        stray: list[str] = []
        if proc is not None:
            stray = _stop_server(proc, server, tracker)
        shutil.rmtree(tmp, ignore_errors=True)
        if stray:
            raise AssertionError(f"processes survived JupyterLab shutdown and were killed: {stray}")


def _stop_server(proc: subprocess.Popen, server: LabServer | None, tracker: ProcessTracker) -> list[str]:
    """Shut down politely (kernels included), then kill the process group; return strays."""
    tracker.add_tree(proc.pid)
    if server is not None and proc.poll() is None:
        with contextlib.suppress(Exception):
            server.shutdown_kernels()
        with contextlib.suppress(Exception):
            server.api("POST", "/api/shutdown", timeout=5)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    # Kernels run in sessions of their own; anything still alive is a straggler.
    return tracker.reap(timeout=10)


# --------------------------------------------------------------------------- Chromium


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser (playwright ``Browser``); closed and reaped on exit."""
    reason = browser_unavailable_reason()
    if reason:
        raise BrowserUnavailable(reason)
    from playwright.sync_api import sync_playwright

    tracker = ProcessTracker("chromium")
    before = children_of_self()
    pw = sync_playwright().start()
    browser = None
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        tracker.add_new_children_of_self(before, "playwright")  # the driver, and Chromium under it
        yield browser
    finally:
        tracker.add_new_children_of_self(before, "playwright")
        try:
            if browser is not None:
                with contextlib.suppress(Exception):
                    browser.close()
        finally:
            with contextlib.suppress(Exception):
                pw.stop()
        stray = tracker.reap(timeout=10)
        if stray:
            raise AssertionError(f"browser processes survived browser.close() and were killed: {stray}")
