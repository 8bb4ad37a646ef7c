"""Fixtures for the browser tests: one JupyterLab + one headless Chromium per module.

Without Chromium (or playwright) the tests skip with the reason; under CI
(``CI=true``) a missing browser is an error instead, so CI cannot go green by
skipping them.  Run only these tests with ``python -m pytest -m browser``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import labdriver  # noqa: E402

HERE = Path(__file__).resolve().parent
ARTIFACTS = labdriver.REPO / "test-artifacts" / "browser"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "lesson(name): the browser test drives lessons/<name>.ipynb")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark everything here ``browser``, and run each lesson's tests back to back.

    The module fixture keeps the most recently run lesson open, so grouping the
    render test and the interaction tests of one lesson runs it only once.
    """
    positions = [i for i, it in enumerate(items) if HERE in Path(str(it.fspath)).resolve().parents]
    if not positions:
        return
    mine = [items[i] for i in positions]
    for it in mine:
        it.add_marker(pytest.mark.browser)

    def key(pair: tuple[int, pytest.Item]) -> tuple:
        index, it = pair
        marker = it.get_closest_marker("lesson")
        name = marker.args[0] if marker else getattr(getattr(it, "callspec", None), "params", {}).get("lesson")
        # Lesson tests first, grouped by lesson; tests of no lesson after them.
        return (str(it.fspath), name is None, "" if name is None else str(name), index)

    ordered = [it for _, it in sorted(enumerate(mine), key=key)]
    for i, it in zip(positions, ordered):
        items[i] = it


def _is_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def browser_ready() -> None:
    """Skip (locally) or fail (CI=true) when Chromium/playwright is missing."""
    reason = labdriver.browser_unavailable_reason()
    if reason:
        if _is_ci():
            pytest.fail(f"CI=true and the browser tests cannot run: {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


class LessonPages:
    """Runs lessons in one JupyterLab + Chromium and keeps the most recent one open."""

    def __init__(self, server: labdriver.LabServer, browser: object) -> None:
        self.server = server
        self.browser = browser
        # One page for all lessons: JupyterLab loads once and opens one lesson after
        # the other (each with a fresh kernel, closed before the next one opens).
        self.context = labdriver.new_context(browser)
        self.page = self.context.new_page()
        self.name: str | None = None
        self.run: labdriver.NotebookRun | None = None
        self.error: BaseException | None = None
        self._stack = contextlib.ExitStack()
        self.timings: dict[str, float] = {}
        self.phases: dict[str, dict] = {}

    def get(self, name: str) -> labdriver.NotebookRun:
        """The lesson ``lessons/<name>.ipynb`` after Restart Kernel and Run All."""
        if name != self.name:
            self.close()
            self.name = name
            try:
                self.run = self._stack.enter_context(
                    labdriver.open_notebook(self.page, self.server, f"lessons/{name}.ipynb")
                )
                self.timings[name] = self.run.seconds
                self.phases[name] = self.run.phases
            except BaseException as exc:  # remember, so the lesson's other tests fail fast
                self.error = exc
                raise
        if self.error is not None:
            pytest.fail(f"lessons/{name}.ipynb could not be run in JupyterLab: {self.error}", pytrace=False)
        assert self.run is not None
        return self.run

    def close(self) -> None:
        """Close the open lesson (page and kernel)."""
        self._stack.close()
        self._stack = contextlib.ExitStack()
        self.name, self.run, self.error = None, None, None


@pytest.fixture(scope="module")
def lesson_pages(browser_ready: None) -> Iterator[LessonPages]:
    """One JupyterLab (serving a temporary copy of lessons/) and one Chromium for the module."""
    with labdriver.jupyter_lab() as server, labdriver.chromium() as browser:
        pages = LessonPages(server, browser)
        try:
            yield pages
        finally:
            pages.close()
            pages.context.close()
            if pages.timings:
                print("\n[browser] seconds from opening the page: " + "; ".join(
                    f"{k}: {pages.phases[k]}" for k in pages.timings))
