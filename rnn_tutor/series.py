"""A tiny forecasting task: a noisy sum of sines, and the naive baseline a model must beat.

The series is generated, not downloaded, so the course needs no data files:

    s_t = Σ_i A_i sin(2π t / P_i + φ_i) + ε_t,      ε_t ~ N(0, σ²),   t = 0 … n-1

One-step-ahead forecasting pairs each value with the next one: the input at step t is
``x_t = s_{t-1}`` and the target is ``p_t = s_t`` (inputs indexed from 1, as in :mod:`rnn_tutor`).
The *persistence* baseline predicts "tomorrow equals today", ``ŷ_t = x_t``; its error is what a
model has to beat.  Because the noise is independent, no model can get below ``σ²`` in mean
squared error: the ``noise_floor``.
"""

from __future__ import annotations

import numpy as np

from rnn_tutor.validation import (MAX_SIZE, ArgumentError, ArgumentTypeError, NonFiniteArgumentError, check_array,
                                  check_elements, check_int, check_real, check_rng, describe)

__all__ = ["noisy_sines", "noisy_sines_batch", "forecasting_pairs", "split", "mse", "persistence_mse"]


def noisy_sines(n: int, rng: np.random.Generator, periods=(16.0, 6.5), amplitudes=(1.0, 0.5),
                noise: float = 0.1, random_phase: bool = True) -> np.ndarray:
    """A sum of sines plus Gaussian noise, ``(n,)`` values.

    Parameters
    ----------
    n : number of values (≥ 2)
    rng : numpy Generator (phases and noise)
    periods, amplitudes : sequences of equal length, periods in steps (> 0)
    noise : standard deviation σ ≥ 0 of the additive noise
    random_phase : draw each φ_i uniformly in [0, 2π) (otherwise φ_i = 0)
    """
    check_rng(rng)
    n = check_int(n, "n", 2, MAX_SIZE, "an integer number of values")
    periods, amplitudes = check_array(periods, "periods"), check_array(amplitudes, "amplitudes")
    if periods.ndim != 1 or periods.shape != amplitudes.shape or periods.size == 0:
        raise ArgumentError("periods", f"periods, amplitudes: expected two 1-D sequences of the same non-zero length, "
                         f"received shapes {periods.shape} and {amplitudes.shape}")
    if not (periods > 0).all():
        raise ArgumentError("periods", f"periods: expected positive periods (in steps), received {periods.tolist()}")
    noise = check_real(noise, "noise", 0.0, None, what="a standard deviation")
    if not isinstance(random_phase, (bool, np.bool_)):
        raise ArgumentTypeError("random_phase", f"random_phase: expected True or False, received {describe(random_phase)}")
    check_elements((periods.size, n), "sines (len(periods), n)", "n")
    t = np.arange(n)
    phases = rng.uniform(0, 2 * np.pi, periods.size) if random_phase else np.zeros(periods.size)
    clean = (amplitudes[:, None] * np.sin(2 * np.pi * t[None] / periods[:, None] + phases[:, None])).sum(axis=0)
    return clean + noise * rng.normal(size=n)


def noisy_sines_batch(n: int, N: int, rng: np.random.Generator, **kwargs) -> np.ndarray:
    """``N`` independent :func:`noisy_sines` series (same periods, own phases and noise), shape ``(n, N)``."""
    N = check_int(N, "N")
    n = check_int(n, "n", 2, MAX_SIZE, "an integer number of values")
    check_elements((n, N), "series (n, N)", "N")
    return np.stack([noisy_sines(n, rng, **kwargs) for _ in range(N)], axis=1)


def forecasting_pairs(series) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets for one-step-ahead forecasting of a series ``s_0 … s_{n-1}``.

    ``series`` is ``(n,)`` (one series) or ``(n, N)`` (N series side by side).

    Returns
    -------
    xs : (n-1, N, 1) with ``xs[t-1] = s_{t-1}``
    ps : (n-1, N, 1) with ``ps[t-1] = s_t``  (the value after the input)
    """
    s = check_array(series, "series")
    if s.ndim not in (1, 2) or s.shape[0] < 2 or s.size == 0:
        raise ArgumentError("series", f"series: expected a 1-D (n,) or 2-D (n, N) array with n >= 2 values, "
                         f"received shape {s.shape}")
    s = s.reshape(s.shape[0], -1)  # (n, N)
    return s[:-1, :, None].copy(), s[1:, :, None].copy()


def split(series, n_train: int) -> tuple[np.ndarray, np.ndarray]:
    """Split a series into its first ``n_train`` values (training) and the rest (test), in time order."""
    s = check_array(series, "series")
    if s.ndim != 1:
        raise ArgumentError("series", f"series: expected a 1-D array, received shape {s.shape}")
    if s.size < 4:
        raise ArgumentError("series", f"series: expected at least 4 values (2 for training, 2 for testing), "
                                      f"received shape {s.shape}.")
    n_train = check_int(n_train, "n_train", 2, s.size - 2, "a number of training values")
    return s[:n_train].copy(), s[n_train:].copy()


def mse(predictions, targets) -> float:
    """Mean squared error ``mean((ŷ - p)²)`` over all entries; shapes must match."""
    a, b = check_array(predictions, "predictions"), check_array(targets, "targets")
    if a.shape != b.shape:
        raise ArgumentError("predictions", f"predictions: expected shape {b.shape} (the shape of targets), received {a.shape}")
    if a.size == 0:
        raise ArgumentError("predictions", "predictions: expected at least one value, received an empty array")
    return _mse(a, b, ("predictions", "targets"))


def _mse(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> float:
    """``mean((a - b)²)`` of checked arrays of one shape, exact for any finite input.

    Both are scaled by a power of two (exactly) to entries below 1, so neither the difference nor
    its square can overflow; a mean beyond float64 names the larger of the two arguments.
    """
    big = max(float(np.abs(a).max()), float(np.abs(b).max()))
    e = int(np.frexp(big)[1]) if big > 0 else 0
    m = float(np.mean((np.ldexp(a, -e) - np.ldexp(b, -e)) ** 2))  # at most 4
    if m > 0 and np.log2(m) + 2 * e >= 1024:
        name = names[0] if np.abs(a).max() >= np.abs(b).max() else names[1]
        raise NonFiniteArgumentError(name, f"{name}: expected values whose mean squared error fits in float64, received "
                                           f"entries up to {big:.3g} (the error is about 2^{np.log2(m) + 2 * e:.0f}).")
    return float(np.ldexp(m, 2 * e))


def persistence_mse(xs, ps, k: int = 1) -> float:
    """MSE of the naive forecast ``ŷ_t = x_t`` ("the next value equals the last one").

    Scored on the same targets as a window model of length ``k``: ``ps[k-1:]``.
    """
    xs, ps = check_array(xs, "xs", ndim=tuple(range(1, 8)), nonempty=True), check_array(ps, "ps")
    if xs.shape != ps.shape:
        raise ArgumentError("ps", f"ps: expected shape {xs.shape} (the shape of xs), received {ps.shape}")
    k = check_int(k, "k", 1, xs.shape[0], "a window length")
    return _mse(xs[k - 1:], ps[k - 1:], ("xs", "ps"))
