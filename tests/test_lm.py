"""The language model of lesson 08: vocabulary, splits, masked cross-entropy, baselines, gradients."""

import numpy as np
import pytest

from rnn_tutor import lm
from rnn_tutor.charlm import load_text
from rnn_tutor.gradcheck import numerical_gradients, rel_error

TEXT = "ab ba\nab\n\nba b\nbb\n\ncab\nab a\n\naa\nb"


def test_vocabulary_has_specials_and_unknown():
    vocab = lm.build_vocabulary("hello\n")
    assert vocab.tokens[:3] == lm.SPECIALS and vocab.V == 3 + 5
    ids = vocab.encode("help!")
    assert list(ids[-2:]) == [vocab.tokens.index("p") if "p" in vocab.tokens else lm.UNK, lm.UNK]
    assert vocab.decode(vocab.encode("hole")) == "hole"
    assert lm.build_vocabulary("aab", min_count=2).tokens == lm.SPECIALS + ("a",)
    with pytest.raises(ValueError, match="min_count"):
        lm.build_vocabulary("a", min_count=0)


def test_split_holds_out_whole_sonnets():
    text = load_text()
    train, val, test = lm.split_sonnets(text, 1, 2, np.random.default_rng(0))
    assert (len(train), len(val), len(test)) == (9, 1, 2)
    sonnets = [s.strip("\n") for s in text.strip().split("\n\n")]
    assert sorted(train + val + test) == sorted(sonnets)
    assert not set(train) & set(val + test)
    with pytest.raises(ValueError, match="n_val \\+ n_test < 12"):
        lm.split_sonnets(text, 6, 6, np.random.default_rng(0))


def test_make_batch_inputs_targets_and_mask():
    vocab = lm.build_vocabulary("ab\n")
    x, y, mask = lm.make_batch(["ab\nb"], vocab)
    a, b, nl = vocab.encode("ab\n")
    np.testing.assert_array_equal(x, [[lm.BOS, lm.BOS], [a, b], [b, lm.PAD]])
    np.testing.assert_array_equal(y, [[a, b], [b, nl], [nl, lm.PAD]])
    np.testing.assert_array_equal(mask, [[1, 1], [1, 1], [1, 0]])


def test_perplexity_ignores_padding():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 2, 4))
    targets, mask = np.array([[1, 2], [0, 3], [2, 0]]), np.array([[1, 1], [1, 1], [1, 0.0]])
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = [logp[t, n, targets[t, n]] for t in range(3) for n in range(2) if mask[t, n]]
    assert abs(lm.cross_entropy(logits, targets, mask) + np.mean(picked)) < 1e-12
    logits2 = logits.copy()
    logits2[2, 1] = 100.0  # padding: any value
    assert lm.perplexity(logits2, targets, mask) == pytest.approx(np.exp(-np.mean(picked)), rel=1e-12)


def test_count_baselines():
    V = 4
    x, y, mask = np.array([[2, 2], [3, 1]]), np.array([[3, 1], [3, 0]]), np.array([[1, 1], [1, 0.0]])
    uni = lm.unigram_log_probs(y, mask, V, alpha=1.0)
    np.testing.assert_allclose(np.exp(uni), np.array([1, 2, 1, 3]) / 7)
    big = lm.bigram_log_probs(x, y, mask, V, alpha=0.5)
    np.testing.assert_allclose(np.exp(big[2]), np.array([0.5, 1.5, 0.5, 1.5]) / 4)
    np.testing.assert_allclose(np.exp(big).sum(axis=1), 1)
    assert lm.baseline_cross_entropy(lm.uniform_log_probs(V), x, y, mask) == pytest.approx(np.log(4))
    assert lm.baseline_cross_entropy(big, x, y, mask) == pytest.approx(-(big[2, 3] + big[2, 1] + big[3, 3]) / 3)
    with pytest.raises(ValueError, match="alpha"):
        lm.unigram_log_probs(y, mask, V, alpha=0)


