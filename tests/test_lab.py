"""``rnn-tutor lab``: the course root served, lesson 01 opened, arguments passed on, root handled."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from rnn_tutor import cli, lab

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "lessons").glob("*.ipynb"))


def _option(argv: list[str], name: str) -> list[str]:
    return [a.split("=", 1)[1] for a in argv if a.startswith(f"--{name}=")]


def test_serves_the_course_root_and_opens_lesson_01():
    argv, notes = lab.lab_argv(ROOT, [], as_root=False)
    assert _option(argv, "ServerApp.root_dir") == [str(ROOT)]
    assert _option(argv, "LabApp.default_url") == [f"/rnn-tutor/open/lessons/{LESSONS[0].name}"]
    assert _option(argv, "ServerApp.extra_services") == ["rnn_tutor.labstart"]     # serves that URL
    assert LESSONS[0].name.startswith("01_")
    assert "--allow-root" not in argv and notes == []


def test_extra_arguments_go_last_and_unchanged():
    extra = ["--no-browser", "--port=8899", "--ServerApp.token=abc", "--ServerApp.ip=0.0.0.0"]
    argv, _ = lab.lab_argv(ROOT, extra, as_root=False)
    assert argv[-len(extra):] == extra


def test_as_root_adds_allow_root_and_says_why():
    argv, notes = lab.lab_argv(ROOT, ["--no-browser"], as_root=True)
    assert argv.count("--allow-root") == 1
    assert len(notes) == 1 and "root" in notes[0] and "--allow-root" in notes[0]
    assert "refuses" in notes[0]        # the reason, not just the fact


@pytest.mark.parametrize("given", ["--allow-root", "--ServerApp.allow_root=True", "--ServerApp.allow-root=True"])
def test_allow_root_given_by_the_user_is_not_repeated(given):
    argv, notes = lab.lab_argv(ROOT, [given], as_root=True)
    assert [a for a in argv if "allow" in a and "root" in a] == [given] and notes == []


def test_the_users_own_root_and_url_win():
    argv, _ = lab.lab_argv(ROOT, ["--ServerApp.root_dir=/tmp", "--LabApp.default_url=/lab/tree/x.ipynb"])
    assert _option(argv, "ServerApp.root_dir") == ["/tmp"]
    assert _option(argv, "LabApp.default_url") == ["/lab/tree/x.ipynb"]
    assert _option(argv, "ServerApp.extra_services") == []
    argv, _ = lab.lab_argv(ROOT, ["--notebook-dir=/srv"])
    assert _option(argv, "ServerApp.root_dir") == []


def test_a_notebook_argument_opens_that_notebook(tmp_path, monkeypatch):
    exercise = sorted((ROOT / "exercises").glob("*.ipynb"))[2]
    monkeypatch.chdir(ROOT / "exercises")
    argv, _ = lab.lab_argv(ROOT, [exercise.name])
    assert _option(argv, "LabApp.default_url") == [f"/rnn-tutor/open/exercises/{exercise.name}"]
    # made absolute: JupyterLab would read it relative to the served root
    assert argv[-1] == str(exercise)


def _listing(argv: list[str], root: Path) -> set[str]:
    """The names JupyterLab's file browser shows at ``root`` when started with ``argv``."""
    import asyncio

    from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
    from jupyterlab.labapp import LabApp

    app = LabApp()
    app.parse_command_line(argv)                                          # parsed only: nothing starts
    manager = AsyncLargeFileManager(parent=app, root_dir=str(root))       # the server's default class
    return {entry["name"] for entry in asyncio.run(manager.get("", content=True))["content"]}


@pytest.fixture
def installed_course(tmp_path):
    """A course root as `pip install -e .` and a run of the lessons leave it."""
    for name in (*lab.COURSE_DIRS, "rnn_tutor/__pycache__", "rnn_tutor.egg-info", ".venv/bin", ".ipynb_checkpoints"):
        (tmp_path / name).mkdir(parents=True)
    for name in ("README.md", "pyproject.toml", "lessons/01_unfolding.ipynb", "rnn_tutor/rnn.cpython-312.pyc"):
        (tmp_path / name).write_text("{}" if name.endswith(".ipynb") else "x")
    return tmp_path


def test_the_file_browser_hides_build_artefacts_and_keeps_jupyterlabs_own_globs(installed_course):
    from jupyter_server.services.contents.manager import ContentsManager

    argv, _ = lab.lab_argv(installed_course, [])
    default = list(ContentsManager.class_traits()["hide_globs"].default())
    globs = _option(argv, "ContentsManager.hide_globs")
    assert globs == default + ["*.egg-info"] and "__pycache__" in default    # JupyterLab's own, and ours
    shown = _listing(argv, installed_course)
    assert shown == {"lessons", "exercises", "solutions", "rnn_tutor", "README.md", "pyproject.toml"}, shown
    assert _listing(argv, installed_course / "rnn_tutor") == set()          # __pycache__ and *.pyc hidden too
    assert {"rnn_tutor.egg-info"} <= _listing([], installed_course)         # which JupyterLab alone shows


@pytest.mark.parametrize("given", ["--ContentsManager.hide_globs=*.tmp", "--FileContentsManager.hide_globs=*.tmp",
                                   "--AsyncLargeFileManager.hide_globs=*.tmp"])
def test_the_learners_own_hide_globs_replace_ours(installed_course, given):
    argv, _ = lab.lab_argv(installed_course, [given])
    assert [a for a in argv if "hide" in a.split("=", 1)[0]] == [given]
    assert "rnn_tutor.egg-info" in _listing(argv, installed_course)


