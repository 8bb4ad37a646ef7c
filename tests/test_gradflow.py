"""rnn_tutor.gradflow (+ its plots and explorer): Jacobian chains against independent references, and the theory."""

from __future__ import annotations

import functools

import matplotlib
import numpy as np
import pytest

from rnn_tutor import gradflow as G
from rnn_tutor.activations import get_activation
from rnn_tutor.bptt import rnn_backward
from rnn_tutor.gradcheck import numerical_gradient, rel_error
from rnn_tutor.rnn import init_params, rnn_forward

ACTS = ["tanh", "sigmoid", "relu", "identity"]


def _net(d, m, N, T, seed, scale=0.8, h0=True):
    rng = np.random.default_rng(seed)
    p = init_params(d, m, 2, rng, scale=scale)
    xs = rng.standard_normal((T, N, d))
    h_0 = 0.5 * rng.standard_normal((N, m)) if h0 else None
    return p, xs, h_0


def _fd_chain(p, xs, h_0, f, t):
    """Finite-difference ∂h_T/∂h_t: restart the forward pass at step t from a perturbed h_t (sequence 0)."""
    hs, _, _ = rnn_forward(xs, p, h_0=h_0, f=f)
    m = p["w_h"].shape[0]
    if t == xs.shape[0]:
        return np.eye(m)  # h_T depends on itself as the identity
    h_t = (np.zeros((xs.shape[1], m)) if h_0 is None and t == 0 else h_0 if t == 0 else hs[t - 1])[:1]
    rows = [numerical_gradient(lambda h, i=i: rnn_forward(xs[t:, :1], p, h_0=h, f=f)[0][-1, 0, i], h_t)[0]
            for i in range(m)]
    return np.stack(rows)


# ----------------------------------------------------------------------------- Jacobians and chains

@pytest.mark.parametrize("f", ACTS)
@pytest.mark.parametrize("d,m,N,T,h0", [(1, 1, 1, 1, False), (2, 3, 1, 4, True), (3, 4, 2, 5, True), (1, 5, 3, 1, True)])
def test_chain_matches_finite_differences(f, d, m, N, T, h0):
    p, xs, h_0 = _net(d, m, N, T, seed=m * 10 + T)
    _, _, cache = rnn_forward(xs, p, h_0=h_0, f=f)
    chain = G.jacobian_chain(G.elman_step_jacobians(cache))
    assert chain.shape == (T + 1, N, m, m)
    for t in range(T + 1):
        assert rel_error(chain[T - t, 0], _fd_chain(p, xs, h_0, f, t)) < 1e-6


@pytest.mark.parametrize("f", ["tanh", "sigmoid"])
def test_step_jacobian_is_diag_fprime_times_w_h(f):
    p, xs, h_0 = _net(2, 4, 3, 5, seed=1)
    _, _, cache = rnn_forward(xs, p, h_0=h_0, f=f)
    J = G.elman_step_jacobians(cache)
    fp = get_activation(f).deriv(cache["as_"])
    for t in range(5):
        for n in range(3):
            assert np.allclose(J[t, n], np.diag(fp[t, n]) @ p["w_h"])


def test_chain_agrees_with_bptt():
    p, xs, h_0 = _net(2, 5, 3, 7, seed=2)
    _, _, cache = rnn_forward(xs, p, h_0=h_0)
    chain = G.jacobian_chain(G.elman_step_jacobians(cache))
    u = np.random.default_rng(3).standard_normal((3, 5))
    dh0 = rnn_backward(None, cache, dh_T=u)["h_0"]
    expected = np.einsum("ni,nij->nj", u, chain[7])  # row n: u_n^T dh_T/dh_0
    assert rel_error(dh0, expected) < 1e-12


def test_chain_order_newest_on_the_left():
    rng = np.random.default_rng(0)
    js = rng.standard_normal((4, 3, 3))
    chain = G.jacobian_chain(js)
    assert np.allclose(chain[0], np.eye(3))
    assert np.allclose(chain[2], js[3] @ js[2])
    assert np.allclose(chain[4], functools.reduce(np.matmul, js[::-1]))
    assert not np.allclose(chain[4], functools.reduce(np.matmul, js))  # order matters for these matrices


