"""Drive real JupyterLab in headless Chromium (used by the ``browser`` tests).

:func:`open_notebook` opens one notebook (in a new page, or in a JupyterLab
already loaded in a page), clears it, "Restart Kernel and Run All Cells", waits
for the kernel to be idle and for every cell to have run, and returns a
:class:`NotebookRun` that reports what the learner sees (outputs, images,
widgets, typeset math) and drives the widgets.  :func:`start_notebook` does the
first half only (see :class:`PendingRun`), so one notebook can load and run
while another is inspected.

The server and the browser come from :mod:`labserver` and :mod:`readmelab`
(re-exported here).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from labserver import (  # noqa: F401  (re-exported for the tests)
    CHROMIUM,
    REPO,
    BrowserUnavailable,
    LabServer,
    browser_unavailable_reason,
    chromium,
    fingerprint,
    jupyter_lab,
)
from readmelab import readme_first_command, readme_lab  # noqa: F401  (re-exported for the tests)

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")
#: Markdown that contains TeX: $...$, $$...$$, \(...\), \[...\], \begin{...}.
_MATH_RE = re.compile(r"\$\$.+?\$\$|(?<![\\$])\$[^\s$](?:[^$\n]*?[^\s\\$])?\$|\\\(|\\\[|\\begin\{", re.S)
_FENCE_RE = re.compile(r"```.*?```|`[^`\n]*`", re.S)


def math_in_markdown(source: str) -> bool:
    """True when a markdown source has TeX outside code spans and fences."""
    return bool(_MATH_RE.search(_FENCE_RE.sub("", source)))


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


#: Called while the tests wait for the page (e.g. to move a notebook that loads
#: in the background along); see :func:`_pause`.
WHILE_WAITING: list[Any] = []


def _pause(seconds: float) -> None:
    """Sleep, but first give :data:`WHILE_WAITING` callbacks a turn."""
    t0 = time.monotonic()
    for callback in list(WHILE_WAITING):
        callback()
    time.sleep(max(0.0, seconds - (time.monotonic() - t0)))


def _wait_for(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        _pause(0.1)


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
            _pause(0.5)

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
            _pause(0.2)

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
            _pause(quiet)
            now = self.view_state()
            status = self.page.evaluate(
                "() => { const s = window.jupyterapp.shell.currentWidget.sessionContext.session;"
                " return s && s.kernel ? s.kernel.status : 'none'; }"
            )
            if now == last and status == "idle":
                return now
            last = now
        return last

    def _wait_change(self, before: dict, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.view_state() != before:
                return True
            _pause(0.15)
        return False

    def probe_controls(self, timeout: float = 15.0, restore: bool = False) -> list[dict]:
        """Move every slider, dropdown, toggle, radio and checkbox once; report what changed.

        Each control is moved one step (a key press on a slider handle, the next
        option of a dropdown, ...) and the widget outputs *other than the control
        itself* are compared before and after.  With ``restore`` each control is
        moved back (slower: every explorer then recomputes twice per control).
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
                if restore:
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


def new_context(browser: Any) -> Any:
    """A browser context with the viewport used for every page and screenshot."""
    return browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)


#: Longest time to load JupyterLab, open a notebook or start its kernel (ms).
OPEN_TIMEOUT_MS = 120_000
#: Longest time Run All may take for one notebook (seconds); override with RNN_TUTOR_BROWSER_TIMEOUT.
RUN_ALL_TIMEOUT = float(os.environ.get("RNN_TUTOR_BROWSER_TIMEOUT", "300"))


