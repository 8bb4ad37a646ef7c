"""The README's first command, from a fresh clone, serves the whole course.

The session's server (``course_server``, :mod:`readmelab`) is that command, run
verbatim with ``--no-browser --port --ServerApp.token`` appended.  These tests check
that it is exactly that, that it serves the course root (as root too: the launcher
adds ``--allow-root`` and says why), and, in Chromium, that the URL it prints opens
lesson 01 with lessons/, exercises/ and solutions/ in the file browser, nothing clicked.  Running
every lesson, its exercise link and a wrong answer's hint: test_lessons.py.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path


import labdriver
import readmelab

FIRST_LESSON = sorted((labdriver.REPO / "lessons").glob("*.ipynb"))[0].name


def _printed_url(server) -> str:
    """The URL the server printed for the learner to open (token elided as '...')."""
    text = server.log.read_text(errors="replace")
    found = re.findall(r"(http://127\.0\.0\.1:\d+/\S*)\?token=\.\.\.", text)
    assert found, f"the server printed no http://127.0.0.1 URL:\n{server.log_tail()}"
    return found[-1]


def test_the_readme_command_runs_verbatim_plus_headless_options(course_server) -> None:
    command = course_server.command
    first = readmelab.readme_first_command()
    assert command.startswith(first + " ")
    extra = shlex.split(command[len(first):])
    assert [re.sub(r"=.*", "=", a) for a in extra] == ["--no-browser", "--port=", "--ServerApp.token="], extra
    # The harness's own config (through JUPYTER_CONFIG_DIR) does not touch what is under test.
    config = readmelab.harness_config({k: Path("/x") for k in ("app_settings", "user_settings", "workspaces")})
    keys = {k.lower() for section in config.values() for k in section}
    assert not keys & set(readmelab.FORBIDDEN_CONFIG), keys


def test_it_serves_the_course_root_and_says_why_it_adds_allow_root(course_server) -> None:
    log = course_server.log.read_text(errors="replace")
    assert f"Serving notebooks from local directory: {course_server.root}" in log
    listing = course_server.api("GET", "/api/contents")
    folders = {c["name"] for c in listing["content"] if c["type"] == "directory"}
    assert {"lessons", "exercises", "solutions"} <= folders, folders
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        note = next((ln for ln in log.splitlines() if "--allow-root" in ln), "")
        assert "root" in note and "refuses" in note, f"no note on --allow-root in the log:\n{course_server.log_tail()}"


def test_the_printed_url_opens_lesson_01_and_the_file_browser_shows_the_course(
    course_server, browser_ready, artifacts_dir: Path
) -> None:
    url = _printed_url(course_server)
    assert url.endswith(f"/rnn-tutor/open/lessons/{FIRST_LESSON}"), url
    with labdriver.chromium() as browser:
        context = labdriver.new_context(browser)
        try:
            page = context.new_page()
            page.goto(f"{url}?token={course_server.token}", wait_until="commit", timeout=labdriver.OPEN_TIMEOUT_MS)
            page.wait_for_function(
                "(p) => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                " return !!(w && w.context && w.context.path === p && w.context.isReady); }",
                arg=f"lessons/{FIRST_LESSON}", timeout=labdriver.OPEN_TIMEOUT_MS,
            )
            assert page.evaluate("() => window.jupyterapp.shell.currentWidget.title.label") == FIRST_LESSON
            # Nothing clicked: the file browser lists the course root, not lessons/.
            listing = (
                "() => { const b = document.querySelector('.jp-FileBrowser');"
                " if (!b || b.classList.contains('jp-mod-restoring')) return null;"
                " return [...b.querySelectorAll('.jp-DirListing-itemText')].map(e => e.innerText.trim()); }"
            )
            page.wait_for_function(
                f"() => {{ const names = ({listing})(); return !!names && "
                "['lessons', 'exercises', 'solutions'].every(n => names.includes(n)); }",
                timeout=30_000,
            )
            page.wait_for_timeout(1_000)     # a late move to lessons/ would show up here
            names = page.evaluate(listing)
            assert {"lessons", "exercises", "solutions"} <= set(names) and FIRST_LESSON not in names, names
            # ... and not what the install left there (rnn_tutor.egg-info, hidden by rnn-tutor lab)
            assert not [n for n in names if n.endswith(".egg-info") or n.startswith(".")], names
            page.screenshot(path=str(artifacts_dir / "_course_front_page.png"))
            # Leave no kernel behind for the lesson tests (they restart lesson 01 in a page of their own).
            page.wait_for_function(
                "() => { const s = window.jupyterapp.shell.currentWidget.sessionContext.session;"
                " return !!(s && s.kernel && s.kernel.status === 'idle'); }",
                timeout=labdriver.OPEN_TIMEOUT_MS,
            )
        finally:
            context.close()
            course_server.shutdown_kernels(path=f"lessons/{FIRST_LESSON}")
