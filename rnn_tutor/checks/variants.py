"""Checks for exercise 06 (GRU, LSTM, bidirectional RNN).

Graded tasks of ``solutions/06_variants_solutions.ipynb`` (row-vector batches, PyTorch's gate layouts):

* ``gru_step(x_t, h_prev, params)``                  -> ``h_t (N, m)``; gates stacked (r, z, n)
* ``lstm_step(x_t, h_prev, c_prev, params)``         -> ``(h_t, c_t)``; gates stacked (i, f, g, o)
* ``lstm_cell_backward(dh_t, dc_next, i_t, f_t, g_t, o_t, c_prev)``
                                                     -> ``(di, df, dg, do, dc_prev)``, gradients of the gate values
* ``bidirectional_states(xs, params_f, params_b)``    -> ``(T, N, 2m)``: ``[h→_t ; h←_t]`` of two tanh RNNs

The references are plain NumPy, written independently of :mod:`rnn_tutor.gru`,
:mod:`rnn_tutor.lstm` and :mod:`rnn_tutor.bidirectional` (the library is tested against
PyTorch separately).  Sizes are drawn so that ``d``, ``m``, ``N`` and the stacked ``3m``/``4m``
all differ, so a missing transpose or a wrong slice shows up as a shape or value error.
"""

from __future__ import annotations

import numpy as np

from rnn_tutor.checks.core import Check, mistakes, register, run_check_with_hint

__all__ = ["check_gru_step", "check_lstm_step", "check_lstm_cell_backward", "check_bidirectional_states",
           "GRU_STEP", "LSTM_STEP", "LSTM_CELL_BACKWARD", "BIDIRECTIONAL_STATES",
           "gru_step_reference", "lstm_step_reference", "lstm_cell_backward_reference",
           "bidirectional_states_reference", "rnn_states"]

NOTEBOOK = "06_variants"


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _sizes(rng: np.random.Generator) -> tuple[int, int, int]:
    """(N, d, m) with N, d, m all different and d not 3m or 4m."""
    m = int(rng.integers(2, 5))
    N = int(rng.choice([v for v in range(2, 6) if v != m]))
    d = int(rng.choice([v for v in range(1, 6) if v not in (m, N)]))
    return N, d, m


def _gated_params(rng: np.random.Generator, k: int, d: int, m: int) -> dict:
    return {"w_ih": rng.normal(0, 0.7, (k * m, d)), "w_hh": rng.normal(0, 0.7, (k * m, m)),
            "b_ih": rng.normal(0, 0.5, k * m), "b_hh": rng.normal(0, 0.5, k * m)}




_MATMUL_HINT = ("\n  likely cause: a matrix product with mismatched shapes. Inputs and states are rows, so "
                "W_ih x_t is x_t @ w_ih.T  [(N, d) @ (d, km) -> (N, km)] and W_hh h_prev is h_prev @ w_hh.T  "
                "[(N, m) @ (m, km) -> (N, km)]; then cut the km columns into the k gates.")


def _checked(check: Check, fn, hidden: bool) -> int:
    return run_check_with_hint(check, fn, hidden, _MATMUL_HINT)


# ============================================================================ task 1: the GRU step

def _gru(x_t, h_prev, params, order=(0, 1, 2), r_where="after", swap_z=False, b_hh=True, act_n=np.tanh,
         return_n=False):
    """The GRU step with switches for the mistake models (defaults: PyTorch's GRU)."""
    m = h_prev.shape[1]
    gi = x_t @ params["w_ih"].T + params["b_ih"]  # (N, d) @ (d, 3m) -> (N, 3m)
    hh = h_prev @ params["w_hh"].T  # (N, m) @ (m, 3m) -> (N, 3m)
    bh = params["b_hh"] if b_hh else np.zeros(3 * m)
    blk = [slice(j * m, (j + 1) * m) for j in order]  # which rows hold r, z, n
    r = _sigmoid(gi[:, blk[0]] + hh[:, blk[0]] + bh[blk[0]])
    z = _sigmoid(gi[:, blk[1]] + hh[:, blk[1]] + bh[blk[1]])
    if r_where == "after":  # PyTorch: r ⊙ (W_hn h + b_hn)
        inner = r * (hh[:, blk[2]] + bh[blk[2]])
    elif r_where == "before":  # Cho et al. (2014, v3): W_hn (r ⊙ h) + b_hn
        inner = (r * h_prev) @ params["w_hh"][blk[2]].T + bh[blk[2]]
    else:  # "bias outside": r ⊙ (W_hn h) + b_hn
        inner = r * hh[:, blk[2]] + bh[blk[2]]
    n = act_n(gi[:, blk[2]] + inner)
    if return_n:
        return n
    return z * n + (1 - z) * h_prev if swap_z else (1 - z) * n + z * h_prev


