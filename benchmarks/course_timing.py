"""Execute every notebook of the course and report each one's wall time and the total.

Usage::

    python benchmarks/course_timing.py [--markdown] [--jobs N] [--timeout 600] [FOLDER_OR_NOTEBOOK ...]

Defaults to ``lessons/`` and ``solutions/``.  Each notebook runs in a fresh kernel (as nbval
does), with the notebook's folder as working directory; nothing in the repository changes.
The kernel start-up is included in each time, because a learner and CI pay for it too.

Two totals are reported: the **sum** of the notebooks' times (what one learner waits, notebook
after notebook, and what a serial CI run pays) and the **wall** time of the whole run.  With
``--jobs 2`` two kernels run side by side, one per core of a 2-core machine, and the wall time
is what executing the whole course on that machine takes.
Exits with status 1 if a notebook fails to execute.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def notebooks(targets: list[str]) -> list[Path]:
    paths = []
    for target in targets or ["lessons", "solutions"]:
        p = Path(target) if Path(target).is_absolute() else ROOT / target
        if not p.exists():
            raise SystemExit(f"course_timing: {target}: no such file or folder")
        paths.extend(sorted(p.glob("*.ipynb")) if p.is_dir() else [p])
    return paths


def run(path: Path, timeout: int) -> float:
    """Execute ``path`` in a fresh kernel (in memory: the file is not written); return seconds."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def timed(path: Path, timeout: int) -> tuple[str, str]:
    rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    try:
        row = (str(rel), f"{run(path, timeout):.1f}")
    except Exception as exc:  # report and carry on with the other notebooks
        last_line = (str(exc).strip().splitlines() or [""])[-1][:200]
        row = (str(rel), f"FAILED ({type(exc).__name__}: {last_line})")
    print(f"{row[0]:<50} {row[1]:>10}", file=sys.stderr, flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help="folders or notebooks (default: lessons/ solutions/)")
    parser.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks executed side by side (default 1)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs: expected a positive integer, received {args.jobs}")
    paths = notebooks(args.targets)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:  # threads: each drives its own kernel process
        rows = list(pool.map(lambda p: timed(p, args.timeout), paths))
    wall = time.perf_counter() - start
    failed = any(secs.startswith("FAILED") for _, secs in rows)
    totals: dict[str, float] = {}
    for name, secs in rows:
        if not secs.startswith("FAILED"):
            folder = Path(name).parent.name or "."
            totals[folder] = totals.get(folder, 0.0) + float(secs)
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
               f"load average {os.getloadavg()[0]:.1f} at the end" if hasattr(os, "getloadavg") else platform.machine())
    if args.markdown:
        print("| notebook | seconds |\n|---|---:|")
        for name, secs in rows:
            print(f"| {name} | {secs} |")
        for folder, total in totals.items():
            print(f"| **sum {folder}/** | **{total:.1f}** |")
        print(f"| **sum of all notebooks** | **{sum(totals.values()):.1f}** |")
        print(f"| **wall time, {args.jobs} notebook(s) at a time** | **{wall:.1f}** |")
        print(f"\nMachine: {machine}; date: {time.strftime('%Y-%m-%d')}")
    else:
        for folder, total in totals.items():
            print(f"sum {folder}/: {total:.1f} s")
        print(f"sum of all notebooks: {sum(totals.values()):.1f} s; wall time with --jobs {args.jobs}: {wall:.1f} s")
        print(f"({machine})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
