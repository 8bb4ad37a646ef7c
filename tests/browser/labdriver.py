"""Drive real JupyterLab in headless Chromium (used by the ``browser`` tests).

Three context managers do the work, and each one cleans up after itself even
when the body raises:

* :func:`jupyter_lab` copies the lessons to a temporary directory and serves
  *the copy* with JupyterLab on a free loopback port with a random token.
  Settings, workspaces, runtime files and notebook signatures live in the same
  temporary directory, so a run writes nothing into the repository or into
  ``~/.jupyter``.
* :func:`chromium` starts Debian's ``/usr/bin/chromium`` through playwright
  (no browser download).
* :func:`open_notebook` opens one notebook (in a new page, or in a JupyterLab
  already loaded in a page), clears it, "Restart Kernel and Run All Cells",
  waits for the kernel to be idle and for every cell to have run, and returns a
  :class:`NotebookRun` that reports what the learner sees (outputs, images,
  widgets, typeset math) and drives the widgets.  :func:`start_notebook` does
  the first half only, so one notebook can run while another is inspected.

Every process that the first two start is recorded (including kernels, which
``jupyter_client`` starts in a session of their own) and is asserted to be gone
on exit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
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

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")
#: Markdown that contains TeX: $...$, $$...$$, \(...\), \[...\], \begin{...}.
_MATH_RE = re.compile(r"\$\$.+?\$\$|(?<![\\$])\$[^\s$](?:[^$\n]*?[^\s\\$])?\$|\\\(|\\\[|\\begin\{", re.S)
_FENCE_RE = re.compile(r"```.*?```|`[^`\n]*`", re.S)


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


def math_in_markdown(source: str) -> bool:
    """True when a markdown source has TeX outside code spans and fences."""
    return bool(_MATH_RE.search(_FENCE_RE.sub("", source)))


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

    def add_new_children_of_self(self, before: set[int]) -> None:
        """Record descendants of this (pytest) process that were not in ``before``."""
        for p in psutil.Process().children(recursive=True):
            if p.pid not in before:
                self.procs.setdefault(p.pid, p)

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


def descendants_of_self() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


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

    def served_fingerprint(self) -> dict[str, str]:
        return {
            str(f.relative_to(self.root)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(self.root.rglob("*"))
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
    before = descendants_of_self()
    pw = sync_playwright().start()
    browser = None
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        tracker.add_new_children_of_self(before)
        yield browser
    finally:
        tracker.add_new_children_of_self(before)
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


# --------------------------------------------------------------------------- notebooks in the page

# Everything the learner sees, read from JupyterLab's own widgets (window.jupyterapp).
_SNAPSHOT_JS = r"""
() => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  if (!panel || !panel.content || !panel.content.widgets) return null;
  const nb = panel.content;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const hash = (s) => { let h = 5381; for (let i = 0; i < s.length; i++) h = ((h * 33) ^ s.charCodeAt(i)) >>> 0;
                        return s.length + ':' + h; };
  const imgInfo = (img) => ({complete: img.complete, w: img.naturalWidth, h: img.naturalHeight,
                             src: (img.getAttribute('src') || '').slice(0, 60)});
  const cells = nb.widgets.map((cell, i) => {
    const m = cell.model;
    const node = cell.node;
    const info = {index: i, type: m.type, tags: m.getMetadata('tags') || [],
                  source: m.sharedModel.getSource()};
    if (m.type === 'code') {
      info.executionCount = m.executionCount;
      info.prompt = (node.querySelector('.jp-InputPrompt') || {}).innerText || '';
      info.outputs = [];
      for (let j = 0; j < m.outputs.length; j++) {
        const o = m.outputs.get(j).toJSON();
        const data = o.data || {};
        let plain = data['text/plain'];
        if (Array.isArray(plain)) plain = plain.join('');
        info.outputs.push({type: o.output_type, mimes: Object.keys(data), name: o.name || null,
                           ename: o.ename || null, evalue: o.evalue || null,
                           text: (typeof o.text === 'string' ? o.text : (o.text || []).join('')).slice(0, 2000),
                           plain: typeof plain === 'string' ? plain.slice(0, 200) : null,
                           image: ['image/png', 'image/jpeg', 'image/svg+xml', 'image/gif']
                                    .filter(k => k in data).map(k => hash(String(data[k])))[0] || null});
      }
      const area = node.querySelector('.jp-Cell-outputArea') || node;
      info.outputNodes = [...area.querySelectorAll('.jp-OutputArea-output')]
        .filter(n => !n.parentElement.closest('.jp-OutputArea-output'))
        .map(n => ({mime: n.getAttribute('data-mime-type'),
                    widgets: n.querySelectorAll('.jupyter-widgets').length +
                             (n.classList.contains('jupyter-widgets') ? 1 : 0),
                    mjx: n.querySelectorAll('mjx-container').length,
                    mathErrors: [...n.querySelectorAll('mjx-merror, [data-mjx-error]')]
                      .map(e => e.getAttribute('data-mjx-error') || e.textContent).slice(0, 5)}));
      info.images = [...area.querySelectorAll('img')].map(imgInfo);
      info.widgetViews = area.querySelectorAll('.jupyter-widgets').length;
      info.widgetErrors = (area.innerText.match(/Error displaying widget[^\n]*/g) || []);
      info.text = area.innerText.slice(0, 4000);
    } else if (m.type === 'markdown') {
      info.rendered = cell.rendered;
      info.mjx = node.querySelectorAll('mjx-container').length;
      info.mathErrors = [...node.querySelectorAll('mjx-merror, [data-mjx-error]')]
        .map(e => e.getAttribute('data-mjx-error') || e.textContent).slice(0, 5);
      info.images = [...node.querySelectorAll('.jp-MarkdownOutput img')].map(imgInfo);
    }
    return info;
  });
  const toasts = [...document.querySelectorAll('.Toastify__toast--error')].map(t => t.innerText.slice(0, 200));
  return {path: panel.context.path, kernelStatus: kernel ? kernel.status : 'none', errorToasts: toasts,
          busy: nb.widgets.some(c => c.model.type === 'code' &&
                                     ((c.node.querySelector('.jp-InputPrompt') || {}).innerText || '').includes('*')),
          cells};
}
"""


#: CSS selector of the notebook panel under test (marked when it opens).
CURRENT = "[data-rnn-current]"
_CONTROL_CLASSES = ("widget-slider", "widget-dropdown", "widget-toggle-buttons", "widget-radio", "widget-checkbox")

# Text and images of all widget outputs, leaving out the control marked data-rnn-probe.
_VIEW_STATE_JS = r"""
() => {
  const hash = (s) => { let h = 5381; for (let i = 0; i < s.length; i++) h = ((h * 33) ^ s.charCodeAt(i)) >>> 0;
                        return s.length + ':' + h; };
  const root = document.querySelector('[data-rnn-current]') || document;
  const text = [], imgs = [];
  for (const n of root.querySelectorAll('.jp-OutputArea-output')) {
    if (!(n.querySelector('.jupyter-widgets') || n.classList.contains('jupyter-widgets'))) continue;
    const clone = n.cloneNode(true);
    clone.querySelectorAll('[data-rnn-probe]').forEach(e => e.remove());
    text.push(clone.textContent);
    for (const i of n.querySelectorAll('img')) if (!i.closest('[data-rnn-probe]')) imgs.push(hash(i.getAttribute('src') || ''));
  }
  return {text: text.join('\n'), imgs: imgs.join(',')};
}
"""


def _wait_for(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


# Is Run All finished?  (cells never run, cells queued or running, an error that stops Run All)
_PROGRESS_JS = r"""
() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const s = panel.sessionContext.session;
  let notRun = 0, pending = 0, stopped = false;
  for (const cell of panel.content.widgets) {
    const m = cell.model;
    if (m.type !== 'code') continue;
    if (m.executionCount === null) notRun++;
    const p = cell.node.querySelector('.jp-InputPrompt');
    if (p && p.innerText.includes('*')) pending++;
    const tags = m.getMetadata('tags') || [];
    if (!tags.includes('raises-exception')) {
      for (let j = 0; j < m.outputs.length; j++) if (m.outputs.get(j).type === 'error') stopped = true;
    }
  }
  return {kernel: s && s.kernel ? s.kernel.status : 'none', notRun, pending, stopped};
}
"""


@dataclass
class NotebookRun:
    """One notebook open in a page after "Restart Kernel and Run All Cells"."""

    page: Any
    relpath: str
    seconds: float
    snapshot: dict = field(default_factory=dict)
    #: Seconds since the page was opened at which each step finished.
    phases: dict = field(default_factory=dict)

    # ---- reading
    def refresh(self) -> dict:
        self.snapshot = self.page.evaluate(_SNAPSHOT_JS)
        return self.snapshot

    @property
    def cells(self) -> list[dict]:
        return self.snapshot["cells"]

    def code_cells(self) -> list[dict]:
        return [c for c in self.cells if c["type"] == "code"]

    def problems(self) -> list[str]:
        """Everything a learner would see as broken (empty list when all is well)."""
        return problems_in(self.snapshot)

    def wait_rendered(self, timeout: float = 30.0) -> list[str]:
        """Poll until widgets, images and math have rendered; return remaining problems.

        Errors and cells that did not run are final; only rendering (widgets,
        images, MathJax) is worth waiting for.
        """
        deadline = time.monotonic() + timeout
        while True:
            self.refresh()
            probs = self.problems()
            pending = [p for p in probs if any(k in p for k in _STILL_RENDERING)]
            if not pending or time.monotonic() > deadline:
                return probs
            time.sleep(0.5)

    # ---- artifacts
    def screenshot(self, path: Path, max_height: int = 16000) -> None:
        """Whole notebook in one PNG (the viewport is stretched to the notebook's height)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        page = self.page
        # The notebook scrolls inside its own element: grow the window by what is hidden.
        height = page.evaluate(
            "() => { const root = window.jupyterapp.shell.currentWidget.content.node;"
            " let extra = 0;"
            " for (const n of [root, ...root.querySelectorAll('*')]) {"
            "   extra = Math.max(extra, n.scrollHeight - n.clientHeight); }"
            " return window.innerHeight + extra + 40; }"
        )
        size = page.viewport_size
        page.set_viewport_size({"width": size["width"], "height": int(min(max(height, size["height"]), max_height))})
        try:
            page.wait_for_timeout(300)
            # Stop below the last cell (JupyterLab adds empty space to scroll past the end).
            bottom = page.evaluate(
                "() => { const cells = window.jupyterapp.shell.currentWidget.content.node"
                ".querySelectorAll('.jp-Cell'); const last = cells[cells.length - 1];"
                " return last ? last.getBoundingClientRect().bottom + 60 : window.innerHeight; }"
            )
            vp = page.viewport_size
            clip = {"x": 0, "y": 0, "width": vp["width"], "height": int(min(max(bottom, size["height"]), vp["height"]))}
            page.screenshot(path=str(path), clip=clip)
        finally:
            page.set_viewport_size(size)

    # ---- widgets
    def widget(self, kind: str, description: str) -> Any:
        """Locator of the widget ``kind`` ('slider', 'dropdown', ...) whose label matches."""
        label = re.compile(rf"^\s*{re.escape(description)}\s*:?\s*$")
        loc = self.page.locator(f"{CURRENT} .jp-OutputArea .widget-{kind}").filter(
            has=self.page.locator(".widget-label", has_text=label)
        )
        return loc

    def explorer_text(
        self, pattern: str | re.Pattern, until: Any = None, timeout: float = 20.0
    ) -> str:
        """The first line of widget output matching ``pattern``; waits until ``until(line)`` holds.

        Widget updates reach the page asynchronously (and slowly on a busy
        machine), so tests wait for the state they expect -- e.g. a readout that
        agrees with the slider -- instead of sleeping.
        """
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        line = None
        while True:
            texts = self.page.evaluate(
                "() => [...(document.querySelector('[data-rnn-current]') || document)"
                ".querySelectorAll('.jp-OutputArea-output')]"
                ".filter(n => n.querySelector('.jupyter-widgets') || n.classList.contains('jupyter-widgets'))"
                ".map(n => n.innerText)"
            )
            line = next((ln.strip() for t in texts for ln in t.splitlines() if rx.search(ln)), None)
            if line is not None and (until is None or until(line)):
                return line
            if time.monotonic() > deadline:
                if line is None:
                    raise AssertionError(f"no widget text matches {rx.pattern!r}; widget texts: {texts!r}"[:3000])
                raise AssertionError(f"after {timeout} s the widget text is still {line!r}")
            time.sleep(0.2)

    def wait_text_change(self, pattern: str | re.Pattern, old: str, timeout: float = 20.0) -> str:
        """The matching widget text once it differs from ``old``."""
        return self.explorer_text(pattern, until=lambda line: line != old, timeout=timeout)

    def nudge_slider(self, slider: Any, key: str = "ArrowRight", times: int = 1) -> None:
        """Move a slider with the keyboard, as a learner would (focus the handle, press keys)."""
        handle = slider.locator(".noUi-handle").first
        handle.scroll_into_view_if_needed()
        handle.focus()
        for _ in range(times):
            handle.press(key)

    def slide_to(self, slider: Any, value: float, step: float, timeout: float = 20.0) -> None:
        """Move a slider to ``value`` with arrow keys (``step`` per press); wait for its readout."""
        current = float(self.slider_value(slider))
        presses = round((value - current) / step)
        if presses:
            self.nudge_slider(slider, "ArrowRight" if presses > 0 else "ArrowLeft", times=abs(presses))
        ok = _wait_for(lambda: abs(float(self.slider_value(slider)) - value) < step / 2, timeout)
        assert ok, f"slider stuck at {self.slider_value(slider)}, expected {value}"

    def slider_value(self, slider: Any) -> str:
        return slider.locator(".widget-readout").first.inner_text().strip()

    # ---- generic probe: does every control change something?
    def view_state(self) -> dict:
        """What the widget outputs show, minus the control being probed: ``{"text", "imgs"}``."""
        return self.page.evaluate(_VIEW_STATE_JS)

    def settle(self, timeout: float = 30.0, quiet: float = 0.4) -> dict:
        """Wait until the kernel is idle and the widget outputs stop changing."""
        deadline = time.monotonic() + timeout
        last = self.view_state()
        while time.monotonic() < deadline:
            time.sleep(quiet)
            now = self.view_state()
            status = self.page.evaluate(
                "() => { const s = window.jupyterapp.shell.currentWidget.sessionContext.session;"
                " return s && s.kernel ? s.kernel.status : 'none'; }"
            )
            if now == last and status == "idle":
                return now
            last = now
        return last

    def _wait_change(self, before: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.view_state() != before:
                return True
            time.sleep(0.15)
        return False

    def probe_controls(self, timeout: float = 15.0) -> list[dict]:
        """Move every slider, dropdown, toggle, radio and checkbox once; report what changed.

        Each control is moved one step (a key press on a slider handle, the next
        option of a dropdown, ...), the widget outputs *other than the control
        itself* are compared before and after, and the control is moved back.
        """
        page = self.page
        sel = ", ".join(f"{CURRENT} .jp-OutputArea-output .{c}" for c in _CONTROL_CLASSES)
        controls = page.locator(sel)
        results = []
        self.settle()
        for i in range(controls.count()):
            ctl = controls.nth(i)
            kind = ctl.evaluate("(e, cs) => cs.find(c => e.classList.contains(c))", list(_CONTROL_CLASSES))
            label = ctl.evaluate("e => { const l = e.querySelector('.widget-label'); return l ? l.innerText : ''; }")
            if ctl.evaluate("e => !!e.querySelector('[disabled]') || e.classList.contains('mod-disabled')"):
                continue
            ctl.scroll_into_view_if_needed()
            ctl.evaluate("e => e.setAttribute('data-rnn-probe', '1')")
            try:
                before = self.view_state()
                undo = self._move(ctl, kind)
                changed = self._wait_change(before, timeout)
                undo()
                # Deterministic explorers show the same text again once the undo has arrived.
                _wait_for(lambda: self.view_state()["text"] == before["text"], 10.0)
                self.settle()
            finally:
                ctl.evaluate("e => e.removeAttribute('data-rnn-probe')")
            results.append({"control": kind, "label": label.strip(), "changed": changed})
        return results

    def _move(self, ctl: Any, kind: str):
        """Move ``ctl`` one step; return a function that moves it back."""
        if kind == "widget-slider":
            value = self.slider_value(ctl)
            self.nudge_slider(ctl, "ArrowRight")
            if _wait_for(lambda: self.slider_value(ctl) != value, 3.0):
                return lambda: self.nudge_slider(ctl, "ArrowLeft")
            self.nudge_slider(ctl, "ArrowLeft")  # it was at the right end
            return lambda: self.nudge_slider(ctl, "ArrowRight")
        if kind == "widget-dropdown":
            select = ctl.locator("select").first
            current = select.evaluate("s => s.selectedIndex")
            n = select.evaluate("s => s.options.length")
            select.select_option(index=(current + 1) % n)
            return lambda: select.select_option(index=current)
        if kind == "widget-toggle-buttons":
            buttons = ctl.locator("button")
            current = ctl.evaluate("e => [...e.querySelectorAll('button')].findIndex(b => b.classList.contains('mod-active'))")
            buttons.nth((current + 1) % buttons.count()).click()
            return lambda: buttons.nth(max(current, 0)).click()
        if kind == "widget-radio":
            radios = ctl.locator("input[type=radio]")
            current = ctl.evaluate("e => [...e.querySelectorAll('input[type=radio]')].findIndex(r => r.checked)")
            radios.nth((current + 1) % radios.count()).check()
            return lambda: radios.nth(max(current, 0)).check()
        if kind == "widget-checkbox":
            box = ctl.locator("input[type=checkbox]").first
            box.click()
            return lambda: box.click()
        raise ValueError(f"kind: expected one of {_CONTROL_CLASSES}, received {kind!r}")

    def wait_idle(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            snap = self.refresh()
            if snap["kernelStatus"] == "idle" and not snap["busy"]:
                return
            time.sleep(0.2)
        raise AssertionError(f"kernel not idle after {timeout} s")


#: Problems that may go away by themselves while the page is still rendering.
_STILL_RENDERING = ("rendered as .jupyter-widgets", "loaded <img>", "no typeset math", "is not rendered")


def problems_in(snapshot: dict) -> list[str]:
    """Describe every error, unrendered widget, broken figure and untypeset formula."""
    out: list[str] = [f"JupyterLab shows an error notification: {t!r}" for t in snapshot.get("errorToasts", [])]
    for c in snapshot["cells"]:
        where = f"cell {c['index']} ({c['type']}): {c['source'][:60]!r}"
        if c["type"] == "code":
            raises = "raises-exception" in c["tags"]
            for o in c["outputs"]:
                if o["type"] == "error" and not raises:
                    out.append(f"{where} shows an error: {o['ename']}: {o['evalue']}")
                if o["type"] in ("display_data", "execute_result"):
                    if (o["plain"] or "").startswith("<Figure size") and not any(m in o["mimes"] for m in IMAGE_MIMES):
                        out.append(f"{where} shows a figure as text {o['plain']!r}, not as an image")
            if c["executionCount"] is None:
                out.append(f"{where} did not run (no execution count)")
            for e in c["widgetErrors"]:
                out.append(f"{where}: {e}")
            n_widget_outputs = sum(1 for o in c["outputs"] if WIDGET_MIME in o["mimes"])
            rendered = sum(1 for n in c["outputNodes"] if n["widgets"] > 0)
            for n in c["outputNodes"]:
                if n["mime"] == "text/latex" and n["mjx"] == 0:
                    out.append(f"{where}: LaTeX output has no typeset math (mjx-container)")
                for e in n["mathErrors"]:
                    out.append(f"{where}: MathJax error in an output {e!r}")
            if rendered < n_widget_outputs:
                out.append(f"{where}: {n_widget_outputs} widget output(s), {rendered} rendered as .jupyter-widgets")
            shown = [o["image"] for o in c["outputs"] if o.get("image")]
            if len(set(shown)) < len(shown):
                out.append(f"{where} shows the same figure twice (return the Axes/None, or close the figure)")
            n_image_outputs = sum(1 for o in c["outputs"] if any(m in o["mimes"] for m in IMAGE_MIMES))
            ok_images = [i for i in c["images"] if i["complete"] and i["w"] > 0 and i["h"] > 0]
            if len(ok_images) < n_image_outputs:
                out.append(f"{where}: {n_image_outputs} image output(s), {len(ok_images)} loaded <img>")
        elif c["type"] == "markdown":
            if not c["rendered"]:
                out.append(f"{where} is not rendered")
            if math_in_markdown(c["source"]) and c["mjx"] == 0:
                out.append(f"{where} has TeX but no typeset math (mjx-container)")
            for e in c["mathErrors"]:
                out.append(f"{where}: MathJax error in markdown {e!r}")
        for i in c.get("images", []):
            if i["complete"] and i["w"] == 0 and c["type"] == "markdown":
                out.append(f"{where}: broken image {i['src']!r}")
    return out


def _run_all(page: Any) -> None:
    """Clear outputs, then Run > "Restart Kernel and Run All Cells…" and accept the dialog."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:restart-run-all'); }")
    accept = page.locator(".jp-Dialog-button.jp-mod-accept")
    accept.wait_for(state="visible", timeout=OPEN_TIMEOUT_MS)
    accept.click()


def new_context(browser: Any) -> Any:
    """A browser context with the viewport used for every page and screenshot."""
    return browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)


#: Longest time to load JupyterLab, open a notebook or start its kernel (ms).
OPEN_TIMEOUT_MS = 120_000
#: Longest time Run All may take for one notebook (seconds); override with RNN_TUTOR_BROWSER_TIMEOUT.
RUN_ALL_TIMEOUT = float(os.environ.get("RNN_TUTOR_BROWSER_TIMEOUT", "300"))


class PendingRun:
    """A notebook whose "Restart Kernel and Run All" has been started; :meth:`finish` waits for it.

    Starting one notebook while the tests inspect another keeps both cores busy.
    """

    def __init__(self, target: Any, server: LabServer, relpath: str, run_all: bool = True) -> None:
        self.server, self.relpath, self.run_all = server, relpath, run_all
        self.own_context = self.own_page = False
        self.context = None
        if hasattr(target, "goto"):
            self.page = target
        else:
            self.own_context = hasattr(target, "new_context")
            self.context = new_context(target) if self.own_context else target
            self.page = self.context.new_page()
            self.own_page = True
        self.console_errors: list[str] = []
        self.phases: dict[str, float] = {}
        self.t0 = time.monotonic()
        self.page.on("pageerror", self._on_error)
        self.closed = False
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _on_error(self, exc: Any) -> None:
        self.console_errors.append(str(exc))

    def _mark(self, name: str) -> None:
        self.phases[name] = round(time.monotonic() - self.t0, 2)

    def _start(self) -> None:
        page, relpath = self.page, self.relpath
        lab_loaded = page.url.startswith(self.server.url) and page.evaluate("() => !!window.jupyterapp")
        if lab_loaded:  # JupyterLab is already running in this page: let it open the notebook
            page.evaluate("(p) => { window.jupyterapp.commands.execute('docmanager:open', {path: p}); }", relpath)
        else:
            page.goto(self.server.notebook_url(relpath), wait_until="domcontentloaded", timeout=OPEN_TIMEOUT_MS)
        page.wait_for_function(
            "(p) => window.jupyterapp && window.jupyterapp.shell.currentWidget &&"
            " window.jupyterapp.shell.currentWidget.context &&"
            " window.jupyterapp.shell.currentWidget.context.path === p &&"
            " window.jupyterapp.shell.currentWidget.context.isReady",
            arg=relpath,
            timeout=OPEN_TIMEOUT_MS,
        )
        page.evaluate(
            "() => { document.querySelectorAll('[data-rnn-current]').forEach(e => e.removeAttribute('data-rnn-current'));"
            " window.jupyterapp.shell.currentWidget.node.setAttribute('data-rnn-current', '1'); }"
        )
        self._mark("notebook open")
        # Wait for the kernel that opening the notebook started, then hide the side bar.
        page.wait_for_function(
            "() => { const s = window.jupyterapp.shell.currentWidget.sessionContext;"
            " return s.session && s.session.kernel && s.session.kernel.status === 'idle'; }",
            timeout=OPEN_TIMEOUT_MS,
        )
        page.evaluate(
            "() => { const a = window.jupyterapp; if (!a.shell.leftCollapsed)"
            " a.commands.execute('application:toggle-left-area'); }"
        )
        self._mark("kernel idle")
        if self.run_all:
            _run_all(page)
            self._mark("restart accepted")

    def finish(self, timeout: float | None = None) -> NotebookRun:
        """Wait until every cell has run (or Run All stopped at an error) and the kernel is idle."""
        timeout = RUN_ALL_TIMEOUT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while self.run_all:
            # A light poll: the kernel and the page share the CPU with the lesson.
            st = self.page.evaluate(_PROGRESS_JS)
            if st["kernel"] == "idle" and not st["pending"] and (st["notRun"] == 0 or st["stopped"]):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.relpath}: cells still running after {timeout} s ({st})")
            time.sleep(0.5)
        run = NotebookRun(page=self.page, relpath=self.relpath, seconds=time.monotonic() - self.t0, phases=self.phases)
        run.console_errors = self.console_errors  # type: ignore[attr-defined]
        run.refresh()
        self._mark("all cells ran")
        return run

    def close(self) -> None:
        """Close the notebook (and its page, unless it was given) and stop its kernel."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            self.page.remove_listener("pageerror", self._on_error)
        if self.own_page:
            with contextlib.suppress(Exception):
                (self.context if self.own_context else self.page).close()
        else:
            # Close the notebook without the "save your work?" dialog (nothing is saved).
            with contextlib.suppress(Exception):
                self.page.evaluate(
                    "(p) => { for (const w of [...window.jupyterapp.shell.widgets('main')])"
                    " if (w.context && w.context.path === p) w.dispose(); }",
                    self.relpath,
                )
        with contextlib.suppress(Exception):
            self.server.shutdown_kernels(path=self.relpath)


def start_notebook(target: Any, server: LabServer, relpath: str, run_all: bool = True) -> PendingRun:
    """Open ``relpath`` and start "Restart Kernel and Run All Cells"; see :class:`PendingRun`."""
    return PendingRun(target, server, relpath, run_all=run_all)


@contextlib.contextmanager
def open_notebook(
    target: Any, server: LabServer, relpath: str, timeout: float | None = None, run_all: bool = True
) -> Iterator[NotebookRun]:
    """Open ``relpath`` (relative to the served root), restart and run all; close on exit.

    ``target`` is a playwright ``Browser`` (the notebook gets a context and a page
    of its own), a ``BrowserContext`` (a new page in it), or a ``Page``: then a
    JupyterLab already loaded in that page opens the notebook itself, which
    saves loading JupyterLab again.

    On exit the notebook is closed (its page too, unless it was given) and its
    kernel is shut down.  With ``run_all=False`` the notebook is only opened
    (its kernel started).
    """
    pending = start_notebook(target, server, relpath, run_all=run_all)
    try:
        yield pending.finish(timeout)
    finally:
        pending.close()
