"""Truncated BPTT (rnn_tutor.truncated) and the forecasting data (rnn_tutor.series).

References: explicit loops written here from the tutorial's pseudo-code, full BPTT
(rnn_tutor.bptt, itself checked against finite differences) and finite differences.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from rnn_tutor import series
from rnn_tutor.bptt import rnn_backward
from rnn_tutor.gradcheck import numerical_gradients, rel_error
from rnn_tutor.optim import sgd_step
from rnn_tutor.rnn import init_params, rnn_forward
from rnn_tutor.truncated import (cache_floats, check_k, predict_windows, train_tbptt, train_tbptt_carried,
                                 window_loss_and_grads, window_starts)

KEYS = ("w_x", "w_h", "b_h", "w_y", "b_y")


def _data(rng, T=9, N=2, d=2, m=3, q=2):
    params = {"w_x": rng.normal(0, 0.5, (m, d)), "w_h": rng.normal(0, 0.5, (m, m)), "b_h": rng.normal(0, 0.2, m),
              "w_y": rng.normal(0, 0.5, (q, m)), "b_y": rng.normal(0, 0.2, q)}
    return rng.normal(size=(T, N, d)), rng.normal(size=(T, N, q)), params


def _tutorial_reference(xs, ps, params, k, lr, epochs, f="tanh", g="identity"):
    """The pseudo-code, written out with explicit per-step loops (independent of truncated.py)."""
    act = {"tanh": np.tanh, "identity": lambda a: a, "relu": lambda a: np.maximum(a, 0)}
    p = {key: v.copy() for key, v in params.items()}
    T, N, _ = xs.shape
    history = []
    for _ in range(epochs):
        losses = []
        for t in range(0, T - k + 1):  # "for t = 0 to n - k"
            h = np.zeros((N, p["w_h"].shape[0]))  # "set h to zero": the state entering the window
            seen = []
            for s in range(t, t + k):
                h_prev = h
                a = xs[s] @ p["w_x"].T + h_prev @ p["w_h"].T + p["b_h"]
                h = act[f](a)
                seen.append((xs[s], h_prev, a, h))
            y = act[g](h @ p["w_y"].T + p["b_y"])
            e = (y - ps[t + k - 1]) / N  # e = y_{t+k} - p_{t+k}, averaged over the batch
            losses.append(0.5 * N * float(np.sum(e * e)))
            grads = {"w_y": e.T @ h, "b_y": e.sum(0)}
            dh = e @ p["w_y"]
            gw = {key: 0.0 for key in ("w_x", "w_h", "b_h")}
            for x_s, h_prev, a, h_s in reversed(seen):
                da = dh * ((1 - h_s ** 2) if f == "tanh" else (a > 0) if f == "relu" else 1.0)
                gw["w_x"] = gw["w_x"] + da.T @ x_s
                gw["w_h"] = gw["w_h"] + da.T @ h_prev
                gw["b_h"] = gw["b_h"] + da.sum(0)
                dh = da @ p["w_h"]
            grads.update(gw)
            p = {key: p[key] - lr * grads[key] for key in KEYS}
        history.append(np.mean(losses))
    return p, np.array(history)


@pytest.mark.parametrize("k", [1, 2, 4, 9])
def test_train_tbptt_follows_the_pseudo_code(k):
    xs, ps, params = _data(np.random.default_rng(k))
    before = copy.deepcopy(params)
    got, history = train_tbptt(xs, ps, params, k, lr=0.1, epochs=3)
    ref, ref_history = _tutorial_reference(xs, ps, params, k, 0.1, 3)
    for key in KEYS:
        np.testing.assert_allclose(got[key], ref[key], rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(params[key], before[key])  # inputs untouched
    np.testing.assert_allclose(history, ref_history, rtol=1e-12)
    assert history.shape == (3,)


def test_each_window_starts_from_zero_so_earlier_inputs_do_not_matter():
    xs, ps, params = _data(np.random.default_rng(3), T=8)
    k = 3
    loss, grads, cache = window_loss_and_grads(xs[4:7], ps[4:7], params)
    np.testing.assert_array_equal(cache["h_0"], 0.0)
    # changing every input before the window changes nothing in the window's gradient
    changed = xs.copy()
    changed[:4] += 10.0
    preds_a, preds_b = predict_windows(xs, params, k), predict_windows(changed, params, k)
    np.testing.assert_allclose(preds_a[4], preds_b[4], rtol=0, atol=0)
    assert not np.allclose(preds_a[1], preds_b[1])
    # and the window's gradient equals finite differences of its own last-step loss
    def window_loss(p):
        _, ys, _ = rnn_forward(xs[4:7], p)
        return 0.5 * float(np.sum((ys[-1] - ps[6]) ** 2)) / xs.shape[1]
    num = numerical_gradients(window_loss, params)
    assert loss == pytest.approx(window_loss(params))
    for key in KEYS:
        assert rel_error(grads[key], num[key]) < 1e-7


@pytest.mark.parametrize("f", ["tanh", "relu"])
def test_k_equal_T_is_one_full_bptt_step_per_epoch(f):
    xs, ps, params = _data(np.random.default_rng(5), T=6)
    T, N = xs.shape[:2]
    _, ys, cache = rnn_forward(xs, params, f=f)
    # tutorial variant: the error at the last step only
    dys = np.zeros_like(ys)
    dys[-1] = (ys[-1] - ps[-1]) / N
    expected = sgd_step(params, rnn_backward(dys, cache), 0.05)
    got, history = train_tbptt(xs, ps, params, T, lr=0.05, epochs=1, f=f)
    for key in KEYS:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-13, atol=1e-15)
    assert history[0] == pytest.approx(0.5 * np.sum((ys[-1] - ps[-1]) ** 2) / N)
    # carried variant: the loss at every step
    expected = sgd_step(params, rnn_backward((ys - ps) / N, cache), 0.05)
    got, history = train_tbptt_carried(xs, ps, params, T, lr=0.05, epochs=1, f=f)
    for key in KEYS:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-13, atol=1e-15)
    assert history[0] == pytest.approx(0.5 * np.sum((ys - ps) ** 2) / N / T)


def _carried_reference(xs, ps, params, k, lr, epochs):
    p = {key: v.copy() for key, v in params.items()}
    T, N, _ = xs.shape
    for _ in range(epochs):
        h = np.zeros((N, p["w_h"].shape[0]))
        for t in range(0, T, k):
            _, ys, cache = rnn_forward(xs[t:t + k], p, h)
            grads = rnn_backward((ys - ps[t:t + k]) / N, cache)
            h = cache["hs"][-1]  # the state carries over; its gradient (grads["h_0"]) is dropped
            p = sgd_step(p, grads, lr)
    return p


@pytest.mark.parametrize("k", [2, 3, 4])
def test_carried_variant_hands_the_state_on_and_detaches_it(k):
    xs, ps, params = _data(np.random.default_rng(7), T=9)
    got, history = train_tbptt_carried(xs, ps, params, k, lr=0.1, epochs=2)
    ref = _carried_reference(xs, ps, params, k, 0.1, 2)
    for key in KEYS:
        np.testing.assert_allclose(got[key], ref[key], rtol=1e-12, atol=1e-14)
    # not the same as restarting each window from zero
    zero_start = {key: v.copy() for key, v in params.items()}
    for t in range(0, 9, k):
        _, ys, cache = rnn_forward(xs[t:t + k], zero_start)
        zero_start = sgd_step(zero_start, rnn_backward((ys - ps[t:t + k]) / 2, cache), 0.1)
    assert not np.allclose(rnn_forward(xs, ref)[1], rnn_forward(xs, zero_start)[1])


def test_carried_variant_with_given_h_0():
    xs, ps, params = _data(np.random.default_rng(8), T=6)
    h_0 = np.full((2, 3), 0.3)
    a, _ = train_tbptt_carried(xs, ps, params, 3, lr=0.1, epochs=1, h_0=h_0)
    b, _ = train_tbptt_carried(xs, ps, params, 3, lr=0.1, epochs=1)
    assert not np.allclose(a["w_h"], b["w_h"])
    with pytest.raises(ValueError, match=r"h_0: expected shape \(2, 3\)"):
        train_tbptt_carried(xs, ps, params, 3, h_0=np.zeros(3))


@pytest.mark.parametrize("train", [train_tbptt, train_tbptt_carried])
@pytest.mark.parametrize("k,message", [(0, r"from 1 to the sequence length T = 6, received 0\."),
                                       (-2, r"from 1 to the sequence length T = 6, received -2\."),
                                       (7, r"from 1 to the sequence length T = 6, received 7\."),
                                       (2.5, "expected an integer"), (True, "expected an integer")])
def test_bad_k_is_a_value_error_that_says_so(train, k, message):
    xs, ps, params = _data(np.random.default_rng(0), T=6)
    with pytest.raises(ValueError, match=f"k: .*{message}"):
        train(xs, ps, params, k)


def test_check_k_and_window_starts():
    assert check_k(np.int64(3), 5) == 3
    assert list(window_starts(5, 3)) == [0, 1, 2]  # t = 0 ... n - k
    assert list(window_starts(5, 5)) == [0]
    with pytest.raises(ValueError, match=r"from 1 to the sequence length T = 5, received 6"):
        window_starts(5, 6)


@pytest.mark.parametrize("train", [train_tbptt, train_tbptt_carried])
def test_divergence_raises_floating_point_error_naming_the_step(train):
    xs, ps, params = _data(np.random.default_rng(1), T=8)
    params = {**params, "w_h": params["w_h"] * 4}
    with pytest.raises(FloatingPointError, match=r"epoch \d+, window t = \d+ \(steps \d+\.\.\d+\).*clip.*learning rate"):
        train(xs, ps * 1e3, params, 3, lr=1e3, epochs=50, f="relu")


def test_clipping_and_adam_keep_the_same_run_finite():
    xs, ps, params = _data(np.random.default_rng(1), T=8)
    params = {**params, "w_h": params["w_h"] * 4}
    p, history = train_tbptt(xs, ps * 1e3, params, 3, lr=1e-3, epochs=5, f="relu", clip=1.0)
    assert np.isfinite(history).all() and all(np.isfinite(v).all() for v in p.values())
    p, history = train_tbptt(xs, ps, params, 3, lr=0.01, epochs=5, optimizer="adam")
    assert history[-1] < history[0]


def test_bad_training_arguments():
    xs, ps, params = _data(np.random.default_rng(2), T=6)
    with pytest.raises(ValueError, match="lr: expected a positive learning rate"):
        train_tbptt(xs, ps, params, 2, lr=-0.1)
    with pytest.raises(ValueError, match="epochs: expected a positive integer"):
        train_tbptt(xs, ps, params, 2, epochs=0)
    with pytest.raises(ValueError, match="optimizer: expected 'sgd' or 'adam', received 'rmsprop'"):
        train_tbptt(xs, ps, params, 2, optimizer="rmsprop")
    with pytest.raises(ValueError, match="clip: expected None or a positive"):
        train_tbptt(xs, ps, params, 2, clip=0)
    with pytest.raises(ValueError, match="rng: expected None or a numpy.random.Generator"):
        train_tbptt(xs, ps, params, 2, rng=42)
    with pytest.raises(ValueError, match=r"ps: expected shape \(6, 2, 2\)"):
        train_tbptt(xs, ps[:, :1], params, 2)
    with pytest.raises(ValueError, match="xs: expected a 3-D array"):
        train_tbptt(xs[:, 0], ps, params, 2)
    bad = xs.copy()
    bad[2, 0, 0] = np.nan
    with pytest.raises(ValueError, match="xs: expected finite numbers"):
        train_tbptt(bad, ps, params, 2)
    with pytest.raises(ValueError, match=r"params: expected finite initial parameters, received NaN or inf in \['b_h'\]"):
        train_tbptt_carried(xs, ps, {**params, "b_h": np.full(3, np.inf)}, 2)


def test_target_loss_stops_early_and_shuffling_is_seeded():
    xs, ps, params = _data(np.random.default_rng(4), T=8)
    _, full = train_tbptt(xs, ps, params, 2, lr=0.1, epochs=6)
    _, early = train_tbptt(xs, ps, params, 2, lr=0.1, epochs=6, target_loss=full[2] * 1.0000001)
    assert len(early) == 3
    a, ha = train_tbptt(xs, ps, params, 2, lr=0.1, epochs=2, rng=np.random.default_rng(0))
    b, hb = train_tbptt(xs, ps, params, 2, lr=0.1, epochs=2, rng=np.random.default_rng(0))
    c, _ = train_tbptt(xs, ps, params, 2, lr=0.1, epochs=2)
    np.testing.assert_array_equal(a["w_h"], b["w_h"])
    assert not np.allclose(a["w_h"], c["w_h"])  # a different order of updates


def test_predict_windows_matches_running_each_window_alone():
    xs, ps, params = _data(np.random.default_rng(6), T=7)
    preds = predict_windows(xs, params, 3)
    assert preds.shape == (5, 2, 2)
    for t in range(5):
        np.testing.assert_allclose(preds[t], rnn_forward(xs[t:t + 3], params)[1][-1], rtol=1e-13)


def test_cache_floats_is_linear_in_the_steps_kept():
    rng = np.random.default_rng(0)
    N, d, m, q = 2, 3, 8, 1
    params = init_params(d, m, q, rng)
    for T in (5, 50, 200):
        _, _, cache = rnn_forward(rng.normal(size=(T, N, d)), params)
        assert cache_floats(cache) == T * N * (d + 2 * m + q) + N * m
    _, _, window = rnn_forward(rng.normal(size=(10, N, d)), params)
    assert cache_floats(window) * 15 < cache_floats(cache)  # k = 10 against T = 200
    with pytest.raises(ValueError, match="cache: expected the cache returned by rnn_forward"):
        cache_floats([1, 2])


def test_training_on_noisy_sines_beats_the_persistence_baseline():
    rng = np.random.default_rng(0)
    s = series.noisy_sines(161, rng, noise=0.1)
    train, test = series.split(s, 121)
    xs, ps = series.forecasting_pairs(train)
    xt, pt = series.forecasting_pairs(test)
    params, history = train_tbptt(xs, ps, init_params(1, 8, 1, np.random.default_rng(1)), 8,
                                  lr=0.01, epochs=12, optimizer="adam")
    assert history[-1] < 0.5 * history[0]
    test_mse = series.mse(predict_windows(xt, params, 8), pt[7:])
    assert test_mse < 0.6 * series.persistence_mse(xt, pt, 8)


# ----------------------------------------------------------------------------- series

def test_series_generation_and_pairs():
    s = series.noisy_sines(50, np.random.default_rng(0), periods=(10.0,), amplitudes=(2.0,), noise=0.0,
                           random_phase=False)
    np.testing.assert_allclose(s, 2 * np.sin(2 * np.pi * np.arange(50) / 10), atol=1e-12)
    noisy = series.noisy_sines(4000, np.random.default_rng(1), noise=0.3)
    clean = series.noisy_sines(4000, np.random.default_rng(1), noise=0.0)
    assert np.std(noisy - clean) == pytest.approx(0.3, rel=0.05)
    xs, ps = series.forecasting_pairs([1.0, 2.0, 4.0])
    assert xs.shape == ps.shape == (2, 1, 1)
    np.testing.assert_array_equal(xs[:, 0, 0], [1.0, 2.0])
    np.testing.assert_array_equal(ps[:, 0, 0], [2.0, 4.0])
    assert series.persistence_mse(xs, ps) == pytest.approx((1 + 4) / 2)
    assert series.persistence_mse(xs, ps, k=2) == pytest.approx(4.0)
    batch = series.noisy_sines_batch(30, 3, np.random.default_rng(2), noise=0.0)
    assert batch.shape == (30, 3) and not np.allclose(batch[:, 0], batch[:, 1])  # own phases
    xs, ps = series.forecasting_pairs(batch)
    assert xs.shape == (29, 3, 1)
    np.testing.assert_array_equal(ps[:-1], xs[1:])
    a, b = series.split(np.arange(10.0), 6)
    assert a.tolist() == [0, 1, 2, 3, 4, 5] and b.tolist() == [6, 7, 8, 9]


def test_series_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="n: expected an integer number of values in 2.."):
        series.noisy_sines(1, rng)
    with pytest.raises(ValueError, match="rng: expected a numpy.random.Generator"):
        series.noisy_sines(10, 0)
    with pytest.raises(ValueError, match="periods: expected positive periods"):
        series.noisy_sines(10, rng, periods=(0.0,), amplitudes=(1.0,))
    with pytest.raises(ValueError, match="same non-zero length"):
        series.noisy_sines(10, rng, periods=(3.0, 4.0), amplitudes=(1.0,))
    with pytest.raises(ValueError, match="noise: expected a standard deviation"):
        series.noisy_sines(10, rng, noise=-1)
    with pytest.raises(ValueError, match=r"series: expected a 1-D \(n,\) or 2-D \(n, N\) array with n >= 2"):
        series.forecasting_pairs([1.0])
    with pytest.raises(ValueError, match="N: expected a positive integer"):
        series.noisy_sines_batch(10, 0, rng)
    with pytest.raises(ValueError, match=r"n_train: expected a number of training values in 2\.\.8"):
        series.split(np.arange(10.0), 9)
    with pytest.raises(ValueError, match="predictions: expected shape"):
        series.mse(np.zeros(3), np.zeros(4))
