"""rnn_tutor.clipping: global-norm clipping, pure, overflow-safe, loud on non-finite gradients."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_tutor.clipping import clip_grad_norm, global_norm


def _grads(seed, scale=1.0):
    rng = np.random.default_rng(seed)
    shapes = {"w_x": (4, 2), "w_h": (4, 4), "b_h": (4,), "w_y": (3, 4), "b_y": (3,)}
    return {k: scale * rng.standard_normal(s) for k, s in shapes.items()}


def _flat(g):
    return np.concatenate([np.ravel(v) for v in g.values()])


@pytest.mark.parametrize("seed", range(5))
def test_global_norm_is_the_norm_of_all_entries(seed):
    g = _grads(seed)
    assert global_norm(g) == pytest.approx(np.linalg.norm(_flat(g)), rel=1e-14)


def test_global_norm_edge_cases():
    assert global_norm({}) == 0.0
    assert global_norm({"a": np.zeros((2, 2)), "b": np.array([])}) == 0.0
    assert global_norm({"a": np.array([1e200, 1e200])}) == pytest.approx(np.sqrt(2) * 1e200)  # no overflow
    assert global_norm({"a": np.full(4, 1e308)}) == np.inf  # the true norm exceeds float64
    assert global_norm({"a": np.array([1.0, np.inf])}) == np.inf
    assert np.isnan(global_norm({"a": np.array([1.0, np.nan])}))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("ratio", [0.05, 0.5, 0.999])
def test_clipping_caps_the_norm_and_keeps_the_direction(seed, ratio):
    g = _grads(seed, scale=10.0)
    norm = np.linalg.norm(_flat(g))
    clipped, total = clip_grad_norm(g, ratio * norm)
    assert total == pytest.approx(norm, rel=1e-14)
    assert np.linalg.norm(_flat(clipped)) == pytest.approx(ratio * norm, rel=1e-12)
    for k in g:  # one common factor for every parameter
        assert clipped[k].shape == g[k].shape
        assert np.allclose(clipped[k], g[k] * ratio, rtol=1e-12)


@pytest.mark.parametrize("ratio", [1.0, 1.5, np.inf])
def test_no_clipping_at_or_below_the_threshold(ratio):
    g = _grads(0)
    clipped, total = clip_grad_norm(g, ratio * np.linalg.norm(_flat(g)))
    for k in g:
        assert np.array_equal(clipped[k], g[k])
        assert clipped[k] is not g[k]  # new arrays all the same
    assert total == pytest.approx(np.linalg.norm(_flat(g)))


def test_inputs_are_never_modified():
    g = _grads(1, scale=100.0)
    before = {k: v.copy() for k, v in g.items()}
    clipped, _ = clip_grad_norm(g, 1.0)
    clipped["w_h"][0, 0] = 12345.0
    for k in g:
        assert np.array_equal(g[k], before[k])
    assert set(g) == set(before)


def test_all_zero_gradients():
    with np.errstate(all="raise"):
        clipped, total = clip_grad_norm({"a": np.zeros(3), "b": np.zeros((2, 2))}, 1.0)
    assert total == 0.0 and not np.any(clipped["a"]) and clipped["b"].shape == (2, 2)


def test_lists_and_ints_become_float_arrays():
    clipped, total = clip_grad_norm({"a": [3, 0], "b": [[4]]}, 1.0)
    assert total == 5.0
    assert np.allclose(clipped["a"], [0.6, 0.0]) and np.allclose(clipped["b"], [[0.8]])


def test_huge_but_finite_gradients_are_clipped_exactly():
    g = {"a": np.full((3, 3), 1e308), "b": np.array([-1e308])}  # the norm itself overflows float64
    with np.errstate(all="raise"):
        clipped, total = clip_grad_norm(g, 2.0)
    assert total == np.inf
    assert np.all(np.isfinite(_flat(clipped)))
    assert np.linalg.norm(_flat(clipped)) == pytest.approx(2.0)
    assert np.allclose(clipped["a"], 2.0 / np.sqrt(10)) and np.allclose(clipped["b"], -2.0 / np.sqrt(10))


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_non_finite_gradients_raise_floating_point_error(bad):
    g = _grads(2)
    g["w_h"][1, 2] = bad
    with pytest.raises(FloatingPointError, match=r"\['w_h'\]"):
        clip_grad_norm(g, 1.0)


@pytest.mark.parametrize("seed", range(20))
def test_never_returns_nan(seed):
    rng = np.random.default_rng(seed)
    g = {k: v * 10.0 ** rng.uniform(-300, 300) for k, v in _grads(seed).items()}
    clipped, total = clip_grad_norm(g, 10.0 ** rng.uniform(-5, 5))
    assert not np.isnan(total) and np.all(np.isfinite(_flat(clipped)))


@pytest.mark.parametrize("bad", [0, 0.0, -1.0, -np.inf, np.nan, True, "1.0", None, [1.0]])
def test_bad_threshold_raises_value_error(bad):
    with pytest.raises(ValueError, match=r"max_norm.*> 0.*received"):
        clip_grad_norm(_grads(0), bad)


def test_numpy_thresholds_are_accepted():
    g = {"a": np.array([3.0, 4.0])}
    for t in (np.float32(1.0), np.int64(1), np.array(1.0)):
        clipped, total = clip_grad_norm(g, t)
        assert total == 5.0 and np.allclose(clipped["a"], [0.6, 0.8])
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm(g, np.array([1.0]))


def test_bad_grads_raise_value_error():
    with pytest.raises(ValueError, match="grads: expected a dict"):
        clip_grad_norm([np.ones(3)], 1.0)
    with pytest.raises(ValueError, match=r"grads\['w_h'\]"):
        clip_grad_norm({"w_h": "big"}, 1.0)
    with pytest.raises(ValueError, match="grads: expected a dict"):
        global_norm(np.ones(3))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("ratio", [0.3, 2.0])
def test_against_torch_clip_grad_norm(seed, ratio):
    torch = pytest.importorskip("torch")
    g = _grads(seed, scale=5.0)
    max_norm = ratio * np.linalg.norm(_flat(g))
    tensors = [torch.nn.Parameter(torch.zeros(v.shape, dtype=torch.float64)) for v in g.values()]
    for t, v in zip(tensors, g.values()):
        t.grad = torch.tensor(v)
    total_torch = torch.nn.utils.clip_grad_norm_(tensors, max_norm)
    clipped, total = clip_grad_norm(g, max_norm)
    assert total == pytest.approx(float(total_torch), rel=1e-12)
    for t, k in zip(tensors, g):
        assert np.allclose(clipped[k], t.grad.numpy(), rtol=1e-6)  # torch divides by norm + 1e-6
