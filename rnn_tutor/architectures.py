"""Four ways to wire one recurrent layer to inputs and outputs (the fifth is in :mod:`rnn_tutor.seq2seq`).

All of them take the recurrent layer as a :class:`~rnn_tutor.cells.Cell`, so the same code
runs the Elman RNN, the GRU or the LSTM.  A model's parameters are one flat dict: the
cell's parameters (``cell.param_names``) plus the output layer ``w_y (q, m)``, ``b_y (q,)``.

====================  ===========================================  ==========================
kind                  what goes in -> what comes out               example task
====================  ===========================================  ==========================
one-to-one            ``x (N, d)`` -> ``o (N, q)``                  a feedforward net (T = 1)
one-to-many           ``x (N, d)`` -> ``os (T, N, q)``              melody from a melody id
many-to-one           ``xs (T, N, d)`` -> ``o (N, q)``              sentiment of a phrase
many-to-many          ``xs (T, N, d)`` -> ``os (T, N, q)``          a tag for every word
====================  ===========================================  ==========================

Every ``*_forward`` returns ``(outputs, cache)``; every ``*_backward(d_outputs, cache)``
returns the gradients as a dict with the keys of ``params``.  ``*_loss`` functions chain
forward, loss and backward and return ``(L, grads)``, ready for :func:`fit`.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Callable, Mapping

import numpy as np

from rnn_tutor._blas import one_blas_thread
from rnn_tutor.bptt import squared_error
from rnn_tutor.cells import ELMAN, Cell, check_cell_params
from rnn_tutor.cells import check_cell as _check_cell
from rnn_tutor.clipping import _clip_grad_norm
from rnn_tutor.heads import (_dense_backward, _dense_forward, check_head, check_labels, dense_backward, dense_forward,
                             init_head, softmax, softmax_cross_entropy, softmax_vjp)
from rnn_tutor.masking import (_last_valid, _last_valid_backward, _masked_cell_backward, _masked_cell_forward,
                               check_real_steps, resolve_lengths)
from rnn_tutor.optim import _adam_step, adam_init
from rnn_tutor.validation import (overflow_is_error, MAX_ITERATIONS, ArgumentError, ArgumentTypeError, Cache, as_float_array, check_array, check_cache,
                                  check_callable, check_choice, check_int, check_mapping, check_real, check_rng,
                                  check_shape, check_token_ids, check_training_step, describe, NonFiniteArgumentError, NonFiniteError, training_advice, update_overflow)

__all__ = ["FEEDBACKS", "available_cells", "check_cell", "init_params", "split_params",
           "one_to_one_forward", "one_to_one_backward", "one_to_one_loss",
           "one_to_many_forward", "one_to_many_backward", "one_to_many_loss",
           "many_to_one_forward", "many_to_one_backward", "many_to_one_loss",
           "many_to_many_forward", "many_to_many_backward", "many_to_many_loss", "fit"]

FEEDBACKS = ("identity", "softmax", "argmax")


def available_cells() -> dict[str, Cell]:
    """The recurrent cells this installation provides: always ``"elman"``, plus ``"gru"`` and ``"lstm"``
    when :mod:`rnn_tutor.gru` / :mod:`rnn_tutor.lstm` exist.

    A module that exists but exposes no :class:`Cell` is an error, never silently skipped.
    """
    cells = {"elman": ELMAN}
    for name in ("gru", "lstm"):
        try:
            mod = importlib.import_module(f"rnn_tutor.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"rnn_tutor.{name}":
                continue
            raise
        found = [v for k, v in sorted(vars(mod).items()) if isinstance(v, Cell) and v is not ELMAN]
        preferred = getattr(mod, name.upper(), None)
        if isinstance(preferred, Cell):
            found.insert(0, preferred)
        if not found:  # a factory such as gru_cell() instead of a constant
            factory = getattr(mod, f"{name}_cell", None)
            found = [factory()] if callable(factory) else []
        if not found:
            raise RuntimeError(f"rnn_tutor.{name} exists but exposes no rnn_tutor.cells.Cell "
                               f"(expected a constant {name.upper()} or a factory {name}_cell())")
        cells[name] = found[0]
    return cells


def check_cell(cell) -> Cell:
    """Return ``cell`` if it follows the :class:`Cell` interface, else raise a ValueError listing the cells."""
    return _check_cell(cell)


def init_params(cell: Cell, d: int, m: int, q: int, rng: np.random.Generator) -> dict:
    """Parameters of ``cell`` (``d`` inputs, ``m`` hidden units) plus an output layer ``w_y (q, m)``, ``b_y (q,)``."""
    check_cell(cell)
    check_rng(rng)
    d, m, q = check_int(d, "d"), check_int(m, "m"), check_int(q, "q")
    cp = cell.init_params(d, m, rng)
    width = cell.check_params(cp, "params")[1] if getattr(cell, "check_params", None) else m
    return {**cp, **init_head(width, q, rng)}


def split_params(cell: Cell, params) -> tuple[dict, np.ndarray, np.ndarray]:
    """``(cell parameters, w_y, b_y)`` from one flat dict; a missing key is a ValueError listing the expected keys."""
    _split(cell, params)
    w_y, b_y = check_head(params)
    return {k: params[k] for k in cell.param_names}, w_y, b_y


def _split(cell: Cell, params, name: str = "params"):
    """Check the cell and its flat parameter dict; return ``(cell params, w_y, b_y, d)``."""
    check_cell(cell)
    d, width = check_cell_params(cell, params, name)
    w_y, b_y = check_head(params, width, name)
    return {k: params[k] for k in cell.param_names}, w_y, b_y, d


def _check_sequence_model(cell: Cell, xs, params, lengths, mask, state_0):
    """Everything a many-to-one or many-to-many pass reads, checked once, as what the unchecked
    internals take: ``(float64 cell params, xs, lengths (N,), state_0, w_y, b_y)``."""
    from rnn_tutor.cells import check_cell_state

    check_cell(cell)
    d, width = check_cell_params(cell, params, "params")
    w_y, b_y = check_head(params, width, "params")
    cp = {k: params[k] for k in cell.param_names}
    xs = _check_batch(xs, d=d, finite=False)
    T, N, _ = xs.shape
    lengths = resolve_lengths(T, N, lengths, mask)
    check_real_steps(xs, lengths)
    state_0 = check_cell_state(state_0, N, cell=cell if width is not None else None, width=width)
    cp = {k: as_float_array(v, f"params[{k!r}]") for k, v in cp.items()}
    return cp, xs, lengths, state_0, w_y, b_y


def _check_batch(xs, name: str = "xs", d: int | None = None, finite: bool = True) -> np.ndarray:
    xs = check_array(xs, name, ndim=3, names=("T", "N", "d"), nonempty=True, finite=finite)
    if d is not None:
        check_shape(xs, (None, None, d), name, f"The last axis holds the d = {d} input features that the cell expects.")
    return xs


def _check_rows(x, name: str = "x", d: int | None = None) -> np.ndarray:
    x = check_array(x, name, ndim=2, names=("N", "d"), nonempty=True,
                    hint="One input row per example.")
    if d is not None:
        check_shape(x, (None, d), name, f"The last axis holds the d = {d} input features that the cell expects.")
    return x


# ----------------------------------------------------------------------------- one-to-one

@overflow_is_error
def one_to_one_forward(cell: Cell, x, params: Mapping) -> tuple[np.ndarray, dict]:
    """A feedforward network: the cell run for a single step from the zero state.

    ``h = cell(x, 0)`` (for the Elman cell ``h = tanh(w_x x + b_h)``), ``o = w_y h + b_y``.
    With one step there is nothing to remember: ``w_h`` only ever multiplies ``h_0 = 0``.

    Parameters: ``x (N, d)``.  Returns ``o (N, q)`` and a cache.
    """
    cp, w_y, b_y, d = _split(cell, params)
    hs, _, c = cell.forward(_check_rows(x, d=d)[None], cp, None)  # (1, N, d) -> (1, N, m)
    return dense_forward(hs[0], w_y, b_y), Cache("one_to_one_forward", {"cell": cell, "c": c, "h": hs[0], "w_y": w_y})


@overflow_is_error
def one_to_one_backward(dos, cache) -> dict:
    """Gradients of :func:`one_to_one_forward` given ``∂L/∂o (N, q)``."""
    check_cache(cache, "one_to_one_forward", ("cell", "c", "h", "w_y"))
    dos = check_array(dos, "dos", shape=(cache["h"].shape[0], cache["w_y"].shape[0]), names=("N", "q"))
    dw_y, db_y, dh = dense_backward(dos, cache["h"], cache["w_y"])
    g, _, _ = cache["cell"].backward(dh[None], cache["c"], None)
    return {**g, "w_y": dw_y, "b_y": db_y}


@overflow_is_error
def one_to_one_loss(cell: Cell, x, params, labels) -> tuple[float, dict]:
    """Mean softmax cross-entropy of a one-to-one classifier and its gradients; ``labels (N,)``."""
    os, cache = one_to_one_forward(cell, x, params)
    L, dos = softmax_cross_entropy(os, labels)
    return L, one_to_one_backward(dos, cache)


# ----------------------------------------------------------------------------- one-to-many

def _feed(o, feedback):
    if feedback == "identity":
        return o
    if feedback == "softmax":
        return softmax(o)
    return (o == o.max(axis=-1, keepdims=True)).astype(float)  # argmax as one-hot (ties: all maxima)


@overflow_is_error
def one_to_many_forward(cell: Cell, x, params: Mapping, T: int, feedback: str = "softmax") -> tuple[np.ndarray, dict]:
    """Generate ``T`` outputs from one input, feeding each output back in as the next input.

        u_1 = [x; 0],   u_t = [0; y_{t-1}]  (t >= 2),   h_t = cell(u_t, h_{t-1}),   o_t = w_y h_t + b_y

    with ``y_t = o_t`` (``feedback="identity"``, regression), ``y_t = softmax(o_t)``
    (``"softmax"``, differentiable) or ``y_t = onehot(argmax o_t)`` (``"argmax"``, for
    generating tokens; it has no gradient).  The cell therefore reads ``d + q`` features.

    Parameters
    ----------
    x : (N, d)   the single input of each sequence
    T : number of outputs to generate

    Returns
    -------
    os : (T, N, q)   the logits ``o_t``
    cache
    """
    cp, w_y, b_y, d = _split(cell, params)
    x = _check_rows(x)
    T = check_int(T, "T")
    check_choice(feedback, "feedback", FEEDBACKS)
    q = w_y.shape[0]
    if d is not None and d != x.shape[1] + q:
        raise ArgumentError("x", f"x: expected d = {d - q} features (the cell reads d + q = {d} features: the input "
                                 f"and the fed-back output), received shape {x.shape}.")
    N, d = x.shape
    q = w_y.shape[0]
    os, caches, hs = np.empty((T, N, q)), [], []
    y_prev, state = np.zeros((N, q)), None
    for t in range(T):
        u = np.concatenate([x if t == 0 else np.zeros((N, d)), y_prev], axis=1)  # (N, d + q)
        h, state, c = cell.forward(u[None], cp, state)
        os[t] = dense_forward(h[0], w_y, b_y)
        y_prev = _feed(os[t], feedback)
        caches.append(c)
        hs.append(h[0])
    return os, Cache("one_to_many_forward", {"cell": cell, "caches": caches, "hs": np.stack(hs), "os": os, "d": d,
                                             "w_y": w_y, "feedback": feedback})


@overflow_is_error
def one_to_many_backward(dos, cache) -> dict:
    """Gradients of :func:`one_to_many_forward` given ``∂L/∂o_t`` for all steps, ``dos (T, N, q)``.

    Each ``o_t`` also reaches the loss through the next input ``u_{t+1}``, so going backwards
    ``∂L/∂o_t = dos[t] + (∂y_t/∂o_t)ᵀ ∂L/∂u_{t+1}[d:]``.
    """
    check_cache(cache, "one_to_many_forward", ("cell", "caches", "hs", "os", "d", "w_y", "feedback"))
    if cache["feedback"] == "argmax":
        raise ArgumentError("feedback", "feedback: 'argmax' has no gradient (it is a step function); "
                         "train with feedback='softmax' and generate with 'argmax'")
    os, hs, w_y, d, cell = cache["os"], cache["hs"], cache["w_y"], cache["d"], cache["cell"]
    dos = check_array(dos, "dos", shape=os.shape, names=("T", "N", "q"), hint="dos is shaped like os.")
    grads, dstate, dy = None, None, np.zeros(os.shape[1:])  # dy: ∂L/∂y_t arriving from u_{t+1}
    dw_y, db_y = np.zeros_like(w_y), np.zeros(w_y.shape[0])
    for t in reversed(range(os.shape[0])):
        do = dos[t] + (dy if cache["feedback"] == "identity" else softmax_vjp(softmax(os[t]), dy))
        dw, db, dh = dense_backward(do, hs[t], w_y)
        dw_y, db_y = dw_y + dw, db_y + db
        g, du, dstate = cell.backward(dh[None], cache["caches"][t], dstate)
        grads = g if grads is None else {k: grads[k] + g[k] for k in grads}
        dy = du[0][:, d:]  # the part of u_t that was y_{t-1}
    return {**grads, "w_y": dw_y, "b_y": db_y}


@overflow_is_error
def one_to_many_loss(cell: Cell, x, params, targets, feedback: str = "softmax") -> tuple[float, dict]:
    """Loss of a generated sequence and its gradients (through the feedback loop).

    ``feedback="softmax"``: ``targets (T, N)`` integer classes, mean cross-entropy over the ``T N`` outputs.
    ``feedback="identity"``: ``targets (T, N, q)`` numbers, ``L = ½ Σ (o - p)² / N`` (``squared_error``, mean).
    """
    check_choice(feedback, "feedback", ("softmax", "identity"))
    if feedback == "identity":
        targets = check_array(targets, "targets", ndim=3, names=("T", "N", "q"), nonempty=True)
        os, cache = one_to_many_forward(cell, x, params, targets.shape[0], "identity")
        L, dos = squared_error(os, targets, reduction="mean")
    elif feedback == "softmax":
        targets = check_token_ids(targets, "targets", None, ndim=2, names=("T", "N"), nonempty=True,
                                  what="integer classes")
        T = targets.shape[0]
        os, cache = one_to_many_forward(cell, x, params, T, "softmax")
        L, dos = softmax_cross_entropy(os, check_labels(targets, os.shape[2], os.shape[:2], name="targets"))
    else:
        raise ArgumentError("feedback", f"feedback: expected 'softmax' or 'identity' for training, received {feedback!r}")
    return L, one_to_many_backward(dos, cache)


# ----------------------------------------------------------------------------- many-to-one

@overflow_is_error
def many_to_one_forward(cell: Cell, xs, params: Mapping, lengths=None, mask=None, state_0=None) -> tuple[np.ndarray, dict]:
    """Read a whole sequence, answer once: ``o = w_y h_last + b_y`` with ``h_last`` at each sequence's last real step.

    Parameters
    ----------
    xs : (T, N, d), right-padded
    lengths : (N,) or ``mask (T, N)``; default: every sequence has ``T`` steps
    state_0 : initial state, ``None`` for zeros

    Returns ``o (N, q)`` and a cache.
    """
    cp, xs, lengths, state_0, w_y, b_y = _check_sequence_model(cell, xs, params, lengths, mask, state_0)
    hs, _, c = _masked_cell_forward(cell, xs, cp, lengths, state_0)
    h_last = _last_valid(hs, lengths)  # (N, m)
    return _dense_forward(h_last, w_y, b_y), Cache("many_to_one_forward", {"c": c, "h_last": h_last, "lengths": lengths,
                                                                         "T": xs.shape[0], "w_y": w_y})


@overflow_is_error
def many_to_one_backward(do, cache) -> dict:
    """Gradients of :func:`many_to_one_forward` given ``∂L/∂o (N, q)``: the gradient enters only at the last real step."""
    check_cache(cache, "many_to_one_forward", ("c", "h_last", "lengths", "T", "w_y"))
    do = check_array(do, "do", shape=(cache["h_last"].shape[0], cache["w_y"].shape[0]), names=("N", "q"))
    dw_y, db_y, dh_last = _dense_backward(do, cache["h_last"], cache["w_y"])
    dhs = _last_valid_backward(dh_last, cache["lengths"], cache["T"])  # (T, N, m), zero except at t = length
    g, _, _ = _masked_cell_backward(dhs, cache["c"], None)
    return {**g, "w_y": dw_y, "b_y": db_y}


@overflow_is_error
def many_to_one_loss(cell: Cell, xs, params, labels, lengths=None, mask=None) -> tuple[float, dict]:
    """Mean cross-entropy of one label per sequence, ``labels (N,)``, and its gradients."""
    o, cache = many_to_one_forward(cell, xs, params, lengths, mask)
    L, do = softmax_cross_entropy(o, labels)
    return L, many_to_one_backward(do, cache)


# ----------------------------------------------------------------------------- many-to-many (aligned)

@overflow_is_error
def many_to_many_forward(cell: Cell, xs, params: Mapping, lengths=None, mask=None, state_0=None) -> tuple[np.ndarray, dict]:
    """One output per input step: ``o_t = w_y h_t + b_y`` for every real step (0 at padding).

    Returns ``os (T, N, q)`` and a cache (``xs``, ``lengths``/``mask`` as in :func:`many_to_one_forward`).
    """
    cp, xs, lengths, state_0, w_y, b_y = _check_sequence_model(cell, xs, params, lengths, mask, state_0)
    T, N, _ = xs.shape
    hs, _, c = _masked_cell_forward(cell, xs, cp, lengths, state_0)
    valid = (np.arange(T)[:, None] < lengths[None, :]).astype(float)[..., None]  # (T, N, 1)
    return _dense_forward(hs, w_y, b_y) * valid, Cache("many_to_many_forward", {"c": c, "hs": hs, "valid": valid,
                                                                             "w_y": w_y})


@overflow_is_error
def many_to_many_backward(dos, cache) -> dict:
    """Gradients of :func:`many_to_many_forward` given ``dos (T, N, q)`` (entries at padding are ignored)."""
    check_cache(cache, "many_to_many_forward", ("c", "hs", "valid", "w_y"))
    dos = check_array(dos, "dos", shape=cache["hs"].shape[:2] + (cache["w_y"].shape[0],), names=("T", "N", "q"))
    dos = dos * cache["valid"]
    dw_y, db_y, dhs = _dense_backward(dos, cache["hs"], cache["w_y"])
    g, _, _ = _masked_cell_backward(dhs, cache["c"], None)
    return {**g, "w_y": dw_y, "b_y": db_y}


@overflow_is_error
def many_to_many_loss(cell: Cell, xs, params, labels, lengths=None, mask=None,
                      reduction: str = "mean") -> tuple[float, dict]:
    """Masked cross-entropy of a label per real step, ``labels (T, N)``, and its gradients.

    ``reduction="mean"`` divides by the number of real steps in the batch, so padding
    neither adds to the loss nor dilutes it.
    """
    os, cache = many_to_many_forward(cell, xs, params, lengths, mask)
    L, dos = softmax_cross_entropy(os, labels, mask=cache["valid"][..., 0], reduction=reduction)
    return L, many_to_many_backward(dos, cache)


# ----------------------------------------------------------------------------- training

def _check_arity(fn, name: str, args: tuple) -> None:
    """Refuse a function that cannot be called with ``len(args)`` positional arguments (named ``args``)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin or C function without a signature: nothing to check
        return
    try:
        sig.bind(*args)
    except TypeError:
        raise ArgumentTypeError(name, f"{name}: expected a function called as {name}({', '.join(args)}), received "
                                      f"a function with the signature {sig}") from None


