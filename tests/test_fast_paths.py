"""The unchecked internals that training loops call after checking once give the public functions' results.

``train_charlm`` validates its arguments once and then calls ``Cell._forward_unchecked`` /
``_backward_unchecked``, ``heads._softmax_cross_entropy``, ``clipping._clip_grad_norm`` and
``optim._adam_step`` on every update.  These tests pin them to the checked public functions,
so a fast path can never drift from the math that the lessons teach.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnn_tutor import charlm
from rnn_tutor.activations import Activation, get_activation
from rnn_tutor.bptt import rnn_backward
from rnn_tutor.cells import ELMAN, _unchecked, elman_cell
from rnn_tutor.clipping import clip_grad_norm
from rnn_tutor.gru import GRU
from rnn_tutor.lstm import LSTM
from rnn_tutor.optim import adam_init, adam_step
from rnn_tutor.rnn import init_params, rnn_forward
from rnn_tutor.validation import NonFiniteError

CELLS = [ELMAN, elman_cell("relu"), GRU, LSTM]


def _state(cell, N, m, rng):
    if cell is LSTM:
        return rng.normal(size=(N, m)), rng.normal(size=(N, m))
    return rng.normal(size=(N, m))


def _flat(x):
    if isinstance(x, dict):
        return {k: np.asarray(v) for k, v in x.items()}
    if isinstance(x, tuple):
        return x
    return x


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.name)
@pytest.mark.parametrize("T,N,d,m", [(1, 1, 1, 1), (5, 3, 2, 4)])
@pytest.mark.parametrize("with_state", [False, True])
def test_unchecked_cell_equals_checked(cell, T, N, d, m, with_state):
    rng = np.random.default_rng(7)
    params = cell.init_params(d, m, rng)
    xs, dhs = rng.normal(size=(T, N, d)), rng.normal(size=(T, N, m))
    state_0 = _state(cell, N, m, rng) if with_state else None
    dstate_T = _state(cell, N, m, rng) if with_state else None
    forward, backward = _unchecked(cell)
    assert forward is not cell.forward and backward is not cell.backward  # the fast path exists
    hs_a, sT_a, cache_a = cell.forward(xs, params, state_0)
    hs_b, sT_b, cache_b = forward(xs, params, state_0)
    np.testing.assert_array_equal(hs_a, hs_b)
    np.testing.assert_array_equal(np.asarray(sT_a), np.asarray(sT_b))
    g_a, dxs_a, ds_a = cell.backward(dhs, cache_a, dstate_T)
    g_b, dxs_b, ds_b = backward(dhs, cache_b, dstate_T)
    assert g_a.keys() == g_b.keys() == set(cell.param_names)
    for k in g_a:
        np.testing.assert_allclose(g_a[k], g_b[k], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(dxs_a, dxs_b, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(np.asarray(ds_a), np.asarray(ds_b), rtol=1e-13, atol=1e-15)


def test_backward_survives_an_activation_that_returns_its_argument():
    """A hand-made Activation whose derivative returns its input must not corrupt the cache."""
    ident = get_activation("identity")
    lazy = Activation("lazy-identity", ident.fn, lambda a: np.asarray(a), ident.sym, 1.0)  # f'(a) := a, aliasing
    rng = np.random.default_rng(1)
    params = init_params(2, 3, 2, rng)
    xs, dys = rng.normal(size=(4, 2, 2)), rng.normal(size=(4, 2, 2))
    _, _, cache = rnn_forward(xs, params, f=lazy)
    before = cache["as_"].copy()
    g1 = rnn_backward(dys, cache)
    np.testing.assert_array_equal(cache["as_"], before)
    g2 = rnn_backward(dys, cache)  # the same cache twice: the same gradients
    for k in g1:
        np.testing.assert_array_equal(g1[k], g2[k])


def _reference_train(cell, params, streams, V, k, lr, clip, max_updates):
    """train_charlm's loop written with the checked public functions only."""
    state_opt, losses, state = adam_init(params), [], None
    for start in range(0, streams.shape[0] - k, k):
        L, grads, state = charlm.window_loss_and_grads(cell, params, streams[start:start + k + 1], V, state)
        grads, _ = clip_grad_norm({key: grads[key] for key in params}, clip)
        params, state_opt = adam_step(params, grads, state_opt, lr)
        losses.append(L)
        if len(losses) >= max_updates:
            break
    return params, np.array(losses)


