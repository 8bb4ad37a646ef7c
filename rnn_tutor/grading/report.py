"""Reports: CSV (safe for spreadsheets), JSON, and a readable terminal summary.

Both files hold one row per submission and task (``student, notebook, file, task,
points, max_points, status, reason, isolation``) plus a ``TOTAL`` row per submission,
whose reason lists the repairs made (renamed, reordered, deleted cells, ...) and what
else happened (duplicate submissions, interrupted cells).  A row with an empty task is
about the whole submission (e.g. a file that is not a notebook).

Every text comes from a submission (file names, error messages), so every string is
cleaned by :func:`clean` before it reaches a file or the terminal: lone surrogates (a
file name that is not UTF-8), control characters (a lone carriage return starts a new
CSV record in some readers; ESC starts a terminal escape sequence) and the Unicode
bidirectional and invisible format characters (which make text display reversed) are
written as visible escapes such as ``\x1b`` or ``\u202e``.

CSV injection: a spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or
``@`` (and some also after a tab or carriage return) as a formula.  Every text
value that starts with one of these (student ids from file names included) is
written with a leading apostrophe, OWASP's recommended escape; numbers stay numbers.

A report is written to a temporary file next to it and renamed into place, so a run
that fails while writing never leaves a truncated report, nor damages an earlier one.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
import textwrap
from pathlib import Path
from typing import Iterable, TextIO

from rnn_tutor import __version__
from rnn_tutor.grading.grade import Result, Row

__all__ = ["COLUMNS", "TOTAL", "clean", "csv_safe", "table", "write_csv", "write_json", "write_report",
           "summary", "terminal_safe", "progress_line"]

COLUMNS = ("student", "notebook", "file", "task", "points", "max_points", "status", "reason", "isolation")
TOTAL = "TOTAL"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# C0 and C1 controls (ESC, lone CR, ...), DEL, invisible and bidirectional format characters,
# line/paragraph separators, the BOM and lone surrogates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f"
                     "\ufeff\ufff9-\ufffb\ud800-\udfff]")
MAX_REASON = 2000


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:           # a byte of a file name that is not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: object, *, newlines: str = " | ") -> str:
    """``text`` as a safe one-line string: line breaks become ``newlines``, every other
    control, bidirectional or invisible character and every lone surrogate a visible escape."""
    try:
        line = str(text)
    except Exception:  # noqa: BLE001 - an object whose __str__ fails
        line = "?"
    line = line.replace("\r\n", "\n").replace("\n", newlines) if newlines is not None else line
    line = line.replace("\t", " ")
    return _UNSAFE.sub(_escape, line)


def csv_safe(value: object) -> object:
    """Escape a text value that a spreadsheet would run as a formula; leave numbers alone."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def terminal_safe(text: object, limit: int | None = 200) -> str:
    """One line without control characters (no escape sequences from file names or errors);
    cut to ``limit`` characters (None: never cut)."""
    line = clean(text, newlines=" ")
    return line if limit is None or len(line) <= limit else line[: limit - 1] + "…"


def _number(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(float(x), 4)


def _isolation(res: Result) -> str:
    return "sandbox" if res.sandboxed else "unsandboxed"


def table(results: Iterable[Result]) -> list[dict]:
    """All rows as dicts (task rows, then a TOTAL row per submission), every text cleaned."""
    out = []
    for res in results:
        for r in res.rows:
            out.append({"student": clean(r.student), "notebook": clean(r.notebook), "file": clean(r.file),
                        "task": clean(r.task), "points": _number(r.points),
                        "max_points": _number(r.max_points), "status": clean(r.status),
                        "reason": clean(r.reason)[:MAX_REASON], "isolation": _isolation(res)})
        out.append({"student": clean(res.student), "notebook": clean(res.notebook), "file": clean(res.file),
                    "task": TOTAL, "points": _number(res.points), "max_points": _number(res.max_points),
                    "status": clean(res.status), "reason": clean("; ".join(res.notes))[:MAX_REASON],
                    "isolation": _isolation(res)})
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
    totals = [{"student": clean(r.student), "notebook": clean(r.notebook), "file": clean(r.file),
               "status": clean(r.status), "points": _number(r.points), "max_points": _number(r.max_points),
               "notes": [clean(n) for n in r.notes], "duplicate": r.duplicate,
               "isolation": _isolation(r), "seconds": round(r.seconds, 2)} for r in results]
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
    data = buf.getvalue().encode("utf-8")      # cleaned: no lone surrogate can fail here
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _score(res: Result) -> str:
    return f"{_number(res.points)}/{_number(res.max_points)}"


def progress_line(i: int, n: int, res: Result) -> str:
    """``[ 3/30] alice  01_unfolding  5/7  (2.1 s)`` for stderr."""
    what = _score(res) if res.status == "graded" else res.status
    return (f"[{i:>{len(str(n))}}/{n}] {terminal_safe(res.student, 40)}  "
            f"{terminal_safe(res.notebook or Path(res.file).name, 40)}  {what}  ({res.seconds:.1f} s)")


def _wrapped(text: str, first: str, width: int = 100) -> list[str]:
    """``first + text`` wrapped at ``width`` columns, continuation lines indented: never cut."""
    return textwrap.wrap(text, width=width, initial_indent=first, subsequent_indent=" " * 8,
                         break_long_words=True, break_on_hyphens=False) or [first.rstrip()]


def summary(results: list[Result], seconds: float) -> str:
    """The terminal summary: a line per submission, each problem (wrapped, never cut), totals."""
    lines = []
    width = max([len(terminal_safe(r.student, 40)) for r in results] + [7])
    nb_width = max([len(terminal_safe(r.notebook or "?", 30)) for r in results] + [12])
    for res in results:
        name = terminal_safe(res.student, 40).ljust(width)
        nb = terminal_safe(res.notebook or "?", 30).ljust(nb_width)
        flag = "" if res.sandboxed else "  (unsandboxed)"
        lines.append(f"{name}  {nb} {_score(res):>7}  {res.status}{flag}")
        for r in res.rows:
            if r.status not in ("passed",):
                reason = r.reason.strip().splitlines()[0] if r.reason.strip() else ""
                head, _, cause = reason.partition("likely cause:")
                task = f"{terminal_safe(r.task, 40)}: " if r.task else ""
                lines += _wrapped(terminal_safe(head.rstrip("; "), None), f"    {task}{r.status}: ")
                if cause:
                    lines += _wrapped(terminal_safe(cause.strip(), None), "      likely cause: ")
        if res.notes:
            lines += _wrapped(terminal_safe("; ".join(res.notes), None), "    note: ")
    graded = [r for r in results if r.status == "graded"]
    failed = [r for r in results if r.status == "grader-error"]
    mean = sum(r.points for r in graded) / len(graded) if graded else 0.0
    lines.append(f"{len(results)} submission(s), {len(graded)} graded, "
                 f"{len(results) - len(graded) - len(failed)} not gradable, {len(failed)} could not be "
                 f"graded (grader-error); mean {mean:.2f} points; {seconds:.1f} s")
    return "\n".join(lines)


def rows_of(results: Iterable[Result]) -> list[Row]:
    """Every task row of ``results`` (convenience for tests and scripts)."""
    return [r for res in results for r in res.rows]
