"""The validation layer and the cases of issue 16: every bad input gets the library's error naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_tutor import architectures as A
from rnn_tutor import charlm, heads, masking, optim, rnn, seq2seq, tasks, truncated
from rnn_tutor.activations import sigmoid
from rnn_tutor.bptt import rnn_backward
from rnn_tutor.cells import ELMAN
from rnn_tutor.longlag import train_last_step
from rnn_tutor.validation import (MAX_ITERATIONS, MAX_SIZE, ArgumentError, ArgumentTypeError, Cache,
                                  NonFiniteArgumentError, NonFiniteError, as_float_array, check_array, check_cache,
                                  check_int, check_probability, check_real, check_rng)

RNG = np.random.default_rng(0)
P = rnn.init_params(2, 4, 3, np.random.default_rng(1))
XS = np.random.default_rng(2).normal(size=(5, 3, 2))


def raises(exc, argument, call):
    """``call()`` raises ``exc`` (a library error) whose argument and message name ``argument``."""
    with pytest.raises(exc) as info:
        call()
    err = info.value
    assert str(err).startswith(argument), str(err)
    if isinstance(err, ArgumentError):
        assert err.argument.startswith(argument.split("[")[0])
    return err


# ----------------------------------------------------------------------------- the error classes

def test_the_error_classes_are_value_errors_so_learners_except_clauses_work():
    assert issubclass(ArgumentError, ValueError)
    assert issubclass(ArgumentTypeError, ValueError) and issubclass(ArgumentTypeError, TypeError)
    assert issubclass(NonFiniteArgumentError, ValueError) and issubclass(NonFiniteArgumentError, FloatingPointError)
    assert issubclass(NonFiniteError, FloatingPointError)


@pytest.mark.parametrize("value,kind", [(None, ArgumentTypeError), ("abc", ArgumentTypeError),
                                        (np.ones(3) + 1j, ArgumentTypeError), (np.array([1, None]), ArgumentTypeError),
                                        (np.ones(3, bool), ArgumentTypeError), ([[1, 2], [3]], ArgumentError)])
def test_as_float_array_refuses_what_is_not_an_array_of_real_numbers(value, kind):
    err = raises(kind, "xs", lambda: as_float_array(value, "xs"))
    assert "expected an array of numbers" in str(err)


def test_as_float_array_accepts_lists_ints_and_float32():
    assert as_float_array([1, 2], "xs").dtype == np.float64
    assert as_float_array(np.ones(2, np.float32), "xs").dtype == np.float64
    assert as_float_array(np.ones(2, bool), "mask", allow_bool=True).tolist() == [1.0, 1.0]


def test_check_array_names_shape_and_the_first_non_finite_entry():
    err = raises(ArgumentError, "xs", lambda: check_array(np.ones((2, 3)), "xs", shape=(2, 4), names=("N", "d")))
    assert "expected shape (2, 4), received shape (2, 3); the axes are (N, d)" in str(err)
    bad = np.zeros((2, 2))
    bad[1, 0] = np.nan
    err = raises(NonFiniteArgumentError, "xs", lambda: check_array(bad, "xs"))
    assert "nan at index (1, 0)" in str(err)


@pytest.mark.parametrize("value,kind", [(1.5, ArgumentTypeError), (True, ArgumentTypeError), ("3", ArgumentTypeError),
                                        (0, ArgumentError), (MAX_SIZE + 1, ArgumentError)])
def test_check_int_refuses_floats_bools_and_out_of_range(value, kind):
    err = raises(kind, "m", lambda: check_int(value, "m"))
    assert "positive integer" in str(err)


def test_limits_are_documented_in_the_messages():
    assert "MAX_SIZE" in str(raises(ArgumentError, "T", lambda: check_int(10**12, "T")))
    assert "MAX_ITERATIONS" in str(raises(ArgumentError, "steps", lambda: check_int(10**12, "steps", 1, MAX_ITERATIONS)))


def test_check_real_probability_and_rng():
    raises(NonFiniteArgumentError, "lr", lambda: check_real(float("nan"), "lr"))
    raises(ArgumentTypeError, "lr", lambda: check_real(1j, "lr"))
    raises(ArgumentError, "p", lambda: check_probability(1.5, "p"))
    raises(ArgumentTypeError, "rng", lambda: check_rng(0))
    raises(ArgumentTypeError, "rng", lambda: check_rng(np.random.RandomState(0)))


def test_a_cache_from_another_function_is_named_as_such():
    cache = Cache("rnn_step", {"x_t": 1})
    err = raises(ArgumentError, "cache", lambda: check_cache(cache, "rnn_forward"))
    assert "the cache returned by rnn_forward" in str(err) and "the cache of rnn_step" in str(err)
    _, _, c = rnn.rnn_step(XS[0], None, P)
    assert "cache of rnn_step" in str(raises(ArgumentError, "cache", lambda: rnn_backward(None, c)))


# ----------------------------------------------------------------------------- training stops

def _one_to_one():
    x, labels = RNG.normal(size=(4, 2)), np.array([0, 1, 2, 0])
    return x, labels, A.init_params(ELMAN, 2, 4, 3, np.random.default_rng(3))


def test_fit_stops_on_an_inf_gradient_without_clipping_naming_step_and_parameter():
    x, labels, p0 = _one_to_one()

    def loss(p, step):
        L, g = A.one_to_one_loss(ELMAN, x, p, labels)
        if step == 2:
            g = {**g, "w_h": np.full_like(g["w_h"], np.inf)}
        return L, g

    err = raises(NonFiniteError, "training stopped at step 2", lambda: A.fit(loss, p0, steps=5, clip=None))
    assert err.step == 2 and err.parameter == "w_h" and "learning rate" in str(err) and "clip" in str(err)


def test_fit_stops_on_a_nan_loss_and_on_inf_initial_parameters():
    x, labels, p0 = _one_to_one()
    with pytest.raises(FloatingPointError, match="step 0: the loss is nan"):
        A.fit(lambda p, step: (float("nan"), A.one_to_one_loss(ELMAN, x, p, labels)[1]), p0, steps=3)
    bad = {**p0, "w_x": p0["w_x"].copy()}
    bad["w_x"][0, 0] = np.inf
    with pytest.raises(FloatingPointError, match="initial parameters.*'w_x'"):
        A.fit(lambda p, step: A.one_to_one_loss(ELMAN, x, p, labels), bad, steps=3)


def test_train_last_step_raises_instead_of_returning_nan_parameters():
    p0 = rnn.init_params(1, 8, 1, np.random.default_rng(0))
    p0["w_h"], p0["b_h"] = 3.0 * np.eye(8), np.zeros(8)
    with pytest.raises(FloatingPointError, match="training stopped at step"):
        train_last_step("recall", 30, np.random.default_rng(1), params=p0, steps=50, lr=1.0, optimizer="sgd", f="relu")


def test_optimisers_refuse_non_finite_gradients_and_bad_hyper_parameters():
    g = {k: np.full_like(v, np.nan) for k, v in P.items()}
    err = raises(NonFiniteError, "grads['w_x']", lambda: optim.sgd_step(P, g, 0.1))
    assert err.parameter == "w_x"
    state = optim.adam_init(P)
    ok = {k: np.ones_like(v) for k, v in P.items()}
    raises(ArgumentError, "beta1", lambda: optim.adam_step(P, ok, state, beta1=1.0))
    raises(ArgumentError, "beta2", lambda: optim.adam_step(P, ok, state, beta2=-0.1))
    raises(ArgumentError, "eps", lambda: optim.adam_step(P, ok, state, eps=0.0))
    raises(ArgumentError, "lr", lambda: optim.sgd_step(P, ok, 0.0))
    raises(ArgumentTypeError, "grads['w_x']", lambda: optim.sgd_step(P, {**ok, "w_x": ok["w_x"] + 1j}, 0.1))
    new, _ = optim.adam_step(P, ok, state)
    assert all(np.isfinite(v).all() for v in new.values())


def test_train_charlm_and_tbptt_refuse_bad_counts():
    text = "abcabcabcabcabc"
    vocab = charlm.build_vocab(text)
    streams = charlm.make_streams(vocab.encode(text), 2)
    p0 = charlm.init_charlm(ELMAN, vocab.V, 4, np.random.default_rng(0))
    raises(ArgumentError, "epochs", lambda: charlm.train_charlm(ELMAN, p0, streams, vocab.V, k=2, epochs=-1))
    raises(ArgumentError, "max_updates", lambda: charlm.train_charlm(ELMAN, p0, streams, vocab.V, k=2, max_updates=0))
    err = raises(ArgumentTypeError, "cell", lambda: charlm.train_charlm("elman", p0, streams, vocab.V, k=2))
    assert "available_cells()['elman']" in str(err)
    ps = np.zeros((5, 3, 3))
    raises(ArgumentError, "epochs", lambda: truncated.train_tbptt(XS, ps, P, 2, epochs=10**12))


# ----------------------------------------------------------------------------- the silent acceptances

def test_complex_and_none_are_type_errors():
    raises(ArgumentTypeError, "xs", lambda: rnn.rnn_forward(XS + 1j, P))
    raises(ArgumentTypeError, "a", lambda: sigmoid(None))


def test_states_and_output_gradients_of_the_wrong_size_are_refused():
    p = A.init_params(ELMAN, 2, 4, 3, np.random.default_rng(4))
    raises(ArgumentError, "state_0", lambda: A.many_to_one_forward(ELMAN, XS, p, state_0=np.zeros((4, 4))))
    raises(ArgumentError, "state_0", lambda: A.many_to_many_forward(ELMAN, XS, p, state_0=np.zeros((4, 4))))
    _, cache = A.many_to_many_forward(ELMAN, XS, p)
    raises(ArgumentError, "dos", lambda: A.many_to_many_backward(np.zeros((3, 3)), cache))
    raises(ArgumentError, "dos", lambda: heads.dense_backward(1.5, np.zeros((3, 4)), np.zeros((3, 4))))
    assert "cache of many_to_many_forward" in str(raises(ArgumentError, "cache", lambda: A.many_to_one_backward(
        np.zeros((3, 3)), cache)))


def test_reductions_to_a_label_refuse_nan():
    logits = np.full((3, 4), np.nan)
    raises(NonFiniteArgumentError, "logits", lambda: heads.accuracy(logits, np.zeros(3, int)))
    p = seq2seq.init_seq2seq_params(ELMAN, 2, 4, 3, np.random.default_rng(5))
    raises(NonFiniteArgumentError, "xs", lambda: seq2seq.greedy_decode(ELMAN, np.full((5, 3, 2), np.nan), p, 2, 4))


def test_token_and_size_arguments_are_integral_and_in_range():
    raises(ArgumentError, "tokens", lambda: tasks.bag_of_words(np.array([[0, -1]]), [1, 1], 3))
    raises(ArgumentError, "lengths", lambda: tasks.bag_of_words(np.array([[0, 1]]), [1, 2], 3))
    raises(ArgumentError, "targets", lambda: seq2seq.teacher_forcing_inputs(np.array([[1.7]]), 3))
    raises(ArgumentError, "seqs[0]", lambda: masking.pad_tokens([[1.7]]))
    raises(ArgumentError, "d", lambda: rnn.count_params(-1, 3, 2))
    raises(ArgumentTypeError, "d", lambda: rnn.count_params(2.5, 3, 2))
    raises(ArgumentTypeError, "q", lambda: seq2seq.init_seq2seq_params(ELMAN, 2, 4, 2.0, np.random.default_rng(0)))
    raises(ArgumentError, "ps_window", lambda: truncated.window_loss_and_grads(XS[:4], np.zeros((3, 3, 3)), P))


def test_randomness_and_names():
    raises(ArgumentTypeError, "rng", lambda: tasks.sentiment_task(0, 5))
    raises(ArgumentTypeError, "rng", lambda: tasks.numbers_task(np.random.RandomState(0)))
    raises(ArgumentError, "name", lambda: charlm.load_text(""))
    err = raises(ArgumentError, "f", lambda: rnn.rnn_forward(XS, P, f="elu"))
    assert "'sigmoid', 'tanh', 'relu', 'identity'" in str(err)


def test_derive_and_verify_refuses_zero_points():
    from rnn_tutor.symbolic import derive_and_verify
    raises(ArgumentError, "n_points", lambda: derive_and_verify(1, n_points=0))


# ----------------------------------------------------------------------------- the independent fuzz run of 2026-12-07

@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_array_subclasses_become_plain_arrays_or_are_refused():
    """np.matrix makes ``*`` and ``**`` matrix products; a masked array hides entries: neither may leak through."""
    grads = {k: np.random.default_rng(3).normal(size=v.shape) for k, v in P.items()}
    from rnn_tutor.clipping import global_norm
    as_matrix = {**grads, "w_h": np.matrix(grads["w_h"])}
    assert global_norm(as_matrix) == pytest.approx(global_norm(grads), rel=1e-15)  # element-wise, not a matrix power
    new = optim.adam_step(P, as_matrix, optim.adam_init(P))[0]
    assert all(type(v) is np.ndarray for v in new.values())
    hs, _, _ = rnn.rnn_forward(np.ma.masked_array(XS), P)  # nothing masked: the entries are used
    np.testing.assert_array_equal(hs, rnn.rnn_forward(XS, P)[0])
    raises(ArgumentTypeError, "xs", lambda: rnn.rnn_forward(np.ma.masked_array(XS, mask=XS > 1), P))
    assert heads.softmax(np.matrix([[1.0, 2.0, 3.0]])).shape == (1, 3)
    assert type(as_float_array(np.matrix([[1, 2]]), "x")) is np.ndarray


def test_huge_integers_are_named_not_overflow_errors():
    raises(NonFiniteArgumentError, "lr", lambda: optim.sgd_step(P, P, 10**400))
    raises(NonFiniteArgumentError, "x", lambda: check_real(-10**400, "x"))


def test_ids_are_range_checked_before_the_cast_to_int64():
    """1e300 or 2**63 must be reported as passed, not as the wrapped-around -9223372036854775808."""
    logits = np.zeros((3, 3))
    for labels, shown in ((np.array([1e300, 0, 1]), "1e+300"), (np.array([2**63, 0, 1], dtype=np.uint64), str(2**63)),
                          (np.array([-1, 0, 1]), "-1")):
        with pytest.raises(ArgumentError) as info:
            heads.softmax_cross_entropy(logits, labels)
        assert info.value.argument == "labels" and f"received {shown} at index (0,)" in str(info.value), str(info.value)
        assert "-9223372036854775808" not in str(info.value)


def test_lists_holding_bools_are_refused_like_bool_arrays():
    raises(ArgumentTypeError, "labels", lambda: heads.softmax_cross_entropy(np.zeros((3, 3)), [True, 0, 1]))
    raises(ArgumentTypeError, "xs", lambda: rnn.rnn_forward([[[True, 0.5]]], P))
    assert as_float_array([[1, 2], (3.5, 4)], "x").dtype == np.float64  # numbers in lists and tuples are fine
