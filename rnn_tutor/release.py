"""``rnn-tutor release``: generate the learners' ``exercises/`` from ``solutions/``.

For every ``solutions/NN_name_solutions.ipynb`` the learner's
``exercises/NN_name_exercises.ipynb`` is
the same notebook with (nbgrader's conventions)

* every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region replaced by
  ``# YOUR CODE HERE`` and ``raise NotImplementedError()`` at the marker's
  indentation (``YOUR ANSWER HERE`` in a Markdown cell; a solution cell without
  markers is replaced as a whole);
* every ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` region removed;
* outputs and execution counts cleared; all metadata kept.

The generated notebook records two hashes in its metadata (``rnn_tutor.release``):
``sha256`` of its cells' types and sources, and ``file_sha256`` of the whole notebook as
written.  An exercise whose cells no longer match ``sha256`` was edited (by a learner), and
``release`` refuses to overwrite it unless ``force=True``.  Release never loses a learner's
byte: any file it replaces that is not exactly what the last release wrote (edited, run
with outputs saved, or saved while release runs) is kept as
``NN_name_exercises.ipynb.bak-<timestamp>``.  The file is compared at the moment of the
replace: on Linux the new file and the old one are swapped atomically (``renameat2``
with ``RENAME_EXCHANGE``), so a save landing at any time ends up in the backup.

Release validates every source and inspects every target before the first file is
written, and each file is written atomically.  An I/O failure part-way stops the release
with a message naming the exercise, and puts back the exercises it had already replaced.
"""

from __future__ import annotations

import copy
import ctypes
import ctypes.util
import errno
import hashlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import nbformat

from rnn_tutor.nbsource import (SOLUTION, NotebookError, SourceCell, SourceNotebook,
                                exercise_filename, load_source)

__all__ = ["CODE_STUB", "TEXT_STUB", "ReleaseError", "Target", "find_course_root",
           "exercise_source", "make_exercise", "content_hash", "notebook_text",
           "list_notebooks", "plan", "check", "release", "run"]

CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
TEXT_STUB = ("YOUR ANSWER HERE",)
_DROP_CELL_METADATA = ("execution", "ExecuteTime")   # run-time traces, not content


class ReleaseError(Exception):
    """A problem that stops the release before anything is written.

    ``exit_code`` is 2 for bad input (a malformed notebook, a missing folder) and 1
    when release refuses to overwrite an edited exercise.
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def find_course_root(start: str | Path | None = None) -> Path:
    """The nearest directory, from ``start`` (default: cwd) upwards, that holds ``solutions/``."""
    start = Path.cwd() if start is None else Path(start)
    for folder in (start, *start.resolve().parents):
        if (folder / "solutions").is_dir():
            return folder
    raise ReleaseError(f"cannot find the course root: neither {start} nor any parent holds "
                       "a solutions/ folder (run inside the course repository, or pass "
                       "--source and --dest)")


def exercise_source(cell: SourceCell) -> str:
    """The learner's version of one cell's source (see the module docstring): exactly what
    nbgrader's ``ClearSolutions`` and ``ClearHiddenTests`` make of it."""
    stub = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
    if cell.is_solution and not any(r.kind == SOLUTION for r in cell.regions):
        return "\n".join(stub)
    if not cell.regions:
        return cell.source
    lines = cell.source.split("\n")
    out: list[str] = []
    pos = 0
    for region in cell.regions:
        out.extend(lines[pos:region.begin])
        if region.kind == SOLUTION:
            out.extend(region.indent + s for s in stub)
        pos = region.end + 1
    return "\n".join(out + lines[pos:])


def content_hash(nb: Any) -> str:
    """SHA-256 of the cells' types and sources: what a learner's edits change."""
    cells = [[c.get("cell_type"), c.get("source")] for c in nb.get("cells", [])]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode("utf-8")).hexdigest()


def make_exercise(src: SourceNotebook, origin: str | None = None) -> Any:
    """The learner's notebook generated from a validated source notebook.

    ``origin`` (e.g. ``"solutions/01_unfolding_solutions.ipynb"``) is recorded in the metadata.
    """
    nb = copy.deepcopy(src.nb)
    for cell, info in zip(nb.cells, src.cells):
        cell.source = exercise_source(info)
        for key in _DROP_CELL_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    meta = dict(nb.metadata.get("rnn_tutor", {}))
    meta["release"] = {"from": origin or src.path.name,
                       "note": "generated by `rnn-tutor release`; edit the solutions notebook",
                       "sha256": content_hash(nb)}
    nb.metadata["rnn_tutor"] = meta
    nb.metadata["rnn_tutor"]["release"]["file_sha256"] = file_hash(json.loads(nbformat.writes(nb, version=4)))
    return nb


