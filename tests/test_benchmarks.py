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
