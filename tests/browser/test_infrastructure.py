"""Self-tests of the browser harness on small notebooks of its own.

They prove that the checks in ``labdriver`` can fail (an error, a widget that
cannot render, a figure shown as text or twice, a broken image, bad TeX, a dead
slider are all reported) and that a healthy notebook passes them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import labdriver
from demo_notebooks import BAD, GOOD, write


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("browser-demo")
    write(d / "good.ipynb", GOOD)
    write(d / "bad.ipynb", BAD)
    return d


@pytest.fixture(scope="module")
def demo_lab(browser_ready, demo_dir):
    """A server and one page that opens one notebook after the other, as for the lessons."""
    with labdriver.jupyter_lab(copy_dirs=(), extra={"demo": demo_dir}) as server, labdriver.chromium() as browser:
        context = labdriver.new_context(browser)
        try:
            yield server, context.new_page()
        finally:
            context.close()


def test_healthy_notebook_passes_every_check(demo_lab, demo_dir, artifacts_dir) -> None:
    server, page = demo_lab
    with labdriver.open_notebook(page, server, "demo/good.ipynb") as run:
        assert run.wait_rendered(timeout=30) == []
        run.screenshot(artifacts_dir / "_selftest_good.png")
        # The news plugin is disabled: no "get notified about Jupyter news?" toast.
        assert page.locator(".Toastify__toast").count() == 0
        cells = run.cells
        assert [c["executionCount"] for c in cells if c["type"] == "code"] == [1, 2, 3, 4, 5, 6]
        assert sum(c["mjx"] for c in cells if c["type"] == "markdown") == 3
        assert cells[-1]["outputNodes"][0]["mime"] == "text/latex" and cells[-1]["outputNodes"][0]["mjx"] == 1
        assert sum(1 for c in cells if c["type"] == "code" for i in c["images"] if i["w"] > 0) == 2
        assert any(c["widgetViews"] for c in cells if c["type"] == "code")
        # The explorer: keyboard on the slider handle changes h_t, and back restores it.
        slider = run.widget("slider", "t").first
        rx = re.compile(r"h_t = [-\d.]+")
        before = run.explorer_text(rx)
        run.nudge_slider(slider)
        after = run.wait_text_change(rx, before)
        assert run.slider_value(slider) == "2" and after != before
        run.nudge_slider(slider, "ArrowLeft")
        assert run.wait_text_change(rx, after) == before
        probes = run.probe_controls()
        assert [(p["label"], p["changed"]) for p in probes] == [
            ("t", True), ("w_h scale", True), ("activation", True)
        ]
    # Even with autosave off, nothing was written back to the served copy.
    assert server.served_fingerprint() == server.copied


def test_broken_notebook_problems_are_all_reported(demo_lab) -> None:
    server, page = demo_lab
    with labdriver.open_notebook(page, server, "demo/bad.ipynb") as run:
        problems = "\n".join(run.wait_rendered(timeout=8))
        expected = {
            "TeX error": "MathJax error in markdown",
            "TeX error in an output": "MathJax error in an output",
            "unknown widget model": "Error displaying widget",
            "figure as text": "shows a figure as text",
            "figure shown twice": "shows the same figure twice",
            "broken image": "0 loaded <img>",
            "untagged error": "shows an error: ZeroDivisionError",
            "cells after the error": "did not run",
        }
        missing = [k for k, v in expected.items() if v not in problems]
        assert not missing, f"not reported: {missing}\n{problems}"
        # Only this notebook's controls count (the healthy one opened before in the same page).
        probes = run.probe_controls(timeout=3)
        assert probes == [{"control": "widget-slider", "label": "dead", "changed": False}]