def gru_step_reference(x_t, h_prev, params):
    """PyTorch's GRU step on rows: ``x_t (N, d)``, ``h_prev (N, m)``, stacked ``(r, z, n)`` weights -> ``h_t (N, m)``."""
    return _gru(x_t, h_prev, params)


def _gru_inputs(rng: np.random.Generator) -> dict:
    N, d, m = _sizes(rng)
    return {"x_t": rng.normal(size=(N, d)), "h_prev": rng.uniform(-0.9, 0.9, (N, m)),
            "params": _gated_params(rng, 3, d, m)}


GRU_STEP = register(Check(
    notebook=NOTEBOOK, grade_id="check_gru_step", target="gru_step",
    forbidden=("rnn_tutor.gru.gru_step", "rnn_tutor.gru.gru_forward",), points=3,
    make_inputs=_gru_inputs, reference=gru_step_reference,
    mistakes=mistakes(("r_t is applied before the matrix product, W_hn (r_t ⊙ h_prev): that is the GRU paper's later "
         "version, not PyTorch's. Here r_t multiplies (W_hn h_prev + b_hn), bias included.",
         lambda x_t, h_prev, params: _gru(x_t, h_prev, params, r_where="before")),
        ("b_hn sits outside the reset gate in your code: PyTorch computes r_t ⊙ (W_hn h_prev + b_hn), "
         "so b_hn is multiplied by r_t too.",
         lambda x_t, h_prev, params: _gru(x_t, h_prev, params, r_where="bias outside")),
        ("z_t and (1 - z_t) are swapped: PyTorch keeps the old state with z_t, "
         "h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_prev.",
         lambda x_t, h_prev, params: _gru(x_t, h_prev, params, swap_z=True)),
        ("the gate order is wrong: the rows of w_ih and w_hh are stacked (r, z, n), so r_t uses rows "
         "0:m and z_t rows m:2m (you read them the other way round).",
         lambda x_t, h_prev, params: _gru(x_t, h_prev, params, order=(1, 0, 2))),
        ("did you add b_hh? Both bias vectors count: b_ih + b_hh for r and z, and b_hn inside r_t ⊙ (.).",
         lambda x_t, h_prev, params: _gru(x_t, h_prev, params, b_hh=False)),
        ("the candidate n_t uses tanh, not the sigmoid (only the gates r_t and z_t use σ).",
         lambda x_t, h_prev, params: _gru(x_t, h_prev, params, act_n=_sigmoid)),
        ("you returned the candidate n_t: the new state mixes it with the old one, "
         "h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_prev.",
         lambda x_t, h_prev, params: _gru(x_t, h_prev, params, return_n=True)),
    ),
))


def check_gru_step(fn, hidden: bool = False) -> int:
    """Check your ``gru_step(x_t, h_prev, params) -> h_t`` (``hidden=True``: fresh random cases)."""
    return _checked(GRU_STEP, fn, hidden)


# ============================================================================ task 2: the LSTM step

def _lstm(x_t, h_prev, c_prev, params, order=(0, 1, 2, 3), forget=True, tanh_c=True, b_hh=True):
    """The LSTM step with switches for the mistake models (defaults: PyTorch's LSTM)."""
    m = h_prev.shape[1]
    a = x_t @ params["w_ih"].T + params["b_ih"] + h_prev @ params["w_hh"].T  # (N, 4m)
    if b_hh:
        a = a + params["b_hh"]
    i, f, g, o = (a[:, j * m:(j + 1) * m] for j in order)
    i, f, g, o = _sigmoid(i), _sigmoid(f), np.tanh(g), _sigmoid(o)
    c_t = (f * c_prev if forget else c_prev) + i * g
    h_t = o * (np.tanh(c_t) if tanh_c else c_t)
    return h_t, c_t


def lstm_step_reference(x_t, h_prev, c_prev, params):
    """PyTorch's LSTM step on rows, stacked ``(i, f, g, o)`` weights -> ``(h_t, c_t)``, each ``(N, m)``."""
    return _lstm(x_t, h_prev, c_prev, params)


def _lstm_inputs(rng: np.random.Generator) -> dict:
    N, d, m = _sizes(rng)
    return {"x_t": rng.normal(size=(N, d)), "h_prev": rng.uniform(-0.9, 0.9, (N, m)),
            "c_prev": rng.uniform(-2.0, 2.0, (N, m)), "params": _gated_params(rng, 4, d, m)}


def _swapped_outputs(x_t, h_prev, c_prev, params):
    h_t, c_t = _lstm(x_t, h_prev, c_prev, params)
    return c_t, h_t


