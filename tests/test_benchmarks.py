"""CI smoke version of the benchmarks: agreement with PyTorch, not timing."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks" / "bptt_vs_torch.py"


def _load():
    spec = importlib.util.spec_from_file_location("bptt_vs_torch", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses need the module registered
    spec.loader.exec_module(module)
    return module


def test_smoke_benchmark_agrees_with_torch():
    pytest.importorskip("torch")
    bench = _load()
    names = [case.name for case in bench.cases()]
    assert names == ["Elman RNN", "GRU", "LSTM"], f"benchmark cases missing: {names}"
    for case in bench.cases():
        assert bench.check_agreement(case, bench.SMOKE["smoke"]) < 1e-9


def test_agreement_check_catches_a_different_computation():
    pytest.importorskip("torch")
    from rnn_tutor.cells import elman_cell

    bench = _load()
    case = bench.cases()[0]
    # PyTorch's nn.RNN uses tanh; a sigmoid cell is a different computation.
    wrong = bench.Case(case.name, elman_cell("sigmoid"), case.torch_module, case.to_torch)
    with pytest.raises(AssertionError, match="disagree"):
        bench.check_agreement(wrong, bench.SMOKE["smoke"])


def test_script_runs_as_a_command():
    pytest.importorskip("torch")
    out = subprocess.run([sys.executable, str(BENCH), "--smoke"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "agree" in out.stdout


def _tiny_notebook(path: Path, source: str) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    nbformat.write(nb, path)


def test_course_timing_reports_sums_wall_time_and_failures(tmp_path):
    _tiny_notebook(tmp_path / "a_ok.ipynb", "x = 1 + 1")
    _tiny_notebook(tmp_path / "b_ok.ipynb", "import time; time.sleep(0.2)")
    _tiny_notebook(tmp_path / "c_bad.ipynb", "raise ValueError('broken on purpose')")
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "course_timing.py"), "--jobs", "2",
                           "--markdown", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr  # one notebook failed
    out = proc.stdout
    assert "a_ok.ipynb" in out and "b_ok.ipynb" in out
    assert "FAILED (CellExecutionError" in out and "broken on purpose" in out
    assert "**sum of all notebooks**" in out and "**wall time, 2 notebook(s) at a time**" in out
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing is written back