@pytest.mark.parametrize("n_layers, dropout", [(1, 0.0), (2, 0.0), (2, 0.3), (3, 0.5)])
def test_gradients_match_finite_differences(n_layers, dropout):
    V, e, m = 6, 3, 4
    params = lm.init_lm(V, e, m, n_layers, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    x = rng.integers(0, V, size=(5, 3))
    x[:, 0] = 2  # a repeated token
    y = rng.integers(0, V, size=(5, 3))
    mask = np.ones((5, 3))
    mask[3:, 1] = 0
    loss = lambda p: lm.lm_loss(p, x, y, mask, dropout, np.random.default_rng(7))  # noqa: E731  same masks every call
    _, grads = loss(params)
    numeric = numerical_gradients(lambda p: loss(p)[0], params)
    assert set(grads) == set(params)
    for k in params:
        assert rel_error(grads[k], numeric[k]) < 1e-7, k


def test_parameter_count_and_forward_shapes():
    for L in (1, 2, 3):
        p = lm.init_lm(7, 3, 5, L, np.random.default_rng(0))
        assert sum(v.size for v in p.values()) == lm.count_lm_params(7, 3, 5, L)
    os_, states, _ = lm.lm_forward(p, np.zeros((4, 2), int))
    assert os_.shape == (4, 2, 7) and len(states) == 3
    logp, _ = lm.lm_step(p, np.array([1, 2]))
    np.testing.assert_allclose(np.exp(logp).sum(1), 1)
    with pytest.raises(ValueError, match="dropout"):
        lm.lm_forward(p, np.zeros((1, 1), int), dropout=1.0)
    with pytest.raises(ValueError, match="params: expected keys 'w_e'"):
        lm.lm_forward({"w_e": np.zeros((2, 2))}, np.zeros((1, 1), int))


def test_step_by_step_equals_whole_sequence():
    p = lm.init_lm(5, 2, 3, 2, np.random.default_rng(4))
    x = np.random.default_rng(5).integers(0, 5, size=(6, 2))
    whole = lm.lm_forward(p, x)[0]
    states, steps = None, []
    for t in range(6):
        logp, states = lm.lm_step(p, x[t], states)
        steps.append(logp)
    np.testing.assert_allclose(np.stack(steps), whole - np.log(np.exp(whole).sum(-1, keepdims=True)), atol=1e-12)


def test_training_lowers_validation_loss_and_generate_stops_at_newline():
    text = load_text()
    tr, va, _ = lm.split_sonnets(text, 1, 1, np.random.default_rng(0))
    vocab = lm.build_vocabulary("\n".join(tr))
    train, val = lm.make_batch(tr, vocab), lm.make_batch(va, vocab)
    p = lm.init_lm(vocab.V, 8, 16, 1, np.random.default_rng(0))
    p, hist = lm.train_lm(p, train, val, 30, np.random.default_rng(1), batch_size=16, eval_every=10)
    assert list(hist["step"]) == [10, 20, 30] and hist["loss"].size == 30
    assert hist["val"][-1] < np.log(vocab.V) - 0.3
    lines = lm.generate(p, vocab, 3, 40, lambda lp, rng: lp.argmax(1), np.random.default_rng(0))
    assert len(lines) == 3 and all("\n" not in s and len(s) <= 40 for s in lines)


def test_cross_entropy_matches_torch_ignore_index():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(4, 3, 5)) * 3
    targets = rng.integers(0, 5, size=(4, 3))
    mask = (rng.random((4, 3)) < 0.7).astype(float)
    mask[0, 0] = 1
    ours = lm.cross_entropy(logits, targets, mask)
    t_targets = torch.from_numpy(np.where(mask > 0, targets, -100))
    theirs = torch.nn.functional.cross_entropy(torch.from_numpy(logits).reshape(-1, 5), t_targets.reshape(-1),
                                               ignore_index=-100)
    assert abs(ours - theirs.item()) < 1e-10