def _check_grad(g, shape: tuple, k: str, step: int) -> np.ndarray:
    """One gradient returned by ``loss_and_grads``: a real array shaped like its parameter."""
    try:
        g = as_float_array(g, f"grads[{k!r}]")
    except ArgumentError as exc:
        raise type(exc)("loss_and_grads", f"loss_and_grads: at step {step}, {exc}") from None
    if g.shape != shape:
        raise ArgumentError("loss_and_grads", f"loss_and_grads: expected grads[{k!r}] of shape {shape} (the shape of "
                                              f"params[{k!r}]), received shape {g.shape} at step {step}.")
    return g


@one_blas_thread
def fit(loss_and_grads: Callable[[dict, int], tuple], params: dict, steps: int, lr: float = 1e-2,
        clip: float | None = 5.0) -> tuple[dict, np.ndarray]:
    """Train with Adam: ``steps`` times ``L, grads = loss_and_grads(params, step)``, then an update.

    ``clip``: if the global gradient norm ``sqrt(Σ ‖g‖²)`` exceeds it, all gradients are
    scaled down to that norm (:func:`rnn_tutor.clipping.clip_grad_norm`, lesson 05).
    ``steps`` is at most :data:`~rnn_tutor.validation.MAX_ITERATIONS`.

    Returns the trained parameters and the ``(steps,)`` array of losses.

    Raises
    ------
    FloatingPointError
        (:class:`~rnn_tutor.validation.NonFiniteError`) as soon as a loss, a gradient or a
        parameter is NaN or ``inf``; the message names the step and the parameter.
    ValueError
        (:class:`~rnn_tutor.validation.ArgumentError` naming ``loss_and_grads``) if it cannot be
        called as ``loss_and_grads(params, step)``, returns anything but ``(loss, grads)`` with one
        real gradient per parameter shaped like it, or if a library function called inside it
        refuses an argument other than the parameters (the message quotes that error and the
        step; an error about ``params`` is raised as it is, since those are fit's ``params``).
    """
    check_callable(loss_and_grads, "loss_and_grads")
    _check_arity(loss_and_grads, "loss_and_grads", ("params", "step"))
    steps = check_int(steps, "steps", 1, MAX_ITERATIONS)
    lr = check_real(lr, "lr", 0.0, None, low_open=True, what="a positive learning rate")
    if clip is not None:
        clip = check_real(clip, "clip", 0.0, None, low_open=True, allow_inf=True, what="a positive norm or None")
    check_mapping(params, "params", ())
    params = {k: as_float_array(v, f"params[{k!r}]") for k, v in params.items()}
    check_training_step("0 (the initial parameters)", params=params, lr=lr, clip=clip)
    state, losses = adam_init(params), np.empty(steps)
    for step in range(steps):
        try:
            out = loss_and_grads(params, step)
        except NonFiniteArgumentError as exc:
            if step == 0:
                raise  # the caller's own parameters are too large to compute with
            key = str(exc).split(":")[0].removeprefix("params[").removesuffix("]").strip("'")
            raise NonFiniteError(f"training stopped at step {step}: the parameters grew so large that the loss "
                                 f"overflowed ({exc}) {training_advice(lr, clip)}", step, key) from None
        except ArgumentError as exc:
            if exc.argument == "params" or str(exc.argument).startswith(("params[", "params ")):
                raise  # a library function refused the params that fit passed on: they are fit's argument too
            # a library function inside it refused one of its own arguments: say where it came from
            raise type(exc)("loss_and_grads", f"loss_and_grads: the call loss_and_grads(params, step={step}) "
                                              f"raised {type(exc).__name__}: {exc}") from exc
        if not (isinstance(out, tuple) and len(out) == 2):
            raise ArgumentError("loss_and_grads", f"loss_and_grads: expected a function returning (loss, grads), "
                                f"received {describe(out)} from it at step {step}.")
        L, grads = out
        if not isinstance(grads, Mapping) or any(k not in grads for k in params):
            missing = [k for k in params if k not in grads] if isinstance(grads, Mapping) else list(params)
            raise ArgumentError("loss_and_grads", f"loss_and_grads: expected (loss, grads) with a gradient for every "
                                f"key of params, received grads missing {missing} at step {step}.")
        try:
            L = float(L)
        except (TypeError, ValueError):
            raise ArgumentError("loss_and_grads", f"loss_and_grads: expected a number as the loss, received "
                                f"{describe(L)} at step {step}.") from None
        grads = {k: _check_grad(grads[k], params[k].shape, k, step) for k in params}
        check_training_step(step, loss=L, grads=grads, lr=lr, clip=clip)
        losses[step] = L
        if clip is not None:
            grads, _ = _clip_grad_norm(grads, clip)
        try:  # everything is checked: the update itself raises if it overflows
            params, state = _adam_step(params, grads, state, lr)
        except NonFiniteError as exc:
            raise update_overflow(step, exc, lr, clip, "step") from None
    return params, losses
