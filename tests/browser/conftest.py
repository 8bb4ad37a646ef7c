"""Fixtures for the browser tests: the course served by the README's first command, run
from a fresh clone (one per session, :mod:`readmelab`), and headless Chromium per module.

Without Chromium (or playwright) the tests skip with the reason; under CI
(``CI=true``) a missing browser is an error instead, so CI cannot go green by
skipping them.  Run only these tests with ``python -m pytest -m browser``, or
leave them out with ``-m "not browser"``.  Screenshots of every lesson go to
``test-artifacts/browser/`` (git-ignored).

Environment: ``RNN_TUTOR_CHROMIUM`` (browser binary, default ``/usr/bin/chromium``),
``RNN_TUTOR_BROWSER_TIMEOUT`` (seconds Run All may take per notebook, default 300).
"""

from __future__ import annotations

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
        name = _lesson_of(it)
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


def _lesson_of(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("lesson")
    if marker:
        return str(marker.args[0])
    params = getattr(getattr(item, "callspec", None), "params", {})
    return params.get("lesson")


class LessonPages:
    """Runs lessons in one JupyterLab + Chromium, in two pages.

    ``get(name)`` returns the lesson after "Restart Kernel and Run All" and keeps
    it open (page and kernel) for that lesson's other tests.  Once a lesson has
    run, the next one in ``order`` is started in the second page, so it executes
    while the tests inspect (screenshot, widgets) the first; a lesson is closed
    (notebook and kernel) as soon as the tests move on: at most two kernels live.
    """

    def __init__(self, server: labdriver.LabServer, browser: object, order: list[str]) -> None:
        self.server = server
        #: exercise notebooks opened from a lesson's link: lesson -> (page, path)
        self.exercises: dict[str, tuple[object, str]] = {}
        self.order = order
        self.context = labdriver.new_context(browser)
        self.pages = [self.context.new_page(), self.context.new_page()]
        self.pending: dict[str, labdriver.PendingRun] = {}
        self.errors: dict[str, BaseException] = {}
        self.name: str | None = None
        self.run: labdriver.NotebookRun | None = None
        self._open: labdriver.PendingRun | None = None
        self.timings: dict[str, float] = {}
        self.phases: dict[str, dict] = {}

    def _free_page(self) -> object | None:
        busy = {id(p.page) for p in self.pending.values()}
        if self._open is not None:
            busy.add(id(self._open.page))
        return next((p for p in self.pages if id(p) not in busy), None)

    def _start(self, name: str) -> None:
        if name in self.pending or name in self.errors or name == self.name:
            return
        page = self._free_page()
        if page is None:
            return
        try:
            self.pending[name] = labdriver.start_notebook(page, self.server, f"lessons/{name}.ipynb")
        except BaseException as exc:  # reported when the lesson's tests ask for it
            self.errors[name] = exc

    def advance(self) -> None:
        """Let the lessons started in the background take their next steps (never waits)."""
        for name, pending in list(self.pending.items()):
            try:
                pending.advance()
            except BaseException as exc:  # reported when the lesson's tests ask for it
                self.errors[name] = exc
                self.pending.pop(name).close()

    def get(self, name: str) -> labdriver.NotebookRun:
        """The lesson ``lessons/<name>.ipynb`` after Restart Kernel and Run All."""
        if name != self.name:
            self.close_current()
            self._start(name)
            self.name = name
            pending = self.pending.pop(name, None)
            if pending is not None:
                self._open = pending
                try:
                    self.run = pending.finish()
                    self.timings[name] = self.run.seconds
                    self.phases[name] = self.run.phases
                except BaseException as exc:
                    self.errors[name] = exc
                    raise
                finally:
                    # Overlap: the next lesson loads and runs while this one is
                    # inspected.  Not earlier, so two lessons never execute at once
                    # (lessons time things: 07 compares a long chain with a batch).
                    if name in self.order:
                        for other in self.order[self.order.index(name) + 1:][:1]:
                            self._start(other)
        self.advance()
        if name in self.errors:
            pytest.fail(f"lessons/{name}.ipynb could not be run in JupyterLab: {self.errors[name]}", pytrace=False)
        assert self.run is not None
        return self.run

    def close_exercise(self, lesson: str) -> None:
        """Close the exercise opened from ``lesson``'s link (notebook and kernel), if any."""
        page, path = self.exercises.pop(lesson, (None, None))
        if path is not None:
            labdriver.close_notebook(page, self.server, path)

    def close_current(self) -> None:
        """Close the lesson being tested (notebook and kernel), and its exercise."""
        if self.name is not None:
            self.close_exercise(self.name)
        if self._open is not None:
            self._open.close()
        self._open, self.name, self.run = None, None, None

    def close(self) -> None:
        self.close_current()
        for pending in self.pending.values():
            pending.close()
        self.pending.clear()
        self.context.close()


@pytest.fixture(scope="session")
def course_server(browser_ready: None) -> Iterator[labdriver.LabServer]:
    """The README's first command, run in a fresh clone, serving the course (see :mod:`readmelab`)."""
    with labdriver.readme_lab() as server:
        print(f"\n[browser] {server.how}; README command served the course after {server.startup_seconds} s")
        yield server


@pytest.fixture(scope="module")
def lesson_pages(request: pytest.FixtureRequest, course_server: labdriver.LabServer) -> Iterator[LessonPages]:
    """Chromium for the module, running lessons of the README-served course in two pages."""
    order: list[str] = []
    for item in request.session.items:
        name = _lesson_of(item)
        if name and name not in order and (labdriver.REPO / "lessons" / f"{name}.ipynb").exists():
            order.append(name)
    server = course_server
    with labdriver.chromium() as browser:
        pages = LessonPages(server, browser, order)
        labdriver.WHILE_WAITING.append(pages.advance)
        try:
            yield pages
        finally:
            labdriver.WHILE_WAITING.remove(pages.advance)
            pages.close()
            if pages.timings:
                print("\n[browser] seconds from opening each lesson: " + "; ".join(
                    f"{k}: {pages.phases[k]}" for k in pages.timings))