def test_stacked_model_matches_torch():
    torch = pytest.importorskip("torch")
    V, e, m, L = 6, 3, 4, 2
    p = lm.init_lm(V, e, m, L, np.random.default_rng(0))
    x = np.random.default_rng(1).integers(0, V, size=(5, 2))
    y = np.random.default_rng(2).integers(0, V, size=(5, 2))
    mask = np.ones((5, 2))
    mask[4, 1] = 0
    Lnp, grads = lm.lm_loss(p, x, y, mask)
    tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in p.items()}
    rnn = torch.nn.RNN(e, m, num_layers=L, bias=True).double()
    with torch.no_grad():
        for layer in range(L):
            getattr(rnn, f"bias_hh_l{layer}").zero_()
    weights = {f"weight_ih_l{i}": tp[f"w_x_{i + 1}"] for i in range(L)}
    weights.update({f"weight_hh_l{i}": tp[f"w_h_{i + 1}"] for i in range(L)})
    weights.update({f"bias_ih_l{i}": tp[f"b_h_{i + 1}"] for i in range(L)})
    weights.update({f"bias_hh_l{i}": torch.zeros(m, dtype=torch.float64) for i in range(L)})
    xs = torch.nn.functional.embedding(torch.from_numpy(x), tp["w_e"])
    hs, _ = torch.func.functional_call(rnn, weights, (xs,))
    os_ = hs @ tp["w_y"].T + tp["b_y"]
    t = torch.from_numpy(np.where(mask > 0, y, -100)).reshape(-1)
    loss = torch.nn.functional.cross_entropy(os_.reshape(-1, V), t, ignore_index=-100)
    loss.backward()
    assert abs(loss.item() - Lnp) < 1e-10
    for k in p:
        np.testing.assert_allclose(grads[k], tp[k].grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)


def test_bad_arguments_are_named():
    vocab = lm.build_vocabulary("ab\n")
    batch = lm.make_batch(["ab"], vocab)
    p = lm.init_lm(vocab.V, 2, 3, 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="steps: expected a positive integer"):
        lm.train_lm(p, batch, batch, 0, np.random.default_rng(0), batch_size=1)
    with pytest.raises(ValueError, match="val: expected \\(inputs, targets, mask\\)"):
        lm.train_lm(p, batch, None, 1, np.random.default_rng(0), batch_size=1)
    with pytest.raises(ValueError, match="sonnets: expected a list of strings"):
        lm.make_batch("ab", vocab)
    with pytest.raises(ValueError, match="vocab: expected a vocabulary holding the newline"):
        lm.make_batch(["ab"], lm.build_vocabulary("ab"))
    with pytest.raises(ValueError, match="max_len"):
        lm.generate(p, vocab, 1, 0, lambda lp, rng: lp.argmax(1), np.random.default_rng(0))


def test_baselines_validate_their_arguments():
    y, mask = np.array([[1, 2]]), np.ones((1, 2))
    with pytest.raises(ValueError, match="mask: expected shape"):
        lm.unigram_log_probs(y, np.ones(3), 4)
    with pytest.raises(ValueError, match="inputs: expected shape"):
        lm.bigram_log_probs(np.array([1]), y, mask, 4)
    with pytest.raises(ValueError, match=r"log_probs: expected a unigram \(V,\) or a bigram table"):
        lm.baseline_cross_entropy(np.zeros((2, 3)), y, y, mask)
    with pytest.raises(ValueError, match="V: expected a positive integer"):
        lm.uniform_log_probs(0)
    with pytest.raises(ValueError, match="text: expected a string"):
        lm.build_vocabulary("ab").encode(["a"])


# ----------------------------------------------------------------------------- bad input (issue 16, fuzz report)

def _small_model():
    vocab = lm.build_vocabulary(TEXT)
    return vocab, lm.init_lm(vocab.V, 3, 4, 1, np.random.default_rng(0))


def test_generate_refuses_sizes_whose_product_is_too_large():
    vocab, p = _small_model()
    with pytest.raises(ValueError, match=r"^max_len: expected sizes whose generated tokens \(max_len, n_lines\) has at most "
                                         r"MAX_ELEMENTS"):
        lm.generate(p, vocab, 100_000, 100_000, lambda lp, rng: lp.argmax(1), np.random.default_rng(0))


