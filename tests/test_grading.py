"""Unit tests of the grader's parts that need no kernel: serialisation, matching,
restoring, reports, the command line's usage errors, and nbgrader interoperability
of solutions/.  The kernel-driven tests are in test_grading_run.py."""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grading_fixtures import SYNTH_ID, write, write_synthetic_course
from rnn_tutor.checks.core import REGISTRY, compare_values
from rnn_tutor.grading import serial
from rnn_tutor.grading.cli import main as grade_main
from rnn_tutor.grading.grade import Result, Row
from rnn_tutor.grading.match import Unreadable, find_submissions, match_source, read_submission
from rnn_tutor.grading.report import (clean, csv_safe, summary, terminal_safe, write_csv, write_json,
                                      write_report)
from rnn_tutor.grading.restore import restore
from rnn_tutor.grading.score import fraction_points
from rnn_tutor.nbsource import load_source

ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- serial

@pytest.mark.parametrize("value", [
    np.arange(12.0).reshape(3, 4)[:, ::2],                  # non-contiguous
    np.array([np.nan, np.inf, -np.inf, -0.0, 1e-310]),      # bit-exact specials
    np.array([[True, False]]), np.arange(5, dtype=np.int8), np.zeros((0, 3)),
    np.array([1 + 2j]), np.float32(1.5), np.int64(-7), np.bool_(True),
    (1, 2.5, None, "text", [1, (2, 3)], {"a": np.ones(2), 3: "x", (1, 2): None}),
    {1, 2, 3}, frozenset({"a"}), 3 + 4j, 10**30, float("nan"),
])
def test_serial_round_trip_is_exact(value):
    back = serial.unpack(serial.pack(value))
    assert type(back) is type(value)
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and back.tobytes() == np.ascontiguousarray(value).tobytes()
        assert back.shape == value.shape and back.flags.writeable
    if not (isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind == "c"):
        # (compare_values compares complex arrays as real ones)
        assert not compare_values(back, value, rtol=0.0, atol=0.0)


def test_serial_sympy_round_trip_and_unknown_objects():
    sp = pytest.importorskip("sympy")
    x = sp.Symbol("x", positive=True)
    expr = sp.tanh(x) ** 2 + sp.Rational(1, 3) * sp.pi + sp.Function("f")(x) + sp.Float("1.25") + sp.I
    back = serial.unpack(serial.pack(expr))
    assert sp.simplify(back - expr) == 0 and back.free_symbols == {x}
    opaque = serial.unpack(serial.pack({"fn": print}))["fn"]
    assert isinstance(opaque, serial.Opaque) and opaque != opaque and "print" in repr(opaque)


@pytest.mark.parametrize("text, message", [
    ('{"$a": ["|O8", [1], "AAAAAAAAAAA="]}', "not a boolean or numeric dtype"),
    ('{"$a": ["<f8", [2], "AAAAAAAAAAA="]}', "needs 16"),
    ('{"$a": ["<f8", [-1], ""]}', "malformed array shape"),
    ('{"$pickle": "gASV"}', "unknown tag"),
    ('{"a": 1}', "unknown tag"),
    ('{"$y": ["sympify", []]}', "not a SymPy class"),
    ('{"$y": ["Add", ["__import__(\'os\')"]]}', "malformed SymPy"),
    ('{"$y": ["Float", "__import__(\'os\')", 53]}', "malformed Float"),
    ('{"$d": [[[1], 2]]}', "unhashable"),
    ("[" * 5000 + "]" * 5000, "deeper than|recursion"),
    ("not json", "not valid JSON"),
])
def test_serial_rejects_hostile_input(text, message):
    with pytest.raises(serial.SerialError, match=message):
        serial.loads(text)


def test_serial_limits_size(monkeypatch):
    monkeypatch.setattr(serial, "MAX_BYTES", 1000)
    with pytest.raises(serial.SerialError, match="limit"):
        serial.dumps(np.zeros(1000))
    with pytest.raises(serial.SerialError):
        serial.loads("[" + "0," * 1000 + "0]")


