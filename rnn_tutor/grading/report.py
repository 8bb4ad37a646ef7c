"""Reports: CSV (safe for spreadsheets), JSON, and a readable terminal summary.

Both files hold one row per submission and task (``student, notebook, file, task,
points, max_points, status, reason``) plus a ``TOTAL`` row per submission, whose
reason lists the repairs made (renamed, reordered, deleted cells, ...).  A row with
an empty task is about the whole submission (e.g. a file that is not a notebook).

CSV injection: a spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or
``@`` (and some also after a tab or carriage return) as a formula.  Every text
value that starts with one of these (student ids from file names included) is
written with a leading apostrophe, OWASP's recommended escape; numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Iterable, TextIO

from rnn_tutor import __version__
from rnn_tutor.grading.grade import Result, Row

__all__ = ["COLUMNS", "TOTAL", "csv_safe", "table", "write_csv", "write_json", "write_report",
           "summary", "terminal_safe", "progress_line"]

COLUMNS = ("student", "notebook", "file", "task", "points", "max_points", "status", "reason")
TOTAL = "TOTAL"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
MAX_REASON = 2000


def csv_safe(value: object) -> object:
    """Escape a text value that a spreadsheet would run as a formula; leave numbers alone."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def terminal_safe(text: object, limit: int = 200) -> str:
    """One line without control characters (no escape sequences from file names or errors)."""
    line = str(text).replace("\r", " ").replace("\n", " ")
    line = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", line)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _number(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(float(x), 4)


def table(results: Iterable[Result]) -> list[dict]:
    """All rows as dicts (task rows, then a TOTAL row per submission)."""
    out = []
    for res in results:
        for r in res.rows:
            out.append({"student": r.student, "notebook": r.notebook, "file": r.file, "task": r.task,
                        "points": _number(r.points), "max_points": _number(r.max_points),
                        "status": r.status, "reason": r.reason[:MAX_REASON]})
        out.append({"student": res.student, "notebook": res.notebook, "file": res.file, "task": TOTAL,
                    "points": _number(res.points), "max_points": _number(res.max_points),
                    "status": res.status, "reason": "; ".join(res.notes)[:MAX_REASON]})
    return out


def write_csv(results: Iterable[Result], stream: TextIO) -> None:
    """Write the CSV report (formula-safe) to ``stream``."""
    writer = csv.DictWriter(stream, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in table(results):
        writer.writerow({k: csv_safe(v) for k, v in row.items()})


def write_json(results: Iterable[Result], stream: TextIO) -> None:
    """Write the JSON report: ``rows`` (as the CSV) and ``totals`` per submission."""
    results = list(results)
    totals = [{"student": r.student, "notebook": r.notebook, "file": r.file, "status": r.status,
               "points": _number(r.points), "max_points": _number(r.max_points),
               "notes": r.notes, "seconds": round(r.seconds, 2)} for r in results]
    json.dump({"generator": f"rnn-tutor grade {__version__}", "columns": list(COLUMNS),
               "rows": table(results), "totals": totals}, stream, indent=1, ensure_ascii=False)
    stream.write("\n")


def write_report(results: Iterable[Result], path: Path) -> None:
    """Write ``path`` as CSV or JSON, chosen by its extension (``.csv`` / ``.json``)."""
    buf = io.StringIO()
    if path.suffix.lower() == ".csv":
        write_csv(results, buf)
    elif path.suffix.lower() == ".json":
        write_json(results, buf)
    else:
        raise ValueError(f"--out: expected a file name ending in .csv or .json, received {path.name!r}")
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")


def _score(res: Result) -> str:
    return f"{_number(res.points)}/{_number(res.max_points)}"


def progress_line(i: int, n: int, res: Result) -> str:
    """``[ 3/30] alice  01_unfolding  5/7  (2.1 s)`` for stderr."""
    what = _score(res) if res.status == "graded" else res.status
    return (f"[{i:>{len(str(n))}}/{n}] {terminal_safe(res.student, 40)}  "
            f"{terminal_safe(res.notebook or Path(res.file).name, 40)}  {what}  ({res.seconds:.1f} s)")


def summary(results: list[Result], seconds: float) -> str:
    """The terminal summary: a line per submission, the first line of each failure, totals."""
    lines = []
    width = max([len(terminal_safe(r.student, 40)) for r in results] + [7])
    nb_width = max([len(terminal_safe(r.notebook or "?", 30)) for r in results] + [12])
    for res in results:
        name = terminal_safe(res.student, 40).ljust(width)
        nb = terminal_safe(res.notebook or "?", 30).ljust(nb_width)
        lines.append(f"{name}  {nb} {_score(res):>7}  {res.status}")
        for r in res.rows:
            if r.status not in ("passed",):
                reason = r.reason.strip().splitlines()[0] if r.reason.strip() else ""
                head, _, cause = reason.partition("likely cause:")
                text = terminal_safe(head.rstrip("; "), 150 if cause else 220)
                if cause:
                    text += f" | likely cause: {terminal_safe(cause.strip(), 150)}"
                task = f"{terminal_safe(r.task, 40)}: " if r.task else ""
                lines.append(f"    {task}{r.status}: {text}")
        if res.notes:
            lines.append(f"    note: {terminal_safe('; '.join(res.notes), 160)}")
    graded = [r for r in results if r.status == "graded"]
    mean = sum(r.points for r in graded) / len(graded) if graded else 0.0
    lines.append(f"{len(results)} submission(s), {len(graded)} graded, "
                 f"{len(results) - len(graded)} not gradable; mean {mean:.2f} points; {seconds:.1f} s")
    return "\n".join(lines)


def rows_of(results: Iterable[Result]) -> list[Row]:
    """Every task row of ``results`` (convenience for tests and scripts)."""
    return [r for res in results for r in res.rows]