@pytest.mark.parametrize("bad, match", [
    (lambda lp, rng: np.full(len(lp), 1.5), r"choose: expected it to return integer token ids, received non-integer"),
    (lambda lp, rng: np.full(len(lp), 10**6), r"choose: expected it to return token ids in 0\.\.7 \(V = 8\), received 1000000"),
    (lambda lp, rng: np.full(len(lp), -1), r"choose: expected it to return token ids in 0\.\.7 \(V = 8\), received -1"),
    (lambda lp, rng: np.zeros((2, 2), int), r"choose: expected it to return \(N,\) = \(2,\) token ids in 0\.\.7, received shape \(2, 2\)"),
    (lambda lp, rng: None, r"choose: expected it to return \(N,\) = \(2,\) token ids in 0\.\.7, received None"),
    (lambda lp, rng: [[1], [1, 2]], r"choose: expected it to return .*uneven length"),
])
def test_generate_blames_choose_for_what_it_returns(bad, match):
    vocab, p = _small_model()
    with pytest.raises(ValueError, match=match) as info:
        lm.generate(p, vocab, 2, 5, bad, np.random.default_rng(0))
    assert info.value.argument == "choose"


def test_generate_accepts_a_list_from_choose():
    vocab, p = _small_model()
    argmax = lambda lp, rng: lp.argmax(1)  # noqa: E731
    want = lm.generate(p, vocab, 2, 5, argmax, np.random.default_rng(0))
    assert lm.generate(p, vocab, 2, 5, lambda lp, rng: argmax(lp, rng).tolist(), np.random.default_rng(0)) == want


def test_an_overflowing_forward_pass_names_params_instead_of_returning_inf():
    import warnings
    vocab, p = _small_model()
    huge = {k: v * 1e300 for k, v in p.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"^params\['w_e'\]: expected values small enough for lm_forward") as info:
            lm.lm_forward(huge, np.ones((3, 2), int))
        assert isinstance(info.value, FloatingPointError) and info.value.argument == "params"
        with pytest.raises(ValueError, match=r"^params\['w_e'\]: expected values small enough"):
            lm.generate(huge, vocab, 2, 5, lambda lp, rng: lp.argmax(1), np.random.default_rng(0))
        batch = lm.make_batch(TEXT.split("\n\n"), vocab)
        with pytest.raises(ValueError, match=r"^params\['w_e'\]: expected values small enough for lm_loss"):
            lm.train_lm(huge, batch, batch, 2, np.random.default_rng(0), batch_size=2)  # the caller's parameters
        with pytest.raises(FloatingPointError, match=r"^training stopped at update [2-9]"):
            lm.train_lm(p, batch, batch, 5, np.random.default_rng(0), batch_size=2, lr=1e300)  # Adam's steps


def test_baseline_cross_entropy_refuses_a_mask_of_zeros():
    vocab = lm.build_vocabulary(TEXT)
    inputs, targets, mask = lm.make_batch(TEXT.split("\n\n"), vocab)
    log_probs = lm.unigram_log_probs(targets, mask, vocab.V)
    with pytest.raises(ValueError, match=r"^mask: expected at least one real position"):
        lm.baseline_cross_entropy(log_probs, inputs, targets, np.zeros_like(mask))


def test_perplexity_beyond_float64_names_logits():
    logits = np.random.default_rng(0).normal(size=(3, 2, 5)) * 1e300
    with pytest.raises(ValueError, match=r"^logits: expected logits whose perplexity fits in float64"):
        lm.perplexity(logits, np.zeros((3, 2), int), np.ones((3, 2)))


def test_train_lm_takes_a_0d_integer_batch_size():
    vocab, p = _small_model()
    batch = lm.make_batch(TEXT.split("\n\n"), vocab)
    a = lm.train_lm(p, batch, batch, 2, np.random.default_rng(0), batch_size=2)[1]["loss"]
    b = lm.train_lm(p, batch, batch, 2, np.random.default_rng(0), batch_size=np.array(2))[1]["loss"]
    np.testing.assert_array_equal(a, b)


def test_bigram_inputs_are_checked_like_targets():
    y, mask = np.array([[1, 2], [2, 1]]), np.ones((2, 2))
    with pytest.raises(ValueError, match=r"^inputs: "):
        lm.bigram_log_probs([[True, 2], [2, 1]], y, mask, 4)
    with pytest.raises(ValueError, match=r"^inputs: "):
        lm.bigram_log_probs(np.array([[0.5, 2], [2, 1]]), y, mask, 4)
