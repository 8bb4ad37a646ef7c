"""The sandbox's read-only mounts survive its private /tmp.

A CI runner or a learner may keep the course checkout and its virtual environment under
``/tmp``.  The sandbox mounts a private tmpfs on ``/tmp``, so the Python environment and the
library must be bound after it, or the kernel cannot even start ("bwrap: execvp ...: No such
file or directory").
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from grading_fixtures import require_sandbox
from rnn_tutor.grading import sandbox


def test_library_binds_come_after_the_private_tmp():
    argv = sandbox.bwrap_argv("bwrap", run_dir=None, command=["true"])
    tmp_at = max(i for i, a in enumerate(argv[:-2]) if a == "--tmpfs" and argv[i + 1] == "/tmp")
    for path in sandbox.library_paths():
        binds = [i for i, a in enumerate(argv) if a == "--ro-bind" and argv[i + 1] == str(path)]
        assert binds and min(binds) > tmp_at, f"{path} is bound before --tmpfs /tmp covers it"


def test_an_environment_under_tmp_is_visible_and_read_only(monkeypatch):
    bwrap = require_sandbox()
    with tempfile.TemporaryDirectory(dir="/tmp", prefix="rnn-tutor-env-") as tmp:
        env = Path(tmp) / "venv"
        env.mkdir()
        (env / "marker.txt").write_text("here\n", encoding="utf-8")
        real = sandbox.library_paths()
        monkeypatch.setattr(sandbox, "library_paths", lambda: [*real, env])
        script = (f"cat {env}/marker.txt && "
                  f"if touch {env}/written 2>/dev/null; then echo WRITABLE; fi")
        argv = sandbox.bwrap_argv(bwrap, run_dir=None, command=["/bin/sh", "-c", script])
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["here"]
        assert not (env / "written").exists()