class PendingRun:
    """A notebook on its way through open -> kernel ready -> "Restart Kernel and Run All".

    Creating one only *starts* opening the notebook; :meth:`advance` takes every
    step that is ready without waiting (the browser and the kernel work on their
    own meanwhile), and :meth:`finish` waits for the remaining steps and for the
    last cell.  So one notebook can load and run while the tests inspect another.
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
        self.state = "opening"
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _on_error(self, exc: Any) -> None:
        self.console_errors.append(str(exc))

    def _mark(self, name: str) -> None:
        self.phases[name] = round(time.monotonic() - self.t0, 2)

    def _open(self) -> None:
        page, relpath = self.page, self.relpath
        lab_loaded = page.url.startswith(self.server.url) and page.evaluate("() => !!window.jupyterapp")
        if lab_loaded:  # JupyterLab is already running in this page: let it open the notebook
            page.evaluate("(p) => { window.jupyterapp.commands.execute('docmanager:open', {path: p}); }", relpath)
        else:
            page.goto(self.server.notebook_url(relpath), wait_until="commit", timeout=OPEN_TIMEOUT_MS)

    def _probe(self, js: str, arg: Any = None) -> Any:
        """Evaluate ``js`` in the page; ``None`` while the page is still loading."""
        try:
            return self.page.evaluate(js, arg)
        except Exception as exc:  # navigation in progress: the context went away
            if "context" in str(exc).lower() or "navigat" in str(exc).lower():
                return None
            raise

    def advance(self) -> str:
        """Take every step that is ready now (never waits); return the state reached."""
        page = self.page
        if self.state == "opening":
            ready = self._probe(
                "(p) => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                " if (!(w && w.context && w.context.path === p && w.context.isReady)) return false;"
                " document.querySelectorAll('[data-rnn-current]').forEach(e => e.removeAttribute('data-rnn-current'));"
                " w.node.setAttribute('data-rnn-current', '1');"
                # the Launcher that JupyterLab opens when a closed notebook leaves the main area empty
                " for (const x of [...window.jupyterapp.shell.widgets('main')])"
                "   if (x.id && x.id.startsWith('launcher')) x.dispose();"
                " return true; }",
                self.relpath,
            )
            if ready:
                self._mark("notebook open")
                self.state = "kernel"
        if self.state == "kernel":
            idle = self._probe(
                "() => { const s = window.jupyterapp.shell.currentWidget.sessionContext;"
                " return !!(s.session && s.session.kernel && s.session.kernel.status === 'idle'); }"
            )
            if idle:
                page.evaluate(  # more room for the notebook: hide the file browser
                    "() => { const a = window.jupyterapp; if (!a.shell.leftCollapsed)"
                    " a.commands.execute('application:toggle-left-area'); }"
                )
                self._mark("kernel idle")
                if self.run_all:
                    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
                    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:restart-run-all'); }")
                    self.state = "dialog"
                else:
                    self.state = "running"
        if self.state == "dialog":
            accept = page.locator(".jp-Dialog-button.jp-mod-accept")
            if accept.count() and accept.first.is_visible():
                accept.first.click()
                self._mark("restart accepted")
                self.state = "running"
        return self.state

    def _wait_started(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.advance() != "running":
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.relpath}: still {self.state!r} after {timeout_s:.0f} s")
            _pause(0.2)

    def finish(self, timeout: float | None = None) -> NotebookRun:
        """Wait until every cell has run (or Run All stopped at an error) and the kernel is idle."""
        self._wait_started(OPEN_TIMEOUT_MS / 1000)
        timeout = RUN_ALL_TIMEOUT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while self.run_all:
            # A light poll: the kernel and the page share the CPU with the lesson.
            st = self.page.evaluate(_PROGRESS_JS)
            if st["kernel"] == "idle" and not st["pending"] and (st["notRun"] == 0 or st["stopped"]):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.relpath}: cells still running after {timeout} s ({st})")
            _pause(0.5)
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


def close_notebook(page: Any, server: LabServer, relpath: str) -> None:
    """Close every tab of ``relpath`` in ``page`` without saving, and stop its kernel."""
    with contextlib.suppress(Exception):
        page.evaluate(
            "(p) => { for (const w of [...window.jupyterapp.shell.widgets('main')])"
            " if (w.context && w.context.path === p) w.dispose(); }",
            relpath,
        )
    with contextlib.suppress(Exception):
        server.shutdown_kernels(path=relpath)


def start_notebook(target: Any, server: LabServer, relpath: str, run_all: bool = True) -> PendingRun:
    """Start opening ``relpath``; "Restart Kernel and Run All" follows (see :class:`PendingRun`)."""
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
