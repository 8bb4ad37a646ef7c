"""Every server, kernel and browser a test starts is gone afterwards, even when the test fails.

A module of its own: playwright allows one sync instance at a time, and the
other modules' fixtures hold theirs.
"""

from __future__ import annotations

import time

import psutil
import pytest

import labdriver
from demo_notebooks import GOOD, write


def _alive(procs: list[psutil.Process]) -> list[str]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(f"{p.pid} {' '.join(p.cmdline())[:100]}")
        except psutil.NoSuchProcess:
            pass
    return out


def test_no_process_survives_a_failing_test(browser_ready, tmp_path) -> None:
    """Server, kernel and browser are all gone after a test body raises."""
    demo_dir = tmp_path / "demo"
    demo_dir.mkdir()
    write(demo_dir / "good.ipynb", GOOD)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    started: list[psutil.Process] = []
    with pytest.raises(RuntimeError, match="boom"):
        with labdriver.jupyter_lab(copy_dirs=(), extra={"demo": demo_dir}) as server, labdriver.chromium() as browser:
            with labdriver.open_notebook(browser, server, "demo/good.ipynb", run_all=False):
                started = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
                names = " ".join(" ".join(p.cmdline()) for p in started)
                assert "jupyter" in names and "ipykernel" in names and "chromium" in names, names
                raise RuntimeError("boom")
    time.sleep(0.5)
    assert started and not _alive(started), _alive(started)