def test_kernel_call_reports_each_outcome():
    def reply(ns, target="f", inputs=None):
        out = serial.unpack(serial.kernel_call(target, serial.pack(inputs or {"x": np.ones(2)}), "n0", ns))
        assert out["nonce"] == "n0"
        return out

    def mutate(x):
        x += 1
        return x
    assert reply({"f": lambda x: 2 * x})["status"] == "ok"
    out = reply({"f": mutate})
    assert out["after"]["x"].tolist() == [2.0, 2.0]          # in-place change is visible to the grader
    assert reply({})["status"] == "missing"
    assert reply({"f": 3})["status"] == "not-callable"

    def stub(x):
        raise NotImplementedError()

    def boom(x):
        raise SystemExit("bye")
    assert reply({"f": stub})["status"] == "not-implemented"
    assert reply({"f": boom}) == {"nonce": "n0", "status": "raised", "error": "SystemExit: bye"}
    deep: list = []
    for _ in range(200):
        deep = [deep]
    assert reply({"f": lambda x: deep})["status"] == "unserialisable"


def test_every_registered_check_sends_its_inputs_exactly():
    """The grader ships each check's inputs through JSON: they must arrive unchanged."""
    import rnn_tutor.checks  # noqa: F401 - register the course's checks

    assert REGISTRY, "no checks registered"
    for check in REGISTRY.values():
        if check.notebook == SYNTH_ID:
            continue
        inputs = check.make_inputs(np.random.default_rng(123))
        back = serial.unpack(serial.pack(inputs))
        assert set(back) == set(inputs), check.key
        assert not compare_values(back, inputs, rtol=0.0, atol=0.0), check.key
        expected = check.reference(**copy.deepcopy(inputs))
        assert not compare_values(serial.unpack(serial.pack(expected)), expected, 0.0, 0.0), check.key


# ----------------------------------------------------------------------------- points

def test_fraction_points():
    from rnn_tutor.checks.core import Check

    whole = Check("x", "g", "f", lambda rng: {}, lambda: 0, n_cases=4)
    part = Check("x", "g", "f", lambda rng: {}, lambda: 0, n_cases=4, partial=True)
    assert fraction_points(whole, 3, 4, 4) == 3 and fraction_points(whole, 3, 3, 4) == 0
    assert fraction_points(part, 3, 3, 4) == pytest.approx(2.25) and fraction_points(part, 3, 0, 4) == 0


# ----------------------------------------------------------------------------- matching

@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return write_synthetic_course(tmp_path_factory.mktemp("synth_unit"))


def test_find_submissions_names_students(tmp_path):
    for rel in ["subs/alice/01_unfolding.ipynb", "subs/bob/deep/x.ipynb", "subs/carol.ipynb",
                "subs/.ipynb_checkpoints/a.ipynb", "subs/dave/.ipynb_checkpoints/b.ipynb",
                "single/erin/01_unfolding.ipynb"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    (tmp_path / "subs" / "notes.txt").write_text("x")
    found = find_submissions([tmp_path / "subs", tmp_path / "single/erin/01_unfolding.ipynb",
                              tmp_path / "subs/carol.ipynb"], ["01_unfolding"])
    assert [(s.student, s.path.name) for s in found] == [
        ("alice", "01_unfolding.ipynb"), ("bob", "x.ipynb"), ("carol", "carol.ipynb"),
        ("erin", "01_unfolding.ipynb")]
    with pytest.raises(FileNotFoundError, match="nope"):
        find_submissions([tmp_path / "nope"])
    assert [s.student for s in find_submissions([tmp_path / "subs/alice"], ["01_unfolding"])] == ["alice"]


@pytest.mark.parametrize("content, status, message", [
    (b"\x89PNG\r\n", "invalid", "not valid JSON"),
    (b"[1, 2]", "invalid", "no 'nbformat'"),
    (b'{"nbformat": 3, "worksheets": []}', "unsupported-format", "nbformat 3"),
    (b'{"nbformat": 4, "cells": {}}', "invalid", "not a list"),
    (b"[" * 100000, "invalid", "not valid JSON"),
])
def test_read_submission_rejects_non_notebooks(tmp_path, content, status, message):
    path = tmp_path / "x.ipynb"
    path.write_bytes(content)
    with pytest.raises(Unreadable, match=message) as info:
        read_submission(path)
    assert info.value.status == status


def test_read_submission_caps_the_size(tmp_path, monkeypatch):
    import rnn_tutor.grading.match as match

    monkeypatch.setattr(match, "MAX_FILE_BYTES", 100)
    path = tmp_path / "big.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "cells": [], "pad": "x" * 200}))
    with pytest.raises(Unreadable, match="limit"):
        read_submission(path)


def test_read_submission_is_lenient_with_cells(tmp_path):
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {"rnn_tutor": {"id": "a"}},
                                "cells": [{"cell_type": "code", "source": ["x = 1\n", "y = 2"],
                                           "metadata": {"nbgrader": {"grade_id": "g"}}},
                                          "garbage", {"cell_type": "weird"}]}))
    nb = read_submission(path)
    assert nb.nb_id == "a" and [c.source for c in nb.cells] == ["x = 1\ny = 2"]
    assert nb.cells[0].grade_id == "g" and nb.notes == ["2 malformed cell(s) ignored"]


