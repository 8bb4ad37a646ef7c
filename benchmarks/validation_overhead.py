"""Time the library's hot paths at teaching size, to measure what input validation costs.

Usage::

    python benchmarks/validation_overhead.py            # the installed rnn_tutor
    PYTHONPATH=/path/to/old/checkout python benchmarks/validation_overhead.py   # another version

It times forward + full BPTT of each cell (the sizes of ``bptt_vs_torch.py``: N=32, T=50, d=8,
m=32), one Adam training step of a many-to-one classifier (``fit``), and a short run of the
character model (``train_charlm``), and prints the best of ``--repeats`` runs in milliseconds
(the best run is the one least disturbed by other work on a busy machine).  Compare two versions
by running them back to back, several times, in alternation.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

N, T, D, M, Q = 32, 50, 8, 32, 4


def best_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def cases() -> dict:
    from rnn_tutor import architectures, charlm
    from rnn_tutor.cells import ELMAN
    from rnn_tutor.gru import GRU
    from rnn_tutor.lstm import LSTM

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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    import rnn_tutor
    print(f"# rnn_tutor from {rnn_tutor.__file__}")
    for name, fn in cases().items():
        print(f"{name}\t{best_ms(fn, args.repeats):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