def test_chain_against_torch_autograd():
    torch = pytest.importorskip("torch")
    p, xs, _ = _net(2, 4, 1, 6, seed=4)
    _, _, cache = rnn_forward(xs, p, f="tanh")
    chain = G.jacobian_chain(G.elman_step_jacobians(cache))[:, 0]
    hs = rnn_forward(xs, p)[0]
    w_x, w_h, b_h = (torch.tensor(p[k]) for k in ("w_x", "w_h", "b_h"))
    x = torch.tensor(xs[:, 0])
    for t in range(6):
        def h_T(h, t=t):
            for k in range(t, 6):
                h = torch.tanh(w_x @ x[k] + w_h @ h + b_h)
            return h
        h_t = torch.zeros(4, dtype=torch.float64) if t == 0 else torch.tensor(hs[t - 1, 0])
        jac = torch.autograd.functional.jacobian(h_T, h_t).numpy()
        assert rel_error(chain[6 - t], jac) < 1e-12


# ----------------------------------------------------------------------------- norms by distance

@pytest.mark.parametrize("ord", [2, "fro"])
def test_norms_equal_norms_of_the_chain(ord):
    p, xs, h_0 = _net(2, 6, 3, 9, seed=5, scale=1.2)
    _, _, cache = rnn_forward(xs, p, h_0=h_0)
    js = G.elman_step_jacobians(cache)
    chain = G.jacobian_chain(js)
    expected = np.linalg.norm(chain, ord, axis=(-2, -1))
    got = G.gradient_norms_by_distance(js, ord=ord)
    assert got.shape == (10, 3)
    assert np.allclose(got, expected, rtol=1e-10)
    assert np.allclose(G.gradient_norms_by_distance(js, ord=ord, log10=True), np.log10(expected), atol=1e-10)


def test_norms_beyond_float_range_are_exact_in_log10():
    rng = np.random.default_rng(6)
    q = np.linalg.qr(rng.standard_normal((4, 4)))[0]  # orthogonal: ‖(c q)^k‖ = c^k exactly
    tiny = np.stack([1e-20 * q] * 40)
    huge = np.stack([1e20 * q] * 40)
    with np.errstate(all="raise"):
        lt = G.gradient_norms_by_distance(tiny, log10=True)
        lh = G.gradient_norms_by_distance(huge, log10=True)
    assert np.allclose(lt, -20 * np.arange(41), atol=1e-9)
    assert np.allclose(lh, 20 * np.arange(41), atol=1e-9)
    plain = G.gradient_norms_by_distance(huge[:15])
    assert np.allclose(np.log10(plain), 20 * np.arange(16), atol=1e-9)  # up to 1e300: representable
    with pytest.raises(ValueError, match=r"^jacobians: .* distance k = 16 is 10\^320\. Pass log10=True"):
        G.gradient_norms_by_distance(huge)  # beyond float64: an error, never a silent inf
    assert G.gradient_norms_by_distance(tiny)[-1] == 0.0  # below float64: 0, the nearest float


def test_zero_jacobian_gives_zero_norm_and_minus_inf_log():
    js = np.stack([np.eye(3), np.zeros((3, 3)), np.eye(3)])
    with np.errstate(all="raise"):
        out = G.gradient_norms_by_distance(js, log10=True)
    assert np.allclose(out[:2], 0.0, atol=1e-12) and out[2] == -np.inf and out[3] == -np.inf
    assert np.allclose(G.gradient_norms_by_distance(js), [1.0, 1.0, 0.0, 0.0], atol=1e-12)


def test_generic_jacobians_from_any_cell():
    # e.g. an LSTM-like cell path: dc_t/dc_(t-1) = diag(forget gates), given as a plain list
    gates = [np.diag([0.9, 0.5]), np.diag([0.8, 0.5]), np.diag([0.95, 0.5])]
    norms = G.gradient_norms_by_distance(gates)
    assert np.allclose(norms, [1.0, 0.95, 0.95 * 0.8, 0.95 * 0.8 * 0.9])


def test_nonfinite_jacobians_raise():
    js = np.stack([np.eye(2), np.array([[np.nan, 0.0], [0.0, 1.0]])])
    with pytest.raises(FloatingPointError, match="finite"):
        G.gradient_norms_by_distance(js)