def test_match_uses_the_embedded_id_then_the_file_name(synth):
    sources = {SYNTH_ID: object(), "01_unfolding": object()}
    nb = read_submission(synth.notebook)
    assert match_source(Path("whatever.ipynb"), nb, sources) == (SYNTH_ID, "")
    nb.nb_id = None
    assert match_source(Path(f"{SYNTH_ID}-bob.ipynb"), nb, sources)[0] == SYNTH_ID
    with pytest.raises(Unreadable, match="matches no exercise") as info:
        match_source(Path("homework.ipynb"), nb, sources)
    assert info.value.status == "unknown-exercise"
    nb.nb_id = "77_gone"
    with pytest.raises(Unreadable, match="'77_gone' names no exercise"):
        match_source(Path(f"{SYNTH_ID}.ipynb"), nb, sources)


# ----------------------------------------------------------------------------- restoring

def _learner(tmp_path, nb):
    return read_submission(write(nb, tmp_path / "sub.ipynb"))


def test_restore_takes_answers_from_the_learner_and_everything_else_from_the_source(synth, tmp_path):
    src = load_source(synth.notebook)
    nb = copy.deepcopy(src.nb)
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells}
    by_id["scale"].source = "def scale(x, a):\n    return 'mine'"
    by_id["check_scale"].source = "pass  # the learner emptied the check"
    by_id["setup"].source = "import numpy as np\nnp.allclose = lambda *a, **k: True"
    helper = nbformat.v4.new_code_cell("def helper():\n    return 1")
    nb.cells.insert(3, helper)                          # after the scale answer
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "check_answer"]
    nb.cells.reverse()
    restored = restore(src, _learner(tmp_path, nb))
    run = {(c.grade_id or c.origin): c for c in restored.cells}
    assert run["scale"].source.endswith("return 'mine'") and run["scale"].origin == "learner"
    assert run["check_scale"].source == by_id_source(src, "check_scale")     # hidden tests back
    assert run["setup"].source == "import numpy as np"
    assert run["check_answer"].origin == "source"
    assert [c.number for c in restored.cells if c.origin != "added"] == list(range(1, len(src.cells) + 1))
    added = [c for c in restored.cells if c.origin == "added"]
    assert [c.source for c in added] == ["def helper():\n    return 1"]
    assert any("reordered" in n for n in restored.notes)
    assert any("1 deleted instructor code cell" in n for n in restored.notes)
    assert any("edited locked" in n for n in restored.notes)


def by_id_source(src, grade_id):
    return src.by_grade_id()[grade_id].source


