"""Time the library's hot paths at teaching size, to measure what input validation costs.

Usage::

    python benchmarks/validation_overhead.py                    # time the installed rnn_tutor
    python benchmarks/validation_overhead.py --against 5d3c64a  # before/after table against a git revision

It times forward + full BPTT of each cell (the sizes of ``bptt_vs_torch.py``: N=32, T=50, d=8,
m=32), 20 Adam steps of a many-to-one classifier (``fit``), and 20 updates of the character
model (``train_charlm``), and reports the best of ``--repeats`` runs in milliseconds (the best
run is the one least disturbed by other work on a busy machine).

``--against REV`` extracts ``rnn_tutor`` at the git revision ``REV`` (for instance the commit
before validation was added) under the name ``rnn_tutor_base`` and compares it with the working
tree in two ways:

* **same process**: one process imports both versions and alternates their calls, so both see
  the same machine load and the same memory-allocator state; the change is the median ratio of
  back-to-back pairs of calls.  This isolates the cost of the code.
* **separate processes**: a fresh process per version, in alternating order; the change is the
  ratio of the two processes' best times.

Both are repeated in ``--rounds`` rounds, and the table shows the median over rounds.

Every process first calls :func:`settle_allocator`: without it, glibc's page faults made the same
code up to twice as slow in one process as in another, depending only on what was allocated during
imports.

Set ``OPENBLAS_NUM_THREADS=1`` for stable numbers.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N, T, D, M, Q = 32, 50, 8, 32, 4
ROOT = Path(__file__).resolve().parents[1]
BASE = "rnn_tutor_base"


def settle_allocator() -> None:
    """Allocate and free one 16 MB block, so that glibc serves the benchmarks' arrays from its heap.

    glibc's ``malloc`` hands out blocks above a threshold (128 kB at start) as fresh pages, which
    cost a page fault each on first touch, and raises the threshold to the size of the largest
    such block freed so far.  Without this, the number of page faults per call (and with it up to
    half of the GRU's time) depends on what happened to be allocated while modules were imported,
    not on the code being timed.  After it, both versions run with no page faults at all.
    """
    block = bytearray(16 * 2**20)
    del block


def best_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def cases(package: str = "rnn_tutor") -> dict:
    """The timed calls, built from ``package`` (``rnn_tutor`` or the renamed base version)."""
    architectures = importlib.import_module(f"{package}.architectures")
    charlm = importlib.import_module(f"{package}.charlm")
    ELMAN = importlib.import_module(f"{package}.cells").ELMAN
    GRU = importlib.import_module(f"{package}.gru").GRU
    LSTM = importlib.import_module(f"{package}.lstm").LSTM

    rng = np.random.default_rng(0)
    out = {}
    xs, G = rng.normal(size=(T, N, D)), rng.normal(size=(T, N, M))
    for name, cell in (("Elman forward+BPTT", ELMAN), ("GRU forward+BPTT", GRU), ("LSTM forward+BPTT", LSTM)):
        params = cell.init_params(D, M, rng)

        def run(cell=cell, params=params):
            hs, _, cache = cell.forward(xs, params)
            return cell.backward(G, cache)

        out[name] = run
    p0 = architectures.init_params(ELMAN, D, M, Q, rng)
    labels = rng.integers(0, Q, N)
    out["fit, 20 Adam steps (many-to-one)"] = lambda: architectures.fit(
        lambda p, step: architectures.many_to_one_loss(ELMAN, xs, p, labels), p0, steps=20)
    text = charlm.load_text()[:4000]
    vocab = charlm.build_vocab(text)
    streams = charlm.make_streams(vocab.encode(text), 8)
    lm0 = charlm.init_charlm(ELMAN, vocab.V, M, rng)
    out["train_charlm, 20 updates (k=16)"] = lambda: charlm.train_charlm(ELMAN, lm0, streams, vocab.V, k=16,
                                                                          max_updates=20)
    return out


def extract(rev: str, into: Path) -> None:
    """``rnn_tutor`` at git revision ``rev``, renamed to :data:`BASE`, under ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "rnn_tutor"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    (into / "rnn_tutor").rename(into / BASE)
    for path in (into / BASE).rglob("*.py"):
        path.write_text(re.sub(r"\brnn_tutor\b", BASE, path.read_text(encoding="utf-8")), encoding="utf-8")


def same_process(repeats: int) -> dict:
    """Both versions in this process, calls alternating: ``{case: (base_ms, current_ms, median ratio)}``.

    The ratio is the median over ``repeats`` pairs of back-to-back calls of ``current / base``:
    a paired comparison, which a machine whose speed drifts (other jobs, a busy neighbour of a
    virtual machine) disturbs far less than a comparison of two separate best times.
    """
    base, current = cases(BASE), cases("rnn_tutor")
    out = {}
    for name in current:
        base[name](), current[name]()
        times = {BASE: [], "rnn_tutor": []}
        for r in range(repeats):
            order = ((BASE, base), ("rnn_tutor", current)) if r % 2 else (("rnn_tutor", current), (BASE, base))
            for key, table in order:
                start = time.perf_counter()
                table[name]()
                times[key].append(time.perf_counter() - start)
        ratios = np.array(times["rnn_tutor"]) / np.array(times[BASE])
        out[name] = (1e3 * min(times[BASE]), 1e3 * min(times["rnn_tutor"]), float(np.median(ratios)))
    return out


def _child(args: list[str], base_dir: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([base_dir, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    done = subprocess.run([sys.executable, __file__, *args], env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def compare(rev: str, repeats: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="rnn-tutor-base-") as tmp:
        extract(rev, Path(tmp))
        together = {}  # case -> per-round (base ms, current ms, median paired ratio)
        apart = {}  # case -> per-round (base ms, current ms)
        for r in range(rounds):
            for name, row in _child(["--same-process", "--repeats", str(repeats)], tmp).items():
                together.setdefault(name, []).append(row)
            pair = {}
            for which in ((BASE, "rnn_tutor") if r % 2 == 0 else ("rnn_tutor", BASE)):
                pair[which] = _child(["--json", "--package", which, "--repeats", str(repeats)], tmp)
            for name in pair[BASE]:
                apart.setdefault(name, []).append((pair[BASE][name], pair["rnn_tutor"][name]))
    print(f"rnn_tutor at {rev} (before) against the working tree (after), {rounds} rounds. Same process: both "
          f"versions alternating, {repeats} pairs of calls per round; the change is the median over rounds of each "
          f"round's median paired ratio. Separate processes: one fresh process per version per round, best of "
          f"{repeats} runs; the change is the median over rounds of after / before. Times: medians over rounds of "
          f"the best run, in ms.\n")
    print("| benchmark | before (ms) | after (ms) | change, same process | change, separate processes |")
    print("|---|---:|---:|---:|---:|")
    for name, rows in together.items():
        b, a = float(np.median([x[0] for x in rows])), float(np.median([x[1] for x in rows]))
        same = float(np.median([x[2] for x in rows]))
        sep = float(np.median([after / before for before, after in apart[name]]))
        print(f"| {name} | {b:.2f} | {a:.2f} | {100 * (same - 1):+.1f} % | {100 * (sep - 1):+.1f} % |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed runs per benchmark (the best counts)")
    parser.add_argument("--against", metavar="REV", help="compare with rnn_tutor at this git revision")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of measurements with --against")
    parser.add_argument("--package", default="rnn_tutor", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--same-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    settle_allocator()
    if args.against:
        compare(args.against, args.repeats, args.rounds)
    elif args.same_process:
        print(json.dumps(same_process(args.repeats)))
    elif args.json:
        print(json.dumps({name: best_ms(fn, args.repeats) for name, fn in cases(args.package).items()}))
    else:
        module = importlib.import_module(args.package)
        print(f"# {args.package} from {module.__file__}")
        for name, fn in cases(args.package).items():
            print(f"{name}\t{best_ms(fn, args.repeats):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