@pytest.mark.parametrize("bad", [np.zeros((3, 3)), np.zeros((2, 3, 4)), np.zeros((0, 3, 3)), [[1.0, 2.0]]])
def test_bad_jacobian_shapes(bad):
    with pytest.raises(ValueError, match="jacobians"):
        G.gradient_norms_by_distance(bad)
    with pytest.raises(ValueError, match="jacobians"):
        G.jacobian_chain(bad)


def test_bad_ord():
    with pytest.raises(ValueError, match="ord"):
        G.gradient_norms_by_distance(np.stack([np.eye(2)]), ord=1)


# ----------------------------------------------------------------------------- spectra and bounds

def test_singular_values_and_spectral_radius():
    w = np.array([[0.5, 3.0], [0.0, 0.5]])
    assert np.allclose(G.singular_values(w), np.linalg.svd(w, compute_uv=False))
    assert G.singular_values(w)[0] == pytest.approx(np.linalg.norm(w, 2))
    assert G.spectral_radius(w) == pytest.approx(0.5)
    assert G.decay_rate_bound(w, "tanh") == pytest.approx(np.linalg.norm(w, 2))
    assert G.decay_rate_bound(w, "sigmoid") == pytest.approx(np.linalg.norm(w, 2) / 4)
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.standard_normal((5, 5))
        assert G.spectral_radius(a) <= G.singular_values(a)[0] + 1e-12


@pytest.mark.parametrize("fn", [G.singular_values, G.spectral_radius, G.decay_rate_bound, G.check_square])
@pytest.mark.parametrize("bad", [np.zeros((3, 4)), np.zeros(3), np.zeros((2, 2, 2)), np.zeros((0, 0))])
def test_non_square_w_h_raises_with_the_shape(fn, bad):
    with pytest.raises(ValueError, match=r"w_h.*square.*" + str(bad.shape).replace("(", r"\(").replace(")", r"\)")):
        fn(bad)


def test_non_finite_w_h_raises():
    with pytest.raises(ValueError, match="w_h.*NaN or inf"):
        G.singular_values(np.array([[np.nan, 0.0], [0.0, 1.0]]))


def test_non_square_w_h_in_elman_gradient_norms():
    p = {"w_x": np.zeros((3, 1)), "w_h": np.zeros((3, 4)), "b_h": np.zeros(3)}
    with pytest.raises(ValueError, match=r"w_h.*\(3, 4\)"):
        G.elman_gradient_norms(np.zeros((2, 1, 1)), p)


def test_deriv_bound():
    assert G.deriv_bound("tanh") == 1.0 and G.deriv_bound("sigmoid") == 0.25
    assert G.deriv_bound("relu") == 1.0 and G.deriv_bound("identity") == 1.0
    a = np.linspace(-20, 20, 40001)
    for f in ACTS:
        assert np.max(np.abs(get_activation(f).deriv(a))) <= G.deriv_bound(f) + 1e-15
    with pytest.raises(ValueError, match="one of 'sigmoid', 'tanh', 'relu', 'identity', received 'softplus'"):
        G.deriv_bound("softplus")


def test_norm_bound_by_distance():
    assert np.allclose(G.norm_bound_by_distance(0.5, 3), [1, 0.5, 0.25, 0.125])
    for bad_rate in (-1.0, np.nan, np.inf, "0.5"):
        with pytest.raises(ValueError, match="rate"):
            G.norm_bound_by_distance(bad_rate, 3)
    for bad_T in (0, -2, 2.5, True):
        with pytest.raises(ValueError, match="T"):
            G.norm_bound_by_distance(0.5, bad_T)


@pytest.mark.parametrize("kind", ["gaussian", "orthogonal"])
def test_random_recurrent_matrix(kind):
    w = G.random_recurrent_matrix(7, 1.7, np.random.default_rng(0), kind=kind)
    s = np.linalg.svd(w, compute_uv=False)
    assert w.shape == (7, 7) and s[0] == pytest.approx(1.7)
    if kind == "orthogonal":
        assert np.allclose(s, 1.7)
    assert np.array_equal(w, G.random_recurrent_matrix(7, 1.7, np.random.default_rng(0), kind=kind))