@pytest.mark.parametrize("base, path, query, expected", [
    ("/", "lessons/01_unfolding.ipynb", "token=abc",
     "/lab/tree/lessons/01_unfolding.ipynb?file-browser-path=/&token=abc"),
    ("/user/ann/", "lessons/01_unfolding.ipynb", "",
     "/user/ann/lab/tree/lessons/01_unfolding.ipynb?file-browser-path=/"),
    ("/", "my work/a#b.ipynb", "", "/lab/tree/my%20work/a%23b.ipynb?file-browser-path=/"),
    ("/", "//elsewhere.example/x.ipynb", "", "/lab/tree/elsewhere.example/x.ipynb?file-browser-path=/"),
])
def test_the_start_url_opens_the_notebook_with_the_file_browser_at_the_root(base, path, query, expected):
    labstart = pytest.importorskip("rnn_tutor.labstart")
    assert labstart.lab_url(base, path, query) == expected
    assert labstart.OPEN_PREFIX == lab.START_PREFIX


def test_find_course_walks_up_and_falls_back_to_the_checkout(tmp_path, monkeypatch):
    course = tmp_path / "course"
    for d in lab.COURSE_DIRS:
        (course / d).mkdir(parents=True)
    (course / "lessons" / "deep").mkdir()
    assert lab.find_course(course / "lessons" / "deep") == course
    assert lab.find_course(tmp_path) == ROOT          # this editable checkout
    monkeypatch.setattr(lab, "__file__", str(tmp_path / "site-packages" / "rnn_tutor" / "lab.py"))
    with pytest.raises(lab.CourseNotFound, match="lessons/, exercises/, solutions/"):
        lab.find_course(tmp_path)


def test_cli_passes_every_argument_through(monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(lab, "_launch", lambda argv: seen.append(argv) or 0)
    monkeypatch.setattr(lab, "_is_root", lambda: True)
    assert cli.main(["lab", "--no-browser", "--port=9999", "--help-all-not-ours"]) == 0
    (argv,) = seen
    assert argv[-3:] == ["--no-browser", "--port=9999", "--help-all-not-ours"]
    assert "--allow-root" in argv
    assert "--allow-root" in capsys.readouterr().err


def test_cli_lab_outside_any_course_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(lab, "__file__", str(tmp_path / "x" / "lab.py"))
    assert cli.main(["lab"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnn-tutor lab: error: cannot find the course") and "Traceback" not in err


# ----------------------------------------------------------------- the real server ------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str):
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    return urllib.request.urlopen(req, timeout=5)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _exercise_links(lesson: Path) -> list[str]:
    cells = json.loads(lesson.read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return re.findall(r"\]\((\.\./exercises/[^)#\s]+\.ipynb)\)", text)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``python -m rnn_tutor lab`` started from an unrelated folder, with settings kept apart."""
    tmp = tmp_path_factory.mktemp("lab")
    port, token = _free_port(), "t0ken-for-this-test"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp / "config"), "JUPYTER_DATA_DIR": str(tmp / "data"),
           "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "ws"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"), "PYTHONPATH": str(ROOT)}
    log = open(tmp / "lab.log", "w+b")
    proc = subprocess.Popen([sys.executable, "-m", "rnn_tutor", "lab", "--no-browser", f"--port={port}",
                             f"--ServerApp.token={token}"], cwd=tmp, env=env, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"{url}/api/status", token)
                break
            except (urllib.error.URLError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"rnn-tutor lab did not start:\n{log.read().decode(errors='replace')[-3000:]}")
                time.sleep(0.3)
        yield url, token, tmp / "lab.log"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)       # the server and any kernel it started
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


def test_the_server_shows_lessons_exercises_and_solutions(served):
    url, token, _ = served
    listing = json.load(_get(f"{url}/api/contents", token))
    names = {c["name"] for c in listing["content"] if c["type"] == "directory"}
    assert {"lessons", "exercises", "solutions"} <= names, names
    # ... and not what installing it left there (this checkout's rnn_tutor.egg-info, .venv)
    assert not [n for n in names if n.endswith(".egg-info") or n.startswith(".")], names


def test_the_front_page_opens_lesson_01_and_the_log_says_why_allow_root(served):
    url, token, log = served
    opener = urllib.request.build_opener(_NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(urllib.request.Request(f"{url}/", headers={"Authorization": f"token {token}"}), timeout=5)
    assert redirect.value.code == 302
    start = f"/rnn-tutor/open/lessons/{LESSONS[0].name}"
    assert redirect.value.headers["Location"].startswith(start)
    text = log.read_text(errors="replace")
    assert f"{start}?token=" in text     # the URL a learner copies
    # ... which leads, token kept, to lesson 01 with the file browser at the course root
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(f"{url}{start}?token={token}", timeout=5)
    assert redirect.value.code == 302
    assert redirect.value.headers["Location"] == (
        f"/lab/tree/lessons/{LESSONS[0].name}?file-browser-path=/&token={token}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        assert "running as root" in text and "--allow-root" in text


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_every_lessons_exercise_link_resolves_on_the_server(served, lesson):
    url, token, _ = served
    links = _exercise_links(lesson)
    assert links, f"{lesson.name} has no link to ../exercises/...ipynb"
    number = lesson.name.split("_", 1)[0] + "_"
    assert any(Path(link).name.startswith(number) for link in links), (lesson.name, links)
    for link in links:
        path = "exercises/" + link.split("../exercises/", 1)[1]
        nb = json.load(_get(f"{url}/api/contents/{path}?content=0", token))
        assert nb["type"] == "notebook", path
