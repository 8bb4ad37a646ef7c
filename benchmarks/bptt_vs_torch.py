"""Time forward + full BPTT of rnn-tutor's NumPy cells against PyTorch autograd on the CPU.

Usage::

    python benchmarks/bptt_vs_torch.py            # teaching and larger sizes, timing table
    python benchmarks/bptt_vs_torch.py --smoke    # tiny sizes: agreement only, no timing (CI)

For each cell (Elman RNN, GRU, LSTM) and size, both implementations get the same
float64 weights and inputs and the same loss ``L = Σ G ⊙ hs`` (a fixed random
``G``), so the backward pass starts from the same ``∂L/∂h_t = G``.  The script first
asserts that outputs and every gradient agree (relative error < 1e-9), so it never
times two different computations, then reports the median of repeated runs and
the ratio ours / PyTorch.  PyTorch is optional: without it the script explains how
to install a CPU build and exits with status 0.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import dataclass

import numpy as np

from rnn_tutor.gradcheck import rel_error

SIZES = {"teaching": dict(N=32, T=50, d=8, m=32), "larger": dict(N=64, T=200, d=32, m=256)}
SMOKE = {"smoke": dict(N=3, T=5, d=2, m=4)}
TARGETS = {"teaching": 1.0, "larger": 2.0}


@dataclass
class Case:
    """One cell: how to run ours, how to build the PyTorch module, how to copy weights."""

    name: str
    cell: object  # an rnn_tutor.cells.Cell
    torch_module: str  # "RNN", "GRU" or "LSTM"
    to_torch: dict  # our parameter key -> PyTorch parameter name


def cases() -> list[Case]:
    from rnn_tutor.cells import ELMAN
    out = [Case("Elman RNN", ELMAN, "RNN", {"w_x": "weight_ih_l0", "w_h": "weight_hh_l0", "b_h": "bias_ih_l0"})]
    gated = {"w_ih": "weight_ih_l0", "w_hh": "weight_hh_l0", "b_ih": "bias_ih_l0", "b_hh": "bias_hh_l0"}
    try:
        from rnn_tutor.gru import GRU
        out.append(Case("GRU", GRU, "GRU", gated))
    except ImportError:
        print("note: rnn_tutor.gru not available; skipping the GRU", file=sys.stderr)
    try:
        from rnn_tutor.lstm import LSTM
        out.append(Case("LSTM", LSTM, "LSTM", gated))
    except ImportError:
        print("note: rnn_tutor.lstm not available; skipping the LSTM", file=sys.stderr)
    return out


def setup(case: Case, size: dict, seed: int = 0):
    """Build both implementations on identical float64 weights; return (ours, theirs) callables."""
    import torch

    N, T, d, m = size["N"], size["T"], size["d"], size["m"]
    rng = np.random.default_rng(seed)
    params = case.cell.init_params(d, m, rng)
    xs, G = rng.normal(size=(T, N, d)), rng.normal(size=(T, N, m))
    module = getattr(torch.nn, case.torch_module)(d, m).double()
    with torch.no_grad():
        for p in module.parameters():
            p.zero_()
        for ours_key, torch_name in case.to_torch.items():
            getattr(module, torch_name).copy_(torch.from_numpy(params[ours_key]))
    X, Gt = torch.from_numpy(xs), torch.from_numpy(G)

    def ours():
        hs, _, cache = case.cell.forward(xs, params)
        grads, dxs, _ = case.cell.backward(G, cache)
        return hs, grads

    def theirs():
        module.zero_grad(set_to_none=True)
        out, _ = module(X)
        (out * Gt).sum().backward()
        return out

    return params, ours, theirs, module


def check_agreement(case: Case, size: dict) -> float:
    """Assert that outputs and all gradients agree; return the worst relative error."""
    _, ours, theirs, module = setup(case, size)
    hs, grads = ours()
    out = theirs()
    errors = {"hs": rel_error(hs, out.detach().numpy())}
    for ours_key, torch_name in case.to_torch.items():
        errors[ours_key] = rel_error(grads[ours_key], getattr(module, torch_name).grad.numpy())
    worst = max(errors.values())
    assert worst < 1e-9, f"{case.name}: ours and PyTorch disagree: {errors}"
    return worst


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, agreement only (for CI)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per measurement")
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed, so there is nothing to compare against.\n"
              "Install a CPU build (a plain `pip install torch` may fetch a multi-GB CUDA build):\n"
              "    pip install torch --index-url https://download.pytorch.org/whl/cpu")
        return 0
    sizes = SMOKE if args.smoke else SIZES
    rows = []
    for case in cases():
        for size_name, size in sizes.items():
            worst = check_agreement(case, size)
            if args.smoke:
                rows.append(f"| {case.name} | {size_name} | agree (max rel. error {worst:.1e}) |")
                continue
            _, ours, theirs, _ = setup(case, size)
            repeats = args.repeats or (30 if size_name == "teaching" else 7)
            t_ours, t_torch = median_time(ours, repeats), median_time(theirs, repeats)
            ratio = t_ours / t_torch
            verdict = "ok" if ratio <= TARGETS[size_name] else f"ABOVE TARGET {TARGETS[size_name]}"
            rows.append(f"| {case.name} | {size_name} {tuple(size.values())} | {1e3 * t_ours:.2f} | "
                        f"{1e3 * t_torch:.2f} | {ratio:.2f} | {verdict} |")
            print(rows[-1], file=sys.stderr, flush=True)
    if args.smoke:
        print("| cell | size | result |\n|---|---|---|")
    else:
        print(f"Date {time.strftime('%Y-%m-%d')}; {platform.machine()}, {platform.processor() or 'cpu'}; "
              f"Python {platform.python_version()}; NumPy {np.__version__}; PyTorch {torch.__version__} "
              f"({torch.get_num_threads()} threads); sizes (N, T, d, m); median times in ms.\n")
        print("| cell | size | ours (ms) | PyTorch (ms) | ours / PyTorch | target |\n|---|---|---:|---:|---:|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
