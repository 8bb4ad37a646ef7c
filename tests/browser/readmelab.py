"""The README's first command, run from a fresh clone, as the server of the browser tests.

:func:`readme_lab` clones the repository into a temporary folder and runs the
Quickstart's first command there, verbatim, with only the three options a headless
run needs appended (``--no-browser --port=P --ServerApp.token=T``).  So the
tests see what a learner sees: the venv it makes, the install, and what
``rnn-tutor lab`` serves (as root when the tests run as root).

The clone is ``git clone`` of ``HEAD`` when the working tree is clean (CI); with
uncommitted changes it is a copy of the files git would commit (tracked and
untracked, ignored ones left out), so a change is tested before it is committed.

What the tests need beyond that goes through the environment, never the command
line: Jupyter's config, data, runtime, settings and workspace folders point into
the temporary folder, and a config file there exposes ``window.jupyterapp`` to the
page, keeps the news toast away, turns autosave off and attaches every cell to
the DOM.  It sets nothing about the served root, root permissions or the page to
open (:func:`harness_config`; tests/browser/test_course.py checks that).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
import shlex
import shutil
import subprocess
import tempfile
import time
import urllib.error
from pathlib import Path
from typing import Iterator

from labserver import REPO, LabServer, ProcessTracker, _jupyter_env, _stop_server, _write_lab_settings, free_port

#: Options appended to the README's command for a headless run (and nothing else).
HEADLESS_OPTIONS = ("--no-browser", "--port={port}", "--ServerApp.token={token}")
#: Folders of the clone whose files the tests fingerprint.
COURSE_DIRS = ("lessons", "exercises", "solutions")
#: Seconds the README command may take to install and start (a cold pip cache is slow).
STARTUP_TIMEOUT = 900.0


def readme_first_command(readme: Path = REPO / "README.md") -> str:
    """The first command of the README's Quickstart (the one that opens the course)."""
    text = readme.read_text(encoding="utf-8")
    section = re.search(r"^## Quickstart\n(.*?)(?=^## )", text, re.M | re.S)
    if not section:
        raise AssertionError("README.md has no '## Quickstart' section")
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", section[1].split("\n### ")[0], re.M | re.S)
    commands = [ln.strip() for b in blocks for ln in b.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not commands:
        raise AssertionError("README.md's Quickstart has no command")
    return commands[0]


def harness_config(dirs: dict[str, Path]) -> dict[str, dict]:
    """The Jupyter config the tests add through ``JUPYTER_CONFIG_DIR`` (see the module docstring)."""
    return {
        "LabApp": {
            "app_settings_dir": str(dirs["app_settings"]),   # overrides.json: no autosave, no news
            "user_settings_dir": str(dirs["user_settings"]),
            "workspaces_dir": str(dirs["workspaces"]),
            "expose_app_in_browser": True,                     # window.jupyterapp for labdriver
            "news_url": "",
        },
        "ServerApp": {"port_retries": 0, "terminals_enabled": False},
    }


#: Settings that would change what the acceptance test is about; harness_config must not hold them.
FORBIDDEN_CONFIG = ("root_dir", "notebook_dir", "allow_root", "default_url", "file_to_run", "preferred_dir")


#: What a fresh clone never holds (used when the source tree is not a git checkout).
_NOT_IN_A_CLONE = (".git", ".venv", "venv", "test-artifacts", "__pycache__", "*.egg-info", ".ipynb_checkpoints",
                   ".pytest_cache", "build", "dist", "*.ipynb.bak*", "*.bak.ipynb")


def fresh_clone(dest: Path) -> str:
    """Put a fresh clone of the repository in ``dest``; return how it was made."""
    git = ["git", "-C", str(REPO)]
    try:
        status = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):    # no git, or not a checkout (a source tarball)
        shutil.copytree(REPO, dest, ignore=shutil.ignore_patterns(*_NOT_IN_A_CLONE))
        return "copy of the source tree (not a git checkout)"
    if not status.stdout.strip():
        head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(REPO), str(dest)], check=True)
        subprocess.run(["git", "-C", str(dest), "checkout", "--quiet", head], check=True)
        return f"git clone of {head[:10]}"
    listed = subprocess.run([*git, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.decode().split("\0")
    dest.mkdir(parents=True, exist_ok=True)
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():           # a tracked file deleted in the working tree is left out
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return "copy of the working tree (it has uncommitted changes)"


def _fingerprint(root: Path) -> dict[str, str]:
    return {
        str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
        for d in COURSE_DIRS
        for f in sorted((root / d).rglob("*"))
        if f.is_file() and ".ipynb_checkpoints" not in f.parts
    }


@contextlib.contextmanager
def readme_lab(startup_timeout: float = STARTUP_TIMEOUT) -> Iterator[LabServer]:
    """Run the README's first command in a fresh clone; yield the server once it answers.

    The server's ``command`` attribute is the exact shell command that was run, and
    ``how`` says how the clone was made.  On exit the server, its kernels and the
    clone (with its venv) are removed.
    """
    tmp = Path(tempfile.mkdtemp(prefix="rnn-tutor-readme-"))
    tracker = ProcessTracker("readme-lab")
    proc = server = None
    try:
        clone = tmp / "rnn-tutor"
        how = fresh_clone(clone)
        dirs = _write_lab_settings(tmp / "jupyter")
        config = harness_config(dirs)
        for name in ("jupyter_server_config.json", "jupyter_lab_config.json"):
            (dirs["config"] / name).write_text(json.dumps(config, indent=1))
        env = _jupyter_env(dirs)
        port, token = free_port(), secrets.token_hex(24)
        headless = [o.format(port=port, token=token) for o in HEADLESS_OPTIONS]
        command = readme_first_command() + " " + " ".join(shlex.quote(o) for o in headless)
        log = tmp / "readme-lab.log"
        with open(log, "ab") as fh:
            proc = subprocess.Popen(["bash", "-c", command], cwd=clone, env=env, stdout=fh,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        tracker.add_tree(proc.pid)
        server = LabServer(url=f"http://127.0.0.1:{port}", token=token, root=clone, proc=proc, log=log,
                           tracker=tracker, watched=COURSE_DIRS)
        server.command, server.how, server.started = command, how, time.monotonic()  # type: ignore[attr-defined]
        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                server.api("GET", "/api/status", timeout=2)
                break
            except (urllib.error.URLError, OSError, ValueError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = server.log_tail(60)
                    raise RuntimeError(f"the README's first command did not serve the course "
                                       f"({'exit code ' + str(proc.poll()) if proc.poll() is not None else 'timeout'}):"
                                       f"\n$ {command}\n{tail}") from None
                tracker.add_tree(proc.pid)
                time.sleep(0.5)
        server.startup_seconds = round(time.monotonic() - server.started, 1)  # type: ignore[attr-defined]
        server.copied = _fingerprint(clone)
        yield server
    finally:
        stray: list[str] = []
        if proc is not None:
            stray = _stop_server(proc, server if proc.poll() is None else None, tracker)
        shutil.rmtree(tmp, ignore_errors=True)
        if stray:
            raise AssertionError(f"processes survived the README server's shutdown and were killed: {stray}")
