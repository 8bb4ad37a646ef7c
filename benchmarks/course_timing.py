"""Execute every notebook of the course and report each one's wall time and the total.

Usage::

    python benchmarks/course_timing.py [--markdown] [--timeout 600] [FOLDER_OR_NOTEBOOK ...]

Defaults to ``lessons/`` and ``solutions/``.  Each notebook runs in a fresh kernel
(as nbval does) in a temporary copy, so nothing in the repository changes.  The
kernel start-up is included in each time, because a learner and CI pay for it too.
Exits with status 1 if a notebook fails to execute.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
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
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help="folders or notebooks (default: lessons/ solutions/)")
    parser.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    rows, failed = [], False
    for path in notebooks(args.targets):
        rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        try:
            seconds = run(path, args.timeout)
            rows.append((str(rel), f"{seconds:.1f}"))
        except Exception as exc:  # report and carry on with the other notebooks
            failed = True
            rows.append((str(rel), f"FAILED ({type(exc).__name__})"))
        print(f"{rows[-1][0]:<50} {rows[-1][1]:>10}", file=sys.stderr, flush=True)
    totals = {}
    for name, secs in rows:
        if not secs.startswith("FAILED"):
            folder = name.split("/")[0]
            totals[folder] = totals.get(folder, 0.0) + float(secs)
    machine = f"{platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}"
    if args.markdown:
        print("| notebook | seconds |\n|---|---:|")
        for name, secs in rows:
            print(f"| {name} | {secs} |")
        for folder, total in totals.items():
            print(f"| **total {folder}/** | **{total:.1f}** |")
        print(f"| **total** | **{sum(totals.values()):.1f}** |")
        print(f"\nMachine: {machine}; date: {time.strftime('%Y-%m-%d')}")
    else:
        for folder, total in totals.items():
            print(f"total {folder}/: {total:.1f} s")
        print(f"total: {sum(totals.values()):.1f} s  ({machine})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