def test_restore_puts_back_the_stub_for_a_deleted_answer_and_runs_duplicates_once(synth, tmp_path):
    src = load_source(synth.notebook)
    nb = copy.deepcopy(src.nb)
    scale = next(c for c in nb.cells if c.metadata["nbgrader"]["grade_id"] == "scale")
    nb.cells = [c for c in nb.cells if c.metadata["nbgrader"]["grade_id"] != "running_sum"]
    twin = copy.deepcopy(scale)                                           # copy-paste keeps metadata
    twin.id = "twin"
    nb.cells.insert(nb.cells.index(scale) + 1, twin)
    restored = restore(src, _learner(tmp_path, nb))
    stub = next(c for c in restored.cells if c.grade_id == "running_sum")
    assert stub.origin == "stub" and "raise NotImplementedError()" in stub.source
    assert "### BEGIN SOLUTION" not in stub.source
    assert sum(c.grade_id == "scale" for c in restored.cells) == 1
    assert [c.origin for c in restored.cells].count("added") == 1
    assert any("running_sum missing" in n for n in restored.notes)


# ----------------------------------------------------------------------------- reports

def _results():
    rows = [Row("=cmd|' /C calc'!A0", "01_unfolding", "subs/=x.ipynb", "check_rnn_step", 2, 2, "passed", ""),
            Row("=cmd|' /C calc'!A0", "01_unfolding", "subs/=x.ipynb", "check_rnn_forward", 0, 3, "failed",
                "-1 is wrong\nsecond line"),
            Row("@bob", "01_unfolding", "subs/@bob.ipynb", "", 0, 0, "invalid", "+not json")]
    return [Result(rows[0].student, rows[0].file, "01_unfolding", rows[:2], notes=["renamed"]),
            Result("@bob", "subs/@bob.ipynb", "", rows[2:], "invalid")]


@pytest.mark.parametrize("value, expected", [
    ("=SUM(A1)", "'=SUM(A1)"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("alice", "alice"), ("a=b", "a=b"), (3, 3), (-1.5, -1.5),
])
def test_csv_safe(value, expected):
    assert csv_safe(value) == expected


def test_csv_report_escapes_every_formula_and_has_totals():
    buf = io.StringIO()
    write_csv(_results(), buf)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert [r["task"] for r in rows] == ["check_rnn_step", "check_rnn_forward", "TOTAL", "", "TOTAL"]
    for r in rows:
        assert not any(v.startswith(("=", "+", "-", "@")) for v in r.values()), r
    assert rows[0]["student"] == "'=cmd|' /C calc'!A0" and rows[0]["file"] == "subs/=x.ipynb"
    assert rows[1]["reason"].startswith("'-1 is wrong")
    assert (rows[2]["points"], rows[2]["max_points"], rows[2]["reason"]) == ("2", "5", "renamed")


def test_json_report():
    buf = io.StringIO()
    write_json(_results(), buf)
    data = json.loads(buf.getvalue())
    assert data["columns"][:4] == ["student", "notebook", "file", "task"]
    assert len(data["rows"]) == 5 and data["totals"][0]["points"] == 2 and data["totals"][1]["status"] == "invalid"
    assert data["rows"][0]["student"] == "=cmd|' /C calc'!A0"       # JSON is data, not a spreadsheet


def test_terminal_summary_shows_first_lines_and_no_escape_sequences():
    res = _results()
    res[1].student = "\x1b[2Jevil\x07"
    text = summary(res, 1.0)
    assert "check_rnn_forward: failed: -1 is wrong" in text and "second line" not in text
    assert "\x1b" not in text and "\x07" not in text and "\\x1b[2Jevil" in text
    assert terminal_safe("a\nb\u202ec") == "a b\\u202ec"


HOSTILE_TEXTS = ["ValueError('\udcff')", "hw\udcff.ipynb", "hw\r=2+3.ipynb", "\x1b[31mred\x1b[0m",
                 "abc\u202egnp.exe", "a\u2066b\u2069", "zero\u200bwidth", "bom\ufeff", "nul\x00", "del\x7f",
                 "c1\x9b31m", "line\u2028sep", "tab\tand\nnewline", "\ud800lone high"]


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_clean_leaves_no_control_bidi_or_surrogate(text):
    out = clean(text)
    out.encode("utf-8")                                  # no lone surrogate left
    assert not any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f for c in out), out
    assert not any(c in out for c in "\u061c\u200b\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e"
                   "\u2066\u2067\u2068\u2069\ufeff"), out
    assert out == clean(out) or "\\" in out            # escapes are visible text