def test_random_recurrent_matrix_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="rng"):
        G.random_recurrent_matrix(3, 1.0, 0)
    with pytest.raises(ValueError, match="m"):
        G.random_recurrent_matrix(0, 1.0, rng)
    with pytest.raises(ValueError, match="sigma_max"):
        G.random_recurrent_matrix(3, -1.0, rng)
    with pytest.raises(ValueError, match="kind.*gaussian.*orthogonal"):
        G.random_recurrent_matrix(3, 1.0, rng, kind="uniform")


def test_fit_decay_rate():
    norms = 3.0 * 0.7 ** np.arange(30)
    assert G.fit_decay_rate(norms) == pytest.approx(0.7)
    assert G.fit_decay_rate(np.log10(norms), log10=True) == pytest.approx(0.7)
    bumpy = norms.copy()
    bumpy[:5] = 1.0  # a transient, skipped with start
    assert G.fit_decay_rate(bumpy, start=5) == pytest.approx(0.7)
    with_zero = np.r_[norms[:10], 0.0]  # an underflow is ignored, never a NaN
    assert G.fit_decay_rate(with_zero) == pytest.approx(0.7)
    with pytest.raises(ValueError, match="two finite"):
        G.fit_decay_rate([1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="start"):
        G.fit_decay_rate(norms, start=30)
    with pytest.raises(ValueError, match="1-D"):
        G.fit_decay_rate(np.ones((3, 3)))
    with pytest.raises(ValueError, match=">= 0"):
        G.fit_decay_rate([1.0, -0.5, 0.25])
    assert G.fit_decay_rate([0.0, -1.0, -2.0], log10=True) == pytest.approx(0.1)


# ----------------------------------------------------------------------------- the theory (Pascanu et al., 2013)

def _random_case(seed, f, sigma, T=30, m=12):
    rng = np.random.default_rng(seed)
    w_h = G.random_recurrent_matrix(m, sigma, rng, kind="orthogonal" if seed % 2 else "gaussian")
    p = {"w_x": rng.standard_normal((m, 2)), "w_h": w_h, "b_h": 0.3 * rng.standard_normal(m)}
    xs = rng.uniform(0.0, 2.0) * rng.standard_normal((T, 2, 2))
    h_0 = rng.uniform(-0.5, 0.5, size=(2, m))
    return w_h, G.elman_gradient_norms(xs, p, f=f, h_0=h_0, log10=True)


@pytest.mark.parametrize("f", ACTS)
def test_bound_holds_at_every_distance_over_50_seeds(f):
    for seed in range(50):
        sigma = float(np.exp(np.random.default_rng(1000 + seed).uniform(np.log(0.2), np.log(6.0))))
        w_h, log_norms = _random_case(seed, f, sigma)
        bound = np.arange(log_norms.shape[0])[:, None] * np.log10(G.decay_rate_bound(w_h, f))
        assert np.all(log_norms <= bound + 1e-9), (f, seed)


@pytest.mark.parametrize("f,threshold", [("tanh", 1.0), ("sigmoid", 4.0)])
def test_below_threshold_is_sufficient_for_vanishing(f, threshold):
    for seed in range(50):
        sigma = threshold * np.random.default_rng(seed).uniform(0.3, 0.95)
        w_h, log_norms = _random_case(seed, f, sigma)
        rate = G.decay_rate_bound(w_h, f)
        assert rate < 1
        assert np.all(log_norms[-1] <= 30 * np.log10(rate) + 1e-9)  # ≤ rate^30: exponentially small
        assert np.all(log_norms[1:] < 0)


def test_explosion_needs_a_value_above_the_threshold_but_is_not_forced_by_it():
    exploded, above_but_vanished = 0, 0
    for seed in range(50):
        for f in ("tanh", "sigmoid", "relu"):
            sigma = float(np.exp(np.random.default_rng(seed).uniform(np.log(0.3), np.log(12.0))))
            w_h, log_norms = _random_case(seed, f, sigma)
            rate = G.decay_rate_bound(w_h, f)
            if np.any(log_norms[-1] > 0):
                exploded += 1
                assert rate > 1, (seed, f)  # necessary
            elif rate > 1:
                above_but_vanished += 1
    assert exploded >= 10 and above_but_vanished >= 10  # both outcomes happen above the threshold


def test_non_normal_matrix_vanishes_despite_large_sigma_max():
    w = np.array([[0.5, 3.0], [0.0, 0.5]])
    p = {"w_x": np.zeros((2, 1)), "w_h": w, "b_h": np.zeros(2)}
    norms = G.elman_gradient_norms(np.zeros((40, 1, 1)), p, f="identity")[:, 0]
    expected = [np.linalg.norm(np.linalg.matrix_power(w, k), 2) for k in range(41)]
    assert np.allclose(norms, expected, rtol=1e-10)
    assert G.decay_rate_bound(w) > 3 and norms[40] < 1e-8


def test_bound_is_attained_for_scaled_orthogonal_in_the_linear_regime():
    w = G.random_recurrent_matrix(6, 0.9, np.random.default_rng(0), kind="orthogonal")
    p = {"w_x": np.zeros((6, 1)), "w_h": w, "b_h": np.zeros(6)}
    norms = G.elman_gradient_norms(np.zeros((25, 1, 1)), p, f="tanh")[:, 0]  # h = 0, tanh'(0) = 1
    assert np.allclose(norms, 0.9 ** np.arange(26), rtol=1e-10)
    assert G.fit_decay_rate(norms) == pytest.approx(0.9)


def test_elman_gradient_norms_accepts_params_without_output_layer():
    p, xs, h_0 = _net(2, 3, 2, 4, seed=8)
    full = G.elman_gradient_norms(xs, p, h_0=h_0)
    core = G.elman_gradient_norms(xs, {k: p[k] for k in ("w_x", "w_h", "b_h")}, h_0=h_0)
    assert np.array_equal(full, core) and full.shape == (5, 2)
    with pytest.raises(ValueError, match="missing"):
        G.elman_gradient_norms(xs, {"w_x": p["w_x"], "b_h": p["b_h"]})


# ----------------------------------------------------------------------------- explorer logic, widget and plots

def test_gradient_decay_curve():
    c = G.gradient_decay_curve(0.9, "tanh", 40)
    assert c["log10_norms"].shape == (41,) and c["rate_bound"] == pytest.approx(0.9)
    assert np.all(c["log10_norms"] <= c["log10_bound"] + 1e-9)
    assert c["norm_T1"] == pytest.approx(10 ** c["log10_norms"][39])
    s = G.gradient_decay_curve(0.9, "sigmoid", 40)
    assert s["rate_bound"] == pytest.approx(0.225) and s["norm_T1"] < c["norm_T1"]
    big = G.gradient_decay_curve(8.0, "relu", 150)
    assert np.isfinite(big["log10_norms"]).all() and big["rate_measured"] > 1
    with pytest.raises(ValueError, match="T"):
        G.gradient_decay_curve(0.9, "tanh", 0)
    with pytest.raises(ValueError, match="f"):
        G.gradient_decay_curve(0.9, "softmax", 10)
    with pytest.raises(ValueError, match="input_scale"):
        G.gradient_decay_curve(0.9, "tanh", 10, input_scale=-1)


def test_explorer_controls_and_readout():
    from rnn_tutor.widgets.gradients import decay_readout, gradient_decay_explorer

    w = gradient_decay_explorer()
    assert w.sigma_max.description == "σ_max" and w.activation.description == "activation" and w.T.description == "T"
    assert set(w.activation.options) >= {"tanh", "sigmoid"}
    first = w.readout.value
    assert "‖∂h_T/∂h_1‖ = " in first and w.image.value[:4] == b"\x89PNG"
    assert w.text.startswith("‖∂h_T/∂h_1‖ = ") and w.text in first
    w.sigma_max.value = 2.0
    assert w.readout.value != first and w.state["rate_bound"] == pytest.approx(2.0)
    w.activation.value = "sigmoid"
    assert w.state["rate_bound"] == pytest.approx(0.5)
    w.T.value = 10
    assert w.state["log10_norms"].shape == (11,)
    assert decay_readout(w.state, 10).startswith("‖∂h_T/∂h_1‖ = ")


def test_readout_formats_values_outside_float_range():
    from rnn_tutor.widgets.gradients import _sci

    assert _sci(-400.5) == "3.16e-401" and _sci(2.0) == "1.00e+02" and _sci(-np.inf) == "0"
    assert _sci(np.log10(9.999)) == "1.00e+01"


def test_plots_return_axes_and_leave_rcparams_alone():
    import matplotlib.pyplot as plt

    from rnn_tutor import plots

    before = dict(matplotlib.rcParams)
    norms = 0.8 ** np.arange(11)
    ax = plots.plot_norms_by_distance(np.stack([norms, norms / 2], 1), norms, labels=["a", "b"])
    assert ax.get_yscale() == "log" and len(ax.lines) == 3
    ax2 = plots.plot_rate_scatter({"tanh": np.array([0.5, 2.0])}, {"tanh": np.array([0.4, 1.5])})
    assert ax2.get_xscale() == "log" and ax2.get_yscale() == "log"
    ax3 = plots.plot_spectrum(np.array([[0.5, 3.0], [0.0, 0.5]]))
    ax4 = plots.plot_training_runs({"a": np.ones(5), "b": np.ones(3)})
    assert len(ax4.lines) == 3  # two curves and the × of the run that stopped early
    ax5 = plots.plot_accuracy_by_lag({5: np.array([1.0, 0.9]), 40: np.array([0.5, 0.5])})
    assert ax5.get_ylim()[1] > 1.0
    assert dict(matplotlib.rcParams) == before
    for a in (ax, ax2, ax3, ax4, ax5):
        plt.close(a.figure)


def test_plot_bad_input():
    from rnn_tutor import plots

    with pytest.raises(ValueError, match="norms"):
        plots.plot_norms_by_distance(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="bound"):
        plots.plot_norms_by_distance(np.ones(5), bound=np.ones(4))
    with pytest.raises(ValueError, match="measured_rates"):
        plots.plot_rate_scatter({"tanh": [1.0]}, {"sigmoid": [1.0]})
    with pytest.raises(ValueError, match="runs"):
        plots.plot_training_runs({})
    with pytest.raises(ValueError, match="table"):
        plots.plot_accuracy_by_lag({})
    with pytest.raises(ValueError, match=r"w_h.*\(2, 3\)"):
        plots.plot_spectrum(np.ones((2, 3)))


# ----------------------------------------------------------------------------- bad input (issue 16, fuzz report)

@pytest.mark.parametrize("scale", [1e154, 1e300, -1e300])
def test_log_norms_of_huge_jacobians_are_exact_not_nan(scale):
    """‖(c J_T) ... (c J_{T-k+1})‖ = |c|^k ‖J_T ... J_{T-k+1}‖: log10 adds k log10|c| exactly."""
    import warnings
    js = np.random.default_rng(9).normal(size=(6, 4, 4)) * 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = G.gradient_norms_by_distance(js * scale, log10=True)
    want = G.gradient_norms_by_distance(js, log10=True) + np.arange(7) * np.log10(abs(scale))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_log_norms_with_one_entry_at_the_top_of_float64():
    import warnings
    js = np.stack([np.eye(3)] * 4)
    js[0, 0, 0] = 1.7e308  # the oldest step
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = G.gradient_norms_by_distance(js, log10=True)
    np.testing.assert_allclose(got, [0, 0, 0, 0, np.log10(1.7e308)], atol=1e-9)


@pytest.mark.parametrize("scale", [1e154, 1e300])
def test_a_chain_beyond_float64_is_refused_by_name(scale):
    js = np.random.default_rng(10).normal(size=(6, 4, 4)) * 0.5 * scale
    with pytest.raises(FloatingPointError, match=r"^jacobians: expected step Jacobians whose products fit in float64"):
        G.jacobian_chain(js)


def test_ord_and_start_may_be_0d_integer_arrays():
    js = np.random.default_rng(11).normal(size=(5, 3, 3))
    np.testing.assert_array_equal(G.gradient_norms_by_distance(js, ord=np.array(2)), G.gradient_norms_by_distance(js))
    norms = G.gradient_norms_by_distance(js)
    assert G.fit_decay_rate(norms, start=np.array(1)) == G.fit_decay_rate(norms, start=1)
