"""The embedding layer: lookup = one-hot product, scatter-add gradient, finite differences, PyTorch."""

import numpy as np
import pytest

from rnn_tutor.embedding import embedding_backward, embedding_forward, init_embedding, one_hot_embedding
from rnn_tutor.gradcheck import numerical_gradient, rel_error

SHAPES = [((1,), 1, 1), ((4,), 3, 2), ((5, 3), 4, 3), ((2, 3, 4), 6, 2)]  # (ids shape, V, e)


@pytest.mark.parametrize("shape, V, e", SHAPES)
def test_lookup_equals_one_hot_product(shape, V, e):
    rng = np.random.default_rng(0)
    w_e, ids = init_embedding(V, e, rng), rng.integers(0, V, size=shape)
    xs, _ = embedding_forward(ids, w_e)
    assert xs.shape == shape + (e,)
    np.testing.assert_allclose(xs, one_hot_embedding(ids, w_e), rtol=0, atol=1e-15)


@pytest.mark.parametrize("shape, V, e", SHAPES)
def test_backward_matches_finite_differences_with_repeated_tokens(shape, V, e):
    rng = np.random.default_rng(1)
    w_e = init_embedding(V, e, rng)
    ids = rng.integers(0, max(V // 2, 1), size=shape)  # few distinct tokens: many repeats
    G = rng.normal(size=shape + (e,))
    mask = (rng.random(shape) < 0.7).astype(float)
    loss = lambda w: float(np.sum(G * mask[..., None] * embedding_forward(ids, w)[0]))  # noqa: E731
    _, cache = embedding_forward(ids, w_e)
    dw_e = embedding_backward(G, cache, mask=mask)
    assert rel_error(dw_e, numerical_gradient(loss, w_e)) < 1e-7


def test_repeated_tokens_accumulate_and_unused_rows_stay_zero():
    w_e = np.arange(12.0).reshape(4, 3)
    _, cache = embedding_forward(np.array([[2, 2], [2, 0]]), w_e)
    dw_e = embedding_backward(np.ones((2, 2, 3)), cache)
    np.testing.assert_array_equal(dw_e, [[1, 1, 1], [0, 0, 0], [3, 3, 3], [0, 0, 0]])
    wrong = np.zeros((4, 3))
    wrong[cache["ids"].reshape(-1)] = np.ones((4, 3))  # fancy assignment keeps one of the three
    assert wrong[2, 0] == 1 != dw_e[2, 0]


def test_forward_returns_a_copy():
    w_e = np.ones((3, 2))
    xs, _ = embedding_forward(np.array([1]), w_e)
    xs += 5
    assert (w_e == 1).all()


@pytest.mark.parametrize("ids, match", [(np.array([0, 3]), r"ids: expected token ids in 0\.\.2 .* received 3 at index \(1,\)"),
                                        (np.array([-1]), "received -1"),
                                        (np.array([0.5]), "non-integer"),
                                        (np.array([True]), "received booleans")])
def test_bad_ids_are_named(ids, match):
    with pytest.raises(ValueError, match=match):
        embedding_forward(ids, np.zeros((3, 2)))


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"w_e: expected a 2-D array \(V, e\)"):
        embedding_forward([0], np.zeros(3))
    _, cache = embedding_forward(np.array([[0, 1]]), np.zeros((3, 2)))
    # the cache remembers e (the columns of w_e), so the expected shape is given in full
    with pytest.raises(ValueError, match=r"dxs: expected shape \(1, 2, 2\)"):
        embedding_backward(np.zeros((2, 2)), cache)
    with pytest.raises(ValueError, match="mask: expected shape"):
        embedding_backward(np.zeros((1, 2, 2)), cache, mask=np.ones(2))


def test_dxs_must_have_the_e_columns_of_the_forward_w_e():
    # regression: dxs with e + 1 columns was accepted and gave dw_e (V, e + 1) for a w_e (V, e)
    _, cache = embedding_forward(np.array([[0, 1], [2, 0]]), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"dxs: expected shape \(2, 2, 2\) .*e = 2.*received shape \(2, 2, 3\)"):
        embedding_backward(np.zeros((2, 2, 3)), cache)


@pytest.mark.parametrize("bad", [2.0, 0.5, -1.0])
def test_mask_must_hold_only_zeros_and_ones(bad):
    # regression: a "mask" of 2, 0.5 or -1 silently scaled the gradient; every other mask refuses it
    ids = np.array([[0, 1], [2, 0]])
    _, cache = embedding_forward(ids, np.zeros((3, 2)))
    mask = np.ones(ids.shape)
    mask[1, 0] = bad
    with pytest.raises(ValueError, match=r"mask: expected only 0 \(padding\) and 1"):
        embedding_backward(np.ones((2, 2, 2)), cache, mask=mask)
    bool_mask = embedding_backward(np.ones((2, 2, 2)), cache, mask=np.array([[True, True], [False, True]]))
    np.testing.assert_array_equal(bool_mask, [[2, 2], [1, 1], [0, 0]])  # booleans are 0/1 masks too (id 2 is masked)
    with pytest.raises(ValueError, match="V: expected a positive integer"):
        init_embedding(0, 2, np.random.default_rng(0))


@pytest.mark.parametrize("shape, V, e", SHAPES)
def test_matches_torch_embedding(shape, V, e):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    w_e, ids, G = init_embedding(V, e, rng), rng.integers(0, V, size=shape), rng.normal(size=shape + (e,))
    w_t = torch.tensor(w_e, dtype=torch.float64, requires_grad=True)
    x_t = torch.nn.functional.embedding(torch.from_numpy(ids), w_t)
    (x_t * torch.from_numpy(G)).sum().backward()
    xs, cache = embedding_forward(ids, w_e)
    np.testing.assert_allclose(xs, x_t.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(embedding_backward(G, cache), w_t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_backward_names_a_wrong_cache():
    with pytest.raises(ValueError, match="cache: expected the cache returned by embedding_forward"):
        embedding_backward(np.zeros((1, 2)), {"ids": np.zeros(1, int)})