@pytest.mark.parametrize("cell", [ELMAN, GRU, LSTM], ids=lambda c: c.name)
def test_train_charlm_equals_the_checked_loop(cell):
    rng = np.random.default_rng(3)
    text = charlm.load_text()[:600]
    vocab = charlm.build_vocab(text)
    streams = charlm.make_streams(vocab.encode(text), 4)
    params = charlm.init_charlm(cell, vocab.V, 8, rng)
    fast, losses_fast = charlm.train_charlm(cell, params, streams, vocab.V, k=7, lr=2e-2, clip=0.5, max_updates=9)
    slow, losses_slow = _reference_train(cell, params, streams, vocab.V, 7, 2e-2, 0.5, 9)
    assert len(losses_fast) == 9
    np.testing.assert_allclose(losses_fast, losses_slow, rtol=1e-12)
    for key in slow:
        np.testing.assert_allclose(fast[key], slow[key], rtol=1e-10, atol=1e-13)


def test_train_charlm_names_the_update_when_it_overflows():
    rng = np.random.default_rng(0)
    text = charlm.load_text()[:300]
    vocab = charlm.build_vocab(text)
    streams = charlm.make_streams(vocab.encode(text), 2)
    params = charlm.init_charlm(ELMAN, vocab.V, 4, rng)
    # Adam's first step moves every parameter by about lr: 1e307, so the next logits overflow.
    with pytest.raises(NonFiniteError, match=r"training stopped at update 1: the loss is inf") as info:
        charlm.train_charlm(ELMAN, params, streams, vocab.V, k=5, lr=1e307, max_updates=3)
    assert "smaller learning rate than lr = 1e+307" in str(info.value)


def test_every_trainer_names_the_step_when_the_update_overflows():
    """An optimiser step that overflows stops training with the step (or update) and the parameter named."""
    from rnn_tutor import architectures as arch
    from rnn_tutor.longlag import train_last_step
    from rnn_tutor.truncated import train_tbptt

    p0 = {"w": np.array([1e308])}
    with pytest.raises(NonFiniteError, match=r"training stopped at step 2: the update of 'w' overflowed") as info:
        arch.fit(lambda p, step: (1.0, {"w": np.array([1.0])}), p0, steps=3, lr=1e308)
    assert info.value.step == 2 and info.value.parameter == "w"
    rng = np.random.default_rng(0)
    params = init_params(1, 3, 1, rng)
    with pytest.raises(NonFiniteError, match=r"training stopped at step \d+") as info:
        train_last_step("recall", 5, rng, m=3, steps=50, lr=1e308, optimizer="sgd", max_norm=None)
    assert info.value.step is not None
    xs, ps = rng.normal(size=(12, 2, 1)), rng.normal(size=(12, 2, 1))
    with pytest.raises(NonFiniteError, match=r"training stopped at") as info:
        train_tbptt(xs, ps, params, k=4, lr=1e308, epochs=5)
    assert info.value.step is not None


def test_fit_stops_with_the_step_when_the_parameters_outgrow_float64():
    """Overflow inside the learner's loss is the training run's fault after step 0: NonFiniteError with the step."""
    from rnn_tutor import architectures as arch

    rng = np.random.default_rng(0)
    xs, labels = rng.normal(size=(6, 4, 2)), rng.integers(0, 3, 4)
    p0 = arch.init_params(ELMAN, 2, 5, 3, rng)
    with pytest.raises(NonFiniteError, match=r"training stopped at step \d+: the parameters grew") as info:
        arch.fit(lambda p, step: arch.many_to_one_loss(ELMAN, xs, p, labels), p0, steps=5, lr=1e307)
    assert info.value.step >= 1 and info.value.parameter in p0
    # The caller's own parameters: h_t > 0 (positive inputs and w_x, w_h = 0), so o = w_y h overflows at step 0.
    huge = {**p0, "w_x": np.ones_like(p0["w_x"]), "w_h": np.zeros_like(p0["w_h"]), "w_y": np.full_like(p0["w_y"], 1e308)}
    with pytest.raises(ValueError, match=r"^params\['w_y'\]: expected values small enough"):
        arch.fit(lambda p, step: arch.many_to_one_loss(ELMAN, np.abs(xs) + 1, p, labels), huge, steps=2)
