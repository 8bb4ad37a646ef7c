"""Architecture types (rnn_tutor.architectures, rnn_tutor.seq2seq, rnn_tutor.heads): gradients, references, errors.

Every architecture is checked against central finite differences (float64) for every parameter,
for every cell this installation provides (``available_cells()``: Elman, and GRU/LSTM when their
modules exist) and for a small test-only cell whose state is a tuple, like the LSTM's.
Independent references: hand-written loops over ``rnn_step``, and PyTorch where installed.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from rnn_tutor import architectures as A
from rnn_tutor import seq2seq as S
from rnn_tutor.cells import ELMAN, Cell
from rnn_tutor.gradcheck import max_rel_error, numerical_gradients
from rnn_tutor.heads import accuracy, log_softmax, softmax, softmax_cross_entropy
from rnn_tutor.rnn import rnn_forward, rnn_step

TOL = 1e-6


# ----------------------------------------------------------------------------- a tuple-state test cell

def _pair_cell() -> Cell:
    """``a_t = w_x x_t + w_h h_{t-1} + b_h``, ``c_t = c_{t-1} + tanh(a_t) / 2``, ``h_t = tanh(c_t)``; state ``(h, c)``."""
    names = ("w_x", "w_h", "b_h")

    def init_params(d, m, rng):
        return {"w_x": rng.normal(0, 0.5, (m, d)), "w_h": rng.normal(0, 0.5, (m, m)), "b_h": rng.normal(0, 0.2, m)}

    def init_state(N, m):
        return np.zeros((N, m)), np.zeros((N, m))

    def forward(xs, params, state_0=None):
        T, N, _ = xs.shape
        m = params["w_h"].shape[0]
        h, c = init_state(N, m) if state_0 is None else state_0
        hs, cs, gs, hp = np.empty((T, N, m)), np.empty((T, N, m)), np.empty((T, N, m)), np.empty((T, N, m))
        for t in range(T):
            hp[t] = h
            gs[t] = np.tanh(xs[t] @ params["w_x"].T + h @ params["w_h"].T + params["b_h"])
            c = c + 0.5 * gs[t]
            h = np.tanh(c)
            hs[t], cs[t] = h, c
        return hs, (h, c), {"xs": xs, "hs": hs, "gs": gs, "hp": hp, "p": params}

    def backward(dhs, cache, dstate_T=None):
        xs, hs, gs, hp, p = cache["xs"], cache["hs"], cache["gs"], cache["hp"], cache["p"]
        T, N, m = hs.shape
        dh, dc = (np.zeros((N, m)), np.zeros((N, m))) if dstate_T is None else (dstate_T[0].copy(), dstate_T[1].copy())
        g = {k: np.zeros_like(p[k]) for k in names}
        dxs = np.zeros_like(xs)
        for t in reversed(range(T)):
            dh = dh + dhs[t]
            dc = dc + dh * (1 - hs[t] ** 2)
            da = 0.5 * dc * (1 - gs[t] ** 2)
            g["w_x"] += da.T @ xs[t]
            g["w_h"] += da.T @ hp[t]
            g["b_h"] += da.sum(0)
            dxs[t] = da @ p["w_x"]
            dh = da @ p["w_h"]
        return g, dxs, (dh, dc)

    return Cell("pair", names, init_params, init_state, forward, backward)


PAIR = _pair_cell()
CELLS = {**A.available_cells(), "pair": PAIR}


def _cells(*names):
    return pytest.mark.parametrize("cell", [CELLS[n] for n in (names or CELLS)], ids=list(names or CELLS))


def assert_grads(loss_and_grads, params):
    _, grads = loss_and_grads(params)
    numeric = numerical_gradients(lambda p: loss_and_grads(p)[0], params)
    assert set(grads) >= set(params)
    errors = max_rel_error(grads, numeric)
    assert max(errors.values()) < TOL, errors
    assert any(np.abs(numeric[k]).max() > 1e-6 for k in params)  # the test is not vacuous


def test_available_cells_include_every_existing_cell_module():
    cells = A.available_cells()
    assert cells["elman"] is ELMAN
    for name in ("gru", "lstm"):
        if importlib.util.find_spec(f"rnn_tutor.{name}") is not None:
            assert name in cells and isinstance(cells[name], Cell), name


# ----------------------------------------------------------------------------- gradients, every architecture

@_cells()
@pytest.mark.parametrize("N, d, m, q", [(1, 1, 3, 2), (3, 4, 3, 5)])
def test_one_to_one_gradients(cell, N, d, m, q):
    rng = np.random.default_rng(0)
    p = A.init_params(cell, d, m, q, rng)
    x, labels = rng.normal(size=(N, d)), rng.integers(0, q, N)
    assert_grads(lambda p: A.one_to_one_loss(cell, x, p, labels), p)


@_cells()
@pytest.mark.parametrize("feedback", ["softmax", "identity"])
@pytest.mark.parametrize("T, N, d, m, q", [(1, 1, 1, 3, 2), (4, 2, 3, 3, 4)])
def test_one_to_many_gradients_through_the_feedback(cell, feedback, T, N, d, m, q):
    rng = np.random.default_rng(1)
    p = A.init_params(cell, d + q, m, q, rng)
    x = rng.normal(size=(N, d))
    targets = rng.integers(0, q, (T, N)) if feedback == "softmax" else rng.normal(size=(T, N, q))
    assert_grads(lambda p: A.one_to_many_loss(cell, x, p, targets, feedback), p)


@_cells()
@pytest.mark.parametrize("lengths", [None, [1], [5, 2, 4], [5, 5, 1]])
def test_many_to_one_gradients(cell, lengths):
    rng = np.random.default_rng(2)
    N = 1 if lengths == [1] else 3
    T = 1 if lengths == [1] else 5
    p = A.init_params(cell, 2, 3, 4, rng)
    xs, labels = rng.normal(size=(T, N, 2)), rng.integers(0, 4, N)
    assert_grads(lambda p: A.many_to_one_loss(cell, xs, p, labels, lengths=lengths), p)


@_cells()
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_many_to_many_gradients_with_a_mask(cell, reduction):
    rng = np.random.default_rng(3)
    p = A.init_params(cell, 3, 4, 3, rng)
    xs, labels = rng.normal(size=(4, 3, 3)), rng.integers(0, 3, (4, 3))
    mask = (np.arange(4)[:, None] < np.array([4, 1, 3])[None]).astype(float)
    assert_grads(lambda p: A.many_to_many_loss(cell, xs, p, labels, mask=mask, reduction=reduction), p)


@_cells()
@pytest.mark.parametrize("S_len, U, lengths, target_lengths", [(1, 1, None, None), (4, 3, [4, 2], [3, 1]),
                                                                (2, 3, [2, 1], None)])
def test_encoder_decoder_gradients(cell, S_len, U, lengths, target_lengths):
    rng = np.random.default_rng(4)
    p = S.init_seq2seq_params(cell, 2, 3, 3, rng)
    xs, targets = rng.normal(size=(S_len, 2, 2)), rng.integers(0, 3, (U, 2))
    assert_grads(lambda p: S.encoder_decoder_loss(cell, xs, targets, p, lengths, target_lengths), p)


@_cells()
def test_many_to_one_gradient_with_nonzero_initial_state(cell):
    rng = np.random.default_rng(5)
    p = A.init_params(cell, 2, 3, 2, rng)
    xs, labels = rng.normal(size=(3, 2, 2)), np.array([0, 1])
    state = cell.forward(rng.normal(size=(2, 2, 2)), {k: p[k] for k in cell.param_names})[1]  # a realistic state

    def loss(p):
        o, cache = A.many_to_one_forward(cell, xs, p, lengths=[3, 2], state_0=state)
        L, do = softmax_cross_entropy(o, labels)
        return L, A.many_to_one_backward(do, cache)
    assert_grads(loss, p)


# ----------------------------------------------------------------------------- independent references

def test_one_to_many_matches_a_loop_over_rnn_step():
    rng = np.random.default_rng(6)
    d, m, q, N, T = 2, 4, 3, 2, 5
    p = A.init_params(ELMAN, d + q, m, q, rng)
    x = rng.normal(size=(N, d))
    for feedback in ("identity", "softmax", "argmax"):
        os_, _ = A.one_to_many_forward(ELMAN, x, p, T, feedback)
        h, y, expected = np.zeros((N, m)), np.zeros((N, q)), []
        for t in range(T):
            u = np.hstack([x if t == 0 else np.zeros_like(x), y])
            h, o, _ = rnn_step(u, h, p)
            expected.append(o)
            y = {"identity": o, "softmax": np.exp(o) / np.exp(o).sum(1, keepdims=True),
                 "argmax": np.eye(q)[o.argmax(1)]}[feedback]
        np.testing.assert_allclose(os_, np.stack(expected), rtol=1e-12, atol=1e-12)


def test_many_to_one_and_many_to_many_match_rnn_forward_on_each_sequence():
    rng = np.random.default_rng(7)
    p = A.init_params(ELMAN, 3, 4, 2, rng)
    lengths = np.array([4, 1, 3])
    xs = rng.normal(size=(4, 3, 3))
    o1, _ = A.many_to_one_forward(ELMAN, xs, p, lengths=lengths)
    om, _ = A.many_to_many_forward(ELMAN, xs, p, lengths=lengths)
    for n, L in enumerate(lengths):
        _, ys, _ = rnn_forward(xs[:L, n:n + 1], p)
        np.testing.assert_allclose(o1[n], ys[-1, 0], rtol=1e-12)
        np.testing.assert_allclose(om[:L, n], ys[:, 0], rtol=1e-12)
        assert np.all(om[L:, n] == 0)


def test_one_to_one_is_a_feedforward_net_and_w_h_gets_no_gradient():
    rng = np.random.default_rng(8)
    p = A.init_params(ELMAN, 3, 4, 2, rng)
    x = rng.normal(size=(5, 3))
    o, _ = A.one_to_one_forward(ELMAN, x, p)
    np.testing.assert_allclose(o, np.tanh(x @ p["w_x"].T + p["b_h"]) @ p["w_y"].T + p["b_y"], rtol=1e-12)
    _, g = A.one_to_one_loss(ELMAN, x, p, np.array([0, 1, 1, 0, 1]))
    assert np.all(g["w_h"] == 0)


def test_greedy_decode_matches_a_hand_loop_and_stops_at_eos():
    rng = np.random.default_rng(9)
    m, q, N = 5, 4, 6
    p = S.init_seq2seq_params(ELMAN, 2, m, q, rng)
    p = {k: 3 * v for k, v in p.items()}  # large weights: varied tokens
    state = rng.uniform(-1, 1, (N, m))
    for eos in range(q):
        tokens, lengths = S.decode_greedy(ELMAN, p, state, eos=eos, max_len=7)
        dec = {"w_x": p["dec_w_x"], "w_h": p["dec_w_h"], "b_h": p["dec_b_h"], "w_y": p["w_y"], "b_y": p["b_y"]}
        z, h, done, expected = np.full(N, q), state, np.zeros(N, bool), []
        for _ in range(7):
            h, o, _ = rnn_step(np.eye(q + 1)[z], h, dec)
            z = np.where(done, eos, o.argmax(1))
            done |= z == eos
            expected.append(z)
        expected = np.stack(expected)
        np.testing.assert_array_equal(tokens, expected)
        for n in range(N):
            col = list(expected[:, n])
            L = col.index(eos) + 1 if eos in col else 7
            assert lengths[n] == L and all(k == eos for k in col[L:])


@_cells()
def test_greedy_decode_runs_with_every_cell_and_teacher_forcing_agrees(cell):
    """Feeding the greedy output back as teacher-forcing input reproduces the same argmax at every step."""
    rng = np.random.default_rng(10)
    p = S.init_seq2seq_params(cell, 3, 4, 5, rng)
    xs = rng.normal(size=(3, 2, 3))
    tokens, _ = S.greedy_decode(cell, xs, p, eos=4, max_len=6, lengths=[3, 2])
    os_, _ = S.encoder_decoder_forward(cell, xs, S.teacher_forcing_inputs(tokens, 5), p, lengths=[3, 2])
    first_eos = [list(tokens[:, n]).index(4) if 4 in tokens[:, n] else 6 for n in range(2)]
    for n in range(2):
        np.testing.assert_array_equal(os_[: first_eos[n] + 1, n].argmax(1)[:6], tokens[: first_eos[n] + 1, n])


def test_against_torch_many_to_one_and_encoder_decoder():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    d, m, q = 3, 4, 5
    p = S.init_seq2seq_params(ELMAN, d, m, q, rng)
    xs, targets = rng.normal(size=(4, 2, d)), rng.integers(0, q, (3, 2))
    lengths, target_lengths = [4, 2], [3, 2]
    L, grads = S.encoder_decoder_loss(ELMAN, xs, targets, p, lengths, target_lengths)

    tp = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}

    def run(prefix, inp, h):
        out = []
        for x_t in inp:
            h = torch.tanh(x_t @ tp[f"{prefix}w_x"].T + h @ tp[f"{prefix}w_h"].T + tp[f"{prefix}b_h"])
            out.append(h)
        return torch.stack(out), h
    states = []
    for n, S_n in enumerate(lengths):  # each sequence alone, no padding
        _, h = run("enc_", torch.tensor(xs[:S_n, n:n + 1]), torch.zeros(1, m, dtype=torch.float64))
        states.append(h)
    dec_in = torch.tensor(S.teacher_forcing_inputs(targets, q))
    gs, _ = run("dec_", dec_in, torch.cat(states))
    logits = gs @ tp["w_y"].T + tp["b_y"]
    mask = torch.tensor((np.arange(3)[:, None] < np.array(target_lengths)[None]).astype(float))
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, q), torch.tensor(targets.reshape(-1)), reduction="none")
    loss = (ce * mask.reshape(-1)).sum() / mask.sum()
    loss.backward()
    assert abs(loss.item() - L) < 1e-12
    for k in p:
        np.testing.assert_allclose(grads[k], tp[k].grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=k)


# ----------------------------------------------------------------------------- softmax cross-entropy

def test_softmax_cross_entropy_is_stable_and_correct():
    logits = np.array([[1e4, 0.0, -1e4], [3.0, 1.0, 2.0], [-1e4, -1e4 + 1, -1e4]])
    labels = np.array([0, 2, 1])
    L, d = softmax_cross_entropy(logits, labels)
    assert np.isfinite(L) and np.isfinite(d).all()
    expected = -np.mean([0.0, 2.0 - np.log(np.exp(3) + np.exp(1) + np.exp(2)), 1 - np.log(1 + np.e + 1)])
    assert abs(L - expected) < 1e-12
    np.testing.assert_allclose(softmax(logits).sum(1), 1.0)
    np.testing.assert_allclose(log_softmax(logits[1:2]), np.log(softmax(logits[1:2])), rtol=1e-12)


def test_softmax_cross_entropy_gradient_and_mask():
    rng = np.random.default_rng(12)
    logits, labels = rng.normal(size=(3, 4, 5)), rng.integers(0, 5, (3, 4))
    mask = (rng.random((3, 4)) < 0.6).astype(float)
    mask[0, 0] = 1.0
    for reduction in ("mean", "sum"):
        L, d = softmax_cross_entropy(logits, labels, mask, reduction)
        num = numerical_gradients(lambda g: softmax_cross_entropy(g["o"], labels, mask, reduction)[0], {"o": logits})["o"]
        assert max_rel_error({"o": d}, {"o": num})["o"] < 1e-8
        assert np.all(d[mask == 0] == 0)
        junk = logits.copy()
        junk[mask == 0] = 1e6  # padded logits change nothing
        assert softmax_cross_entropy(junk, labels, mask, reduction)[0] == pytest.approx(L, rel=1e-12)
    assert accuracy(logits, labels, mask) == pytest.approx(
        ((logits.argmax(2) == labels) * mask).sum() / mask.sum())


@pytest.mark.parametrize("labels, match", [
    (np.array([0, 3]), r"labels: expected class indices in 0\.\.2 \(q = 3 classes\), received 3 at index \(1,\)"),
    (np.array([-1, 0]), r"labels: expected class indices in 0\.\.2 .* received -1"),
    (np.array([0.5, 1.0]), r"labels: expected integer class indices"),
    (np.array([0, 1, 2]), r"labels: expected shape \(2,\) .* received shape \(3,\)"),
])
def test_bad_labels_raise(labels, match):
    with pytest.raises(ValueError, match=match):
        softmax_cross_entropy(np.zeros((2, 3)), labels)


def test_bad_masks_raise_and_padding_labels_are_free():
    with pytest.raises(ValueError, match=r"mask: expected shape \(3, 2\) .* received shape \(2, 3\)"):
        softmax_cross_entropy(np.zeros((3, 2, 4)), np.zeros((3, 2), int), mask=np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"mask: expected only 0 .* received 0\.5"):
        softmax_cross_entropy(np.zeros((2, 4)), np.zeros(2, int), mask=np.array([1.0, 0.5]))
    with pytest.raises(ValueError, match=r"mask: expected at least one real position"):
        softmax_cross_entropy(np.zeros((2, 4)), np.zeros(2, int), mask=np.zeros(2))
    L, _ = softmax_cross_entropy(np.zeros((2, 4)), np.array([1, -100]), mask=np.array([1, 0]))
    assert L == pytest.approx(np.log(4))


# ----------------------------------------------------------------------------- bad input

def test_bad_inputs_raise_value_errors_that_name_the_argument():
    rng = np.random.default_rng(13)
    p = A.init_params(ELMAN, 2, 3, 2, rng)
    with pytest.raises(ValueError, match=r"cell: expected a rnn_tutor.cells.Cell .* received .*(str)"):
        A.many_to_one_forward("elman", np.zeros((2, 1, 2)), p)
    with pytest.raises(ValueError, match=r"params: missing key\(s\) \['w_h'\]"):
        A.many_to_one_forward(ELMAN, np.zeros((2, 1, 2)), {k: v for k, v in p.items() if k != "w_h"})
    with pytest.raises(ValueError, match=r"params: missing output-layer key\(s\) \['b_y'\]"):
        A.many_to_many_forward(ELMAN, np.zeros((2, 1, 2)), {k: v for k, v in p.items() if k != "b_y"})
    with pytest.raises(ValueError, match=r"xs: expected a 3-D array \(T, N, d\), received shape \(2, 2\)"):
        A.many_to_one_forward(ELMAN, np.zeros((2, 2)), p)
    with pytest.raises(ValueError, match=r"xs: expected at least one step .* received shape \(0, 1, 2\) \(an empty sequence\)"):
        A.many_to_many_forward(ELMAN, np.zeros((0, 1, 2)), p)
    with pytest.raises(ValueError, match=r"lengths: expected every length in 1\.\.2 .* received 0 for sequence 1 \(an empty sequence\)"):
        A.many_to_one_forward(ELMAN, np.zeros((2, 2, 2)), p, lengths=[2, 0])
    with pytest.raises(ValueError, match=r"lengths: expected shape \(2,\) .* received shape \(3,\)"):
        A.many_to_one_forward(ELMAN, np.zeros((2, 2, 2)), p, lengths=[2, 1, 1])
    with pytest.raises(ValueError, match=r"mask: expected shape \(2, 2\) \(T, N: .*\), received shape \(2, 3\)"):
        A.many_to_many_loss(ELMAN, np.zeros((2, 2, 2)), p, np.zeros((2, 2), int), mask=np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"labels: expected class indices in 0\.\.1 .* received 2"):
        A.many_to_one_loss(ELMAN, np.zeros((2, 2, 2)), p, np.array([0, 2]))
    with pytest.raises(ValueError, match=r"T: expected a positive integer"):
        A.one_to_many_forward(ELMAN, np.zeros((1, 2)), A.init_params(ELMAN, 4, 3, 2, rng), T=0)
    with pytest.raises(ValueError, match=r"feedback: expected one of 'identity', 'softmax', 'argmax'"):
        A.one_to_many_forward(ELMAN, np.zeros((1, 2)), A.init_params(ELMAN, 4, 3, 2, rng), T=2, feedback="sample")
    os_, cache = A.one_to_many_forward(ELMAN, np.zeros((1, 2)), A.init_params(ELMAN, 4, 3, 2, rng), T=2, feedback="argmax")
    with pytest.raises(ValueError, match=r"feedback: 'argmax' has no gradient"):
        A.one_to_many_backward(np.ones_like(os_), cache)
    ps = S.init_seq2seq_params(ELMAN, 2, 3, 4, rng)
    with pytest.raises(ValueError, match=r"dec_xs: expected q \+ 1 = 5 features"):
        S.encoder_decoder_forward(ELMAN, np.zeros((2, 1, 2)), np.zeros((2, 1, 4)), ps)
    with pytest.raises(ValueError, match=r"eos: expected a class index in 0\.\.3, received 4"):
        S.greedy_decode(ELMAN, np.zeros((2, 1, 2)), ps, eos=4, max_len=3)
    with pytest.raises(ValueError, match=r"target_lengths: expected every length in 1\.\.2"):
        S.encoder_decoder_loss(ELMAN, np.zeros((2, 1, 2)), np.zeros((2, 1), int), ps, target_lengths=[3])
    with pytest.raises(ValueError, match=r"targets: expected class indices in 0\.\.3 \(q = 4 classes\), received 4 at index \(1, 0\)"):
        S.encoder_decoder_loss(ELMAN, np.zeros((2, 1, 2)), np.array([[1], [4]]), ps)
    with pytest.raises(ValueError, match=r"state_0: expected the decoder's initial state"):
        S.decode_greedy(ELMAN, ps, None, eos=1, max_len=3)
    with pytest.raises(ValueError, match=r"targets: expected class indices in 0\.\.1 .* received 7"):
        A.one_to_many_loss(ELMAN, np.zeros((1, 2)), A.init_params(ELMAN, 4, 3, 2, rng), np.array([[0], [7]]))
    with pytest.raises(ValueError, match=r"mask: expected at least one real position"):
        accuracy(np.zeros((2, 3)), np.zeros(2, int), mask=np.zeros(2))


def test_inputs_are_not_modified():
    rng = np.random.default_rng(14)
    p = S.init_seq2seq_params(ELMAN, 2, 3, 3, rng)
    xs, targets = rng.normal(size=(3, 2, 2)), rng.integers(0, 3, (2, 2))
    before = ({k: v.copy() for k, v in p.items()}, xs.copy(), targets.copy())
    S.encoder_decoder_loss(ELMAN, xs, targets, p, lengths=[3, 1])
    S.greedy_decode(ELMAN, xs, p, eos=1, max_len=3)
    assert all(np.array_equal(p[k], before[0][k]) for k in p)
    assert np.array_equal(xs, before[1]) and np.array_equal(targets, before[2])


# ----------------------------------------------------------------------------- training loop and figures

def test_fit_reduces_the_loss_and_clips():
    rng = np.random.default_rng(15)
    p = A.init_params(ELMAN, 3, 8, 2, rng)
    x = rng.normal(size=(32, 3))
    labels = (x[:, 0] * x[:, 1] > 0).astype(int)  # XOR-like: needs the hidden layer
    p, losses = A.fit(lambda p, step: A.one_to_one_loss(ELMAN, x, p, labels), p, steps=300, lr=0.05)
    assert losses[-1] < 0.3 * losses[0]
    with pytest.raises(ValueError, match="steps: expected a positive integer"):
        A.fit(lambda p, step: (0.0, p), p, steps=0)
    big = {k: np.full_like(v, 1e6) for k, v in p.items()}
    p2, _ = A.fit(lambda q_, step: (0.0, big), p, steps=1, lr=0.1, clip=1.0)
    # Adam's first step moves each weight by lr whatever the scale; clipping must keep it finite
    assert all(np.all(np.isfinite(p2[k])) for k in p2)


def test_draw_architecture_every_kind_and_bad_kinds():
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from rnn_tutor import plots
    for kind in plots.ARCHITECTURE_KINDS:
        ax = plots.draw_architecture(kind)
        assert len(ax.patches) >= 3 and kind.split("-")[0] in ax.get_title()
        plt.close(ax.figure)
    ax = plots.draw_architecture("encoder-decoder", n_in=2, n_out=3)
    labels = [t.get_text() for t in ax.texts]
    assert "$x_2$" in labels and "$y_3$" in labels and "$x_3$" not in labels
    plt.close(ax.figure)
    with pytest.raises(ValueError, match=r"kind: expected one of \('one-to-one'"):
        plots.draw_architecture("two-to-two")
    with pytest.raises(ValueError, match=r"n_out: 'many-to-many' needs n_in == n_out"):
        plots.draw_architecture("many-to-many", n_in=2, n_out=3)
    with pytest.raises(ValueError, match=r"n_in: expected an integer number of steps in 1\.\.12"):
        plots.draw_architecture("many-to-one", n_in=0)


def test_softmax_cross_entropy_gradient_matches_sympy():
    """∂(-log softmax(o)_c)/∂o_k = p_k - [k = c], derived symbolically for q = 3 and evaluated."""
    sp = pytest.importorskip("sympy")
    o = sp.symbols("o0:3")
    values = {o[0]: 0.3, o[1]: -1.2, o[2]: 2.0}
    for c in range(3):
        loss = -sp.log(sp.exp(o[c]) / sum(sp.exp(v) for v in o))
        symbolic = np.array([float(sp.diff(loss, v).subs(values)) for v in o])
        _, d = softmax_cross_entropy(np.array([[0.3, -1.2, 2.0]]), np.array([c]))
        np.testing.assert_allclose(d[0], symbolic, rtol=1e-12)
        assert float(loss.subs(values)) == pytest.approx(softmax_cross_entropy(np.array([[0.3, -1.2, 2.0]]), np.array([c]))[0])


# ----------------------------------------------------------------------------- bad arguments (regressions)

@pytest.mark.parametrize("forward", [A.many_to_one_forward, A.many_to_many_forward])
@pytest.mark.parametrize("name", ["elman", "gru", "lstm"])
def test_state_0_is_checked_against_the_cells_state(forward, name):
    # regression: a state_0 with m + 1 columns leaked NumPy's matmul error
    cell = CELLS[name]
    rng = np.random.default_rng(0)
    xs, p = rng.normal(size=(5, 3, 2)), A.init_params(cell, 2, 4, 3, rng)
    wide = (np.zeros((3, 4)), np.zeros((3, 5))) if name == "lstm" else np.zeros((3, 5))
    with pytest.raises(ValueError, match=r"state_0(\[1\])?: expected shape \(N, m\) = \(3, 4\), received shape \(3, 5\)"):
        forward(cell, xs, p, state_0=wide)
    if name == "lstm":
        with pytest.raises(ValueError, match=r"state_0: expected the lstm cell's state .*received an array"):
            forward(cell, xs, p, state_0=np.zeros((3, 4)))


@pytest.mark.parametrize("bad", [None, "abc"])
def test_elman_cell_names_a_bad_w_h_not_state_0(bad):
    # regression: with a state_0, params['w_h'] = None was reported as "state_0: expected shape (3, 1)"
    rng = np.random.default_rng(0)
    params = {**ELMAN.init_params(2, 4, rng), "w_h": bad}
    with pytest.raises(TypeError, match=r"params\['w_h'\]: expected an array of numbers"):
        ELMAN.forward(rng.normal(size=(5, 3, 2)), params, np.zeros((3, 4)))


def test_cell_forward_names_a_ragged_xs_given_with_a_state():
    # regression: np.shape(xs) on a ragged list leaked NumPy's "inhomogeneous shape" error (GRU, LSTM: their tests)
    cell = ELMAN
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(5, 3, 2)).tolist()
    xs[0] = xs[0][:-1]
    state = cell.init_state(3, 4)
    with pytest.raises(ValueError, match=r"^xs: expected an array of numbers, received a list that NumPy cannot turn"):
        cell.forward(xs, cell.init_params(2, 4, rng), state)


def test_fit_names_a_loss_and_grads_with_the_wrong_signature():
    # regression: Python's "takes 1 positional argument but 2 were given" from inside the loop
    p = A.init_params(ELMAN, 2, 3, 2, np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"loss_and_grads: expected a function called as loss_and_grads\(params, step\), "
                                        r"received a function with the signature \(p\)"):
        A.fit(lambda p: (0.0, p), p, steps=1)
    A.fit(lambda p, *args: (0.0, {k: np.zeros_like(v) for k, v in p.items()}), p, steps=1)  # *args can take step


def test_fit_blames_loss_and_grads_for_its_gradients_and_its_inner_errors():
    rng = np.random.default_rng(0)
    p = A.init_params(ELMAN, 2, 3, 2, rng)
    wrong = lambda params, step: (0.0, {k: np.zeros(v.shape + (1,)) for k, v in params.items()})  # noqa: E731
    with pytest.raises(ValueError, match=r"^loss_and_grads: expected grads\['w_x'\] of shape \(3, 2\) \(the shape of "
                                         r"params\['w_x'\]\), received shape \(3, 2, 1\) at step 0\."):
        A.fit(wrong, p, steps=1)
    xs, labels = rng.normal(size=(4, 2, 2)), np.array([0, 1])
    wide = {**p, "w_x": np.zeros((3, 3))}  # the parameters read d = 3 features, the data has 2
    with pytest.raises(ValueError, match=r"^loss_and_grads: the call loss_and_grads\(params, step=0\) raised "
                                         r"ArgumentError: xs: expected shape \(\*, \*, 3\)") as info:
        A.fit(lambda params, step: A.many_to_one_loss(ELMAN, xs, params, labels), wide, steps=1)
    assert info.value.argument == "loss_and_grads" and info.value.__cause__.argument == "xs"
    missing = {k: v for k, v in p.items() if k != "b_y"}  # an error about params names fit's own params
    with pytest.raises(ValueError, match=r"^params: missing output-layer key\(s\) \['b_y'\]"):
        A.fit(lambda params, step: A.many_to_one_loss(ELMAN, xs, params, labels), missing, steps=1)


def test_check_cell_state_against_a_cell():
    from rnn_tutor.cells import check_cell_state
    lstm = CELLS["lstm"]
    h = np.ones((3, 4))
    state = check_cell_state((h, None), 3, cell=lstm, width=4)  # None: that part is zeros
    assert state[0] is not None and np.array_equal(state[1], np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"state_0\[1\]: expected shape \(N, m\) = \(3, 4\), received shape \(3, 5\)"):
        check_cell_state([h, np.zeros((3, 5))], 3, cell=lstm, width=4)  # a list of arrays is a tuple state
    with pytest.raises(ValueError, match=r"width: expected cell and width together \(or neither\), received only cell"):
        check_cell_state(h, 3, cell=ELMAN)
    with pytest.raises(TypeError, match=r"cell: expected a rnn_tutor.cells.Cell"):
        check_cell_state(h, 3, cell="elman", width=4)
    np.testing.assert_array_equal(check_cell_state(h.tolist(), 3), h)  # rows of numbers: one (N, m) state