LSTM_STEP = register(Check(
    notebook=NOTEBOOK, grade_id="check_lstm_step", target="lstm_step",
    forbidden=("rnn_tutor.lstm.lstm_step", "rnn_tutor.lstm.lstm_forward",), points=3,
    make_inputs=_lstm_inputs, reference=lstm_step_reference, output_names=("h_t", "c_t"),
    mistakes=mistakes(("the forget gate is missing: the old cell state is scaled by it, c_t = f_t ⊙ c_prev + i_t ⊙ g_t.",
         lambda x_t, h_prev, c_prev, params: _lstm(x_t, h_prev, c_prev, params, forget=False)),
        ("the gate order is wrong: PyTorch stacks the rows as (i, f, g, o), so g_t (tanh) is rows 2m:3m "
         "and o_t rows 3m:4m. You read them as (i, f, o, g).",
         lambda x_t, h_prev, c_prev, params: _lstm(x_t, h_prev, c_prev, params, order=(0, 1, 3, 2))),
        ("i_t and f_t are swapped: rows 0:m are the input gate, rows m:2m the forget gate.",
         lambda x_t, h_prev, c_prev, params: _lstm(x_t, h_prev, c_prev, params, order=(1, 0, 2, 3))),
        ("h_t = o_t ⊙ tanh(c_t): the tanh of the new cell state is missing.",
         lambda x_t, h_prev, c_prev, params: _lstm(x_t, h_prev, c_prev, params, tanh_c=False)),
        ("did you add b_hh? PyTorch's LSTM has two bias vectors, and both are added to every gate.",
         lambda x_t, h_prev, c_prev, params: _lstm(x_t, h_prev, c_prev, params, b_hh=False)),
        ("the two results are swapped: return (h_t, c_t), in that order.", _swapped_outputs),
    ),
))


def check_lstm_step(fn, hidden: bool = False) -> int:
    """Check your ``lstm_step(x_t, h_prev, c_prev, params) -> (h_t, c_t)`` (``hidden=True``: fresh cases)."""
    return _checked(LSTM_STEP, fn, hidden)


# ============================================================================ task 3: the cell-state backward

def _cell_backward(dh_t, dc_next, i_t, f_t, g_t, o_t, c_prev, through_h=True, future=True, tanh_prime=True,
                   keep_f=True):
    c_t = f_t * c_prev + i_t * g_t
    tc = np.tanh(c_t)
    from_h = dh_t * o_t * ((1 - tc * tc) if tanh_prime else 1.0)
    dc = (dc_next if future else 0.0) + (from_h if through_h else 0.0)
    return dc * g_t, dc * c_prev, dc * i_t, dh_t * tc, dc * f_t if keep_f else dc


def lstm_cell_backward_reference(dh_t, dc_next, i_t, f_t, g_t, o_t, c_prev):
    """Gradients of the gate values for ``c_t = f ⊙ c_prev + i ⊙ g``, ``h_t = o ⊙ tanh(c_t)``.

    ``dc = dc_next + dh_t ⊙ o ⊙ (1 - tanh²c_t)``; returns
    ``(di, df, dg, do, dc_prev) = (dc ⊙ g, dc ⊙ c_prev, dc ⊙ i, dh_t ⊙ tanh c_t, dc ⊙ f)``, each ``(N, m)``.
    """
    return _cell_backward(dh_t, dc_next, i_t, f_t, g_t, o_t, c_prev)


def _cell_inputs(rng: np.random.Generator) -> dict:
    N, _, m = _sizes(rng)
    gate = lambda: rng.uniform(0.05, 0.95, (N, m))  # noqa: E731  (sigmoid outputs)
    return {"dh_t": rng.normal(size=(N, m)), "dc_next": rng.normal(size=(N, m)), "i_t": gate(), "f_t": gate(),
            "g_t": rng.uniform(-0.95, 0.95, (N, m)), "o_t": gate(), "c_prev": rng.uniform(-2.0, 2.0, (N, m))}


def _wrap(**switch):
    def wrong(dh_t, dc_next, i_t, f_t, g_t, o_t, c_prev):
        return _cell_backward(dh_t, dc_next, i_t, f_t, g_t, o_t, c_prev, **switch)
    return wrong