def test_clean_writes_the_bytes_of_a_non_utf8_file_name():
    assert clean("hw\udcff.ipynb") == "hw\\xff.ipynb" and clean("a\x1bb") == "a\\x1bb"


def _hostile_results():
    rows = [Row(t, "01_unfolding", t, "check_rnn_step", 0, 2, "failed", t) for t in HOSTILE_TEXTS]
    return [Result(t, t, "01_unfolding", [r], notes=[t]) for t, r in zip(HOSTILE_TEXTS, rows)]


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_hostile_strings_give_a_complete_parseable_report(tmp_path, suffix):
    out = tmp_path / f"report{suffix}"
    write_report(_hostile_results(), out)
    text = out.read_text(encoding="utf-8")
    if suffix == ".csv":
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        assert "\r" not in text and len(text.splitlines()) == 1 + 2 * len(HOSTILE_TEXTS)
    else:
        rows = json.loads(text)["rows"]
    assert len(rows) == 2 * len(HOSTILE_TEXTS)
    for row in rows:
        for value in row.values():
            if isinstance(value, str):
                assert not value.startswith(("=", "+", "-", "@")) and "\x1b" not in value and "\r" not in value


def test_a_failed_write_keeps_the_earlier_report(tmp_path, monkeypatch):
    out = tmp_path / "grades.csv"
    write_report(_results(), out)
    before = out.read_bytes()
    import rnn_tutor.grading.report as report_module

    def broken(results, stream):
        stream.write("half a report")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(report_module, "write_csv", broken)
    with pytest.raises(OSError):
        write_report(_results(), out)
    assert out.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["grades.csv"]


def test_summary_wraps_long_hints_instead_of_cutting_them():
    hint = "likely cause: " + " ".join(f"word{i}" for i in range(80)) + " END"
    rows = [Row("alice", "01_unfolding", "a.ipynb", "check_rnn_step", 0, 2, "failed", "wrong; " + hint)]
    text = summary([Result("alice", "a.ipynb", "01_unfolding", rows)], 1.0)
    assert "…" not in text and "..." not in text and "END" in text
    assert all(len(line) <= 100 for line in text.splitlines()[:-1])
    assert "likely cause: word0" in text and "word79 END" in " ".join(line.strip() for line in text.splitlines())


def test_duplicates_are_flagged_and_both_listed():
    from rnn_tutor.grading.cli import flag_duplicates

    res = [Result("alice", f"alice/{n}.ipynb", "01_unfolding", []) for n in ("a", "b")]
    res.append(Result("alice", "alice/c.ipynb", "02_activations", []))
    res.append(Result("bob", "bob/a.ipynb", "01_unfolding", []))
    flag_duplicates(res)
    assert [r.duplicate for r in res] == [True, True, False, False]
    assert "alice/b.ipynb" in res[0].notes[0] and "alice/a.ipynb" in res[1].notes[0]
    buf = io.StringIO()
    write_json(res, buf)
    assert [t["duplicate"] for t in json.loads(buf.getvalue())["totals"]] == [True, True, False, False]


def test_stale_run_folders_are_removed(tmp_path):
    from rnn_tutor.grading.cli import remove_stale_runs

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stale = tmp_path / f"rnn-tutor-grade-{dead}-abc"
    (stale / "k").mkdir(parents=True)
    (stale / "k" / "connection.json").write_text("{}")
    live = tmp_path / f"rnn-tutor-grade-{os.getpid()}-abc"
    live.mkdir()
    other = tmp_path / "unrelated"
    other.mkdir()
    assert remove_stale_runs(tmp_path) == [stale]
    assert not stale.exists() and live.exists() and other.exists()