def file_hash(nb: Any) -> str | None:
    """SHA-256 of a notebook (a JSON dict) as a whole, leaving out the ``file_sha256`` entry
    itself: equal for the file that release wrote and for nothing else a learner saves.
    None when ``nb`` does not have a notebook's shape."""
    try:
        nb = copy.deepcopy(nb)
        nb["metadata"]["rnn_tutor"]["release"].pop("file_sha256", None)
        return hashlib.sha256(json.dumps(nb, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()
    except (KeyError, TypeError, AttributeError, ValueError, RecursionError):
        return None


def pristine(data: bytes) -> bool:
    """True if ``data`` is an exercise exactly as ``rnn-tutor release`` wrote it (nothing to back up)."""
    try:
        nb = json.loads(data.decode("utf-8"))
        recorded = nb["metadata"]["rnn_tutor"]["release"]["file_sha256"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, RecursionError):
        return False
    return isinstance(recorded, str) and file_hash(nb) == recorded


def notebook_text(nb: Any) -> str:
    """The notebook as nbformat writes it (sorted keys, one-space indent), plus a newline."""
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def list_notebooks(folder: Path) -> list[Path]:
    """The ``*.ipynb`` files directly in ``folder``, sorted; hidden files excluded."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.ipynb") if p.is_file() and not p.name.startswith("."))


@dataclass
class Target:
    """What release would do for one exercise notebook.

    ``status`` is one of ``"missing"`` (to create), ``"stale"`` (to update; the file is as
    the last release wrote it), ``"changed"`` (to update, keeping a backup: run with its
    outputs saved, or its metadata changed), ``"current"`` (already equal), ``"edited"``
    (its cells were changed by hand: refused without force, then backed up) or
    ``"orphan"`` (an exercise without a source; left alone).
    """

    dest: Path
    status: str
    text: str | None = None
    source: Path | None = None
    reason: str = ""
    safe: bytes | None = None      # the bytes seen at planning time, if they need no backup


def _cells_of(current: Any) -> list | None:
    cells = current.get("cells") if isinstance(current, dict) else None
    if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
        return None
    out = []
    for c in cells:
        source = c.get("source")
        if isinstance(source, list) and all(isinstance(x, str) for x in source):
            source = "".join(source)
        if not isinstance(source, str):
            return None
        out.append({"cell_type": c.get("cell_type"), "source": source})
    return out


def _inspect(dest: Path, text: str) -> tuple[str, str, bytes | None]:
    """Compare an existing exercise with the freshly generated ``text``:
    ``(status, reason, the file's bytes if replacing them needs no backup)``."""
    try:
        data = dest.read_bytes()
    except OSError as exc:
        raise ReleaseError(f"cannot read {_show(dest)} ({exc.strerror or exc}); nothing was written") from None
    try:
        current = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return "edited", f"it cannot be read as a notebook ({str(exc)[:120]})", None
    if not isinstance(current, dict):
        return "edited", "it is not a notebook", None
    fresh = json.loads(text)
    if current == fresh:
        return "current", "", None
    fresh["metadata"]["rnn_tutor"]["release"].pop("file_sha256", None)
    if current == fresh:
        return "stale", "written by an older `rnn-tutor release` (no file hash)", data
    meta = current.get("metadata")
    rt = meta.get("rnn_tutor") if isinstance(meta, dict) else None
    rel = rt.get("release") if isinstance(rt, dict) else None
    recorded = rel.get("sha256") if isinstance(rel, dict) else None
    if recorded is None:
        return "edited", "it was not generated by `rnn-tutor release` (no release hash)", None
    cells = _cells_of(current)
    if cells is None:
        return "edited", "its cells are not a notebook's", None
    if content_hash({"cells": cells}) != recorded:
        return "edited", "its cells were edited since it was released", None
    if recorded == fresh["metadata"]["rnn_tutor"]["release"]["sha256"]:
        return "current", "run since it was released; its cells are up to date", None
    if pristine(data):
        return "stale", "its solutions notebook changed since the last release", data
    return "changed", ("it was run or saved since it was released (outputs or metadata differ); "
                       "its cells are unchanged"), None


def plan(source_dir: str | Path, dest_dir: str | Path) -> list[Target]:
    """Validate every source notebook and classify every exercise notebook.

    Raises :class:`ReleaseError` listing every malformed source notebook (file and
    1-based cell number); nothing is written.
    """
    source_dir, dest_dir = Path(source_dir), Path(dest_dir)
    if not source_dir.is_dir():
        raise ReleaseError(f"source folder {source_dir} does not exist")
    if dest_dir.exists() and not dest_dir.is_dir():
        raise ReleaseError(f"destination {dest_dir} is not a folder")
    if dest_dir.resolve() == source_dir.resolve():
        raise ReleaseError(f"source and destination are the same folder ({source_dir}); "
                           "release would overwrite the solutions")
    sources, errors = [], []
    for path in list_notebooks(source_dir):
        try:
            sources.append(load_source(path))
        except NotebookError as exc:
            errors.append(str(exc))
    if errors:
        raise ReleaseError("\n".join(errors))
    targets = []
    for src in sources:
        dest = dest_dir / exercise_filename(src.path)
        text = notebook_text(make_exercise(src, f"{source_dir.name}/{src.path.name}"))
        if not dest.exists():
            targets.append(Target(dest, "missing", text, src.path, "not generated yet"))
        else:
            status, reason, safe = _inspect(dest, text)
            targets.append(Target(dest, status, text, src.path, reason, safe))
    names = {exercise_filename(src.path) for src in sources}
    for dest in list_notebooks(dest_dir):
        if dest.name not in names:
            targets.append(Target(dest, "orphan", reason=f"no source for it in {source_dir.name}/"))
    return targets


def _show(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


_ADVICE = {
    "missing": "run `rnn-tutor release`",
    "stale": "run `rnn-tutor release`",
    "changed": "run `rnn-tutor release`; the current file will be kept as {name}.bak-<timestamp>",
    "edited": ("run `rnn-tutor release --force` to replace it; the current file will be kept as "
               "{name}.bak-<timestamp>"),
    "orphan": "delete it if it is obsolete",
}


def check(source_dir: str | Path, dest_dir: str | Path) -> list[str]:
    """One message per exercise notebook that is out of step (empty: all current), with advice."""
    return [f"{_show(t.dest)}: {t.status} ({t.reason}); " + _ADVICE[t.status].format(name=t.dest.name)
            for t in plan(source_dir, dest_dir) if t.status != "current"]


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:              # what open() would give: 0o666 less the umask
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def _temp_file(folder: Path, name: str, data: bytes, mode: int) -> Path:
    """``data`` in a new hidden file of ``folder`` (fsynced); the caller renames or removes it."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write via a hidden temporary file and a rename: readers never see half a file."""
    os.replace(_temp_file(path.parent, path.name, data, _mode_for(path)), path)


_RENAME_EXCHANGE = 2
_libc = None


def _exchange(a: Path, b: Path) -> bool:
    """Swap the files ``a`` and ``b`` atomically (Linux ``renameat2``); False if unsupported."""
    global _libc
    if not sys.platform.startswith("linux"):
        return False
    if _libc is None:
        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            _libc.renameat2  # noqa: B018 - glibc >= 2.28
        except (OSError, AttributeError):
            _libc = False
    if not _libc:
        return False
    AT_FDCWD = -100
    if _libc.renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False                       # a file system or kernel without RENAME_EXCHANGE
    raise OSError(err, os.strerror(err), str(b))


def _backup_path(dest: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate, n = dest.with_name(f"{dest.name}.bak-{stamp}"), 1
    while candidate.exists():
        candidate, n = dest.with_name(f"{dest.name}.bak-{stamp}-{n}"), n + 1
    return candidate


def _keep(old: Path, dest: Path) -> Path:
    """Give the hidden file ``old`` (the replaced exercise) its backup name; never overwrite."""
    while True:
        backup = _backup_path(dest)
        try:
            os.link(old, backup)           # fails if the name appeared meanwhile
        except FileExistsError:
            continue
        except OSError:                    # no hard links here: a rename (checked name)
            os.replace(old, backup)
            return backup
        old.unlink()
        return backup


def replace_exercise(dest: Path, data: bytes, safe: bytes | None = None) -> Path | None:
    """Put ``data`` at ``dest``; keep whatever was there unless release wrote it. Returns the backup.

    The comparison is made on the file that is actually replaced: with ``renameat2`` the new
    file and the old one swap names in one step, and the old one (whatever a learner saved up
    to that instant) is then inspected under its hidden name.  Elsewhere the file is read, and
    backed up if needed, immediately before an atomic rename.  No backup is kept of a file that
    release wrote (:func:`pristine`) or that equals ``safe``.
    """
    tmp = _temp_file(dest.parent, dest.name, data, _mode_for(dest))
    ours = True                            # does tmp hold our new text (safe to delete)?
    try:
        try:
            os.link(tmp, dest)             # dest absent: create it, never replacing a save
            return None
        except FileExistsError:
            pass
        except OSError:
            if not dest.exists():
                os.replace(tmp, dest)
                return None
        if _exchange(tmp, dest):           # tmp now holds the replaced file
            ours = False
            old = tmp.read_bytes()
            if pristine(old) or (safe is not None and old == safe):
                ours = True
                return None
            try:
                backup = _keep(tmp, dest)
            except OSError:
                if _exchange(tmp, dest):   # put the learner's file back where it was
                    ours = True
                raise
            ours = True                    # tmp's name is gone; nothing left to delete
            return backup
        current = dest.read_bytes()
        backup = None
        if not (pristine(current) or (safe is not None and current == safe)):
            backup = _backup_path(dest)
            _write_atomic(backup, current)
        os.replace(tmp, dest)
        return backup
    finally:
        if ours:
            tmp.unlink(missing_ok=True)


def release(source_dir: str | Path, dest_dir: str | Path, *, force: bool = False,
            log: Callable[[str], None] = print,
            warn: Callable[[str], None] = print) -> list[Target]:
    """Regenerate ``dest_dir`` from ``source_dir``; return the targets written or kept.

    Raises :class:`ReleaseError` (nothing written) for a malformed source, or for an
    edited exercise when ``force`` is False.  Every replaced file that release did not
    write itself is first kept as ``<name>.bak-<timestamp>`` (see :func:`replace_exercise`).
    An I/O failure raises :class:`ReleaseError` naming the exercise; the exercises already
    replaced in this run are put back as they were (backups stay).
    """
    targets = plan(source_dir, dest_dir)
    edited = [t for t in targets if t.status == "edited"]
    if edited and not force:
        raise ReleaseError("\n".join(
            f"refusing to overwrite {_show(t.dest)}: {t.reason}; nothing was written. "
            "Rerun with --force to replace it (the current file is kept as "
            f"{_show(t.dest)}.bak-<timestamp>)" for t in edited), exit_code=1)
    written: list[str] = []
    undo: list[tuple[Path, bytes | None, bytes]] = []      # (exercise, its bytes before, what we wrote)
    for t in targets:
        if t.status in ("missing", "stale", "changed", "edited"):
            data = t.text.encode("utf-8")
            try:
                Path(dest_dir).mkdir(parents=True, exist_ok=True)
                before = t.dest.read_bytes() if t.dest.exists() else None
                backup = replace_exercise(t.dest, data, t.safe)
            except OSError as exc:
                raise ReleaseError(f"could not write {_show(t.dest)} ({exc.strerror or exc}); it is unchanged; "
                                   + _roll_back(undo, written)) from None
            undo.append((t.dest, before, data))
            if backup is not None:
                log(f"backed up {_show(t.dest)} -> {_show(backup)}")
                written.append(f"{_show(backup)} (backup)")
            log(f"wrote {_show(t.dest)} ({'new' if t.status == 'missing' else t.status})")
            written.append(_show(t.dest))
        elif t.status == "current":
            log(f"up to date {_show(t.dest)}")
        else:
            warn(f"warning: {_show(t.dest)} has no source ({t.reason}); left alone "
                 "(delete it if it is obsolete)")
    return targets


def _roll_back(undo: list[tuple[Path, bytes | None, bytes]], written: list[str]) -> str:
    """Put back the exercises this run already replaced (unless a learner saved over them since);
    say what was done. Backups stay."""
    if not undo:
        return "nothing was written"
    restored, left = [], []
    for dest, before, ours in reversed(undo):
        try:
            if dest.read_bytes() != ours:          # saved over since: leave the learner's file
                left.append(_show(dest))
            elif before is None:
                dest.unlink()
                restored.append(_show(dest))
            else:
                _write_atomic(dest, before)
                restored.append(_show(dest))
        except OSError:
            left.append(_show(dest))
    text = f"rolled back {', '.join(reversed(restored))}" if restored else ""
    if left:
        text += ("; " if text else "") + f"could not roll back (left as written): {', '.join(reversed(left))}"
    backups = [w for w in written if w.endswith("(backup)")]
    if backups:
        text += f"; backups kept: {', '.join(backups)}"
    return text


def run(source: str | None, dest: str | None, *, check_only: bool = False,
        force: bool = False, out: Callable[[str], None] = print,
        err: Callable[[str], None] = print) -> int:
    """Command-line entry: 0 ok, 1 out of step / refused, 2 input error."""
    try:
        root = None if source and dest else find_course_root()
        source_dir = Path(source) if source else root / "solutions"
        dest_dir = Path(dest) if dest else root / "exercises"
        if check_only:
            problems = check(source_dir, dest_dir)
            for line in problems:
                err(f"out of step: {line}")
            if problems:
                err(f"{len(problems)} exercise notebook(s) out of step (see the advice on each line)")
                return 1
            n = len(list_notebooks(dest_dir))
            out(f"{n} exercise notebook(s) in {_show(dest_dir)} up to date with "
                f"{_show(source_dir)}")
            return 0
        release(source_dir, dest_dir, force=force, log=out, warn=err)
        return 0
    except ReleaseError as exc:
        for line in str(exc).splitlines():
            err(f"rnn-tutor release: error: {line}")
        return exc.exit_code
    except OSError as exc:
        err(f"rnn-tutor release: error: {exc.strerror or exc}: {exc.filename or ''}")
        return 2