LSTM_CELL_BACKWARD = register(Check(
    notebook=NOTEBOOK, grade_id="check_lstm_cell_backward", target="lstm_cell_backward",
    forbidden=("rnn_tutor.lstm.lstm_step_backward", "rnn_tutor.lstm.lstm_backward",), points=2,
    make_inputs=_cell_inputs, reference=lstm_cell_backward_reference,
    output_names=("di", "df", "dg", "do", "dc_prev"),
    mistakes=mistakes(("dc_next is missing: c_t is also read by the next step, so its gradient dc_next adds to the part "
         "that arrives through h_t.", _wrap(future=False)),
        ("the path through h_t is missing: h_t = o_t ⊙ tanh(c_t) depends on c_t, so "
         "dc = dc_next + dh_t ⊙ o_t ⊙ (1 - tanh²(c_t)).", _wrap(through_h=False)),
        ("the derivative of tanh is missing: ∂h_t/∂c_t = o_t ⊙ (1 - tanh²(c_t)), not o_t.",
         _wrap(tanh_prime=False)),
        ("dc_prev = dc ⊙ f_t: the forget gate scales the gradient on its way back, just as it scales "
         "the cell state on its way forward.", _wrap(keep_f=False)),
    ),
))


def check_lstm_cell_backward(fn, hidden: bool = False) -> int:
    """Check your ``lstm_cell_backward(dh_t, dc_next, i_t, f_t, g_t, o_t, c_prev)`` (``hidden=True``: fresh cases)."""
    return _checked(LSTM_CELL_BACKWARD, fn, hidden)


# ============================================================================ task 4: two directions

def rnn_states(xs, params, h_0=None):
    """The tanh RNN's states ``hs (T, N, m)`` for ``xs (T, N, d)`` and ``params`` ``w_x, w_h, b_h`` (from zeros)."""
    m = params["w_h"].shape[0]
    h = np.zeros((xs.shape[1], m)) if h_0 is None else h_0
    hs = np.empty((xs.shape[0], xs.shape[1], m))
    for t in range(xs.shape[0]):
        h = hs[t] = np.tanh(xs[t] @ params["w_x"].T + h @ params["w_h"].T + params["b_h"])
    return hs


def bidirectional_states_reference(xs, params_f, params_b):
    """``[h→_t ; h←_t]`` for every step: (T, N, m) ++ (T, N, m) -> (T, N, 2m)."""
    hs_f = rnn_states(xs, params_f)
    hs_b = rnn_states(xs[::-1], params_b)[::-1]  # read x_T .. x_1, then put h←_t back at step t
    return np.concatenate([hs_f, hs_b], axis=2)


def _bi_inputs(rng: np.random.Generator) -> dict:
    N, d, m = _sizes(rng)
    T = int(rng.integers(3, 7))
    p = lambda: {"w_x": rng.normal(0, 0.8, (m, d)), "w_h": rng.normal(0, 0.6, (m, m)),  # noqa: E731
                 "b_h": rng.normal(0, 0.5, m)}
    return {"xs": rng.normal(size=(T, N, d)), "params_f": p(), "params_b": p()}


BIDIRECTIONAL_STATES = register(Check(
    notebook=NOTEBOOK, grade_id="check_bidirectional_states", target="bidirectional_states",
    forbidden=("rnn_tutor.bidirectional.bidirectional_forward", "rnn_tutor.bidirectional.bidirectional", "rnn_tutor.bidirectional.reverse_sequences",), points=2,
    make_inputs=_bi_inputs, reference=bidirectional_states_reference,
    mistakes=mistakes(("the backward direction's states are not reversed back: after running over xs[::-1], "
         "its state for step t sits at index T - t, so flip the result again before concatenating.",
         lambda xs, params_f, params_b: np.concatenate(
             [rnn_states(xs, params_f), rnn_states(xs[::-1], params_b)], axis=2)),
        ("the backward direction must read the sequence in reverse time order: run it on xs[::-1] "
         "(time is axis 0; reversing the batch axis 1 changes nothing).",
         lambda xs, params_f, params_b: np.concatenate(
             [rnn_states(xs, params_f), rnn_states(xs, params_b)], axis=2)),
        ("the two halves are swapped: the forward states come first, [h→_t ; h←_t].",
         lambda xs, params_f, params_b: np.concatenate(
             [rnn_states(xs[::-1], params_b)[::-1], rnn_states(xs, params_f)], axis=2)),
        ("you reversed the batch axis of the input: time is axis 0 of xs (T, N, d), so reverse with xs[::-1], "
         "not xs[:, ::-1].",
         lambda xs, params_f, params_b: np.concatenate(
             [rnn_states(xs, params_f), rnn_states(xs[:, ::-1], params_b)[::-1]], axis=2)),
        ("each direction has its own weights: use params_b for the backward direction.",
         lambda xs, params_f, params_b: np.concatenate(
             [rnn_states(xs, params_f), rnn_states(xs[::-1], params_f)[::-1]], axis=2)),
    ),
))


def check_bidirectional_states(fn, hidden: bool = False) -> int:
    """Check your ``bidirectional_states(xs, params_f, params_b) -> (T, N, 2m)`` (``hidden=True``: fresh cases)."""
    return _checked(BIDIRECTIONAL_STATES, fn, hidden)