# ----------------------------------------------------------------------------- command line

def test_cli_usage_errors(tmp_path, capsys, synth):
    assert grade_main(["--help"]) == 0
    assert grade_main([str(tmp_path), "--out", str(tmp_path / "r.xlsx"), "--source", str(synth.source_dir)]) == 2
    assert "--out" in capsys.readouterr().err
    assert grade_main([str(tmp_path / "missing"), "--source", str(synth.source_dir)]) == 2
    assert "no such file" in capsys.readouterr().err
    assert grade_main([str(tmp_path), "--source", str(synth.source_dir)]) == 2
    assert "no submissions" in capsys.readouterr().err
    assert grade_main([str(tmp_path), "--jobs", "0", "--source", str(synth.source_dir)]) == 2
    assert grade_main([str(tmp_path), "--source", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err


# ----------------------------------------------------------------------------- nbgrader interoperability

def _solution_notebooks():
    return sorted((ROOT / "solutions").glob("*.ipynb"))


@pytest.mark.parametrize("path", _solution_notebooks(), ids=lambda p: p.name)
def test_solutions_are_valid_nbgrader_sources(path):
    """Schema-3 metadata, unique grade_ids, matching markers (nbsource), and checks that agree."""
    import rnn_tutor.checks  # noqa: F401

    src = load_source(path)
    graded = {c.grade_id: c for c in src.graded_cells()}
    assert graded, f"{path.name} has no graded cells"
    for c in src.cells:
        if c.nbgrader is not None:
            assert c.nbgrader.grade_id and c.cell.metadata["nbgrader"]["schema_version"] == 3
    for key, check in REGISTRY.items():
        if check.notebook != src.id:
            continue
        assert check.grade_id in graded, f"{key}: no graded cell {check.grade_id!r} in {path.name}"
        assert graded[check.grade_id].nbgrader.points == check.points, key
        assert any(c.is_solution and f"def {check.target}(" in c.source for c in src.cells), key



def test_compare_values_accepts_nan_only_where_nan_is_expected():
    """(core.py) The grader compares in its own process: NaN must equal NaN, and nothing else."""
    assert compare_values(np.array([np.nan, 1.0]), np.array([np.nan, 1.0])) == []
    assert compare_values(np.array([np.nan, 1.0]), np.array([0.0, 1.0]))
    assert compare_values(np.array([2.0, 1.0]), np.array([np.nan, 1.0]))
    assert compare_values(np.array([np.inf]), np.array([np.inf])) == []
    assert compare_values(np.array([-np.inf]), np.array([np.inf]))


# ----------------------------------------------------------------------------- judge and schema

def _tanh_reply(value, nonce="n1", status="ok", seed=7):
    """A packed reply of the kernel to the tanh_derivative check, as the kernel would send it."""
    import rnn_tutor.checks.activations as A

    inputs = A.TANH_DERIVATIVE.make_inputs(np.random.default_rng(seed))
    return A.TANH_DERIVATIVE, seed, serial.pack({"nonce": nonce, "status": status, "result": value(inputs["a"]),
                                                   "after": inputs}), inputs["a"]


@pytest.mark.parametrize("answer", [
    lambda a: 1 - __import__("sympy").tanh(a) ** 2,
    lambda a: __import__("sympy").sech(a) ** 2,
    lambda a: 4 / (__import__("sympy").exp(a) + __import__("sympy").exp(-a)) ** 2,
    lambda a: __import__("sympy").diff(__import__("sympy").tanh(a), a),
])
def test_judge_accepts_honest_sympy_answers(answer):
    from rnn_tutor.grading.judge import judge_reply

    check, seed, text, _ = _tanh_reply(answer)
    out = judge_reply(check, seed, text, "n1")
    assert out["status"] == "ok" and out["passed"], out


@pytest.mark.parametrize("answer, words", [
    (lambda a: __import__("sympy").Function("f")(a), "undefined function 'f'"),
    (lambda a: __import__("sympy").Function("__import__('os').system('touch /tmp/rnnpwn')")(a),
     "undefined function"),
    (lambda a: __import__("sympy").Range(3 * 10**6), "'Range', which this task does not accept"),
    (lambda a: __import__("sympy").Symbol("x") + a, "the symbol 'x'"),
    (lambda a: __import__("sympy").Derivative(__import__("sympy").tanh(a), a), "'Derivative'"),
    (lambda a: "1 - tanh(a)**2", "received a string"),
    (lambda a: "__import__('os').system('touch /tmp/rnnpwn')", "received a string"),
])
def test_judge_gives_hostile_or_odd_sympy_answers_a_verdict_not_a_traceback(answer, words):
    from rnn_tutor.grading.judge import judge_reply

    check, seed, text, _ = _tanh_reply(answer)
    out = judge_reply(check, seed, text, "n1")
    assert words in out.get("error", "") + " ".join(out.get("problems", [])), out
    assert out["status"] == "unreadable" or out["passed"] is False
    assert not Path("/tmp/rnnpwn").exists()


def test_judge_rejects_a_reply_without_this_calls_nonce():
    from rnn_tutor.grading.judge import judge_reply

    check, seed, text, _ = _tanh_reply(lambda a: 1 - __import__("sympy").tanh(a) ** 2, nonce="forged")
    assert judge_reply(check, seed, text, "n1")["status"] == "unreadable"


def test_strict_schema_limits_sizes():
    sch = serial.Schema()
    with pytest.raises(serial.SerialError, match="parts"):
        serial.decode(list(range(serial.MAX_NODES + 1)), schema=sch)
    with pytest.raises(serial.SerialError, match="characters"):
        serial.decode("x" * (serial.MAX_STRING + 1), schema=serial.Schema())
    with pytest.raises(serial.SerialError, match="malformed"):
        serial.decode({"$y": ["Integer", "1" * 1000]}, schema=serial.Schema())


SLOW_CHECKS = """
from rnn_tutor.checks.core import REGISTRY, Check, register

def _compare(received, expected, inputs):
    if isinstance(received, list):          # a pathological value: comparing it never ends
        while True:
            sum(range(10**6))
    return [] if received == expected else ["wrong"]

SLOW = REGISTRY.get(("97_slow", "check_f")) or register(Check(
    "97_slow", "check_f", "f", lambda rng: {"x": int(rng.integers(10**9))}, lambda x: x + 1, compare=_compare))
"""


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="measures CPU time through /proc")
def test_a_hostile_value_costs_the_judge_at_most_its_budget(tmp_path):
    """A result whose comparison never ends is stopped by the judge's CPU budget, within about
    a second; the judge process then judges the next case as usual."""
    import time

    from rnn_tutor.grading.judge import CPU_BUDGET, WALL_BUDGET, Judge

    path = tmp_path / "slow_checks.py"
    path.write_text(SLOW_CHECKS)
    from rnn_tutor.grading.cli import load_registry

    check = load_registry([str(path)])[("97_slow", "check_f")]
    x = check.make_inputs(np.random.default_rng(5))["x"]

    def reply(result):
        return serial.pack({"nonce": "n", "status": "ok", "result": result, "after": {"x": x}})
    judge = Judge([str(path)])
    try:
        assert judge.judge(check, 5, reply(x + 1), "n")["passed"] is True         # (starts the judge)
        cpu0, t0 = _cpu_seconds(judge.proc.pid), time.monotonic()
        out = judge.judge(check, 5, reply([1, 2, 3]), "n")
        cpu, wall = _cpu_seconds(judge.proc.pid) - cpu0, time.monotonic() - t0
        assert out["status"] == "over-budget" and "CPU time" in out["error"], out
        assert cpu < CPU_BUDGET + 0.3, cpu              # CPU time: wall time depends on the machine's load
        assert wall < WALL_BUDGET + 1, wall
        assert judge.judge(check, 5, reply(x + 1), "n")["passed"] is True
        assert judge.judge(check, 5, reply(x), "n")["passed"] is False
    finally:
        judge.close()
